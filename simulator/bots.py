"""Bot traffic: crawlers that request pages and product pages in rapid bursts.

Bots are kept as events (the collector cannot tell them from people) and recognised downstream
from the user agent by the contract's rule; the ground truth counts them separately.
"""

from __future__ import annotations

import numpy as np

from simulator.config import GeneratorConfig
from simulator.frame import TYPE_CODE, Frame, new_frame
from simulator.world import BOT_PLACE, CATEGORIES, PAGE_TYPES, PRODUCT_LISTS, World

CRAWL_LENGTH = (20, 200)  # requests per burst
EVENTS_PER_BOT = 1_500
_DESKTOP = 0


def bot_events(
    rng: np.random.Generator, count: int, actor_start: int, world: World, config: GeneratorConfig
) -> tuple[Frame, int]:
    """Exactly `count` bot events; returns them and the number of bot actors, numbered from
    `actor_start`."""
    if count == 0:
        return new_frame(0), 0
    bots = max(1, count // EVENTS_PER_BOT)
    lengths = rng.integers(*CRAWL_LENGTH, size=count // CRAWL_LENGTH[0] + 1)
    crawls = int(np.searchsorted(np.cumsum(lengths), count)) + 1
    lengths = lengths[:crawls]
    lengths[-1] -= lengths.sum() - count
    crawl = np.repeat(np.arange(crawls), lengths)
    first = np.append(True, crawl[1:] != crawl[:-1])

    gap = rng.integers(300, 3_000, count)
    gap[first] = 0
    elapsed = np.cumsum(gap)
    elapsed -= np.repeat(elapsed[first], lengths)
    span = config.window_end_ms - config.window_start_ms - 3_000 * CRAWL_LENGTH[1]
    start = np.sort(config.window_start_ms + rng.integers(0, max(span, 1), crawls))  # near arrival order

    bot = rng.integers(0, bots, crawls)[crawl]
    agents_start, agents_end = world.bot_agents
    n_products = len(world.product_ids)
    product_view = rng.random(count) < 0.45
    product = rng.integers(0, n_products, count)
    category = rng.integers(0, len(CATEGORIES), count)
    frame = new_frame(
        count,
        etype=np.where(product_view, TYPE_CODE["product_view"], TYPE_CODE["page_view"]),
        actor=actor_start + bot,
        t=start[crawl] + elapsed,
        device=_DESKTOP,
        place=BOT_PLACE,
        ua=agents_start + (actor_start + bot) % (agents_end - agents_start),
        page=np.where(product_view, world.product_url + product, world.category_url + category),
        props=np.where(
            product_view,
            world.product_view_props + world.product_category[product] * len(PRODUCT_LISTS),
            world.page_props + PAGE_TYPES.index("category"),
        ),
    )
    frame["product"] = np.where(product_view, product, -1)
    frame["price"] = np.where(product_view, world.product_price_cents[product], -1)
    frame["currency"] = product_view
    return frame, bots
