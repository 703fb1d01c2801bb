"""The event models: the single definition every layer derives its schema from.

One class per event type, all sharing :class:`EventBase` (the envelope). Type-specific fields sit
at the top level of the event, next to the envelope, so that a flat table has one column per
field. Unknown top-level fields are refused: attributes the contract does not name belong in
``properties``. See docs/contract.md for the rules in prose.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from watershed.contract.families import SOURCE_FAMILIES, Family
from watershed.contract.fields import (
    EARLIEST_OCCURRED_AT,
    MAX_CLOCK_SKEW,
    MAX_EVENT_AGE,
    MAX_ITEMS,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTIES_KEYS,
    AdCost,
    CountryCode,
    Currency,
    Device,
    EventId,
    Identifier,
    Money,
    PersonalData,
    PlaceName,
    Platform,
    Quantity,
    SearchQuery,
    Source,
    Url,
    UserAgent,
    UtcDatetime,
    opt,
    req,
)

# Fields holding an amount of money: an event that sets one must say in which currency.
MONEY_FIELDS = ("price", "revenue", "value", "cost", "items")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Geo(_Strict):
    country: CountryCode = req("country")
    region: PlaceName | None = opt("region")
    city: PlaceName | None = opt("city")


class Item(_Strict):
    product_id: Identifier = req("product_id")
    quantity: Quantity = req("quantity")
    price: Money = req("price")


def properties_size_errors(properties: dict[str, Any]) -> list[str]:
    """Why `properties` is too large (empty when it fits). Size is counted on compact UTF-8 JSON,
    the form the event travels in."""
    errors = []
    if len(properties) > MAX_PROPERTIES_KEYS:
        errors.append(f"has {len(properties)} keys; at most {MAX_PROPERTIES_KEYS} are allowed")
    size = len(json.dumps(properties, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_PROPERTIES_BYTES:
        errors.append(f"is {size} bytes as JSON; at most {MAX_PROPERTIES_BYTES} are allowed")
    return errors


class EventBase(_Strict):
    """The envelope shared by every event type."""

    family: ClassVar[Family]

    event_id: EventId = req("event_id")
    event_type: str = req("event_type")
    schema_version: int = req("schema_version", ge=1)
    source: Source = req("source")
    user_id: Identifier | None = opt("user_id")
    anonymous_id: Identifier | None = opt("anonymous_id")
    occurred_at: UtcDatetime = req("occurred_at")
    received_at: UtcDatetime | None = opt("received_at")
    page_url: Url | None = opt("page_url")
    referrer: Url | None = opt("referrer")
    device: Device | None = opt("device")
    geo: Geo | None = opt("geo")
    user_agent: UserAgent | None = opt("user_agent")
    ip: PersonalData | None = opt("ip")
    email: PersonalData | None = opt("email")
    phone: PersonalData | None = opt("phone")
    properties: dict[str, Any] | None = opt("properties")

    @field_validator("properties")
    @classmethod
    def _properties_fit(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and (errors := properties_size_errors(value)):
            raise ValueError("; ".join(errors))
        return value

    @model_validator(mode="after")
    def _envelope_rules(self) -> EventBase:
        if self.user_id is None and self.anonymous_id is None:
            raise _rule("user_id", "user_id or anonymous_id is required")
        if self.family not in SOURCE_FAMILIES[self.source]:
            raise _rule("source", f"source {self.source.value} may not send {self.event_type} events")
        if any(getattr(self, name, None) is not None for name in MONEY_FIELDS) and (
            getattr(self, "currency", None) is None
        ):
            raise _rule("currency", "currency is required when the event carries an amount")
        if self.occurred_at < EARLIEST_OCCURRED_AT:
            raise _rule("occurred_at", f"is before {EARLIEST_OCCURRED_AT:%Y-%m-%d}: a broken clock")
        if self.received_at is not None:
            if self.occurred_at > self.received_at + MAX_CLOCK_SKEW:
                raise _rule("occurred_at", "is more than 10 minutes after received_at (clock ahead)")
            if self.occurred_at < self.received_at - MAX_EVENT_AGE:
                raise _rule("occurred_at", "is more than 7 days before received_at (too old)")
        return self


def _rule(field: str, message: str) -> PydanticCustomError:
    """A cross-field rule's error, naming the field to blame (reported as ctx.field)."""
    return PydanticCustomError("contract_rule", message, {"field": field})


# ---- user-events ---------------------------------------------------------------------------


class PageView(EventBase):
    """A page was shown."""

    family = Family.USER_EVENTS
    event_type: Literal["page_view"] = req("event_type")
    page_url: Url = req("page_url")


