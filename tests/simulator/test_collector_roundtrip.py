"""The generator's HTTP sink against the real collector app (in process, memory sink): every
well-formed event is accepted, every malformed one rejected, nothing lost, personal data
pseudonymised."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from simulator import FaultRates, GeneratorConfig, HttpSink, simulate
from watershed.contract import PII_PATTERNS

collector_app = pytest.importorskip("collectors.app")
collector_settings = pytest.importorskip("collectors.settings")
collector_sink = pytest.importorskip("collectors.sink")


def test_generated_traffic_through_the_collector() -> None:
    # The collector refuses events more than 7 days older than its own clock: use a recent window.
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    faults = FaultRates(duplicate=0.02, late=0.02, out_of_order=0.02, malformed=0.03, bot=0.05, pii=0.03)
    simulation = simulate(GeneratorConfig(seed=9, start_date=start, days=1, events=3_000, faults=faults))
    keys = dict(collector_settings.DEV_WRITE_KEYS)
    settings = collector_settings.CollectorSettings(env="local", write_keys=keys, rate_limit=0)
    memory = collector_sink.MemorySink()
    app = collector_app.create_app(settings, memory)

    result = HttpSink("http://collector", keys, transport=httpx.ASGITransport(app=app)).send(simulation.events)

    faults_list = simulation.truth.faults.to_pylist()
    malformed = {f["position"]: f["reason"] for f in faults_list if f["kind"] == "malformed"}
    # a "future" timestamp is relative to the simulated arrival; against today's clock some are past
    future = sum(reason == "future_timestamp" for reason in malformed.values())
    rows = simulation.events.rows
    assert result["accepted"] + result["rejected"] == rows
    assert len(malformed) - future <= result["rejected"] <= len(malformed)
    stored = [json.loads(r.value) for r in memory.records if r.topic != "events-invalid"]
    assert len(stored) == result["accepted"]
    raw = [v for e in stored for k in ("ip", "email") if isinstance(v := e.get(k), str)]
    assert raw and not any(_matches(v) for v in raw)


def _matches(value: Any) -> bool:
    import re

    return any(re.fullmatch(p.strip("^$"), value) for p in PII_PATTERNS.values())
