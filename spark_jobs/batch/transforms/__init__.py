"""Pure transforms: each takes DataFrames (and rules) and returns a DataFrame; no paths, no IO,
no clock. Built-in Spark functions only (no Python UDFs)."""
