"""The event table as it arrives at the collector: contract columns in arrival order, plus
``raw_payload`` for the rows a typed column cannot hold.

No Python object is created per event: string columns with a small vocabulary (types, URLs,
agents, products, campaigns) are dictionary arrays over the world's values; ids are formatted
from random words or digit arrays; amounts become decimals straight from integer cents/micros.
The Parquet files store plain string columns (:mod:`simulator.files` does not store
the Arrow schema), so every engine reads the contract's types.

Malformations are applied here: a missing field is a null (and absent from the JSON payload);
a wrongly typed one is null in its column and present, with its wrong value, in ``raw_payload``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.faults import IDENTITY, MALFORMED_KINDS, WRONG_VALUES, FaultPlan, fields
from simulator.frame import SOURCE_CODE_OF_TYPE, SOURCES, Frame, take
from simulator.ids import numbered_strings, strings_from_buffers, uuid_strings
from simulator.sorting import sort_order
from simulator.world import PLACES, SEARCHES, World
from watershed.contract import CURRENT_SCHEMA_VERSION, EVENT_TYPES, Device, Platform, arrow_schema
from watershed.contract.fields import SHOP_CURRENCY

RAW_PAYLOAD = "raw_payload"
ORDER_PREFIX = "ORD-"
OVERSIZE_KEYS = "{" + ",".join(f'"k{i:02d}":{i}' for i in range(60)) + "}"
OVERSIZE_BYTES = '{"blob":"' + "x" * 9_000 + '"}'


@dataclass(frozen=True)
class Actors:
    """Everyone who sends events: humans first, then the ad audience, then bots."""

    anonymous_high: np.ndarray
    anonymous_low: np.ndarray
    user_number: np.ndarray  # per actor: the shop's user id (a number), -1 for anonymous users, audience, bots


@dataclass(frozen=True)
class Arrivals:
    """Output rows in arrival order: `source_row` is the base event each row carries."""

    source_row: np.ndarray
    received: np.ndarray  # epoch ms
    is_copy: np.ndarray  # a duplicate (retry) rather than the first send

    def part(self, start: int, stop: int) -> Arrivals:
        return Arrivals(self.source_row[start:stop], self.received[start:stop], self.is_copy[start:stop])


@dataclass(frozen=True)
class EventStream:
    """The events in arrival order, turned into Arrow a block of rows at a time: a large run
    never holds every event as Arrow at once, and a sink can write or send one block while the
    next is built."""

    arrived: Arrivals
    event_types: np.ndarray  # per row: the intended type code (routes rows whose event_type is broken)
    build: Callable[[Arrivals], pa.Table]

    @property
    def rows(self) -> int:
        return len(self.arrived.source_row)

    def batches(self, size: int) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """(events, intended type codes) for consecutive blocks of `size` rows."""
        for start in range(0, self.rows, size):
            stop = min(start + size, self.rows)
            yield self.build(self.arrived.part(start, stop)), self.event_types[start:stop]

    def head(self, rows: int) -> EventStream:
        return EventStream(self.arrived.part(0, rows), self.event_types[:rows], self.build)

    def table(self) -> pa.Table:
        """Every event in one table (for small runs and tests)."""
        return self.build(self.arrived)


def arrivals(plan: FaultPlan) -> Arrivals:
    base = len(plan.received)
    source_row = np.concatenate([np.arange(base), plan.duplicate_of])
    received = np.concatenate([plan.received, plan.duplicate_received])
    order = sort_order(received)
    return Arrivals(source_row[order], received[order], order >= base)


def event_schema() -> pa.Schema:
    """The schema of the written event files: the contract's flat table plus raw_payload."""
    return arrow_schema("events").append(pa.field(RAW_PAYLOAD, pa.string()))


