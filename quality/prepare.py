"""Pure pandas preparation of the frames the suites validate: engine types made plain, nested
contract fields flattened, and the derived columns some expectations read.

Derived columns (documented in docs/quality.md) exist because an expectation checks one column or
one pair: ``arrival_lag_seconds`` (time received minus occurred_at) lets a plain range check say
"not in the future" and "not older than the retention"; ``properties_keys``/``properties_bytes``
measure the free object; ``is_retry``, ``arrived_out_of_order`` and ``is_bot`` turn the stream
rules of the contract into per-row flags. No function here reads a file or a clock.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from watershed.contract import MAX_CLOCK_SKEW, MAX_EVENT_AGE, event_columns, is_bot_user_agent
from watershed.contract.semantics import LATE_AFTER

# Ad platforms report in batches up to a minute after the fact, so the arrival order of one
# user's ad events carries no signal; the ordering check covers the site and back-end streams.
UNORDERED_SOURCES = ("ad_platform",)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals become objects, decimals floats (range checks need numbers; a float holds
    every contract amount to the cent) and timestamps UTC-aware (Spark's INT96 Parquet
    timestamps read back naive; the platform keeps every time in UTC)."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_datetime64_dtype(column.dtype) and getattr(column.dt, "tz", None) is None:
            out[name] = column.dt.tz_localize("UTC")
        elif isinstance(column.dtype, pd.CategoricalDtype):
            out[name] = column.astype(object).where(column.notna(), None)
        elif column.dtype == object:
            sample = column.dropna().head(1)
            if len(sample) and isinstance(sample.iloc[0], Decimal):
                out[name] = pd.to_numeric(column.map(lambda v: None if v is None else float(v)), errors="coerce")
    return out


def _by_unique(column: pd.Series, function: Any) -> pd.Series:
    """Apply `function` once per distinct non-null value (strings repeat a lot in events)."""
    values = column.dropna().unique()
    mapping = {value: function(value) for value in values}
    return column.map(mapping)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def reference_time(frame: pd.DataFrame) -> pd.Series:
    """When the platform received the event: received_at, else the Kafka timestamp (bronze)."""
    received = frame["received_at"] if "received_at" in frame else pd.Series(pd.NaT, index=frame.index)
    received = pd.to_datetime(received, utc=True)
    if "kafka_timestamp" in frame:
        received = received.fillna(pd.to_datetime(frame["kafka_timestamp"], utc=True))
    return received


def events(frame: pd.DataFrame, late_after_seconds: float = LATE_AFTER.total_seconds()) -> pd.DataFrame:
    """Contract-shaped event rows (bronze, or any flat event table) -> the frame the event
    suites validate: plain types, ``geo.*`` and ``items.*`` flattened, derived columns added.
    An event that arrives more than `late_after_seconds` after it occurred is late, and is not
    also reported as out of order."""
    out = _plain(frame)
    struct_children = {c.name: [f.name for f in c.fields] for c in event_columns() if c.kind == "struct"}
    if "geo" in out:
        for child in struct_children.get("geo", []):
            out[f"geo.{child}"] = out["geo"].map(lambda g, k=child: g.get(k) if isinstance(g, dict) else None)
        out = out.drop(columns="geo")
    if "items" in out:
        items = out["items"].map(lambda v: None if v is None or len(v) == 0 else list(v))
        out["items"] = items  # an empty list counts as missing, as in the lake's validation
        out["items_count"] = items.map(lambda v: len(v) if v is not None else None).astype(float)
        for child in ("quantity", "price"):
            values = items.map(
                lambda v, k=child: (
                    [float(i[k]) for i in v if isinstance(i, dict) and i.get(k) is not None] if v is not None else []
                )
            )
            out[f"items.{child}.min"] = values.map(lambda v: min(v) if v else np.nan)
            out[f"items.{child}.max"] = values.map(lambda v: max(v) if v else np.nan)
    if "properties" in out:
        parsed = _by_unique(out["properties"], _json_object)
        is_object = parsed.map(lambda v: isinstance(v, dict))
        out["properties_is_object"] = is_object.astype(object).where(out["properties"].notna(), None)
        out["properties_keys"] = parsed.map(lambda v: len(v) if isinstance(v, dict) else np.nan).astype(float)
        out["properties_bytes"] = _by_unique(out["properties"], lambda t: len(t.encode())).astype(float)
    received = reference_time(out)
    occurred = pd.to_datetime(out["occurred_at"], utc=True)
    out["arrival_lag_seconds"] = (received - occurred).dt.total_seconds()
    out["user_key"] = out["user_id"].where(out["user_id"].notna(), out["anonymous_id"])
    out["is_retry"] = _retries(out, received)
    out["arrived_out_of_order"] = _out_of_order(out, occurred, received)
    late = out["arrival_lag_seconds"] > late_after_seconds
    out.loc[late & out["arrived_out_of_order"].notna(), "arrived_out_of_order"] = None
    agents = out["user_agent"] if "user_agent" in out else pd.Series(None, index=out.index, dtype=object)
    out["is_bot"] = _by_unique(agents, is_bot_user_agent).where(agents.notna(), False).astype(bool)
    return out


def _retries(frame: pd.DataFrame, received: pd.Series) -> pd.Series:
    """True for every copy of an event_id but the first received (the copy deduplication keeps)."""
    order = ["_received", *[c for c in ("kafka_topic", "kafka_partition", "kafka_offset") if c in frame]]
    keyed = frame[[c for c in order if c != "_received"]].assign(_received=received, _id=frame["event_id"])
    ranked = keyed.sort_values(order, kind="stable", na_position="last")
    retry = ranked["_id"].notna() & ranked.duplicated("_id", keep="first")
    return retry.reindex(frame.index)


def _out_of_order(frame: pd.DataFrame, occurred: pd.Series, received: pd.Series) -> pd.Series:
    """True when the event arrived after the next event (by occurred_at, then event_id) of the
    same user key; None where the rule does not apply (retries, ad-platform sources, rows
    without a key or without a believable time: a broken clock is reported once, by the time
    checks, not again as an ordering problem of its neighbours)."""
    lag = (received - occurred).dt.total_seconds()
    believable = lag.between(-MAX_CLOCK_SKEW.total_seconds(), MAX_EVENT_AGE.total_seconds())
    usable = ~frame["is_retry"] & believable & frame["user_key"].notna()
    rows = pd.DataFrame(
        {"key": frame["user_key"], "occurred": occurred, "event_id": frame["event_id"], "received": received}
    )[usable]
    rows = rows.sort_values(["key", "occurred", "event_id"], kind="stable")
    following = rows.groupby("key", sort=False)["received"].shift(-1)
    late = (rows["received"] > following).where(following.notna(), False)
    result = pd.Series(None, index=frame.index, dtype=object)
    result[late.index] = late.astype(bool)
    if "source" in frame:
        result[frame["source"].isin(UNORDERED_SOURCES)] = None
    return result


def silver_events(frame: pd.DataFrame) -> pd.DataFrame:
    return _plain(frame)


def sessions(frame: pd.DataFrame) -> pd.DataFrame:
    """Silver sessions: plain types; duration_seconds computed when the table lacks it."""
    out = _plain(frame)
    if "duration_seconds" not in out and {"session_start", "session_end"} <= set(out):
        start = pd.to_datetime(out["session_start"], utc=True)
        out["duration_seconds"] = (pd.to_datetime(out["session_end"], utc=True) - start).dt.total_seconds()
    return out


def ad_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Ad-platform daily rows plus ``ctr`` = clicks / impressions (null without impressions)."""
    out = _plain(frame)
    impressions = pd.to_numeric(out["impressions"], errors="coerce").astype(float)
    clicks = pd.to_numeric(out["clicks"], errors="coerce").astype(float)
    out["ctr"] = (clicks / impressions).where(impressions > 0)
    return out


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    return _plain(frame)
