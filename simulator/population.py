"""Users and their visits (pass 1): who comes when, and how far down the funnel each visit goes.

Only counts and codes per visit are drawn here, in chunks of users with a random stream per
chunk, so that ``--events N`` can add users until the visits hold about N events without
expanding a single event. :mod:`simulator.traffic` expands the visits afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config import GeneratorConfig
from simulator.world import PLACES, REFERRERS, USER_AGENTS, World, place_shares, referrer_shares

SEGMENTS = ("window_shopper", "casual", "loyal", "big_spender")
SEGMENT_SHARE = np.array([0.45, 0.35, 0.15, 0.05])
VISITS_PER_DAY = np.array([0.06, 0.10, 0.30, 0.20])
P_REGISTERED = np.array([0.15, 0.35, 0.85, 0.90])
PRODUCT_VIEWS_MEAN = np.array([2.0, 3.0, 4.0, 4.5])
# Funnel: P(cart | product views), P(checkout | cart), P(purchase | checkout)
P_CART = np.array([0.04, 0.10, 0.18, 0.25])
P_CHECKOUT = np.array([0.45, 0.55, 0.65, 0.70])
P_PURCHASE = np.array([0.50, 0.60, 0.72, 0.80])
LINES_MEAN = np.array([1.2, 1.4, 1.6, 2.4])
P_NEW_SIGNUP = 0.15  # registered users who sign up inside the window
P_LOGIN, P_LOGOUT = 0.20, 0.08
P_SEARCH, P_REMOVE, P_REFUND = 0.30, 0.15, 0.04
P_PAID = 0.10  # visits that start with an ad click
DEVICE_SHARE = np.array([0.45, 0.47, 0.08])  # desktop, mobile, tablet
P_OTHER_DEVICE = 0.10

# Weekly and daily seasonality: weight of each weekday (Monday first) and hour (UTC).
WEEKDAY_WEIGHT = np.array([1.00, 0.97, 0.96, 1.00, 1.08, 1.22, 1.15])
HOUR_WEIGHT = np.array([
    0.30, 0.20, 0.14, 0.10, 0.10, 0.14, 0.30, 0.55, 0.80, 0.95, 1.00, 1.05,
    1.10, 1.05, 1.00, 1.00, 1.05, 1.15, 1.35, 1.55, 1.65, 1.50, 1.10, 0.60,
])  # fmt: skip

MAX_PAGE_VIEWS, MAX_SEARCHES, MAX_PRODUCT_VIEWS, MAX_ADDS, MAX_IMPRESSIONS = 15, 5, 30, 5, 400
_CHUNK_USERS = 50_000
_STREAM = 1


@dataclass(frozen=True)
class Population:
    """Users (arrays of length U) and visits (arrays of length V, grouped by user)."""

    segment: np.ndarray
    registered: np.ndarray
    new_signup: np.ndarray
    place: np.ndarray
    ua_slot: np.ndarray  # picks a browser of whatever device class a visit uses
    visits: dict[str, np.ndarray]

    @property
    def users(self) -> int:
        return len(self.segment)


def plan_population(config: GeneratorConfig, world: World, target_events: int | None) -> Population:
    """Users and visits: `config.users` users, or users in seed order until their visits hold
    at least `target_events` events (the last user is kept whole)."""
    chunks: list[Population] = []
    total = 0
    wanted_users = config.users or 0
    while True:
        index = len(chunks)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(config.seed, spawn_key=(_STREAM, index))))
        n = _CHUNK_USERS if target_events is not None else min(_CHUNK_USERS, wanted_users - index * _CHUNK_USERS)
        chunk = _chunk(rng, n, config, world)
        chunks.append(chunk)
        total += int(chunk.visits["events"].sum())
        if (target_events is not None and total >= target_events) or (
            target_events is None and index * _CHUNK_USERS + n >= wanted_users
        ):
            break
    population = _merge(chunks)
    if target_events is not None:
        per_user = np.bincount(
            population.visits["user"], weights=population.visits["events"], minlength=population.users
        )
        keep = int(np.searchsorted(np.cumsum(per_user), target_events)) + 1
        population = _first_users(population, min(keep, population.users))
    return _by_start(population)


def _chunk(rng: np.random.Generator, n: int, config: GeneratorConfig, world: World) -> Population:
    segment = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARE)
    registered = rng.random(n) < P_REGISTERED[segment]
    new_signup = registered & (rng.random(n) < P_NEW_SIGNUP)
    device = rng.choice(3, size=n, p=DEVICE_SHARE)
    place = rng.choice(len(PLACES), size=n, p=place_shares())
    ua_slot = rng.integers(0, 12, size=n)
    n_visits = rng.poisson(VISITS_PER_DAY[segment] * config.days)
    n_visits = np.where(new_signup, np.maximum(n_visits, 1), n_visits)

    user = np.repeat(np.arange(n), n_visits)
    v = len(user)
    seg = segment[user]
    first = np.ones(v, dtype=bool)
    first[1:] = user[1:] != user[:-1]

    visits: dict[str, np.ndarray] = {"user": user}
    visits["start"] = _start_times(rng, v, config)
    visits["device"] = np.where(rng.random(v) < P_OTHER_DEVICE, rng.choice(3, size=v, p=DEVICE_SHARE), device[user])
    visits["signup"] = (new_signup[user] & first).astype(np.int64)
    visits["login"] = (registered[user] & ~visits["signup"].astype(bool) & (rng.random(v) < P_LOGIN)).astype(np.int64)
    visits["logout"] = (registered[user] & (rng.random(v) < P_LOGOUT)).astype(np.int64)
    visits["page_views"] = np.minimum(rng.geometric(0.45, v), MAX_PAGE_VIEWS)
    visits["searches"] = np.where(rng.random(v) < P_SEARCH, np.minimum(rng.geometric(0.6, v), MAX_SEARCHES), 0)
    views = np.minimum(rng.geometric(1 / PRODUCT_VIEWS_MEAN[seg]), MAX_PRODUCT_VIEWS)
    visits["product_views"] = np.where(rng.random(v) < 0.8, views, 0)
    carts = (visits["product_views"] > 0) & (rng.random(v) < P_CART[seg])
    adds = np.minimum(np.minimum(rng.geometric(1 / LINES_MEAN[seg]), MAX_ADDS), visits["product_views"])
    visits["adds"] = np.where(carts, adds, 0)
    visits["removes"] = ((visits["adds"] > 0) & (rng.random(v) < P_REMOVE)).astype(np.int64)
    visits["removed"] = (rng.random(v) * np.maximum(visits["adds"], 1)).astype(np.int64)  # which add
    lines = visits["adds"] - visits["removes"]
    visits["checkout"] = ((lines > 0) & (rng.random(v) < P_CHECKOUT[seg])).astype(np.int64)
    visits["purchase"] = (visits["checkout"].astype(bool) & (rng.random(v) < P_PURCHASE[seg])).astype(np.int64)
    visits["refund"] = (visits["purchase"].astype(bool) & (rng.random(v) < P_REFUND)).astype(np.int64)
    visits["first_product"] = rng.choice(len(world.product_ids), size=v, p=world.product_popularity)
    visits["product_step"] = rng.integers(1, 5, size=v)
    visits["referrer"] = rng.choice(len(REFERRERS), size=v, p=referrer_shares())
    paid = rng.random(v) < P_PAID
    visits["paid"] = paid.astype(np.int64)
    visits["campaign"] = np.where(paid, rng.choice(len(world.campaign_ids), size=v, p=world.campaign_weight), -1)
    visits["ad"] = np.where(paid, rng.integers(0, 3, size=v), -1)
    ctr = world.campaign_ctr[np.maximum(visits["campaign"], 0)]
    visits["impressions"] = np.where(paid, np.minimum(rng.geometric(ctr), MAX_IMPRESSIONS), 0)
    visits["events"] = (
        visits["signup"] + visits["login"] + visits["logout"] + visits["page_views"] + visits["searches"]
        + visits["product_views"] + visits["adds"] + visits["removes"] + visits["checkout"] + visits["purchase"]
        + visits["refund"] + visits["paid"] * (1 + visits["purchase"]) + visits["impressions"]
    )  # fmt: skip
    return Population(segment, registered, new_signup, place, ua_slot, visits)


def _start_times(rng: np.random.Generator, v: int, config: GeneratorConfig) -> np.ndarray:
    """Visit start (epoch ms) following the weekday and hour-of-day weights."""
    first_weekday = config.start_date.weekday()
    day_weight = WEEKDAY_WEIGHT[(first_weekday + np.arange(config.days)) % 7]
    day = rng.choice(config.days, size=v, p=day_weight / day_weight.sum())
    hour = rng.choice(24, size=v, p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    within = rng.integers(0, 3_600_000, size=v)
    return config.window_start_ms + day * 86_400_000 + hour * 3_600_000 + within


def _merge(chunks: list[Population]) -> Population:
    offsets = np.cumsum([0] + [c.users for c in chunks[:-1]])
    visits = {
        key: np.concatenate(
            [c.visits[key] + (off if key == "user" else 0) for c, off in zip(chunks, offsets, strict=True)]
        )
        for key in chunks[0].visits
    }

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(c, name) for c in chunks])

    return Population(
        segment=joined("segment"),
        registered=joined("registered"),
        new_signup=joined("new_signup"),
        place=joined("place"),
        ua_slot=joined("ua_slot"),
        visits=visits,
    )


def _first_users(population: Population, users: int) -> Population:
    keep = population.visits["user"] < users
    return Population(
        population.segment[:users],
        population.registered[:users],
        population.new_signup[:users],
        population.place[:users],
        population.ua_slot[:users],
        {key: values[keep] for key, values in population.visits.items()},
    )


def _by_start(population: Population) -> Population:
    """Visits in order of start time. Events are generated visit by visit, so this keeps the
    generated table close to arrival order, and reordering it later reads memory nearly in
    sequence instead of at random (several times faster at ten million rows)."""
    order = np.argsort(population.visits["start"], kind="stable")
    visits = {key: values[order] for key, values in population.visits.items()}
    return Population(population.segment, population.registered, population.new_signup, population.place,
                      population.ua_slot, visits)  # fmt: skip


def devices_ua(world: World, device: np.ndarray, ua_slot: np.ndarray) -> np.ndarray:
    """The browser (index into world.user_agents) a user with `ua_slot` uses on `device`."""
    starts = np.array([world.device_agents(d)[0] for d in range(len(USER_AGENTS))])
    sizes = np.array([len(agents) for agents in USER_AGENTS])
    return starts[device] + ua_slot % sizes[device]
