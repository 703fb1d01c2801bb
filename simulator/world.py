"""The simulated shop: catalogue, pages, campaigns, places, browsers and bots.

Everything here is small (thousands of rows) and built once per run from the seed. Events refer
to it by integer codes; strings are materialised only when the Arrow table is built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote_plus

import numpy as np

from watershed.contract import Platform, is_bot_user_agent

SHOP = "https://shop.example.com"

CATEGORIES = (
    ("electronics", 120.0), ("shoes", 75.0), ("clothing", 40.0), ("home", 35.0), ("kitchen", 30.0),
    ("beauty", 22.0), ("sports", 45.0), ("toys", 25.0), ("books", 15.0), ("garden", 38.0),
    ("jewelry", 90.0), ("pets", 20.0),
)  # fmt: skip
PRODUCTS_PER_CATEGORY = 100

PAGE_TYPES = ("home", "category", "cart", "checkout", "account")

# (country, region, city, share of visitors)
PLACES = (
    ("US", "California", "San Francisco", 0.10), ("US", "New York", "New York", 0.12),
    ("US", "Texas", "Austin", 0.08), ("US", "Illinois", "Chicago", 0.06),
    ("GB", "England", "London", 0.10), ("DE", "Berlin", "Berlin", 0.07),
    ("DE", "Bavaria", "Munich", 0.04), ("FR", "Ile-de-France", "Paris", 0.07),
    ("NL", "North Holland", "Amsterdam", 0.04), ("ES", "Madrid", "Madrid", 0.04),
    ("CA", "Ontario", "Toronto", 0.06), ("AU", "New South Wales", "Sydney", 0.05),
    ("BR", "Sao Paulo", "Sao Paulo", 0.03), ("IN", "Maharashtra", "Mumbai", 0.03),
    ("JP", "Tokyo", "Tokyo", 0.03), ("US", "Virginia", "Ashburn", 0.0),  # data centres: bots only
)  # fmt: skip
BOT_PLACE = len(PLACES) - 1

# Browsers per device class (desktop, mobile, tablet), as Device enum order.
USER_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Mobile Safari/537.36",
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
    ),
)
BOT_USER_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
    "python-requests/2.31.0",
    "Scrapy/2.11.1 (+https://scrapy.org)",
)

# External referrers of unpaid visits and their shares; None is a direct visit.
REFERRERS = (
    (None, 0.35), ("https://www.google.com/", 0.30), ("https://www.bing.com/", 0.05),
    ("https://duckduckgo.com/", 0.03), ("https://www.instagram.com/", 0.08),
    ("https://t.co/", 0.04), ("https://mail.example-newsletter.com/", 0.15),
)  # fmt: skip
PLATFORM_REFERRER = {Platform.GOOGLE_ADS: "https://www.google.com/", Platform.FACEBOOK_ADS: "https://l.facebook.com/"}

SEARCHES = (
    "running shoes", "wireless headphones", "yoga mat", "coffee grinder", "gift for dad", "sneakers",
    "phone case", "winter jacket", "desk lamp", "dog bed", "lego", "face cream", "novel", "garden hose",
    "smart watch", "backpack", "frying pan", "necklace", "bluetooth speaker", "sunglasses",
)  # fmt: skip

# (name, platform, click-through rate range, cost per click or per thousand impressions in USD)
CAMPAIGNS = (
    ("Brand - Search", Platform.GOOGLE_ADS, (0.06, 0.10), (0.30, 0.60)),
    ("Generic - Shoes", Platform.GOOGLE_ADS, (0.03, 0.06), (0.80, 1.60)),
    ("Shopping - Electronics", Platform.GOOGLE_ADS, (0.02, 0.04), (0.50, 1.20)),
    ("Performance Max", Platform.GOOGLE_ADS, (0.02, 0.05), (0.60, 1.40)),
    ("Prospecting - Lookalike", Platform.FACEBOOK_ADS, (0.03, 0.05), (6.00, 11.00)),
    ("Retargeting - Cart", Platform.FACEBOOK_ADS, (0.05, 0.09), (9.00, 15.00)),
    ("Catalog - Dynamic Ads", Platform.FACEBOOK_ADS, (0.03, 0.06), (7.00, 12.00)),
    ("Stories - Spring", Platform.FACEBOOK_ADS, (0.02, 0.04), (4.00, 8.00)),
)
ADS_PER_CAMPAIGN = 3
# The shop's ad account on each platform: (account id, name, time zone, currency). The platforms
# report days in the account's time zone and amounts in its currency; neither is the shop's (UTC
# days, USD), as with a shop whose ad accounts were opened by its London and Berlin offices. Both
# zones are east of UTC, so at 02:00 UTC (ad_campaign_daily) their yesterday has ended.
ACCOUNTS = {
    Platform.GOOGLE_ADS: ("4051987236", "Watershed Shop (Google Ads)", "Europe/London", "GBP"),
    Platform.FACEBOOK_ADS: ("1020304050607080", "Watershed Shop (Meta)", "Europe/Berlin", "EUR"),
}


@dataclass(frozen=True)
class World:
    """Codes and the strings/values they stand for."""

    product_ids: list[str]
    product_category: np.ndarray  # int, per product
    product_price_cents: np.ndarray  # int64, per product
    product_popularity: np.ndarray  # float, sums to 1
    campaign_ids: list[str]
    campaign_names: list[str]
    campaign_platform: np.ndarray  # int, index into list(Platform)
    campaign_ctr: np.ndarray  # float
    campaign_price_micros: np.ndarray  # int64: CPC (google_ads) or CPM (facebook_ads) in micros
    campaign_weight: np.ndarray  # share of paid visits, sums to 1
    ad_ids: list[str]  # campaign c owns ads c*ADS_PER_CAMPAIGN ...
    urls: list[str]  # every page_url and referrer; see the *_url offsets
    properties: list[str]  # JSON objects; see the *_props offsets
    user_agents: list[str]
    ua_is_bot: np.ndarray  # bool per user agent, by the contract's rule

    # offsets into `urls`
    @property
    def home_url(self) -> int:
        return 0

    @property
    def category_url(self) -> int:
        return 1

    @property
    def cart_url(self) -> int:
        return 1 + len(CATEGORIES)

    @property
    def checkout_url(self) -> int:
        return self.cart_url + 1

    @property
    def product_url(self) -> int:
        return self.checkout_url + 1

    @property
    def search_url(self) -> int:
        return self.product_url + len(self.product_ids)

    @property
    def landing_url(self) -> int:
        return self.search_url + len(SEARCHES)

    @property
    def referrer_url(self) -> int:
        """External referrers (REFERRERS without the direct visit), then the platforms'."""
        return self.landing_url + len(self.campaign_ids)

    # offsets into `properties`
    page_props = 0

    @property
    def product_view_props(self) -> int:
        return len(PAGE_TYPES)

    @property
    def search_props(self) -> int:
        return self.product_view_props + len(CATEGORIES) * len(PRODUCT_LISTS)

    @property
    def cart_props(self) -> int:
        return self.search_props + SEARCH_RESULTS_MAX + 1

    @property
    def account_props(self) -> int:
        return self.cart_props + len(CATEGORIES)

    @property
    def purchase_props(self) -> int:
        return self.account_props + len(SIGNIN_METHODS)

    # offsets into `user_agents`
    def device_agents(self, device: int) -> tuple[int, int]:
        start = sum(len(agents) for agents in USER_AGENTS[:device])
        return start, start + len(USER_AGENTS[device])

    @property
    def bot_agents(self) -> tuple[int, int]:
        start = sum(len(agents) for agents in USER_AGENTS)
        return start, start + len(BOT_USER_AGENTS)


