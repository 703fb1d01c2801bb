"""An independent batch recomputation of the job's outputs, in plain Python, from the events as
they were sent (the reference the streaming results are compared with)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from watershed.contract import SESSION_EVENT_TYPES
from watershed.contract.semantics import LATE_AFTER

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _received(e: dict[str, Any]) -> datetime:
    """received_at as sent (the streaming tests always set it)."""
    return _at(e["received_at"])


def first_copies(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for e in events:
        if e["event_id"] not in seen:
            seen.add(e["event_id"])
            out.append(e)
    return out


def window_metrics(events: list[dict[str, Any]], window: timedelta) -> dict[str, dict[str, Any]]:
    """{window_start: metrics} as the job defines them (docs/streaming.md)."""
    by_window: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for e in first_copies(events):
        at = _at(e["occurred_at"])
        start = EPOCH + ((at - EPOCH) // window) * window
        by_window[start].append(e | {"_at": at})
    out = {}
    for start, rows in sorted(by_window.items()):
        users: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        for e in rows:
            users[e.get("user_id") or e.get("anonymous_id")].append(e)
        purchases = [e for e in rows if e["event_type"] == "purchase"]
        buyers = {e.get("user_id") or e.get("anonymous_id") for e in purchases} - {None}
        durations = []
        for user_rows in users.values():
            times = [e["_at"] for e in user_rows if e["event_type"] in SESSION_EVENT_TYPES]
            if times:
                durations.append((max(times) - min(times)) // timedelta(microseconds=1))
        unique = len([k for k in users if k is not None])
        ad_types = ("impression", "click", "conversion")
        site = {
            k
            for k, user_rows in users.items()
            if k is not None and any(e["event_type"] not in ad_types for e in user_rows)
        }
        out[_iso(start)] = {
            "window_start": _iso(start),
            "window_end": _iso(start + window),
            "total_events": len(rows),
            "unique_users": unique,
            "purchases": len(purchases),
            "revenue": str(sum((Decimal(e["revenue"]) for e in purchases), Decimal("0.00"))),
            "purchasing_users": len(buyers),
            "site_users": len(site),
            "late_events": sum(1 for e in rows if _received(e) - e["_at"] > LATE_AFTER),
            "buyer_share": len(buyers) / len(site) if site else 0.0,
            "avg_session_duration_s": sum(durations) / len(durations) / 1e6 if durations else None,
        }
    return out


def ad_counters(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for e in first_copies(events):
        if e["event_type"] not in ("impression", "click", "conversion"):
            continue
        c = out.setdefault(
            e["campaign_id"],
            {"impressions": 0, "clicks": 0, "conversions": 0, "cost": Decimal(0), "revenue": Decimal(0)},
        )
        c[e["event_type"] + "s"] += 1
        if e["event_type"] == "conversion":
            c["revenue"] += Decimal(e["value"])
        elif e.get("cost") is not None:
            c["cost"] += Decimal(e["cost"])
    return {
        k: {
            **v,
            "cost": str(v["cost"].quantize(Decimal("0.000001"))),
            "revenue": str(v["revenue"].quantize(Decimal("0.01"))),
        }
        for k, v in out.items()
    }
