"""Type -> topic mapping and the sources each write key may send."""

from __future__ import annotations

import pytest

from watershed.contract import (
    EVENT_FAMILY,
    EVENT_TYPES,
    EVENT_TYPES_BY_FAMILY,
    Family,
    Source,
    event_types_for_source,
    source_may_send,
    topic_for,
)
from watershed.settings import DEFAULT_TOPICS

# The platform decision (issue 3) the derived mapping must reproduce.
DECIDED = {
    "user-events": {
        "page_view",
        "product_view",
        "search",
        "add_to_cart",
        "remove_from_cart",
        "begin_checkout",
        "signup",
        "login",
        "logout",
    },
    "transaction-data": {"purchase", "refund"},
    "ad-events": {"impression", "click", "conversion"},
}


def test_families_are_the_decided_topics() -> None:
    assert {family.value: set(types) for family, types in EVENT_TYPES_BY_FAMILY.items()} == DECIDED
    assert {topic_for(t) for t in EVENT_TYPES} <= set(DEFAULT_TOPICS)


@pytest.mark.parametrize(
    ("source", "families"),
    [
        (Source.WEB_ANALYTICS, {Family.USER_EVENTS}),
        (Source.USER_EVENTS, {Family.USER_EVENTS}),
        (Source.TRANSACTION_DATA, {Family.TRANSACTION_DATA}),
        (Source.AD_PLATFORM, {Family.AD_EVENTS}),
    ],
)
def test_each_source_sends_only_its_families(source: Source, families: set[Family]) -> None:
    allowed = set(event_types_for_source(source))
    assert allowed == {t for t in EVENT_TYPES if EVENT_FAMILY[t] in families}
    assert all(source_may_send(source.value, t) == (t in allowed) for t in EVENT_TYPES)


def test_unknown_values_are_not_allowed() -> None:
    assert not source_may_send("mobile_sdk", "page_view")
    assert not source_may_send("web_analytics", "teleport")
    with pytest.raises(KeyError):
        topic_for("teleport")
