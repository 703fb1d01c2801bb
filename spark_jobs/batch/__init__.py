"""The daily batch jobs: bronze -> silver (validate, deduplicate, sessionize) -> gold.

* :mod:`.transforms`: pure ``DataFrame -> DataFrame`` functions, rules passed in;
* :mod:`.jobs`: thin extract/load around them (which partitions a job reads and writes).
"""
