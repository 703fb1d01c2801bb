"""The building blocks of every event: enumerations, limits, constrained field types and the one
description of each field.

Every derived artifact (JSON Schema, Spark StructType, Parquet schema, dbt column docs, quality
inputs) reads these through the pydantic models, so a limit or a description changes here and
nowhere else.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

CURRENT_SCHEMA_VERSION = 1
SHOP_CURRENCY = "USD"

# Size limits of the free `properties` object: one event must stay a small Kafka message.
MAX_PROPERTIES_BYTES = 8 * 1024
MAX_PROPERTIES_KEYS = 50
MAX_ITEMS = 100
# Time window relative to received_at: late events (offline clients, retries) up to a week old
# are kept; a clock more than 10 minutes ahead of the server is wrong, not early.
MAX_EVENT_AGE = timedelta(days=7)
MAX_CLOCK_SKEW = timedelta(minutes=10)
# Before this instant a timestamp is a broken clock (1970, year 1), whatever received_at says.
EARLIEST_OCCURRED_AT = datetime(2010, 1, 1, tzinfo=UTC)


class Source(StrEnum):
    """Who sends the event; each source has its own write key at the collector."""

    WEB_ANALYTICS = "web_analytics"
    USER_EVENTS = "user_events"
    TRANSACTION_DATA = "transaction_data"
    AD_PLATFORM = "ad_platform"


class Device(StrEnum):
    DESKTOP = "desktop"
    MOBILE = "mobile"
    TABLET = "tablet"


class Platform(StrEnum):
    GOOGLE_ADS = "google_ads"
    FACEBOOK_ADS = "facebook_ads"


# The stored (canonical) form of event_id; clients may send any spelling uuid.UUID accepts.
CANONICAL_UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class PersonalDataMarker:
    """Annotated metadata marking a field as personal data (pseudonymised by the collector);
    the columnar view and the quality inputs find personal fields through it."""


def _canonical_uuid(value: str) -> str:
    """Accept any RFC 4122 UUID spelling and store the canonical lower-case form, so that
    deduplication compares one spelling."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise ValueError("must be a UUID such as 1b4e28ba-2fa1-41d2-883f-0016d3cca427") from None
    return str(parsed)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
    return value


EventId = Annotated[
    str, StringConstraints(max_length=64), AfterValidator(_canonical_uuid), Field(json_schema_extra={"format": "uuid"})
]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
UserAgent = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
SearchQuery = Annotated[str, StringConstraints(min_length=1, max_length=512)]
PlaceName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# Personal data is not format-checked: the collector pseudonymises whatever arrives, and a
# malformed address is as personal as a well-formed one.
PersonalData = Annotated[str, StringConstraints(min_length=1, max_length=320), PersonalDataMarker()]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_known_time_zone)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Quantity = Annotated[int, Field(ge=1, le=1000)]
# Money in the currency's major unit with cents; ad cost keeps micros as Google Ads reports it
# (an impression bought at a $7 CPM costs $0.007).
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1000000000"), max_digits=18, decimal_places=2)]
AdCost = Annotated[Decimal, Field(ge=0, le=Decimal("1000000000"), max_digits=18, decimal_places=6)]
Count = Annotated[int, Field(ge=0)]

FIELD_DOCS: dict[str, str] = {
    "event_id": "UUID chosen by the client; a retried event keeps its id, which is how duplicates are "
    "removed (first received wins).",
    "event_type": "What happened; selects the event's fields and its Kafka topic.",
    "schema_version": "Contract version the event was written against (current: 1).",
    "source": "Sender of the event (web_analytics, user_events, transaction_data, ad_platform); must "
    "match the write key.",
    "user_id": "The shop's id of a signed-in user. At least one of user_id and anonymous_id is set.",
    "anonymous_id": "Cookie or device id of the browser or app; set before sign-in too.",
    "occurred_at": "When the event happened, by the client's clock (ISO 8601 with offset; stored in UTC).",
    "received_at": "When the collector received the event (UTC); set by the server, a client value is replaced.",
    "page_url": "URL of the page the event happened on.",
    "referrer": "URL of the previous page or of the external site that sent the visitor.",
    "device": "Device class: desktop, mobile or tablet.",
    "geo": "Location derived from the client: ISO 3166-1 alpha-2 country, region and city.",
    "user_agent": "The client's User-Agent header; bots are recognised from it.",
    "ip": "Client IP address. Personal data: pseudonymised by the collector before storage.",
    "email": "E-mail address where the event carries one. Personal data: pseudonymised by the collector.",
    "phone": "Phone number where the event carries one. Personal data: pseudonymised by the collector.",
    "properties": "Free JSON object for attributes the contract does not name "
    f"(at most {MAX_PROPERTIES_KEYS} keys and {MAX_PROPERTIES_BYTES} bytes as compact JSON). "
    "Stored as a JSON string in columnar layers.",
    "product_id": "The shop's product id (SKU).",
    "price": "Unit price in `currency`, two decimals.",
    "quantity": "Number of units.",
    "query": "The search text as typed.",
    "order_id": "The shop's order id; a refund or conversion names the order it belongs to.",
    "revenue": "Order total (purchase) or amount refunded (refund) in `currency`, two decimals.",
    "currency": "ISO 4217 currency code of every amount in the event.",
    "items": "Order lines: product_id, quantity, unit price.",
    "campaign_id": "Ad platform's campaign id.",
    "platform": "Ad platform: google_ads or facebook_ads.",
    "ad_id": "Ad platform's ad id.",
    "cost": "What the platform charged for this impression or click, in `currency`, six decimals "
    "(micros); empty when the platform bills the other event type.",
    "value": "Conversion value reported to the ad platform, in `currency`.",
    # nested fields
    "country": "ISO 3166-1 alpha-2 country code.",
    "region": "Region or state name.",
    "city": "City name.",
    # ad-platform daily rows
    "date": "Reporting day, in the ad account's time zone (the platforms report account days, not UTC days).",
    "account_id": "The ad account: a Google Ads customer id (10 digits), a Meta ad account id (without act_).",
    "account_name": "The ad account's name as shown in the ad platform.",
    "campaign_name": "Campaign name as shown in the ad platform.",
    "impressions": "Impressions served on the day.",
    "clicks": "Clicks on the day.",
    "conversions": "Conversions attributed on the day (fractional when the platform splits credit).",
    "conversion_value": "Value of the day's conversions in `currency`.",
    "time_zone": "The ad account's time zone (IANA name, e.g. Europe/Berlin): the zone `date` is a day of.",
}


def req(name: str, **constraints: Any) -> Any:
    """A required field documented by FIELD_DOCS[name]."""
    return Field(description=FIELD_DOCS[name], **constraints)


def opt(name: str, **constraints: Any) -> Any:
    """An optional field (default None) documented by FIELD_DOCS[name]."""
    return Field(None, description=FIELD_DOCS[name], **constraints)