PRODUCT_LISTS = ("category", "search_results", "recommendations")
SEARCH_RESULTS_MAX = 60
SIGNIN_METHODS = ("email", "google", "apple")
PAYMENTS = ("card", "paypal", "apple_pay")
SHIPPING = ("standard", "express")


def build_world(rng: np.random.Generator) -> World:
    n_products = len(CATEGORIES) * PRODUCTS_PER_CATEGORY
    category = np.repeat(np.arange(len(CATEGORIES)), PRODUCTS_PER_CATEGORY)
    median = np.array([m for _, m in CATEGORIES])[category]
    dollars = np.maximum(2, np.round(median * rng.lognormal(0, 0.55, n_products)))
    price_cents = (dollars * 100 - 1).astype(np.int64)  # $x.99
    rank = rng.permutation(n_products)
    popularity = 1.0 / (rank + 10.0)
    popularity /= popularity.sum()
    product_ids = [f"SKU-{10000 + i}" for i in range(n_products)]

    n_campaigns = len(CAMPAIGNS)
    platforms = list(Platform)
    campaign_platform = np.array([platforms.index(p) for _, p, _, _ in CAMPAIGNS])
    google = int(rng.integers(10**10, 10**11))
    facebook = int(rng.integers(10**16, 10**17))
    campaign_ids = [
        str(google + 7919 * i if p is Platform.GOOGLE_ADS else facebook + 104729 * i)
        for i, (_, p, _, _) in enumerate(CAMPAIGNS)
    ]
    ctr = np.array([rng.uniform(*r) for _, _, r, _ in CAMPAIGNS])
    price_micros = np.array([round(rng.uniform(*r), 2) * 1_000_000 for _, _, _, r in CAMPAIGNS]).astype(np.int64)
    weight = rng.uniform(0.5, 1.5, n_campaigns)
    ad_ids = [f"{cid}{k + 1:03d}" for cid in campaign_ids for k in range(ADS_PER_CAMPAIGN)]

    urls = [
        SHOP + "/",
        *(f"{SHOP}/c/{name}" for name, _ in CATEGORIES),
        f"{SHOP}/cart",
        f"{SHOP}/checkout",
        *(f"{SHOP}/p/{pid}" for pid in product_ids),
        *(f"{SHOP}/search?q={quote_plus(q)}" for q in SEARCHES),
        *(
            f"{SHOP}/?utm_source={'google' if p is Platform.GOOGLE_ADS else 'facebook'}"
            f"&utm_medium={'cpc' if p is Platform.GOOGLE_ADS else 'paid_social'}&utm_campaign={cid}"
            for cid, (_, p, _, _) in zip(campaign_ids, CAMPAIGNS, strict=True)
        ),
        *(url for url, _ in REFERRERS if url is not None),
        *PLATFORM_REFERRER.values(),
    ]
    properties = [
        *(_json({"page_type": page}) for page in PAGE_TYPES),
        *(_json({"category": c, "list": lst}) for c, _ in CATEGORIES for lst in PRODUCT_LISTS),
        *(_json({"results": n}) for n in range(SEARCH_RESULTS_MAX + 1)),
        *(_json({"category": c}) for c, _ in CATEGORIES),
        *(_json({"method": m}) for m in SIGNIN_METHODS),
        *(_json({"payment_method": p, "shipping": s}) for p in PAYMENTS for s in SHIPPING),
    ]
    agents = [ua for group in USER_AGENTS for ua in group] + list(BOT_USER_AGENTS)
    return World(
        product_ids=product_ids,
        product_category=category,
        product_price_cents=price_cents,
        product_popularity=popularity,
        campaign_ids=campaign_ids,
        campaign_names=[name for name, _, _, _ in CAMPAIGNS],
        campaign_platform=campaign_platform,
        campaign_ctr=ctr,
        campaign_price_micros=price_micros,
        campaign_weight=weight / weight.sum(),
        ad_ids=ad_ids,
        urls=urls,
        properties=properties,
        user_agents=agents,
        ua_is_bot=np.array([is_bot_user_agent(ua) for ua in agents]),
    )


def place_shares() -> np.ndarray:
    shares = np.array([share for *_, share in PLACES])
    return shares / shares.sum()


def referrer_shares() -> np.ndarray:
    shares = np.array([share for _, share in REFERRERS])
    return shares / shares.sum()


def _json(value: dict[str, object]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
