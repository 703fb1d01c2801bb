"""The event collector: HTTP in, Kafka out (docs/collector.md).

``collectors.app.create_app`` builds the FastAPI app; ``watershed collector serve`` runs it.
"""
