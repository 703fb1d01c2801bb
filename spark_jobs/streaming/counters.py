"""Live per-campaign ad counters in Redis.

Layout under a key prefix ``P`` (``watershed:ad_counters`` by default; a test or bench run uses
its own), wrapped in a hash tag ``{P}`` so every key of one store lands in one Redis Cluster slot:

* ``{P}:campaign:<campaign_id>``: a hash with ``impressions``, ``clicks``, ``conversions``,
  ``cost_micros``, ``revenue_cents`` (integers, HINCRBY) and ``updated_at``: since the job began;
* ``{P}:campaigns``: the set of campaign ids (lists the campaigns without SCAN);
* ``{P}:day:<YYYY-MM-DD>:campaign:<campaign_id>`` and ``{P}:day:<YYYY-MM-DD>:campaigns``: the same
  for the events that occurred on that UTC day (the day the batch mart ``ad_events_daily`` gives
  them, so a closed day can be reconciled with it); they expire ``DAY_TTL`` after their last write;
* ``{P}:days``: the set of days with counters;
* ``{P}:batches``: a hash, streaming query name -> the last micro-batch id applied.

Exactly once: one Lua script checks the query's applied batch id, adds the batch's increments and
records its id. Redis runs a script atomically (no other command runs in between, and it is
written to the append-only file as one transaction), so a batch is applied entirely or not at
all, and a batch Spark replays after a crash finds its id already applied and is skipped.
Money is kept in integer micros (cost) and cents (revenue): HINCRBY is exact, floats are not.

Reads are one read-only script too, so a reader sees every campaign as of the same batch, never
half of a batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from watershed.errors import WatershedError

if TYPE_CHECKING:
    import redis

    from watershed.settings import Settings

DEFAULT_KEY = "watershed:ad_counters"
FIELDS = ("impressions", "clicks", "conversions", "cost_micros", "revenue_cents")

DAY_TTL_SECONDS = 45 * 86_400  # past the ad extraction's 30-day lookback, which may reconcile them

# KEYS[1] applied batches (hash), KEYS[2] campaign ids (set), KEYS[3] days (set), then per delta its
# campaign hash, its day's campaign hash and its day's campaign ids (set); ARGV[1] query, ARGV[2]
# batch id, ARGV[3] updated_at, ARGV[4] the day keys' time to live, then per delta its campaign id,
# day and 5 increments.
_APPLY = """
local applied = redis.call('HGET', KEYS[1], ARGV[1])
if applied and tonumber(applied) >= tonumber(ARGV[2]) then
  return 0
