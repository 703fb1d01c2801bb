"""One run of the simulation, in memory: events in arrival order, the ad platforms' daily rows,
the ground truth and a summary. No I/O; :mod:`simulator.run` writes and sends.

Every random draw comes from a numpy PCG64 stream derived from the seed and a fixed stream
number, so a seed reproduces the same data whatever else changes in the run.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.ads import ad_events
from simulator.assemble import Actors, EventStream, arrivals, assemble
from simulator.bots import bot_events
from simulator.config import GeneratorConfig
from simulator.faults import MALFORMED_KINDS, FaultPlan, plan_faults
from simulator.frame import concat, size
from simulator.ids import random_uuid_words
from simulator.population import plan_population
from simulator.traffic import refunds, site_events
from simulator.truth import Truth, campaign_table, ground_truth
from simulator.world import build_world
from watershed.contract import CURRENT_SCHEMA_VERSION, EVENT_TYPES, SESSION_GAP

# Stream numbers (population chunks use stream 1 with the chunk index).
_WORLD, _VISITS, _REFUNDS, _ADS, _BOTS, _IDS, _FAULTS = 0, 2, 3, 4, 5, 6, 7


class Simulation:
    """One run's results. The ground truth is computed on first use, so that a caller can
    compute it on one thread while the events are built and delivered on others."""

    def __init__(self, events: EventStream, ad_platform_rows: pa.Table, truth: Callable[[], Truth],
                 summary: Callable[[Truth], dict[str, Any]]) -> None:  # fmt: skip
        self.events = events  # arrival order; tables of schema assemble.event_schema()
        self.ad_platform_rows = ad_platform_rows  # contract AdPlatformDailyRow columns
        self._truth = truth
        self._summary = summary

    @cached_property
    def truth(self) -> Truth:
        return self._truth()

    @cached_property
    def summary(self) -> dict[str, Any]:
        return self._summary(self.truth)


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stream,))))


def simulate(config: GeneratorConfig) -> Simulation:
    seed = config.seed
    world = build_world(_rng(seed, _WORLD))
    bot_rate = config.faults.bot
    target = None if config.events is None else round(config.events * (1 - bot_rate))
    population = plan_population(config, world, target)
    humans = population.users
    site = site_events(_rng(seed, _VISITS), population, world, config)
    refund_frame = refunds(_rng(seed, _REFUNDS), site, population, config)
    ad_frame, audience = ad_events(_rng(seed, _ADS), population, site, world, humans, config)
    human_events = size(site.frame) + size(refund_frame) + size(ad_frame)
    bot_count = round(human_events * bot_rate / (1 - bot_rate))
    bot_frame, bots = bot_events(_rng(seed, _BOTS), bot_count, humans + audience, world, config)
    frame = concat([site.frame, refund_frame, ad_frame, bot_frame])
    outside = int(np.sum((frame["t"] < config.window_start_ms) | (frame["t"] >= config.window_end_ms)))
    if outside:  # every truth table is per day of the window; a stray event is a generator bug
        raise AssertionError(f"{outside} generated events fall outside the window")

    ids = _rng(seed, _IDS)
    event_high, event_low = random_uuid_words(ids, size(frame))
    anonymous_high, anonymous_low = random_uuid_words(ids, humans + audience + bots)
    # user ids and order numbers count up from a random start, all with one number of digits
    user_number = np.full(humans + audience + bots, -1, dtype=np.int64)
    registered = np.flatnonzero(population.registered)
    user_number[registered] = _number_base(ids, len(registered), digits=7) + np.arange(len(registered))
    actors = Actors(anonymous_high, anonymous_low, user_number)
    order_base = _number_base(ids, int(frame["order"].max(initial=-1)) + 1, digits=8)

    plan = plan_faults(_rng(seed, _FAULTS), frame, config.faults, humans)
    arrived = arrivals(plan)
    build = partial(assemble, frame=frame, plan=plan, actors=actors, event_high=event_high, event_low=event_low,
                    order_base=order_base, lines=site.lines, world=world)  # fmt: skip
    events = EventStream(arrived, frame["etype"][arrived.source_row], build)
    platform_rows = campaign_table(frame, np.ones(size(frame), dtype=bool), world, config, platform_rows=True)
    return Simulation(
        events,
        platform_rows,
        truth=partial(ground_truth, frame, plan, arrived, actors, event_high, event_low, world, config),
        summary=partial(
            _summary, config, frame, plan, events.rows, humans=humans, bots=bots, bot_events_count=bot_count
        ),
    )


def _number_base(rng: np.random.Generator, count: int, digits: int) -> int:
    """A random first number such that `count` consecutive numbers all have the same number of
    digits (at least `digits`)."""
    while 9 * 10 ** (digits - 1) < 2 * count:
        digits += 1
    low = 10 ** (digits - 1)
    return low + int(rng.integers(0, 9 * low - count + 1))


def _summary(
    config: GeneratorConfig,
    frame: dict[str, np.ndarray],
    plan: FaultPlan,
    rows: int,
    truth: Truth,
    *,
    humans: int,
    bots: int,
    bot_events_count: int,
) -> dict[str, Any]:
    base = size(frame)
    kinds = truth.faults["kind"].value_counts().to_pylist()
    by_kind = {k["values"]: k["counts"] for k in kinds}
    sessions = truth.sessions
    bot_sessions = int(np.sum(sessions["is_bot"].to_numpy(zero_copy_only=False)))
    revenue = truth.revenue_daily["revenue"]  # every day of the window: never empty
    return {
        "contract_schema_version": CURRENT_SCHEMA_VERSION,
        "parameters": config.describe(),
        "rows": rows,
        "base_events": base,
        "valid_events": int(np.sum(plan.malformed < 0)),
        "events_by_type": {t: int(np.sum(frame["etype"] == code)) for code, t in enumerate(EVENT_TYPES)},
        "human_users": humans,
        "bot_actors": bots,
        "faults": {
            "duplicate": by_kind.get("duplicate", 0),
            "late": by_kind.get("late", 0),
            "out_of_order": by_kind.get("out_of_order", 0),
            "malformed": by_kind.get("malformed", 0),
            "malformed_by_kind": {k: int(np.sum(plan.malformed == i)) for i, k in enumerate(MALFORMED_KINDS)},
            "bot": bot_events_count,
            "pii": by_kind.get("pii", 0),
        },
        "sessions": sessions.num_rows,
        "bot_sessions": bot_sessions,
        "orders": int(np.sum(truth.revenue_daily["orders"].to_numpy())),
        "revenue": str(pc.sum(revenue).as_py()),
        "rules": {
            "valid_events": "malformed events are excluded; duplicates count once (the first received copy)",
            "sessions": f"per coalesce(user_id, anonymous_id), ordered by (occurred_at, event_id); a gap of "
            f"more than {int(SESSION_GAP.total_seconds() // 60)} minutes starts a new session; day of the "
            "first event (UTC); session_id = sha256(user_key || '|' || first event_id)[:32]",
            "bots": "bot sessions are included in sessions.parquet with is_bot = true; funnel_daily has one row "
            "per (date, is_bot)",
            "revenue": "sum of purchase revenue of valid events by UTC day of occurred_at; refunds separately",
            "campaign_totals": "valid ad events by UTC day of occurred_at; ad_platform rows count every "
            "generated ad event, including those later malformed",
        },
    }