class ProductView(EventBase):
    """A product detail page or product tile was viewed."""

    family = Family.USER_EVENTS
    event_type: Literal["product_view"] = req("event_type")
    product_id: Identifier = req("product_id")
    price: Money | None = opt("price")
    currency: Currency | None = opt("currency")


class Search(EventBase):
    """The visitor searched the catalogue."""

    family = Family.USER_EVENTS
    event_type: Literal["search"] = req("event_type")
    query: SearchQuery = req("query")


class AddToCart(EventBase):
    """Units of a product were added to the cart."""

    family = Family.USER_EVENTS
    event_type: Literal["add_to_cart"] = req("event_type")
    product_id: Identifier = req("product_id")
    quantity: Quantity = req("quantity")
    price: Money = req("price")
    currency: Currency = req("currency")


class RemoveFromCart(EventBase):
    """Units of a product were removed from the cart."""

    family = Family.USER_EVENTS
    event_type: Literal["remove_from_cart"] = req("event_type")
    product_id: Identifier = req("product_id")
    quantity: Quantity = req("quantity")
    price: Money = req("price")
    currency: Currency = req("currency")


class BeginCheckout(EventBase):
    """The visitor started the checkout with the cart's items."""

    family = Family.USER_EVENTS
    event_type: Literal["begin_checkout"] = req("event_type")
    items: list[Item] | None = opt("items", min_length=1, max_length=MAX_ITEMS)
    currency: Currency | None = opt("currency")


class Signup(EventBase):
    """A visitor created an account."""

    family = Family.USER_EVENTS
    event_type: Literal["signup"] = req("event_type")
    user_id: Identifier = req("user_id")


class Login(EventBase):
    """A user signed in."""

    family = Family.USER_EVENTS
    event_type: Literal["login"] = req("event_type")
    user_id: Identifier = req("user_id")


class Logout(EventBase):
    """A user signed out."""

    family = Family.USER_EVENTS
    event_type: Literal["logout"] = req("event_type")
    user_id: Identifier = req("user_id")


# ---- transaction-data ----------------------------------------------------------------------


class Purchase(EventBase):
    """An order was paid (sent by the shop's back end)."""

    family = Family.TRANSACTION_DATA
    event_type: Literal["purchase"] = req("event_type")
    order_id: Identifier = req("order_id")
    revenue: Money = req("revenue")
    currency: Currency = req("currency")
    items: list[Item] = req("items", min_length=1, max_length=MAX_ITEMS)


class Refund(EventBase):
    """Money of an order was returned (sent by the shop's back end)."""

    family = Family.TRANSACTION_DATA
    event_type: Literal["refund"] = req("event_type")
    order_id: Identifier = req("order_id")
    revenue: Money = req("revenue")
    currency: Currency = req("currency")
    items: list[Item] | None = opt("items", min_length=1, max_length=MAX_ITEMS)


# ---- ad-events -----------------------------------------------------------------------------


class Impression(EventBase):
    """An ad was shown (reported by the ad platform)."""

    family = Family.AD_EVENTS
    event_type: Literal["impression"] = req("event_type")
    campaign_id: Identifier = req("campaign_id")
    platform: Platform = req("platform")
    ad_id: Identifier = req("ad_id")
    cost: AdCost | None = opt("cost")
    currency: Currency | None = opt("currency")


class Click(EventBase):
    """An ad was clicked (reported by the ad platform)."""

    family = Family.AD_EVENTS
    event_type: Literal["click"] = req("event_type")
    campaign_id: Identifier = req("campaign_id")
    platform: Platform = req("platform")
    ad_id: Identifier = req("ad_id")
    cost: AdCost | None = opt("cost")
    currency: Currency | None = opt("currency")


class Conversion(EventBase):
    """The ad platform attributed a conversion (a purchase) to an ad."""

    family = Family.AD_EVENTS
    event_type: Literal["conversion"] = req("event_type")
    campaign_id: Identifier = req("campaign_id")
    platform: Platform = req("platform")
    ad_id: Identifier | None = opt("ad_id")
    order_id: Identifier | None = opt("order_id")
    value: Money = req("value")
    currency: Currency = req("currency")


# In this order everywhere (docs, column order, accepted values).
_MODELS: tuple[type[EventBase], ...] = (
    PageView,
    ProductView,
    Search,
    AddToCart,
    RemoveFromCart,
    BeginCheckout,
    Signup,
    Login,
    Logout,
    Purchase,
    Refund,
    Impression,
    Click,
    Conversion,
)
EVENT_MODELS: dict[str, type[EventBase]] = {
    get_args(model.model_fields["event_type"].annotation)[0]: model for model in _MODELS
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)

# The discriminated union of every type: validation dispatches on event_type.
Event: Any = Annotated[Union[_MODELS], Field(discriminator="event_type")]  # noqa: UP007
