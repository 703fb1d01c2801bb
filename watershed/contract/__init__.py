"""The event contract: one versioned definition of every event, from which every layer's schema
is derived (docs/contract.md).

Public API:

* models: :data:`Event` (discriminated union), :data:`EVENT_MODELS`, :data:`EVENT_TYPES`,
  :class:`AdPlatformDailyRow`;
* validation: :func:`validate_event`, :func:`validate_ad_platform_row` (-> :class:`Validated`);
* routing: :class:`Family`, :func:`topic_for`, :data:`EVENT_FAMILY`, :data:`SOURCE_FAMILIES`,
  :func:`source_may_send`, :func:`event_types_for_source`;
* derived schemas: :func:`event_columns`, :func:`arrow_schema`, :func:`spark_schema`,
  :func:`quality_inputs`;
* shared meanings: :data:`SESSION_GAP`, :data:`SESSION_EVENT_TYPES`, :func:`session_id`,
  :func:`is_bot_user_agent`, :data:`BOT_USER_AGENT_PATTERN`.

Importing this package loads pydantic only; pyarrow and pyspark load inside the functions that
need them.
"""

from watershed.contract.ad_platform import AdPlatformDailyRow
from watershed.contract.columns import Column, ad_platform_columns, event_columns
from watershed.contract.events import EVENT_MODELS, EVENT_TYPES, MONEY_FIELDS, Event, EventBase, Geo, Item
from watershed.contract.families import INVALID_TOPIC, SOURCE_FAMILIES, Family
from watershed.contract.fields import (
    CURRENT_SCHEMA_VERSION,
    MAX_CLOCK_SKEW,
    MAX_EVENT_AGE,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTIES_KEYS,
    Device,
    Platform,
    Source,
)
from watershed.contract.quality import PII_PATTERNS, TableChecks, quality_inputs
from watershed.contract.routing import (
    EVENT_FAMILY,
    EVENT_TYPES_BY_FAMILY,
    event_types_for_source,
    source_may_send,
    topic_for,
)
from watershed.contract.semantics import (
    BOT_USER_AGENT_PATTERN,
    SESSION_EVENT_TYPES,
    SESSION_GAP,
    is_bot_user_agent,
    session_id,
    user_key,
)
from watershed.contract.tables import arrow_schema, spark_schema
from watershed.contract.validation import FieldError, Validated, validate_ad_platform_row, validate_event
from watershed.contract.versioning import MIN_SUPPORTED_SCHEMA_VERSION, UPGRADES, upgrade

__all__ = [
    "BOT_USER_AGENT_PATTERN",
    "CURRENT_SCHEMA_VERSION",
    "EVENT_FAMILY",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "EVENT_TYPES_BY_FAMILY",
    "INVALID_TOPIC",
    "MAX_CLOCK_SKEW",
    "MAX_EVENT_AGE",
    "MAX_PROPERTIES_BYTES",
    "MAX_PROPERTIES_KEYS",
    "MIN_SUPPORTED_SCHEMA_VERSION",
    "MONEY_FIELDS",
    "PII_PATTERNS",
    "SESSION_EVENT_TYPES",
    "SESSION_GAP",
    "SOURCE_FAMILIES",
    "UPGRADES",
    "AdPlatformDailyRow",
    "Column",
    "Device",
    "Event",
    "EventBase",
    "Family",
    "FieldError",
    "Geo",
    "Item",
    "Platform",
    "Source",
    "TableChecks",
    "Validated",
    "ad_platform_columns",
    "arrow_schema",
    "event_columns",
    "event_types_for_source",
    "is_bot_user_agent",
    "quality_inputs",
    "session_id",
    "source_may_send",
    "spark_schema",
    "topic_for",
    "upgrade",
    "user_key",
    "validate_ad_platform_row",
    "validate_event",
]
