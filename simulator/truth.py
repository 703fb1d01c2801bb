"""Ground truth: what every later stage should find in the generated events.

Computed from the generator's own arrays, not by reading the output back, so it can check any
implementation (Spark, DuckDB, dbt) of the contract's rules:

* only valid events count (malformed ones are excluded) and each event_id counts once (the
  first received; retries are the later copies);
* sessions follow :mod:`watershed.contract.semantics` and include bot sessions, flagged
  ``is_bot`` (a session is a bot session when any of its events has a bot user agent);
* daily figures are by the UTC day of occurred_at (sessions: of their first event).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.assemble import Actors, Arrivals, decimals
from simulator.config import GeneratorConfig
from simulator.faults import MALFORMED_KINDS, FaultPlan, fields, pii_fields
from simulator.frame import TYPE_CODE, Frame
from simulator.ids import numbered_strings, uuid_strings
from simulator.rates import daily_rates
from simulator.sorting import composite, sort_order
from simulator.world import ACCOUNTS, World
from watershed.contract import SESSION_EVENT_TYPES, SESSION_GAP, Platform
from watershed.contract.fields import SHOP_CURRENCY

DAY_MS = 86_400_000
GAP_MS = int(SESSION_GAP.total_seconds() * 1000)
FUNNEL_STEPS = ("product_view", "add_to_cart", "begin_checkout", "purchase")
COUNTED_TYPES = ("page_view", "product_view", "search", "add_to_cart", "remove_from_cart", "begin_checkout", "purchase")


@dataclass(frozen=True)
class Truth:
    sessions: pa.Table
    funnel_daily: pa.Table
    revenue_daily: pa.Table
    campaign_totals: pa.Table
    faults: pa.Table


def ground_truth(
    frame: Frame,
    plan: FaultPlan,
    arrived: Arrivals,
    actors: Actors,
    event_high: np.ndarray,
    event_low: np.ndarray,
    world: World,
    config: GeneratorConfig,
) -> Truth:
    valid = plan.malformed < 0
    is_bot = np.where(frame["ua"] >= 0, world.ua_is_bot[np.maximum(frame["ua"], 0)], False)
    sessions = _sessions(frame, valid, is_bot, actors, event_high, event_low, config)
    return Truth(
        sessions=sessions,
        funnel_daily=_funnel_daily(frame, valid, is_bot, sessions, config),
        revenue_daily=_revenue_daily(frame, valid, config),
        campaign_totals=campaign_table(frame, valid, world, config, platform_rows=False),
        faults=_faults(frame, plan, arrived, event_high, event_low, is_bot, world),
    )


def _sessions(
    frame: Frame,
    valid: np.ndarray,
    is_bot: np.ndarray,
    actors: Actors,
    event_high: np.ndarray,
    event_low: np.ndarray,
    config: GeneratorConfig,
) -> pa.Table:
    codes = [TYPE_CODE[t] for t in SESSION_EVENT_TYPES]
    rows = np.flatnonzero(valid & np.isin(frame["etype"], codes))
    key = frame["actor"][rows] * 2 + frame["with_user_id"][rows]  # one code per user key
    t = frame["t"][rows]
    order = sort_order(composite(key, t - config.window_start_ms), event_high[rows], event_low[rows])
    rows, key, t = rows[order], key[order], t[order]

    # a visit: a run of one key's events without a gap over GAP_MS; a session crosses at most one
    # midnight, so a visit that began two or more days before an event's day restarts there
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (key[1:] != key[:-1]) | (t[1:] - t[:-1] > GAP_MS)
    day = t // DAY_MS
    visit_day = day[np.flatnonzero(new)][np.cumsum(new) - 1]
    new[1:] |= (day[1:] > day[:-1]) & (day[1:] - visit_day[1:] >= 2)
    session = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(rows)) - 1
    n = len(first)

    def per_session(values: np.ndarray) -> np.ndarray:
        return np.bincount(session, weights=values, minlength=n).astype(np.int64)

    etype = frame["etype"][rows]
    first_row = rows[first]
    user_keys = _user_keys(actors, frame["actor"][first_row], frame["with_user_id"][first_row])
    first_ids = uuid_strings(event_high[first_row], event_low[first_row])
    revenue = _sum_by(session, np.where(etype == TYPE_CODE["purchase"], frame["revenue"][rows], 0), n)
    table = pa.table({
        "session_id": session_ids(user_keys, first_ids),
        "user_key": user_keys,
        "session_date": _dates(t[first]),
        "started_at": _ts(t[first]),
        "ended_at": _ts(t[last]),
        "event_count": pa.array(last - first + 1, pa.int64()),
        "is_bot": pa.array(per_session(is_bot[rows]) > 0),
        **{f"{step}s": pa.array(per_session(etype == TYPE_CODE[step]), pa.int64()) for step in
           ("page_view", *FUNNEL_STEPS)},
        "revenue": decimals(revenue, np.ones(n, dtype=bool), 2),
        "first_event_id": first_ids,
    })  # fmt: skip
    return table.sort_by([("session_date", "ascending"), ("session_id", "ascending")])


def _user_keys(actors: Actors, actor: np.ndarray, with_user_id: np.ndarray) -> pa.Array:
    """coalesce(user_id, anonymous_id) of each (actor, with_user_id)."""
    number = actors.user_number[actor]
    signed_in = with_user_id & (number >= 0)
    user_ids = numbered_strings("", number, signed_in)
    anonymous = uuid_strings(actors.anonymous_high[actor], actors.anonymous_low[actor])
    return pc.if_else(pa.array(signed_in), user_ids, anonymous)


def session_ids(user_keys: pa.Array, first_event_ids: pa.Array) -> pa.Array:
    """sha256(user_key || '|' || first event_id)[:32] for whole columns. DuckDB hashes a column
    on every core; the formula is the contract's (semantics.session_id), and the DuckDB test of
    the truth recomputes it from the files on its own."""
    import duckdb

    with duckdb.connect() as con:
        con.register("pairs", pa.table({"k": user_keys, "e": first_event_ids}))
        # a projection keeps the input's row order (preserve_insertion_order is on by default)
        hashed = con.sql("select sha256(k || '|' || e)[1:32] as id from pairs").fetch_arrow_table()
    return hashed["id"].combine_chunks().cast(pa.string())


def _funnel_daily(
    frame: Frame, valid: np.ndarray, is_bot: np.ndarray, sessions: pa.Table, config: GeneratorConfig
) -> pa.Table:
    """Per (day, is_bot): sessions reaching each funnel step (by session day) and event counts
    (by event day)."""
    days = np.repeat(np.arange(config.days), 2)  # rows: (day 0, human), (day 0, bot), (day 1, human) ...
    bots = np.tile([False, True], config.days)
    size = config.days * 2  # cell = day * 2 + is_bot
    s_day = (sessions["started_at"].cast(pa.int64()).to_numpy() // 1000 - config.window_start_ms) // DAY_MS
    s_cell = s_day * 2 + sessions["is_bot"].to_numpy(zero_copy_only=False).astype(np.int64)
    columns = {
        "date": _dates(config.window_start_ms + days * DAY_MS),
        "is_bot": pa.array(bots),
        "sessions": pa.array(np.bincount(s_cell, minlength=size), pa.int64()),
    }
    for step in FUNNEL_STEPS:
        reached = sessions[f"{step}s"].to_numpy() > 0
        columns[f"sessions_with_{step}"] = pa.array(np.bincount(s_cell[reached], minlength=size), pa.int64())
    e_day = (frame["t"] - config.window_start_ms) // DAY_MS
    e_cell = e_day * 2 + is_bot.astype(np.int64)
    for name in COUNTED_TYPES:
        counted = valid & (frame["etype"] == TYPE_CODE[name])
        columns[f"{name}_events"] = pa.array(np.bincount(e_cell[counted], minlength=size), pa.int64())
    return pa.table(columns)


def _revenue_daily(frame: Frame, valid: np.ndarray, config: GeneratorConfig) -> pa.Table:
    day = (frame["t"] - config.window_start_ms) // DAY_MS
    out = {"date": _dates(config.window_start_ms + np.arange(config.days) * DAY_MS)}
    for name, label in (("purchase", "orders"), ("refund", "refunds")):
        rows = valid & (frame["etype"] == TYPE_CODE[name])
        out[label] = pa.array(np.bincount(day[rows], minlength=config.days), pa.int64())
        cents = _sum_by(day[rows], frame["revenue"][rows], config.days)
        out["revenue" if name == "purchase" else "refunded"] = decimals(cents, np.ones(config.days, dtype=bool), 2)
    return pa.table(out)


def campaign_table(
    frame: Frame, include: np.ndarray, world: World, config: GeneratorConfig, *, platform_rows: bool
) -> pa.Table:
    """Per (day, campaign) ad totals of the `include`d events: the truth's campaign_totals (UTC
    days, the shop's currency), or, with `platform_rows`, the ad platforms' daily report rows
    (contract AdPlatformDailyRow): days in the account's time zone, amounts in its currency at
    the day's rate (simulator/rates.py), rounded to micros (cost) and cents (value)."""
    ads = include & (frame["campaign"] >= 0)
    t = frame["t"][ads]
    campaign = frame["campaign"][ads].astype(np.int64)
    account = [ACCOUNTS[p] for p in Platform]  # per platform index
    if platform_rows:
        zone_of = np.array([a[2] for a in account])[world.campaign_platform[campaign]]
        day = np.empty(len(t), dtype=np.int64)
        for zone in np.unique(zone_of).tolist():
            mine = zone_of == zone
            day[mine] = local_epoch_days(t[mine], zone)
    else:
        day = t // DAY_MS
    first = int(day.min()) if len(day) else config.window_start_ms // DAY_MS
    width = len(world.campaign_ids)
    cell = (day - first) * width + campaign
    size = (int(day.max()) - first + 1 if len(day) else 0) * width
    etype = frame["etype"][ads]

    def count(name: str) -> np.ndarray:
        return np.bincount(cell[etype == TYPE_CODE[name]], minlength=size)

    impressions, clicks, conversions = count("impression"), count("click"), count("conversion")
    cost = _sum_by(cell, np.maximum(frame["cost"][ads], 0), size)
    value = _sum_by(cell, np.maximum(frame["value"][ads], 0), size)
    active = np.flatnonzero(impressions + clicks + conversions > 0)
    days, campaigns = first + active // width, active % width
    platform_index = world.campaign_platform[campaigns]
    platform = np.array([p.value for p in Platform])[platform_index]
    cost, value = cost[active], value[active]
    ones = np.ones(len(active), dtype=bool)
    columns = {
        "date": pa.array(days.astype(np.int32), pa.date32()),
        "platform": pa.array(platform.tolist(), pa.string()),
    }
    if platform_rows:
        accounts = [account[i] for i in platform_index.tolist()]
        columns["account_id"] = pa.array([a[0] for a in accounts], pa.string())
        columns["account_name"] = pa.array([a[1] for a in accounts], pa.string())
        for i, (_, _, _, currency) in enumerate(account):
            mine = platform_index == i
            to_account = daily_rates(currency, SHOP_CURRENCY, days[mine])  # shop currency per account unit
            cost[mine] = np.rint(cost[mine] / to_account).astype(np.int64)
            value[mine] = np.rint(value[mine] / to_account).astype(np.int64)
    columns["campaign_id"] = pa.array([world.campaign_ids[c] for c in campaigns], pa.string())
    if platform_rows:
        columns["campaign_name"] = pa.array([world.campaign_names[c] for c in campaigns], pa.string())
    columns |= {
        "impressions": pa.array(impressions[active], pa.int64()),
        "clicks": pa.array(clicks[active], pa.int64()),
        "cost": decimals(cost, ones, 6),
        "conversions": pa.array(conversions[active], pa.float64() if platform_rows else pa.int64()),
        "conversion_value": decimals(value, ones, 2),
    }
    if platform_rows:
        columns["currency"] = pa.array([a[3] for a in accounts], pa.string())
        columns["time_zone"] = pa.array([a[2] for a in accounts], pa.string())
    return pa.table(columns)


