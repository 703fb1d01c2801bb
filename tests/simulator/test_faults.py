"""Each fault kind appears at its configured rate (exactly round(rate * base events)), on the
events it claims to, and the faults list says which events are broken and why."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from simulator import GeneratorConfig
from simulator.wire import dumps, payloads
from watershed.contract import PII_PATTERNS, is_bot_user_agent, validate_event


@pytest.fixture(scope="module")
def events(dataset: Path) -> Any:
    return pq.read_table(dataset / "events")


@pytest.fixture(scope="module")
def faults(dataset: Path) -> list[dict[str, Any]]:
    return pq.read_table(dataset / "truth" / "faults.parquet").to_pylist()


def _positions(faults: list[dict[str, Any]], kind: str) -> set[int]:
    return {f["position"] for f in faults if f["kind"] == kind}


@pytest.mark.parametrize("kind", ["duplicate", "late", "out_of_order", "malformed", "pii"])
def test_drawn_faults_hit_exactly_their_share(summary: dict[str, Any], config: GeneratorConfig, kind: str) -> None:
    base, rate = summary["base_events"], asdict(config.faults)[kind]
    count = summary["faults"][kind]
    assert count == round(rate * base)
    assert abs(count / base - rate) <= 1 / base


def test_bot_traffic_is_its_share_of_all_events(summary: dict[str, Any], config: GeneratorConfig) -> None:
    base, bots, rate = summary["base_events"], summary["faults"]["bot"], config.faults.bot
    assert bots == round((base - bots) * rate / (1 - rate))
    assert abs(bots / base - rate) <= 1 / base


def test_counts_add_up(
    summary: dict[str, Any], config: GeneratorConfig, events: Any, faults: list[dict[str, Any]]
) -> None:
    assert summary["parameters"]["seed"] == config.seed
    assert events.num_rows == summary["rows"] == summary["base_events"] + summary["faults"]["duplicate"]
    assert abs(summary["base_events"] - (config.events or 0)) < 200  # whole users are added until the target is met
    kinds = Counter(f["kind"] for f in faults)
    assert kinds == {k: summary["faults"][k] for k in ("duplicate", "late", "out_of_order", "malformed", "pii", "bot")}
    malformed = Counter(f["reason"].split(":")[0] for f in faults if f["kind"] == "malformed")
    assert sorted(malformed.values())[-1] - sorted(malformed.values())[0] <= 1  # five kinds, equal shares
    assert set(malformed) == {"missing_field", "wrong_type", "future_timestamp", "ancient_timestamp",
                              "oversize_properties"}  # fmt: skip


def test_exactly_the_malformed_events_fail_the_contract(events: Any, faults: list[dict[str, Any]]) -> None:
    malformed = {f["position"]: f["reason"] for f in faults if f["kind"] == "malformed"}
    verdicts = {}
    for position, payload in enumerate(payloads(events, received_at=True)):
        result = validate_event(json.loads(dumps(payload)))
        verdicts[position] = result.ok
        if position in malformed and malformed[position].startswith(("missing_field", "wrong_type")):
            field = malformed[position].split(":")[1].split(",")[0]
            assert any(e.field.split(".")[0].split("[")[0] == field for e in result.errors), (field, result.errors)
    assert {p for p, ok in verdicts.items() if not ok} == set(malformed)


def test_duplicates_are_later_copies(events: Any, faults: list[dict[str, Any]]) -> None:
    rows = events.select(["event_id", "received_at"]).to_pylist()
    for f in faults:
        if f["kind"] == "duplicate":
            original = int(f["reason"].rsplit(" ", 1)[1])
            copy = rows[f["position"]]
            assert copy["event_id"] == rows[original]["event_id"] == f["event_id"]
            assert copy["received_at"] > rows[original]["received_at"]
    ids = Counter(r["event_id"] for r in rows if r["event_id"] is not None)
    assert sum(n - 1 for n in ids.values()) == len(_positions(faults, "duplicate"))


def test_late_events_arrive_minutes_to_days_late(events: Any, faults: list[dict[str, Any]]) -> None:
    rows = events.select(["occurred_at", "received_at"]).to_pylist()
    for position in _positions(faults, "late"):
        delay = (rows[position]["received_at"] - rows[position]["occurred_at"]).total_seconds()
        assert 5 * 60 <= delay <= 3 * 86_400


def test_out_of_order_events_arrive_after_a_later_event(events: Any, faults: list[dict[str, Any]]) -> None:
    arrivals: dict[str, list[tuple[int, Any]]] = {}
    for position, row in enumerate(events.select(["user_id", "anonymous_id", "occurred_at"]).to_pylist()):
        arrivals.setdefault(row["user_id"] or row["anonymous_id"], []).append((position, row["occurred_at"]))
    positions = _positions(faults, "out_of_order")
    checked = 0
    for stream in arrivals.values():
        for position, occurred in stream:
            if position in positions:
                assert any(p < position and t is not None and t > occurred for p, t in stream)
                checked += 1
    assert checked == len(positions) > 0


def test_personal_data_only_where_injected(events: Any, faults: list[dict[str, Any]]) -> None:
    carriers = _positions(faults, "pii") | {
        f["position"] for f in faults if f["kind"] == "duplicate" and f["event_id"] in
        {g["event_id"] for g in faults if g["kind"] == "pii"}
    }  # fmt: skip
    rows = events.select(["ip", "email", "phone"]).to_pylist()
    patterns = {"ip": PII_PATTERNS["ipv4"], "email": PII_PATTERNS["email"], "phone": PII_PATTERNS["phone"]}
    for position, row in enumerate(rows):
        present = {k for k, v in row.items() if v is not None}
        if position in carriers:
            assert "ip" in present
            assert all(re.fullmatch(patterns[k].strip("^$"), row[k]) for k in present)
        else:
            assert not present


def test_bots_are_recognised_by_the_contract_rule(events: Any, faults: list[dict[str, Any]]) -> None:
    agents = events["user_agent"].to_pylist()
    flagged = _positions(faults, "bot")
    duplicated_bots = {f["position"] for f in faults if f["kind"] == "duplicate" and is_bot_user_agent(
        agents[f["position"]])}  # fmt: skip
    assert {p for p, ua in enumerate(agents) if is_bot_user_agent(ua)} == flagged | duplicated_bots
