"""Benchmark: the sessionization job in Spark (local[2]) against DuckDB on the same bronze files.

Run ``python -m bench.sessionize`` (see ``--help``); the figures go to BENCHMARKS.md.
"""
