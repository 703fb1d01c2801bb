"""The event collector: HTTP in, Kafka out (docs/collector.md).

* ``app``: ``create_app`` assembles the FastAPI app (state, lifespan, routers, handlers, OpenAPI);
  ``watershed collector serve`` runs it (``cli``);
* ``routes``: the ingest routes (``/v1/events``, ``/v1/batch``) and health, readiness, metrics;
* ``deps``: the request dependencies (collector state, sink, settings, write-key authentication);
* ``decoding``: content type, size limits, JSON parsing and the batch envelope;
* ``errors``: ``CollectorError``, the error bodies and their exception handlers;
* ``events``: a decoded event to its Kafka record (permission, contract, pseudonymisation);
* ``auth`` (write keys, rate limits), ``settings``, ``sink`` (Kafka), ``metrics``, ``version``.
"""
