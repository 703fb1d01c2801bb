"""Visits expanded into site events (pass 2): the funnel in order, with timestamps.

Within a visit the events follow the funnel: an optional login, a landing page view, browsing
(page views, searches, product views, each add-to-cart right after the product view it adds),
a possible removal, checkout, purchase and logout. Gaps between events are mostly seconds to
minutes; a few exceed 30 minutes (the visitor left and came back), some are exactly 30:00 or
30:00.001 so the session rule's boundary is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config import GeneratorConfig
from simulator.frame import TYPE_CODE, Frame, new_frame, take
from simulator.population import Population, devices_ua
from simulator.world import (
    PAYMENTS,
    PRODUCT_LISTS,
    REFERRERS,
    SEARCH_RESULTS_MAX,
    SEARCHES,
    SHIPPING,
    SIGNIN_METHODS,
    World,
)

GAP_MEDIAN_MS = 25_000
GAP_MIN_MS, GAP_MAX_MS = 800, 20 * 60_000
P_LONG_GAP = 0.03  # 30:00.001 to 2.5 h: a new session by the 30-minute rule
P_GAP_EXACTLY_30 = 0.003
P_GAP_30_PLUS_1MS = 0.001
THIRTY_MINUTES_MS = 1_800_000
END_MARGIN_MS = 15 * 60_000  # room after a visit for the conversion the ad platform reports
START_MARGIN_MS = 120_000  # room before a visit for its ad click (30 s) and impression (60 s before that)

# Stage of each type in a visit: the order key's integer part (browsing types get a random
# fraction inside stage 1-3).
_STAGE = {"login": 0.0, "signup": 3.55, "remove_from_cart": 3.6, "begin_checkout": 4.0, "purchase": 5.0,
          "logout": 6.0}  # fmt: skip


@dataclass(frozen=True)
class SiteEvents:
    frame: Frame
    lines: dict[str, np.ndarray]  # order lines: product, qty, price (cents)
    visit: np.ndarray  # the visit of each row
    purchase_rows: np.ndarray  # row of each visit's purchase (-1 when none), per visit


def site_events(rng: np.random.Generator, population: Population, world: World, config: GeneratorConfig) -> SiteEvents:
    visits = population.visits
    v = len(visits["user"])
    start = np.maximum(visits["start"], config.window_start_ms + START_MARGIN_MS)

    parts = {
        "login": visits["login"],
        "page_view": visits["page_views"],
        "search": visits["searches"],
        "product_view": visits["product_views"],
        "add_to_cart": visits["adds"],
        "remove_from_cart": visits["removes"],
        "signup": visits["signup"],
        "begin_checkout": visits["checkout"],
        "purchase": visits["purchase"],
        "logout": visits["logout"],
    }
    rows = {name: _expand(counts) for name, counts in parts.items()}
    n_products = len(world.product_ids)

    # product views walk through neighbouring products (a category page) from a popular one
    pv_visit, pv_j = rows["product_view"]
    pv_product = (visits["first_product"][pv_visit] + pv_j * visits["product_step"][pv_visit]) % n_products
    pv_key = 1.0 + 2.5 * (pv_j + rng.random(len(pv_visit))) / visits["product_views"][pv_visit]
    pv_first = np.cumsum(visits["product_views"]) - visits["product_views"]

    add_visit, add_j = rows["add_to_cart"]
    add_view = pv_first[add_visit] + add_j  # the product view each add follows
    add_product = pv_product[add_view]
    add_qty = rng.choice([1, 2, 3], size=len(add_visit), p=[0.8, 0.15, 0.05])
    add_first = np.cumsum(visits["adds"]) - visits["adds"]
    rm_visit, _ = rows["remove_from_cart"]
    removed_add = add_first[rm_visit] + visits["removed"][rm_visit]
    kept = np.ones(len(add_visit), dtype=bool)
    kept[removed_add] = False
    lines = {"product": add_product[kept], "qty": add_qty[kept],
             "price": world.product_price_cents[add_product[kept]]}  # fmt: skip
    n_lines = np.bincount(add_visit[kept], minlength=v)
    line_start = np.cumsum(n_lines) - n_lines
    line_value = np.concatenate([[0], np.cumsum(lines["qty"] * lines["price"])])
    basket = line_value[line_start + n_lines] - line_value[line_start]

    frames, keys, owners = [], [], []
    for name, (visit, j) in rows.items():
        n = len(visit)
        user = visits["user"][visit]
        # only the attributes this type carries; _interleave fills the rest with nulls
        frame: Frame = {
            "etype": np.full(n, TYPE_CODE[name], dtype=np.int8),
            "actor": user,
            "with_user_id": population.registered[user],
        }
        if name in ("page_view", "search", "product_view", "add_to_cart", "remove_from_cart", "begin_checkout"):
            device = visits["device"][visit]
            frame["device"] = device
            frame["ua"] = devices_ua(world, device, population.ua_slot[user])
            frame["place"] = population.place[user]
        if name == "page_view":
            key = np.where(j == 0, 0.5, rng.uniform(1.0, 3.5, n))
            _page_views(rng, frame, visits, visit, j, world)
        elif name == "search":
            key = rng.uniform(1.0, 3.0, n)
            query = rng.integers(0, len(SEARCHES), n)
            frame["query"] = query
            frame["page"] = world.search_url + query
            frame["props"] = world.search_props + rng.integers(0, SEARCH_RESULTS_MAX + 1, n)
        elif name == "product_view":
            key = pv_key
            _product(frame, pv_product, world)
            lst = rng.integers(0, len(PRODUCT_LISTS), n)
            frame["props"] = world.product_view_props + world.product_category[pv_product] * len(PRODUCT_LISTS) + lst
        elif name == "add_to_cart":
            key = pv_key[add_view] + 1e-4
            _product(frame, add_product, world)
            frame["qty"] = add_qty
            frame["props"] = world.cart_props + world.product_category[add_product]
        elif name == "remove_from_cart":
            key = np.full(n, _STAGE[name])
            _product(frame, add_product[removed_add], world)
            frame["qty"] = add_qty[removed_add]
        else:
            key = np.full(n, _STAGE[name])
            if name in ("begin_checkout", "purchase"):
                frame["items_start"] = line_start[visit]
                frame["items_len"] = n_lines[visit]
                frame["currency"] = np.ones(n, dtype=bool)
            if name == "begin_checkout":
                frame["page"] = np.full(n, world.checkout_url)
            if name == "purchase":
                frame["revenue"] = basket[visit]
                frame["props"] = world.purchase_props + rng.integers(0, len(PAYMENTS) * len(SHIPPING), n)
            if name in ("signup", "login"):
                frame["props"] = world.account_props + rng.integers(0, len(SIGNIN_METHODS), n)
        frames.append(frame)
        keys.append(_order_key(visit, key, TYPE_CODE[name], j, v))
        owners.append(visit)

    frame, visit = _interleave(frames, keys, owners)
    frame["t"] = _timestamps(rng, visit, start, config)
    _referrers(frame, visit, visits, world)
    _number_orders(frame)
    purchase_rows = np.full(v, -1)
    is_purchase = frame["etype"] == TYPE_CODE["purchase"]
    purchase_rows[visit[is_purchase]] = np.flatnonzero(is_purchase)
    return SiteEvents(frame, lines, visit, purchase_rows)


def _interleave(frames: list[Frame], keys: list[np.ndarray], owners: list[np.ndarray]) -> tuple[Frame, np.ndarray]:
    """The per-type frames (each with only its own attributes) merged into visit order. Keys
    are unique, so any sort gives this order; each type's rows keep their relative order, so
    every column is filled by a few forward-moving scatters rather than one random gather."""
    order = np.argsort(np.concatenate(keys))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    frame = new_frame(len(order))
    visit = np.empty(len(order), dtype=np.int64)
    start = 0
    for part, owner in zip(frames, owners, strict=True):
        rows = position[start : start + len(owner)]
        for name, values in part.items():
            frame[name][rows] = values
        visit[rows] = owner
        start += len(owner)
    return frame, visit


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, index within owner) for `counts[i]` rows per owner i."""
    owner = np.repeat(np.arange(len(counts)), counts)
    j = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, j


