"""The lake's Spark jobs, one folder each (docs/lake.md has the rules in prose):

* :mod:`spark_jobs.landing`: Kafka -> ``bronze/``, Structured Streaming, exactly once;
* :mod:`spark_jobs.batch`: bronze -> silver (validate, deduplicate, sessionize) and gold, per day;
* :mod:`spark_jobs.streaming`: the real-time job (windowed metrics, anomaly alerts, live ad counters);
* :mod:`spark_jobs.common`: what landing and batch share (the bronze shape, the lake's time and
  session rules, time-column helpers);
* :mod:`spark_jobs.session`: the SparkSession for the configured environment; :mod:`spark_jobs.submit`:
  the application ``spark-submit`` runs; :mod:`spark_jobs.cli`: ``watershed land|sessionize|gold``.

Importing this package does not import pyspark.
"""
