"""Files in the lake through Hadoop's FileSystem API, so one code path serves ``file://`` and
``s3a://`` (and whatever else Hadoop can reach). Used by the thin IO layers only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class LakeFS:
    """exists / list / rename / delete / small text files, on the session's Hadoop configuration."""

    def __init__(self, spark: SparkSession) -> None:
        self._jvm: Any = spark._jvm
        self._conf = spark._jsc.hadoopConfiguration()

    def _resolve(self, uri: str) -> tuple[Any, Any]:
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self._conf), path

    def exists(self, uri: str) -> bool:
        fs, path = self._resolve(uri)
        return bool(fs.exists(path))

    def delete(self, uri: str) -> None:
        fs, path = self._resolve(uri)
        if fs.exists(path):
            fs.delete(path, True)

    def files(self, uri: str) -> list[str]:
        """Every file under `uri` (recursively), as full URIs, sorted; [] when `uri` is missing."""
        fs, path = self._resolve(uri)
        if not fs.exists(path):
            return []
        found = []
        iterator = fs.listFiles(path, True)
        while iterator.hasNext():
            found.append(str(iterator.next().getPath().toString()))
        return sorted(found)

    def move(self, source: str, target: str) -> None:
        """Move one file, replacing `target` if it exists (Hadoop's rename refuses to)."""
        fs, src = self._resolve(source)
        _, dst = self._resolve(target)
        if fs.exists(dst):
            fs.delete(dst, False)
        fs.mkdirs(dst.getParent())
        if not fs.rename(src, dst):
            raise OSError(f"could not move {source} to {target}")

    def write_text(self, uri: str, text: str) -> None:
        """Write a small file whole or not at all: to a hidden sibling first, then moved into place
        (a reader or a crash never sees half a file)."""
        fs, path = self._resolve(uri)
        temporary = self._jvm.org.apache.hadoop.fs.Path(path.getParent(), f".{path.getName()}.tmp")
        stream = fs.create(temporary, True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()
        if fs.exists(path):
            fs.delete(path, False)
        if not fs.rename(temporary, path):
            raise OSError(f"could not write {uri}")

    def read_text(self, uri: str) -> str | None:
        fs, path = self._resolve(uri)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            data = self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
        finally:
            stream.close()
        return bytes(data).decode()
