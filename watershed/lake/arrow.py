"""Thin IO: lake partitions as Arrow tables / pandas frames, through pyarrow's filesystems, so
the same code reads a local lake (``file://``) and S3 or MinIO (``s3a://``).

Paths are relative to the lake root and may contain ``*`` in any segment
(``bronze/*/dt=2025-01-06/hour=*``). Partition folders (``key=value``) become columns when the
files do not carry them. Files and folders starting with ``_`` or ``.`` (Spark's markers,
staging areas) are skipped.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from watershed.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.fs as pafs


def filesystem(settings: Settings) -> tuple[pafs.FileSystem, str]:
    """(filesystem, root path inside it) of the lake."""
    import pyarrow.fs as pafs

    uri = settings.lake
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return pafs.LocalFileSystem(), unquote(parsed.path).rstrip("/")
    if parsed.scheme in ("s3a", "s3"):
        creds = settings.s3_credentials
        endpoint = settings.s3_endpoint_url
        options: dict[str, Any] = {"region": settings.s3_region}
        if creds:
            options.update(access_key=creds[0], secret_key=creds[1])
        if endpoint:
            endpoint_parsed = urlparse(endpoint)
            options.update(endpoint_override=endpoint_parsed.netloc, scheme=endpoint_parsed.scheme or "https")
        return pafs.S3FileSystem(**options), f"{parsed.netloc}{parsed.path}".rstrip("/")
    raise ValueError(f"unsupported lake URI {uri!r}")


def _hidden(name: str) -> bool:
    return name.startswith(("_", "."))


def expand(fs: pafs.FileSystem, root: str, pattern: str) -> list[str]:
    """Existing folders (or files) matching `pattern` (segments may hold ``*``) under `root`."""
    import pyarrow.fs as pafs

    current = [root]
    for segment in [s for s in pattern.strip("/").split("/") if s]:
        found = []
        for base in current:
            if "*" not in segment and "?" not in segment:
                path = f"{base}/{segment}"
                if fs.get_file_info(path).type != pafs.FileType.NotFound:
                    found.append(path)
                continue
            info = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
            found += sorted(
                i.path for i in info if fnmatch.fnmatchcase(i.base_name, segment) and not _hidden(i.base_name)
            )
        current = found
    return current


def parquet_files(fs: pafs.FileSystem, folders: list[str]) -> list[str]:
    import pyarrow.fs as pafs

    files = []
    for folder in folders:
        info = fs.get_file_info(folder)
        if info.type == pafs.FileType.File:
            files.append(folder)
            continue
        for item in fs.get_file_info(pafs.FileSelector(folder, recursive=True, allow_not_found=True)):
            relative = item.path[len(folder) :].strip("/")
            if (
                item.type == pafs.FileType.File
                and item.path.endswith(".parquet")
                and not any(_hidden(part) for part in relative.split("/"))
            ):
                files.append(item.path)
    return sorted(files)


def _partition_values(path: str, root: str) -> dict[str, str]:
    values = {}
    for part in path[len(root) :].strip("/").split("/")[:-1]:
        key, sep, value = part.partition("=")
        if sep and key and not _hidden(key):
            values[key] = unquote(value)
    return values


def read_table(
    settings: Settings, pattern: str, columns: list[str] | None = None, exclude: tuple[str, ...] = ()
) -> pa.Table | None:
    """All Parquet rows under the folders matching `pattern`, with partition columns added from
    the path; None when no file matches. `columns` selects columns (missing ones are skipped),
    `exclude` leaves columns out."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, root = filesystem(settings)
    files = parquet_files(fs, expand(fs, root, pattern))
    if not files:
        return None
    tables = []
    for path in files:
        schema = pq.read_schema(path, filesystem=fs)
        wanted = [c for c in (schema.names if columns is None else columns) if c in schema.names and c not in exclude]
        table = pq.read_table(path, filesystem=fs, columns=wanted)
        for key, value in _partition_values(path, root).items():
            if key not in table.column_names and (columns is None or key in columns):
                table = table.append_column(key, pa.array([value] * table.num_rows, pa.string()))
        tables.append(table)
    return pa.concat_tables(tables, promote_options="permissive")


def read_frame(
    settings: Settings, pattern: str, columns: list[str] | None = None, exclude: tuple[str, ...] = ()
) -> pd.DataFrame | None:
    table = read_table(settings, pattern, columns, exclude)
    if table is None:
        return None
    return table.to_pandas(timestamp_as_object=False, maps_as_pydicts="strict")


def read_json(settings: Settings, relative: str) -> Any:
    """A small JSON file of the lake (the jobs' reports), or None when it does not exist."""
    import json

    import pyarrow.fs as pafs

    fs, root = filesystem(settings)
    path = f"{root}/{relative.strip('/')}"
    if fs.get_file_info(path).type != pafs.FileType.File:
        return None
    with fs.open_input_stream(path) as stream:
        return json.loads(stream.read().decode())
