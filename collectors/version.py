"""The collector's version (the watershed distribution's), stamped on every event it writes."""

from importlib.metadata import PackageNotFoundError, version

try:
    COLLECTOR_VERSION = version("watershed")
except PackageNotFoundError:  # a checkout that was never installed
    COLLECTOR_VERSION = "0.0.0"
