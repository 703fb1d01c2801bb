"""Monitoring: the pipeline's own metrics and the monitoring configuration (docs/architecture.md)."""