end
local names = {'impressions', 'clicks', 'conversions', 'cost_micros', 'revenue_cents'}
for d = 0, (#KEYS - 3) / 3 - 1 do
  local k, a = 4 + d * 3, 5 + d * 7
  for _, key in ipairs({KEYS[k], KEYS[k + 1]}) do
    for f = 1, 5 do
      redis.call('HINCRBY', key, names[f], ARGV[a + 1 + f])
    end
    redis.call('HSET', key, 'updated_at', ARGV[3])
  end
  redis.call('SADD', KEYS[2], ARGV[a])
  redis.call('SADD', KEYS[k + 2], ARGV[a])
  redis.call('SADD', KEYS[3], ARGV[a + 1])
  redis.call('EXPIRE', KEYS[k + 1], ARGV[4])
  redis.call('EXPIRE', KEYS[k + 2], ARGV[4])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# KEYS[1] campaign ids (set); ARGV[1] prefix of the campaign hashes, ARGV[2] one campaign or ''.
_READ = """
local ids
if ARGV[2] ~= '' then
  ids = {}
  if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 1 then ids[1] = ARGV[2] end
else
  ids = redis.call('SMEMBERS', KEYS[1])
end
local out = {}
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. id)
end
return out
"""


class CounterStoreError(WatershedError):
    """The counter store (Redis) cannot be reached."""


def connect(settings: Settings) -> redis.Redis:
    """A client of the configured Redis (``WATERSHED_REDIS_URL`` / the local stack's port)."""
    import redis

    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    return redis.Redis.from_url(
        settings.redis_address,
        password=password,
        decode_responses=True,
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=30,
    )


class _Keys:
    def __init__(self, key: str) -> None:
        self.tag = f"{{{key}}}"
        self.batches = f"{self.tag}:batches"
        self.days = f"{self.tag}:days"
        self.campaigns = f"{self.tag}:campaigns"
        self.campaign_prefix = f"{self.tag}:campaign:"

    def campaign(self, campaign_id: str) -> str:
        return self.campaign_prefix + campaign_id

    def day_campaigns(self, day: str) -> str:
        return f"{self.tag}:day:{day}:campaigns"

    def day_campaign_prefix(self, day: str) -> str:
        return f"{self.tag}:day:{day}:campaign:"


def _unreachable(client: redis.Redis, error: Exception) -> CounterStoreError:
    return CounterStoreError(
        f"the ad counter store (Redis at {_where(client)}) is not reachable: {error}; "
        "start it with `watershed stack up redis` or set WATERSHED_REDIS_URL"
    )


def _run(client: redis.Redis, script: str, keys: list[str], args: list[Any]) -> Any:
    import redis as redis_module

    try:
        return client.register_script(script)(keys=keys, args=args)
    except redis_module.ConnectionError as error:
        raise _unreachable(client, error) from None


def ping(client: redis.Redis) -> None:
    """Raise :class:`CounterStoreError` with what to do when Redis does not answer."""
    import redis as redis_module

    try:
        client.ping()
    except redis_module.ConnectionError as error:
        raise _unreachable(client, error) from None


def _where(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


def apply(
    client: redis.Redis,
    key: str,
    query: str,
    batch_id: int,
    deltas: Iterable[dict[str, Any]],
    updated_at: str,
) -> bool:
    """Add one micro-batch's per-(day, campaign) increments; False when the batch was already applied.

    Each delta has ``campaign_id``, ``day`` (``YYYY-MM-DD``, the events' UTC day) and the five
    counts; a campaign's total is the sum over its days."""
    keys = _Keys(key)
    delta_keys: list[str] = []
    args: list[Any] = [query, int(batch_id), updated_at, DAY_TTL_SECONDS]
    for d in deltas:
        campaign, day = str(d["campaign_id"]), str(d["day"])
        values = (
            int(d["impressions"]),
            int(d["clicks"]),
            int(d["conversions"]),
            int(Decimal(d["cost"]) * 1_000_000),
            int(Decimal(d["revenue"]) * 100),
        )
        delta_keys += [keys.campaign(campaign), keys.day_campaign_prefix(day) + campaign, keys.day_campaigns(day)]
        args += [campaign, day, *values]
    # every value is an int before the script runs: a script that failed halfway would keep its
    # first increments (Redis scripts are atomic, not rolled back)
    return bool(_run(client, _APPLY, [keys.batches, keys.campaigns, keys.days, *delta_keys], args))


def applied_batch(client: redis.Redis, key: str, query: str) -> int | None:
    """The last batch id of `query` applied to the store (None: none yet)."""
    value = client.hget(_Keys(key).batches, query)
    return None if value is None else int(value)


def days(client: redis.Redis, key: str) -> list[str]:
    """The UTC days the store holds counters for (``YYYY-MM-DD``, oldest first)."""
    import redis as redis_module

    try:
        return sorted(str(d) for d in client.smembers(_Keys(key).days))
    except redis_module.ConnectionError as error:
        raise _unreachable(client, error) from None


def read(client: redis.Redis, key: str, campaign_id: str | None = None, day: str | None = None) -> list[dict[str, Any]]:
    """Current counters with CTR (clicks / impressions) and ROAS (revenue / cost), by campaign:
    since the job began, or of the events that occurred on one UTC ``day`` (``YYYY-MM-DD``)."""
    keys = _Keys(key)
    ids, prefix = (
        (keys.campaigns, keys.campaign_prefix)
        if day is None
        else (keys.day_campaigns(day), keys.day_campaign_prefix(day))
    )
    flat = _run(client, _READ, [ids], [prefix, campaign_id or ""])
    rows = []
    for i in range(0, len(flat), 2):
        pairs = flat[i + 1]
        values = dict(zip(pairs[::2], pairs[1::2], strict=True))
        impressions, clicks, conversions, cost_micros, revenue_cents = (int(values.get(f, 0)) for f in FIELDS)
        rows.append(
            with_ratios(
                flat[i], impressions, clicks, conversions, cost_micros, revenue_cents, values.get("updated_at", "")
            )
        )
    return sorted(rows, key=lambda r: r["campaign_id"])


def with_ratios(
    campaign_id: str,
    impressions: int,
    clicks: int,
    conversions: int,
    cost_micros: int,
    revenue_cents: int,
    updated_at: str,
) -> dict[str, Any]:
    cost = Decimal(cost_micros) / 1_000_000
    revenue = Decimal(revenue_cents) / 100
    return {
        "campaign_id": campaign_id,
        "impressions": impressions,
        "clicks": clicks,
        "conversions": conversions,
        "ctr": clicks / impressions if impressions else None,
        "cost": str(cost.quantize(Decimal("0.000001"))),
        "revenue": str(revenue.quantize(Decimal("0.01"))),
        "roas": float(revenue / cost) if cost else None,
        "updated_at": updated_at,
    }
