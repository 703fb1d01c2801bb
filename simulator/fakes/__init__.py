"""Fake ad-platform APIs the extractors are tested against, serving the simulated world."""