def assemble(
    arrived: Arrivals,
    *,
    frame: Frame,
    plan: FaultPlan,
    actors: Actors,
    event_high: np.ndarray,
    event_low: np.ndarray,
    order_base: int,
    lines: dict[str, np.ndarray],
    world: World,
) -> pa.Table:
    """The output table: columns of :func:`event_schema`, low-cardinality strings dictionary-encoded."""
    src = arrived.source_row
    rows = take(frame, src)
    kind = plan.malformed[src]  # retries are drawn from well-formed events only
    hit = np.where(kind >= 0, plan.malformed_field[src], -1)
    names = fields()
    field_errors = np.isin(kind, [MALFORMED_KINDS.index("missing_field"), MALFORMED_KINDS.index("wrong_type")])

    def cut(name: str) -> np.ndarray:
        """Rows whose malformation removes (or mistypes) the field `name`."""
        return field_errors & (hit == names.index(name))

    n = len(src)
    actor, etype = rows["actor"], rows["etype"]
    no_id = cut(IDENTITY)
    oversize = kind == MALFORMED_KINDS.index("oversize_properties")
    props = np.where(oversize, len(world.properties) + plan.variant[src], rows["props"])
    platform = world.campaign_platform[np.maximum(rows["campaign"], 0)]
    ones = np.ones(n, dtype=bool)
    # each column is independent; numpy and Arrow release the GIL, so two threads build them
    builders: dict[str, Callable[[], pa.Array]] = {
        "event_id": lambda: uuid_strings(event_high[src], event_low[src], ~cut("event_id")),
        "event_type": lambda: _coded(EVENT_TYPES, np.where(cut("event_type"), -1, etype)),
        "schema_version": lambda: _int64(np.full(n, CURRENT_SCHEMA_VERSION), ~cut("schema_version")),
        "source": lambda: _coded([s.value for s in SOURCES], np.where(cut("source"), -1, SOURCE_CODE_OF_TYPE[etype])),
        "user_id": lambda: numbered_strings(
            "", actors.user_number[actor], rows["with_user_id"] & ~no_id & ~cut("user_id")
        ),
        "anonymous_id": lambda: uuid_strings(actors.anonymous_high[actor], actors.anonymous_low[actor], ~no_id),
        "occurred_at": lambda: _timestamp(plan.occurred[src], ~cut("occurred_at")),
        "received_at": lambda: _timestamp(arrived.received, ones),
        "page_url": lambda: _coded(world.urls, np.where(cut("page_url"), -1, rows["page"])),
        "referrer": lambda: _coded(world.urls, rows["ref"]),
        "device": lambda: _coded([d.value for d in Device], rows["device"]),
        "geo": lambda: _geo(np.where(cut("geo"), -1, rows["place"])),
        "user_agent": lambda: _coded(world.user_agents, rows["ua"]),
        "properties": lambda: _coded(
            [*world.properties, OVERSIZE_KEYS, OVERSIZE_BYTES], np.where(cut("properties"), -1, props)
        ),
        "product_id": lambda: _coded(world.product_ids, np.where(cut("product_id"), -1, rows["product"])),
        "price": lambda: decimals(rows["price"], (rows["price"] >= 0) & ~cut("price"), 2),
        "currency": lambda: _coded([SHOP_CURRENCY], np.where(rows["currency"] & ~cut("currency"), 0, -1)),
        "query": lambda: _coded(list(SEARCHES), np.where(cut("query"), -1, rows["query"])),
        "quantity": lambda: _int64(rows["qty"], (rows["qty"] > 0) & ~cut("quantity")),
        "items": lambda: _items(rows["items_start"], np.where(cut("items"), 0, rows["items_len"]), lines, world),
        "order_id": lambda: numbered_strings(
            ORDER_PREFIX, order_base + rows["order"], (rows["order"] >= 0) & ~cut("order_id")
        ),
        "revenue": lambda: decimals(rows["revenue"], (rows["revenue"] >= 0) & ~cut("revenue"), 2),
        "campaign_id": lambda: _coded(world.campaign_ids, np.where(cut("campaign_id"), -1, rows["campaign"])),
        "platform": lambda: _coded(
            [p.value for p in Platform], np.where((rows["campaign"] >= 0) & ~cut("platform"), platform, -1)
        ),
        "ad_id": lambda: _coded(world.ad_ids, np.where(cut("ad_id"), -1, rows["ad"])),
        "cost": lambda: decimals(rows["cost"], rows["cost"] >= 0, 6),
        "value": lambda: decimals(rows["value"], (rows["value"] >= 0) & ~cut("value"), 2),
    }
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(build) for name, build in builders.items()}
        columns = {name: future.result() for name, future in futures.items()}
    columns |= _personal_data(plan.pii[src], actor)  # a retry repeats the payload, personal data too
    names_in_order = [f.name for f in arrow_schema("events")]
    table = pa.Table.from_arrays([columns[name] for name in names_in_order], names=names_in_order)
    _check_cuts(table, names, cut)
    wrong = np.flatnonzero(kind == MALFORMED_KINDS.index("wrong_type"))
    raw = _raw_payloads(table, wrong, [names[f] for f in hit[wrong]])
    return table.append_column(RAW_PAYLOAD, raw)