def _order_key(visit: np.ndarray, key: np.ndarray, type_code: int, j: np.ndarray, visits: int) -> np.ndarray:
    """visit | position key (20 bits over [0, 8)) | type (4 bits) | index within type (7 bits):
    unique per row, so sorting is deterministic whatever the algorithm."""
    if visits >= 1 << 31:
        raise ValueError("too many visits for the 63-bit order key")
    position = np.minimum((key * (1 << 17)).astype(np.int64), (1 << 20) - 1)
    return (visit.astype(np.int64) << 31) | (position << 11) | (type_code << 7) | j


def _product(frame: Frame, product: np.ndarray, world: World) -> None:
    frame["product"] = product
    frame["price"] = world.product_price_cents[product]
    frame["currency"] = np.ones(len(product), dtype=bool)
    frame["page"] = world.product_url + product


def _page_views(
    rng: np.random.Generator,
    frame: Frame,
    visits: dict[str, np.ndarray],
    visit: np.ndarray,
    j: np.ndarray,
    world: World,
) -> None:
    """Landing pages (home, a category, or the campaign's landing page) and later pages
    (home, a category or the cart: PAGE_TYPES 0-2)."""
    n = len(visit)
    category = world.product_category[visits["first_product"][visit]]
    page_type = np.where(j == 0, rng.choice(2, size=n, p=[0.6, 0.4]), rng.choice(3, size=n, p=[0.35, 0.5, 0.15]))
    page = np.select([page_type == 0, page_type == 1], [world.home_url, world.category_url + category], world.cart_url)
    campaign = visits["campaign"][visit]
    landing_paid = (j == 0) & (campaign >= 0)
    frame["page"] = np.where(landing_paid, world.landing_url + campaign, page)
    frame["props"] = np.where(landing_paid, world.page_props, world.page_props + page_type)


