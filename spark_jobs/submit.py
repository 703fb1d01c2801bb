"""The application `spark-submit` runs: the `watershed` CLI inside a Spark driver.

    spark-submit --master local[*] --jars ... spark_jobs/submit.py sessionize --date 2026-11-20

Airflow's SparkSubmitOperator uses it, so the Spark steps of the DAG run the very commands a
person runs by hand, against whatever master the `spark_default` connection names.
"""

import sys

from watershed.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
