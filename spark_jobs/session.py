"""Build the SparkSession for the configured environment.

Locally: ``local[*]``, shuffle partitions sized to the cores, UTC everywhere, and the extra
jars resolved by ``make setup`` (Kafka connector, S3A) on the classpath. In prod the same
function points at ``WATERSHED_SPARK_MASTER`` and the real S3. pyspark is imported lazily so
importing this module (from a DAG file, say) costs nothing.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watershed.errors import ConfigError
from watershed.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_VERSIONED_JAR = re.compile(r"^(?P<artifact>.+?)-\d[\w.\-]*\.jar$")


def extra_jars(settings: Settings) -> list[Path]:
    folder = settings.jars_dir / "spark"
    jars = sorted(folder.glob("*.jar"))
    if not jars:
        raise ConfigError(f"the Spark extra jars are missing from {folder}: run `make setup`")
    return jars


def spark_conf(settings: Settings, app_name: str) -> dict[str, Any]:
    """Every Spark setting Watershed applies, as a plain dict (what `spark_session` uses)."""
    conf: dict[str, Any] = {
        "spark.app.name": app_name,
        "spark.master": settings.spark_master_url,
        "spark.jars": ",".join(str(j) for j in extra_jars(settings)),
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.default.parallelism": str(settings.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        # Python workers run the driver's interpreter (the project's venv), not whatever
        # `python3` is first on the PATH
        "spark.pyspark.python": settings.spark_python or sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.executorEnv.PYARROW_IGNORE_TIMEZONE": "1",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.parquet.compression.codec": "zstd",
        # without these the first query waits on broadcast/adaptive defaults tuned for clusters
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        # No partial top-1 before the shuffle of `row_number() == 1` windows (the deduplication):
        # nearly every event_id is unique, so the pre-shuffle sort of every row removes almost
        # nothing. Measured on the 10M-event sessionize benchmark: 229 -> 213 s.
        "spark.sql.optimizer.windowGroupLimitThreshold": "-1",
    }
    if settings.spark_master_url.startswith("local"):
        conf["spark.ui.enabled"] = "false"
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
    conf.update(s3a_conf(settings))
    return conf


def s3a_conf(settings: Settings) -> dict[str, str]:
    conf = {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": settings.s3_region,
        "spark.hadoop.fs.s3a.fast.upload": "true",
    }
    endpoint = settings.s3_endpoint_url
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https")).lower()
    creds = settings.s3_credentials
    if creds:
        conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        conf["spark.hadoop.fs.s3a.access.key"] = creds[0]
        conf["spark.hadoop.fs.s3a.secret.key"] = creds[1]
    return conf


def spark_session(settings: Settings, app_name: str = "watershed", **extra: Any) -> SparkSession:
    """The SparkSession for `settings`; `extra` adds or overrides Spark settings."""
    # pandas-on-Spark wants this set before the JVM starts, on the driver and the executors
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in {**spark_conf(settings, app_name), **extra}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def prune_jars(folder: Path) -> list[str]:
    """Delete jars whose artifact pyspark already ships (two versions of one library on the
    classpath break in odd ways); return the names removed."""
    import pyspark

    shipped = {
        m.group("artifact")
        for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar")
        if (m := _VERSIONED_JAR.match(jar.name))
    }
    removed = []
    for jar in sorted(folder.glob("*.jar")):
        match = _VERSIONED_JAR.match(jar.name)
        if match and match.group("artifact") in shipped:
            jar.unlink()
            removed.append(jar.name)
    return removed


if __name__ == "__main__":  # `python -m spark_jobs.session prune-jars DIR`, used by `make setup`
    if len(sys.argv) == 3 and sys.argv[1] == "prune-jars":
        gone = prune_jars(Path(sys.argv[2]))
        print(f"kept the jars pyspark lacks; removed {len(gone)} it already ships")
    else:
        sys.exit("usage: python -m spark_jobs.session prune-jars DIR")