def _check_cuts(table: pa.Table, names: list[str], cut: Callable[[str], np.ndarray]) -> None:
    """Every field a malformation may remove is null on the rows it was removed from (a column
    built without its cut would silently make a malformed event valid)."""
    for name in names:
        rows = np.flatnonzero(cut(name))
        columns = IDENTITY.split(",") if name == IDENTITY else [name]
        for column in columns:
            if len(rows) and table[column].take(pa.array(rows)).null_count != len(rows):
                raise AssertionError(f"malformation of {name!r} not applied to column {column!r}")


def _raw_payloads(table: pa.Table, rows: np.ndarray, wrong_fields: list[str]) -> pa.Array:
    """The JSON a client sent for rows with a wrongly typed field: the typed row's payload with
    the wrong value put in (received_at omitted: the server sets it)."""
    from simulator.wire import dumps, payloads

    texts = []
    for payload, name in zip(
        payloads(table.take(pa.array(rows, pa.int64())), received_at=False), wrong_fields, strict=True
    ):
        payload[name] = WRONG_VALUES[name]
        texts.append(dumps(payload).decode())
    return _sparse_strings(table.num_rows, rows, texts)


def _coded(values: list[str] | pa.Array, index: np.ndarray) -> pa.DictionaryArray:
    """values[index] as a dictionary array (no copy of the strings); null where index < 0.

    The dictionary is made unique first: pyarrow's Parquet writer sizes the dictionary page by
    the dictionary it is given but writes each distinct value once, so a repeated value (two
    places in one country) left uninitialised bytes in the file.
    """
    if isinstance(values, pa.Array):
        dictionary = pc.unique(values)
        remap = pc.index_in(values, value_set=dictionary).to_numpy() if len(dictionary) != len(values) else None
    else:
        unique = list(dict.fromkeys(values))
        dictionary = pa.array(unique, pa.string())
        slot = {v: i for i, v in enumerate(unique)}
        remap = np.array([slot[v] for v in values]) if len(unique) != len(values) else None
    if remap is not None:
        index = np.where(index >= 0, remap[np.maximum(index, 0)], -1)
    indices = index.astype(np.int32)
    null = indices < 0
    indices[null] = 0
    return pa.DictionaryArray.from_arrays(
        pa.Array.from_buffers(pa.int32(), len(indices), [_validity(~null), pa.py_buffer(indices)]), dictionary
    )


def _validity(valid: np.ndarray) -> pa.Buffer | None:
    return None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))


def _int64(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [_validity(valid), pa.py_buffer(data)])


def _timestamp(ms: np.ndarray, valid: np.ndarray) -> pa.Array:
    micros = np.asarray(ms, dtype=np.int64) * 1000
    return pa.Array.from_buffers(pa.timestamp("us", tz="UTC"), len(micros), [_validity(valid), pa.py_buffer(micros)])


