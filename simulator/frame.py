"""The generator's internal event table: one numpy array per attribute, integer codes instead of
strings, in generation order. Builders fill the attributes their event types carry; everything
else keeps its null marker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from watershed.contract import EVENT_TYPES, Source

Frame = dict[str, np.ndarray]

# name: (dtype, null marker)
FIELDS: dict[str, tuple[type, int]] = {
    "etype": (np.int8, -1),  # index into EVENT_TYPES
    "actor": (np.int32, -1),  # index into the actors (humans, bots, ad audience)
    "with_user_id": (np.bool_, 0),  # send the actor's user_id (ad platforms never know it)
    "t": (np.int64, 0),  # occurred_at, epoch milliseconds
    "device": (np.int8, -1),
    "place": (np.int16, -1),
    "ua": (np.int16, -1),
    "page": (np.int32, -1),  # index into world.urls
    "ref": (np.int32, -1),
    "props": (np.int32, -1),  # index into world.properties
    "product": (np.int32, -1),
    "price": (np.int64, -1),  # cents
    "qty": (np.int16, 0),
    "query": (np.int16, -1),
    "order": (np.int32, -1),  # order number, counted from the run's first order
    "revenue": (np.int64, -1),  # cents
    "currency": (np.bool_, 0),
    "items_start": (np.int32, 0),  # range in the order lines
    "items_len": (np.int16, 0),  # 0: no items
    "campaign": (np.int16, -1),
    "ad": (np.int32, -1),
    "cost": (np.int64, -1),  # micros
    "value": (np.int64, -1),  # cents
}

_THREADS = 2
TYPE_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}

# The one source that sends each type in the simulation (the contract allows more).
SOURCE_OF_TYPE = {
    **dict.fromkeys(
        ("page_view", "product_view", "search", "add_to_cart", "remove_from_cart", "begin_checkout"),
        Source.WEB_ANALYTICS,
    ),
    **dict.fromkeys(("signup", "login", "logout"), Source.USER_EVENTS),
    **dict.fromkeys(("purchase", "refund"), Source.TRANSACTION_DATA),
    **dict.fromkeys(("impression", "click", "conversion"), Source.AD_PLATFORM),
}
SOURCES = list(Source)
SOURCE_CODE_OF_TYPE = np.array([SOURCES.index(SOURCE_OF_TYPE[t]) for t in EVENT_TYPES], dtype=np.int8)


def new_frame(n: int, **columns: np.ndarray | int) -> Frame:
    """A frame of `n` rows: the given columns (arrays or scalars), every other one null."""
    unknown = set(columns) - set(FIELDS)
    if unknown:
        raise KeyError(f"unknown frame columns: {sorted(unknown)}")
    frame: Frame = {}
    for name, (dtype, null) in FIELDS.items():
        value = columns.get(name, null)
        frame[name] = np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
    return frame


def concat(frames: list[Frame]) -> Frame:
    return {name: np.concatenate([f[name] for f in frames]) for name in FIELDS}


def take(frame: Frame, index: np.ndarray) -> Frame:
    """frame[index] for every column, on two threads: numpy releases the GIL while gathering,
    and gathering dominates the run time of a large frame."""
    with ThreadPoolExecutor(_THREADS) as pool:
        return dict(zip(frame, pool.map(lambda values: np.take(values, index), frame.values()), strict=True))


def size(frame: Frame) -> int:
    return len(frame["etype"])
