"""Fault injection: which base events arrive late, out of order, twice, malformed or carrying
raw personal data, and when each event reaches the collector.

Rule for every rate r (docs/generator.md): exactly round(r * base events) events are drawn,
without replacement, from the events eligible for that fault. Malformed events get no other
fault; late and out-of-order exclude each other; duplicates and personal data are drawn from the
well-formed events. Bot traffic is not drawn here: it is generated as its own actors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config import FaultRates, GeneratorError
from simulator.frame import SOURCE_CODE_OF_TYPE, SOURCES, Frame, size
from simulator.sorting import composite, sort_order
from watershed.contract import EVENT_TYPES, Source

MALFORMED_KINDS = ("missing_field", "wrong_type", "future_timestamp", "ancient_timestamp", "oversize_properties")
# A value of the wrong JSON type per field; the contract rejects each in lax mode too.
WRONG_VALUES: dict[str, object] = {
    "event_id": 12345,
    "schema_version": "one",
    "occurred_at": "yesterday",
    "properties": ["not", "an", "object"],
    "geo": "Berlin",
    "quantity": "two",
    "price": "free",
    "revenue": "12,50 EUR",
    "value": "n/a",
    "items": "3 items",
}
IDENTITY = "user_id,anonymous_id"  # the missing "field" when an event loses both ids

LATENESS_MS = (5 * 60_000, 3 * 86_400_000)  # minutes to days, log-uniform
OUT_OF_ORDER_DELAY_MS = (1_000, 30_000)  # after the next event of the same user arrived
DUPLICATE_DELAY_MS = (1_000, 600_000)  # a client retry
FUTURE_MS = (3_600_000, 365 * 86_400_000)
ANCIENT_MS = (30 * 86_400_000, 5 * 365 * 86_400_000)
P_PII_EMAIL, P_PII_PHONE = 0.6, 0.4


@dataclass(frozen=True)
class FaultPlan:
    """Per base event unless noted."""

    received: np.ndarray  # epoch ms the collector receives the event
    occurred: np.ndarray  # occurred_at as sent (differs from the truth for malformed timestamps)
    malformed: np.ndarray  # -1 or index into MALFORMED_KINDS
    malformed_field: np.ndarray  # -1 or index into fields(): the field missing or wrongly typed
    variant: np.ndarray  # 0/1: epoch-zero vs years-old timestamp; too many keys vs too many bytes
    late: np.ndarray  # bool
    out_of_order: np.ndarray  # bool
    pii: np.ndarray  # bit set: 1 email, 2 phone, 4 ip
    duplicate_of: np.ndarray  # per duplicate copy: the base event it repeats
    duplicate_received: np.ndarray  # per duplicate copy


def fields() -> list[str]:
    """Every field name a malformation can hit (index space of FaultPlan.malformed_field)."""
    from watershed.contract import EVENT_MODELS

    names = dict.fromkeys([*WRONG_VALUES, IDENTITY])
    for model in EVENT_MODELS.values():
        names.update(dict.fromkeys(n for n, f in model.model_fields.items() if f.is_required()))
    return list(names)


def _missing_candidates() -> list[list[int]]:
    """Per event type: the required fields (and the id pair where no id is required)."""
    from watershed.contract import EVENT_MODELS

    index = {name: i for i, name in enumerate(fields())}
    out = []
    for model in EVENT_MODELS.values():
        required = [n for n, f in model.model_fields.items() if f.is_required()]
        if "user_id" not in required:
            required.append(IDENTITY)
        out.append([index[n] for n in required])
    return out


def _wrong_type_candidates() -> list[list[int]]:
    from watershed.contract import EVENT_MODELS

    index = {name: i for i, name in enumerate(fields())}
    return [[index[n] for n in WRONG_VALUES if n in model.model_fields] for model in EVENT_MODELS.values()]


def plan_faults(rng: np.random.Generator, frame: Frame, rates: FaultRates, humans: int) -> FaultPlan:
    n = size(frame)
    source = SOURCE_CODE_OF_TYPE[frame["etype"]]
    received = frame["t"] + _network_delay(rng, source)
    occurred = frame["t"].copy()

    malformed = np.full(n, -1, dtype=np.int8)
    chosen = _pick(rng, np.ones(n, dtype=bool), rates.malformed, n, "malformed")
    malformed[chosen] = rng.permutation(np.arange(len(chosen)) % len(MALFORMED_KINDS))
    field = _malformed_fields(rng, frame["etype"], malformed)
    variant = rng.integers(0, 2, n).astype(np.int8)
    future = malformed == MALFORMED_KINDS.index("future_timestamp")
    occurred[future] = received[future] + rng.integers(*FUTURE_MS, int(future.sum()))
    ancient = malformed == MALFORMED_KINDS.index("ancient_timestamp")
    occurred[ancient] = np.where(
        variant[ancient] == 0, 0, received[ancient] - rng.integers(*ANCIENT_MS, int(ancient.sum()))
    )
    well_formed = malformed < 0

    late = np.zeros(n, dtype=bool)
    late[_pick(rng, well_formed, rates.late, n, "late")] = True
    low, high = np.log(LATENESS_MS[0]), np.log(LATENESS_MS[1])
    received[late] = frame["t"][late] + np.exp(rng.uniform(low, high, int(late.sum()))).astype(np.int64)

    following = _next_of_same_user(frame)
    out_of_order = np.zeros(n, dtype=bool)
    eligible = well_formed & ~late & (following >= 0) & well_formed[np.maximum(following, 0)]
    out_of_order[_pick(rng, eligible, rates.out_of_order, n, "out-of-order")] = True
    received = _arrive_after_next(rng, received, out_of_order, following)

    human_site = (frame["actor"] < humans) & (source != _AD_PLATFORM)
    pii = np.zeros(n, dtype=np.int8)
    carriers = _pick(rng, well_formed & human_site, rates.pii, n, "pii")
    bits = (
        4
        | np.where(rng.random(len(carriers)) < P_PII_EMAIL, 1, 0)
        | np.where(rng.random(len(carriers)) < P_PII_PHONE, 2, 0)
    )
    pii[carriers] = bits

    duplicate_of = np.sort(_pick(rng, well_formed, rates.duplicate, n, "duplicate"))
    duplicate_received = received[duplicate_of] + rng.integers(*DUPLICATE_DELAY_MS, len(duplicate_of))
    return FaultPlan(
        received, occurred, malformed, field, variant, late, out_of_order, pii, duplicate_of, duplicate_received
    )


_WEB, _AD_PLATFORM = SOURCES.index(Source.WEB_ANALYTICS), SOURCES.index(Source.AD_PLATFORM)


def _network_delay(rng: np.random.Generator, source: np.ndarray) -> np.ndarray:
    """Milliseconds from occurred_at to the collector: browsers tens to hundreds of ms, back
    ends less, ad platforms report in batches up to a minute later."""
    n = len(source)
    browser = np.clip(rng.lognormal(np.log(150), 0.8, n), 20, 30_000)
    backend = rng.uniform(20, 500, n)
    platform = rng.uniform(500, 60_000, n)
    delay = np.where(source == _WEB, browser, np.where(source == _AD_PLATFORM, platform, backend))
    return delay.astype(np.int64)


def _pick(rng: np.random.Generator, eligible: np.ndarray, rate: float, base: int, name: str) -> np.ndarray:
    """Exactly round(rate * base) indices of eligible events, drawn without replacement."""
    wanted = round(rate * base)
    pool = np.flatnonzero(eligible)
    if wanted > len(pool):
        raise GeneratorError(
            f"{name} rate {rate} needs {wanted} events but only {len(pool)} are eligible; lower the rates"
        )
    return np.sort(rng.choice(pool, size=wanted, replace=False)) if wanted else pool[:0]


def _malformed_fields(rng: np.random.Generator, etype: np.ndarray, malformed: np.ndarray) -> np.ndarray:
    field = np.full(len(etype), -1, dtype=np.int16)
    for kind, candidates in (("missing_field", _missing_candidates()), ("wrong_type", _wrong_type_candidates())):
        rows = np.flatnonzero(malformed == MALFORMED_KINDS.index(kind))
        u = rng.random(len(rows))
        for code in range(len(EVENT_TYPES)):
            of_type = etype[rows] == code
            options = np.array(candidates[code])
            field[rows[of_type]] = options[(u[of_type] * len(options)).astype(np.int64)]
    return field


def _next_of_same_user(frame: Frame) -> np.ndarray:
    """Index of the next event (by occurred_at) with the same user key, coalesce(user_id,
    anonymous_id); -1 for the last one. A registered user's ad events carry only the anonymous
    id, so they form a stream of their own."""
    key = frame["actor"] * 2 + frame["with_user_id"]
    order = sort_order(composite(key, frame["t"] - frame["t"].min()))
    following = np.full(len(order), -1)
    same = key[order[1:]] == key[order[:-1]]
    following[order[:-1][same]] = order[1:][same]
    return following


def _arrive_after_next(
    rng: np.random.Generator, received: np.ndarray, chosen: np.ndarray, following: np.ndarray
) -> np.ndarray:
    """Chosen events arrive 1-30 s after the user's next event; repeated until stable, since
    that next event may itself be delayed."""
    received = received.copy()
    rows = np.flatnonzero(chosen)
    delay = rng.integers(*OUT_OF_ORDER_DELAY_MS, len(rows))
    while True:
        target = received[following[rows]] + delay
        if np.array_equal(received[rows], target):
            return received
        received[rows] = target


def pii_fields(bits: int) -> str:
    return ",".join(name for bit, name in ((1, "email"), (2, "phone"), (4, "ip")) if bits & bit)