def local_epoch_days(t_ms: np.ndarray, zone: str) -> np.ndarray:
    """The day (days since 1970-01-01) in time zone `zone` of each UTC instant (epoch ms),
    daylight saving included: local midnights as UTC instants, then a search."""
    if len(t_ms) == 0:
        return np.zeros(0, dtype=np.int64)
    tz = ZoneInfo(zone)
    lo, hi = int(t_ms.min()) // DAY_MS - 2, int(t_ms.max()) // DAY_MS + 2
    epoch = dt.date(1970, 1, 1).toordinal()
    midnights = np.array(
        [
            int(dt.datetime.combine(dt.date.fromordinal(epoch + d), dt.time(), tz).timestamp() * 1000)
            for d in range(lo, hi + 1)
        ],
        dtype=np.int64,
    )
    return lo + np.searchsorted(midnights, t_ms, side="right") - 1


def _faults(
    frame: Frame,
    plan: FaultPlan,
    arrived: Arrivals,
    event_high: np.ndarray,
    event_low: np.ndarray,
    is_bot: np.ndarray,
    world: World,
) -> pa.Table:
    """One row per (output row, fault kind): position in arrival order, the event's generated
    id, when it arrived, the kind and a reason."""
    base = len(plan.received)
    position = np.empty(base, dtype=np.int64)
    first_send = ~arrived.is_copy
    position[arrived.source_row[first_send]] = np.flatnonzero(first_send)
    names = fields()
    parts: list[tuple[np.ndarray, str, list[str]]] = []

    bad = np.flatnonzero(plan.malformed >= 0)
    parts.append(
        (
            bad,
            "malformed",
            [
                _malformed_reason(k, f, v, names)
                for k, f, v in zip(
                    plan.malformed[bad].tolist(),
                    plan.malformed_field[bad].tolist(),
                    plan.variant[bad].tolist(),
                    strict=True,
                )
            ],
        )
    )
    late = np.flatnonzero(plan.late)
    delay = ((plan.received[late] - frame["t"][late]) // 1000).tolist()
    parts.append((late, "late", [f"received {s} s after occurred_at" for s in delay]))
    ooo = np.flatnonzero(plan.out_of_order)
    parts.append((ooo, "out_of_order", ["received after a later event of the same user"] * len(ooo)))
    pii = np.flatnonzero(plan.pii)
    parts.append((pii, "pii", [f"raw {pii_fields(b)}" for b in plan.pii[pii].tolist()]))
    bots = np.flatnonzero(is_bot)
    parts.append((bots, "bot", [world.user_agents[u] for u in frame["ua"][bots].tolist()]))

    rows = [np.concatenate([p for p, _, _ in parts]).astype(np.int64)]
    positions = [position[rows[0]]]
    received = [plan.received[rows[0]]]
    kinds = [np.repeat([k for _, k, _ in parts], [len(p) for p, _, _ in parts])]
    reasons = [r for _, _, rs in parts for r in rs]
    copies = np.flatnonzero(arrived.is_copy)
    rows.append(arrived.source_row[copies])
    positions.append(copies)
    received.append(arrived.received[copies])
    kinds.append(np.repeat("duplicate", len(copies)))
    reasons += [f"retry of the event at position {p}" for p in position[arrived.source_row[copies]].tolist()]

    row = np.concatenate(rows)
    table = pa.table({
        "position": pa.array(np.concatenate(positions), pa.int64()),
        "event_id": uuid_strings(event_high[row], event_low[row]),
        "received_at": _ts(np.concatenate(received)),
        "kind": pa.array(np.concatenate(kinds).tolist(), pa.string()),
        "reason": pa.array(reasons, pa.string()),
    })  # fmt: skip
    return table.sort_by([("position", "ascending"), ("kind", "ascending")])


def _malformed_reason(kind: int, field: int, variant: int, names: list[str]) -> str:
    name = MALFORMED_KINDS[kind]
    if name in ("missing_field", "wrong_type"):
        return f"{name}:{names[field]}"
    if name == "ancient_timestamp":
        return f"{name}:{'epoch' if variant == 0 else 'years_old'}"
    if name == "oversize_properties":
        return f"{name}:{'keys' if variant == 0 else 'bytes'}"
    return name


def _sum_by(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Integer sums per group. bincount adds in float64, which is exact while every partial
    sum stays below 2**53 (90 trillion dollars in cents); refuse anything larger."""
    if np.abs(values).sum(dtype=np.float64) >= 2**53:
        raise OverflowError("amounts too large to sum exactly")
    return np.bincount(group, weights=values, minlength=size).astype(np.int64)


def _ts(ms: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(ms, dtype=np.int64) * 1000, pa.timestamp("us", tz="UTC"))


def _dates(ms: np.ndarray) -> pa.Array:
    return pa.array((np.asarray(ms, dtype=np.int64) // DAY_MS).astype(np.int32), pa.date32())
