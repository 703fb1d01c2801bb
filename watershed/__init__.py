"""Watershed: the shared package (settings, contracts, the local stack, the CLI)."""

__version__ = "0.1.0"