def _timestamps(rng: np.random.Generator, visit: np.ndarray, start: np.ndarray, config: GeneratorConfig) -> np.ndarray:
    """occurred_at per row (rows sorted by visit, then order in the visit), each visit kept
    inside the window."""
    n = len(visit)
    gap = np.clip(rng.lognormal(np.log(GAP_MEDIAN_MS), 1.0, n), GAP_MIN_MS, GAP_MAX_MS).astype(np.int64)
    u = rng.random(n)
    gap = np.where(u < P_LONG_GAP, rng.integers(THIRTY_MINUTES_MS + 1, 9_000_000, n), gap)
    gap = np.where(u >= 1 - P_GAP_EXACTLY_30, THIRTY_MINUTES_MS, gap)
    gap = np.where(
        (u >= 1 - P_GAP_EXACTLY_30 - P_GAP_30_PLUS_1MS) & (u < 1 - P_GAP_EXACTLY_30), THIRTY_MINUTES_MS + 1, gap
    )
    first = np.ones(n, dtype=bool)
    first[1:] = visit[1:] != visit[:-1]
    gap[first] = 0
    elapsed = np.cumsum(gap)
    elapsed -= np.repeat(elapsed[first], np.diff(np.append(np.flatnonzero(first), n)))
    duration = np.zeros(len(start), dtype=np.int64)
    last = np.append(first[1:], True)
    duration[visit[last]] = elapsed[last]
    latest_start = config.window_end_ms - END_MARGIN_MS - duration
    start = np.maximum(np.minimum(start, latest_start), config.window_start_ms + START_MARGIN_MS)
    return start[visit] + elapsed


def _referrers(frame: Frame, visit: np.ndarray, visits: dict[str, np.ndarray], world: World) -> None:
    """Each web event's referrer is the previous page of its visit; the first one's is the
    external site (or the ad platform) that sent the visitor."""
    has_page = frame["page"] >= 0
    n = len(visit)
    last_page_row = np.maximum.accumulate(np.where(has_page, np.arange(n), -1))
    previous = np.concatenate([[-1], last_page_row[:-1]])
    same_visit = (previous >= 0) & (visit[np.maximum(previous, 0)] == visit)
    campaign = visits["campaign"][visit]
    platform = world.campaign_platform[np.maximum(campaign, 0)]
    external_code = visits["referrer"][visit]
    external = np.where(
        campaign >= 0,
        world.referrer_url + len(REFERRERS) - 1 + platform,
        np.where(external_code > 0, world.referrer_url + external_code - 1, -1),
    )
    referrer = np.where(same_visit, frame["page"][np.maximum(previous, 0)], external)
    frame["ref"] = np.where(has_page, referrer, -1)


def _number_orders(frame: Frame) -> None:
    """Order numbers ascend with purchase time, as a shop's order sequence does."""
    rows = np.flatnonzero(frame["etype"] == TYPE_CODE["purchase"])
    by_time = rows[np.lexsort((rows, frame["t"][rows]))]
    frame["order"][by_time] = np.arange(len(by_time))


def refunds(rng: np.random.Generator, site: SiteEvents, population: Population, config: GeneratorConfig) -> Frame:
    """Refunds of some purchases, 6 hours to 10 days later; those that would fall after the window
    are not generated."""
    wanted = population.visits["refund"].astype(bool) & (site.purchase_rows >= 0)
    rows = site.purchase_rows[wanted]
    purchase = take(site.frame, rows)
    t = purchase["t"] + rng.integers(6 * 3_600_000, 10 * 86_400_000, len(rows))
    inside = t < config.window_end_ms
    return new_frame(
        int(inside.sum()),
        etype=TYPE_CODE["refund"],
        actor=purchase["actor"][inside],
        with_user_id=purchase["with_user_id"][inside],
        t=t[inside],
        order=purchase["order"][inside],
        revenue=purchase["revenue"][inside],
        currency=True,
    )
