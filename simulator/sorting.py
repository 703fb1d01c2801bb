"""Sorting that gives the same order on every machine.

numpy's fastest sort is not stable, and which of two equal keys comes first may depend on the
CPU's sort kernel. :func:`sort_order` sorts with it, then orders each run of equal keys by
tie-breakers, which makes the result unique.
"""

from __future__ import annotations

import numpy as np


def sort_order(key: np.ndarray, *tiebreakers: np.ndarray) -> np.ndarray:
    """Indices that sort by `key`, equal keys by `tiebreakers` (most significant first), then by
    position."""
    order = np.argsort(key)
    ranked = key[order]
    tied = np.zeros(len(key), dtype=bool)
    equal = ranked[1:] == ranked[:-1]
    tied[1:] |= equal
    tied[:-1] |= equal
    if tied.any():
        positions = np.flatnonzero(tied)
        members = order[positions]
        columns = [members, *(t[members] for t in reversed(tiebreakers)), ranked[positions]]
        order[positions] = members[np.lexsort(columns)]
    return order


def composite(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """One int64 key ordering by (major, minor), both non-negative; raises if it cannot fit."""
    span = int(minor.max(initial=0)) + 1
    if int(major.max(initial=0)) >= np.iinfo(np.int64).max // span:
        raise OverflowError("sort key does not fit in 64 bits")
    return major.astype(np.int64) * span + minor