def decimals(units: np.ndarray, valid: np.ndarray, scale: int) -> pa.Array:
    """decimal(18, scale) values whose unscaled integers are `units` (cents, micros): cast to a
    scale-0 decimal, whose bytes are the unscaled integers, then read with the real scale."""
    whole = pa.array(np.asarray(units, dtype=np.int64), pa.int64(), mask=~valid).cast(pa.decimal128(19, 0))
    return pa.Array.from_buffers(pa.decimal128(18, scale), len(whole), whole.buffers())


def _geo(place: np.ndarray) -> pa.StructArray:
    country, region, city, _ = zip(*PLACES, strict=True)
    children = [_coded(list(values), np.maximum(place, 0)) for values in (country, region, city)]
    return pa.StructArray.from_arrays(children, names=["country", "region", "city"], mask=pa.array(place < 0))


def _items(start: np.ndarray, length: np.ndarray, lines: dict[str, np.ndarray], world: World) -> pa.Array:
    item_type = arrow_schema("events").field("items").type
    owner_start = np.cumsum(length) - length
    line = np.repeat(start - owner_start, length) + np.arange(int(length.sum()))
    child = pa.StructArray.from_arrays(
        [
            _coded(world.product_ids, lines["product"][line]).cast(pa.string()),
            _int64(lines["qty"][line], np.ones(len(line), dtype=bool)),
            decimals(lines["price"][line], np.ones(len(line), dtype=bool), 2),
        ],
        fields=list(item_type.value_type),
    )
    offsets = np.concatenate([[0], np.cumsum(length)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), child, type=item_type, mask=pa.array(length == 0))


_FIRST = ("emma", "liam", "olivia", "noah", "ava", "lucas", "mia", "leon", "sofia", "yuki", "arjun", "chloe")
_LAST = ("smith", "muller", "garcia", "rossi", "martin", "tanaka", "silva", "jones", "novak", "kumar")
_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "web.de", "icloud.com")


def _personal_data(bits: np.ndarray, actor: np.ndarray) -> dict[str, pa.Array]:
    """Raw IP, e-mail and phone (realistic formats, stable per actor) where `bits` ask for them."""
    out = {}
    for name, bit, render in (("ip", 4, _ip), ("email", 1, _email), ("phone", 2, _phone)):
        rows = np.flatnonzero(bits & bit)
        out[name] = _sparse_strings(len(bits), rows, [render(a) for a in actor[rows].tolist()])
    return out


def _sparse_strings(n: int, rows: np.ndarray, texts: list[str]) -> pa.Array:
    """A string array of `n` nulls except `texts` at `rows` (ascending), built from buffers."""
    encoded = [t.encode() for t in texts]
    lengths = np.zeros(n, dtype=np.int64)
    lengths[rows] = [len(b) for b in encoded]
    valid = np.zeros(n, dtype=bool)
    valid[rows] = True
    return strings_from_buffers(np.concatenate([[0], np.cumsum(lengths)]), b"".join(encoded), valid)


def _mix(actor: int) -> int:
    return (actor * 2_654_435_761 + 97) % 4_294_967_291


def _email(actor: int) -> str:
    h = _mix(actor)
    return f"{_FIRST[h % 12]}.{_LAST[(h // 12) % 10]}{h % 997}@{_DOMAINS[(h // 120) % 5]}"


def _phone(actor: int) -> str:
    h = _mix(actor)
    return f"+1 {200 + h % 800} 555 {h % 10_000:04d}" if h % 2 else f"+44{7_000_000_000 + h % 999_999_999}"


def _ip(actor: int) -> str:
    h = _mix(actor)
    return f"{11 + h % 200}.{(h >> 8) % 256}.{(h >> 16) % 256}.{1 + (h >> 24) % 254}"
