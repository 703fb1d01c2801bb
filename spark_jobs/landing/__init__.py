"""Landing: Kafka -> ``bronze/<topic>/dt=/hour=``, exactly once (:mod:`.job`)."""
