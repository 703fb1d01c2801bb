"""The local stack: real services (Kafka in KRaft mode, an S3 server) run as plain local processes.

``watershed stack up|down|status|logs``. Data, logs and pid files live under ``<state_dir>``
(``.local/`` by default); jars and binaries come from ``<cache_dir>`` filled by ``make setup``.
"""

from watershed.stack.stack import Stack

__all__ = ["Stack"]
