"""The lake's Spark jobs: landing (Kafka -> bronze), sessionization (bronze -> silver) and gold.

Layout (docs/lake.md has the rules in prose):

* :mod:`spark_jobs.landing`: the Structured Streaming job, exactly-once into ``bronze/``;
* :mod:`spark_jobs.transforms`: pure ``DataFrame -> DataFrame`` functions, config passed in;
* :mod:`spark_jobs.jobs`: thin extract/load around the transforms (paths, reads, writes);
* :mod:`spark_jobs.cli`: ``watershed land``, ``watershed sessionize``, ``watershed gold``.

Importing this package does not import pyspark.
"""
