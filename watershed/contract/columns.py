"""The flat, columnar view of the contract, derived from the pydantic models.

Every columnar layer (Parquet files, Spark StructTypes, warehouse column docs, quality inputs)
is built from :func:`event_columns` / :func:`ad_platform_columns`, which walk the models' fields;
nothing here names a field by hand. Events become one wide table: the envelope, then each
type-specific field once (a field has one type in every event type that carries it), all
nullable because a column is empty for the types without that field. ``properties`` is a JSON
string there, since a free object has no fixed columns.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from watershed.contract.ad_platform import AdPlatformDailyRow
from watershed.contract.events import EVENT_MODELS
from watershed.contract.fields import PersonalDataMarker

Kind = Literal["string", "int64", "double", "decimal", "timestamp", "date", "json", "struct"]


@dataclass(frozen=True)
class Column:
    """One column of a flat table. `repeated` makes it a list of `kind`; a struct lists its
    `fields`; decimals carry precision and scale; numeric bounds come from the model."""

    name: str
    kind: Kind
    description: str
    repeated: bool = False
    fields: tuple[Column, ...] = ()
    precision: int | None = None
    scale: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    choices: tuple[str, ...] = ()  # accepted values of an enum or literal field
    pattern: str | None = None  # regular expression every value matches
    personal: bool = False  # personal data, pseudonymised by the collector

    @property
    def type_name(self) -> str:
        """A readable logical type, e.g. ``decimal(18,2)`` or ``list<struct<product_id:string,...>>``."""
        if self.kind == "decimal":
            base = f"decimal({self.precision},{self.scale})"
        elif self.kind == "struct":
            base = "struct<" + ",".join(f"{f.name}:{f.type_name}" for f in self.fields) + ">"
        else:
            base = self.kind
        return f"list<{base}>" if self.repeated else base


class ContractError(TypeError):
    """The models cannot be flattened (a field type is unsupported or differs between types)."""


@cache
def event_columns() -> tuple[Column, ...]:
    """The columns of the flat event table, envelope first, in model declaration order."""
    return columns_of(EVENT_MODELS.values())


@cache
def ad_platform_columns() -> tuple[Column, ...]:
    return columns_of([AdPlatformDailyRow])


def columns_of(models: Iterable[type[BaseModel]]) -> tuple[Column, ...]:
    """The union of the models' fields as columns; a name must map to one type everywhere."""
    columns: dict[str, Column] = {}
    for model in models:
        for name, info in model.model_fields.items():
            column = _column(name, info)
            seen = columns.setdefault(name, column)
            if replace(seen, choices=()) != replace(column, choices=()):
                raise ContractError(f"field {name!r} of {model.__name__} differs from the same field elsewhere")
            # event_type is one literal per model: the column accepts all of them
            choices = tuple(dict.fromkeys(seen.choices + column.choices))
            columns[name] = replace(seen, choices=choices)
    return tuple(columns.values())


def _column(name: str, info: FieldInfo) -> Column:
    annotation, metadata = _unwrap(info.annotation)
    metadata = [*info.metadata, *metadata]
    repeated = get_origin(annotation) is list
    if repeated:
        annotation, inner = _unwrap(get_args(annotation)[0])
        metadata += inner
    kind, fields = _kind(name, annotation)
    bounds = {key: _first(metadata, key) for key in ("ge", "le", "max_digits", "decimal_places", "pattern")}
    if kind == "decimal" and (bounds["max_digits"] is None or bounds["decimal_places"] is None):
        raise ContractError(f"decimal field {name!r} needs max_digits and decimal_places")
    return Column(
        name=name,
        kind=kind,
        description=info.description or "",
        repeated=repeated,
        fields=fields,
        precision=bounds["max_digits"],
        scale=bounds["decimal_places"],
        minimum=None if bounds["ge"] is None else Decimal(str(bounds["ge"])),
        maximum=None if bounds["le"] is None else Decimal(str(bounds["le"])),
        choices=_choices(annotation),
        pattern=bounds["pattern"],
        personal=any(isinstance(m, PersonalDataMarker) for m in metadata),
    )


def _choices(annotation: Any) -> tuple[str, ...]:
    if get_origin(annotation) is Literal:
        return tuple(str(a) for a in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(str(member.value) for member in annotation)
    return ()


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip Optional and Annotated, collecting the constraint metadata found on the way."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            for item in extra:
                metadata += item.metadata if isinstance(item, FieldInfo) else [item]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                raise ContractError(f"unions other than Optional cannot be flattened: {annotation}")
            annotation = members[0]
        else:
            return annotation, metadata


def _kind(name: str, annotation: Any) -> tuple[Kind, tuple[Column, ...]]:
    if get_origin(annotation) is Literal:
        return "string", ()
    if get_origin(annotation) is dict:
        return "json", ()
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "struct", columns_of([annotation])
        for python_type, kind in _SCALARS:
            if issubclass(annotation, python_type):
                return kind, ()
    raise ContractError(f"field {name!r} has a type the columnar layers cannot hold: {annotation}")


# Order matters: datetime is a subclass of date, bool of int, StrEnum of str.
_SCALARS: tuple[tuple[type, Kind], ...] = (
    (AwareDatetime, "timestamp"),
    (dt.datetime, "timestamp"),
    (dt.date, "date"),
    (Enum, "string"),
    (str, "string"),
    (int, "int64"),
    (float, "double"),
    (Decimal, "decimal"),
)


def _first(metadata: list[Any], attribute: str) -> Any:
    return next((getattr(m, attribute) for m in metadata if getattr(m, attribute, None) is not None), None)
