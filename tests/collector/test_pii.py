"""watershed.pii: keyed hashes (checked against hmac computed here), normalisation, key ids."""

from __future__ import annotations

import hashlib

import pytest

from tests.collector.conftest import PII_KEY, keyed
from watershed.pii import Pseudonymiser, is_pseudonym, key_id_of, normalise, personal_fields
from watershed.settings import Settings

P = Pseudonymiser(PII_KEY, "t1")


def test_the_personal_fields_are_the_ones_the_contract_marks() -> None:
    assert set(personal_fields()) == {"email", "phone", "ip"}


@pytest.mark.parametrize(
    ("field", "raw", "normalised"),
    [
        ("email", "  Alice@Example.COM ", "alice@example.com"),
        ("phone", "+49 (30) 1234-567", "+49301234567"),
        ("phone", "030 1234567", "0301234567"),
        ("ip", "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("ip", " 203.0.113.7 ", "203.0.113.7"),
        ("ip", "not-an-ip", "not-an-ip"),
    ],
)
def test_a_value_is_normalised_then_hashed_with_the_key(field: str, raw: str, normalised: str) -> None:
    assert normalise(field, raw) == normalised
    assert P.hash(field, raw) == keyed(field, normalised)


def test_the_hash_is_keyed_not_plain() -> None:
    value = "alice@example.com"
    stored = P.hash("email", value)
    assert stored.split(":")[1] != hashlib.sha256(value.encode()).hexdigest()
    assert stored != Pseudonymiser(b"another-key-of-enough-length", "t1").hash("email", value)
    assert stored != P.hash("phone", value)  # the field is part of the message
    assert is_pseudonym(stored) and key_id_of(stored) == "t1"


def test_the_key_id_is_stored_beside_the_hash_for_rotation() -> None:
    rotated = Pseudonymiser(b"the-next-key-0123456789", "k2")
    old, new = P.hash("email", "a@b.co"), rotated.hash("email", "a@b.co")
    assert (key_id_of(old), key_id_of(new)) == ("t1", "k2")


def test_keys_come_from_the_platform_settings() -> None:
    settings = Settings(env="local", pii_hash_key="a-real-key-from-the-environment", pii_hash_key_id="k7")
    from_settings = Pseudonymiser.from_settings(settings)
    assert from_settings.hash("ip", "10.0.0.1") == Pseudonymiser(b"a-real-key-from-the-environment", "k7").hash(
        "ip", "10.0.0.1"
    )
    assert "a-real-key" not in repr(from_settings)


@pytest.mark.parametrize(
    ("key", "key_id", "message"),
    [
        (b"short", "k1", "the PII hash key must be at least 16 bytes long"),
        (PII_KEY, "k:1", "the PII hash key id must match [A-Za-z0-9._-]{1,32} (got 'k:1')"),
        (PII_KEY, "", "the PII hash key id must match [A-Za-z0-9._-]{1,32} (got '')"),
    ],
)
def test_weak_keys_and_bad_key_ids_are_refused(key: bytes, key_id: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        Pseudonymiser(key, key_id)
    assert str(error.value) == message


def test_pseudonymise_replaces_the_personal_fields_and_nothing_else() -> None:
    payload = {
        "email": "Bob@Example.org",
        "phone": 4930123456,
        "ip": None,
        "user_id": "bob@example.org",
        "properties": {"email": "bob@example.org", "plan": "gold"},
    }
    assert P.pseudonymise(payload) == {
        "email": keyed("email", "bob@example.org"),
        "phone": keyed("phone", "4930123456"),  # not a string: its JSON text is hashed
        "ip": None,
        "user_id": "bob@example.org",  # an identifier, not a personal field of the contract
        "properties": {"email": keyed("email", "bob@example.org"), "plan": "gold"},
    }
    assert payload["email"] == "Bob@Example.org"  # the input is not changed


def test_scrub_hashes_anything_that_looks_personal() -> None:
    stored = P.hash("email", "x@y.de")
    assert P.scrub({"a": ["carol@example.com", "+1 555 0100 999", "10.1.2.3", "::1", "hi", 7], "z@y.de": stored}) == {
        "a": [
            keyed("email", "carol@example.com"),
            keyed("phone", "+15550100999"),
            keyed("ip", "10.1.2.3"),
            keyed("ip", "::1"),
            "hi",
            7,
        ],
        keyed("email", "z@y.de"): stored,  # a pseudonym is left alone
    }


def test_redact_hashes_addresses_inside_text_and_cuts_long_text() -> None:
    assert P.redact("'eve@example.com' from 192.0.2.1 at 10:00:00") == (
        f"'{keyed('email', 'eve@example.com')}' from {keyed('ip', '192.0.2.1')} at 10:00:00"
    )
    assert P.redact("x" * 1000) == "x" * 297 + "..."
