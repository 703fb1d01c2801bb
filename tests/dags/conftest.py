"""Airflow in tests: a throwaway AIRFLOW_HOME, connections and variables from the environment."""

from __future__ import annotations

import json
import os
import tempfile

# Set before anything imports airflow (it reads AIRFLOW_HOME once, at import).
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="watershed-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps({"conn_type": "spark", "host": "local[*]"}))
os.environ.setdefault("AIRFLOW_VAR_WATERSHED_ALERT_CHANNEL", "#data-platform-alerts")
