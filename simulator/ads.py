"""Ad-platform events around paid visits, and the platforms' daily campaign rows.

A paid visit starts with a click; before it, the campaign served impressions (the clicked one to
the visitor, the others to people who did not click: 1/CTR impressions per click on average);
a purchase in the visit makes the platform report a conversion worth the order. Google Ads bills
clicks (cost on click events), Facebook Ads bills impressions (cost on impression events).
"""

from __future__ import annotations

import numpy as np

from simulator.config import GeneratorConfig
from simulator.frame import TYPE_CODE, Frame, concat, new_frame
from simulator.population import Population
from simulator.traffic import SiteEvents
from simulator.world import ADS_PER_CAMPAIGN, World
from watershed.contract import Platform

_GOOGLE = list(Platform).index(Platform.GOOGLE_ADS)
IMPRESSION_SPREAD_MS = 6 * 3_600_000  # unclicked impressions: up to 6 hours before the click


def ad_events(
    rng: np.random.Generator,
    population: Population,
    site: SiteEvents,
    world: World,
    audience_start: int,
    config: GeneratorConfig,
) -> tuple[Frame, int]:
    """The ad events of every paid visit; returns them and how many audience actors (people who
    saw an impression without clicking) they use, numbered from `audience_start`."""
    visits = population.visits
    platform_of, price_micros = world.campaign_platform, world.campaign_price_micros
    paid = np.flatnonzero(visits["paid"] > 0)
    first_row = _first_rows(site.visit, len(visits["user"]))
    visit_start = site.frame["t"][first_row[paid]]
    user = visits["user"][paid]
    campaign = visits["campaign"][paid]
    ad = campaign * ADS_PER_CAMPAIGN + visits["ad"][paid]
    google = platform_of[campaign] == _GOOGLE
    device = visits["device"][paid]
    place = population.place[user]
    n = len(paid)

    click_t = visit_start - rng.integers(2_000, 30_000, n)
    cpc = np.round(price_micros[campaign] * rng.uniform(0.7, 1.3, n), -4).astype(np.int64)  # whole cents
    clicks = new_frame(
        n,
        etype=TYPE_CODE["click"],
        actor=user,
        t=click_t,
        device=device,
        place=place,
        campaign=campaign,
        ad=ad,
        cost=np.where(google, cpc, -1),
        currency=google,
    )

    seen = new_frame(
        n,
        etype=TYPE_CODE["impression"],
        actor=user,
        t=click_t - rng.integers(1_000, 60_000, n),
        device=device,
        place=place,
        campaign=campaign,
        ad=ad,
    )
    others = visits["impressions"][paid] - 1
    owner = np.repeat(np.arange(n), others)
    m = len(owner)
    room = np.minimum(IMPRESSION_SPREAD_MS, click_t[owner] - config.window_start_ms - 1_000)
    unseen = new_frame(
        m,
        etype=TYPE_CODE["impression"],
        actor=audience_start + np.arange(m),
        t=click_t[owner] - (rng.random(m) * room).astype(np.int64),
        campaign=campaign[owner],
        ad=ad[owner],
    )
    impressions = concat([seen, unseen])
    imp_campaign = impressions["campaign"]
    cpm_share = price_micros[imp_campaign] / 1000 * rng.uniform(0.8, 1.2, len(imp_campaign))
    facebook = platform_of[imp_campaign] != _GOOGLE
    impressions["cost"] = np.where(facebook, np.round(cpm_share).astype(np.int64), -1)
    impressions["currency"] = facebook

    bought = paid[site.purchase_rows[paid] >= 0]
    purchase = site.purchase_rows[bought]
    k = np.searchsorted(paid, bought)
    conversions = new_frame(
        len(bought), etype=TYPE_CODE["conversion"], actor=user[k],
        t=site.frame["t"][purchase] + rng.integers(5_000, 600_000, len(bought)),
        campaign=campaign[k], ad=ad[k], order=site.frame["order"][purchase], value=site.frame["revenue"][purchase],
        currency=True,
    )  # fmt: skip
    return concat([clicks, impressions, conversions]), m


def _first_rows(visit: np.ndarray, visits: int) -> np.ndarray:
    first = np.full(visits, -1)
    starts = np.flatnonzero(np.append(True, visit[1:] != visit[:-1]))
    first[visit[starts]] = starts
    return first
