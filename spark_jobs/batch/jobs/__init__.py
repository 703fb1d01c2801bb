"""Thin IO around the transforms: which lake folders a job reads and writes, and how."""
