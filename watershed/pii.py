"""Pseudonymisation of personal data: a keyed hash (HMAC-SHA256), never a plain hash.

The collector replaces every personal field of an event (the contract marks them: ``email``,
``phone``, ``ip``) before the event leaves the process; batch jobs and erasure requests use the
same functions to find the rows of a person. A stored value reads::

    <key id>:<64 hex digits of HMAC-SHA256(key, "<field>" 0x1F <normalised value>)>

The key comes from ``WATERSHED_PII_HASH_KEY`` and its id from ``WATERSHED_PII_HASH_KEY_ID``
(:attr:`watershed.settings.Settings.pii_key`). The id travels with every hash, so after a key
rotation a reader knows which key produced a value and an erasure job hashes the person's data
once per key still present in the data. Without the key, a hash cannot be recomputed from a
guessed e-mail address or phone number, which is what makes a plain SHA-256 unacceptable here.

Values are normalised before hashing, so that spellings of one address give one hash: e-mail
addresses are trimmed and lower-cased, phone numbers keep their digits (and a leading ``+``),
IP addresses take their canonical form. The field name is part of the hashed message, so one
string gives unrelated hashes as an e-mail and as a phone number.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watershed.settings import Settings

KEY_ID_PATTERN = r"[A-Za-z0-9._-]{1,32}"
PSEUDONYM_PATTERN = rf"^{KEY_ID_PATTERN}:[0-9a-f]{{64}}$"
MIN_KEY_BYTES = 16
_PSEUDONYM = re.compile(PSEUDONYM_PATTERN)
_KEY_ID = re.compile(rf"^{KEY_ID_PATTERN}$")
_PHONE_KEEP = re.compile(r"[^0-9]")
# A dotted quad without leading zeros is already the canonical form (ipaddress would say the same,
# ten times slower).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"^{_OCTET}(?:\.{_OCTET}){{3}}$")


@cache
def personal_fields() -> tuple[str, ...]:
    """The event fields that hold personal data, as the contract marks them."""
    from watershed.contract import event_columns

    return tuple(column.name for column in event_columns() if column.personal)


def normalise(field: str, value: str) -> str:
    """The canonical spelling of a personal value (see the module docstring)."""
    value = value.strip()
    if field == "email":
        return value.lower()
    if field == "phone":
        digits = _PHONE_KEEP.sub("", value)
        return ("+" + digits) if value.startswith("+") else digits
    if field == "ip":
        if _CANONICAL_IPV4.match(value):
            return value
        try:
            return ipaddress.ip_address(value).compressed
        except ValueError:
            return value
    return value


class Pseudonymiser:
    """Keyed hashing of personal values with one key and its id."""

    __slots__ = ("_key", "fields", "key_id")

    def __init__(self, key: bytes, key_id: str) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the PII hash key must be at least {MIN_KEY_BYTES} bytes long")
        if not _KEY_ID.match(key_id):
            raise ValueError(f"the PII hash key id must match {KEY_ID_PATTERN} (got {key_id!r})")
        self._key = key
        self.key_id = key_id
        self.fields = frozenset(personal_fields())

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymiser:
        return cls(settings.pii_key, settings.pii_hash_key_id)

    def __repr__(self) -> str:  # never show the key
        return f"Pseudonymiser(key_id={self.key_id!r})"

    def hash(self, field: str, value: str) -> str:
        """`<key id>:<hex HMAC>` of a personal value of `field`."""
        message = f"{field}\x1f{normalise(field, value)}".encode()
        # an OpenSSL HMAC object: as fast as hmac.digest here, and it keeps the GIL for short input
        # (hmac.digest drops and retakes it on every call, a stall when another thread is busy)
        return f"{self.key_id}:{hmac.new(self._key, message, 'sha256').hexdigest()}"

    def hash_any(self, field: str, value: Any) -> str:
        """Like :meth:`hash` for a value of any JSON type (as found in a rejected event)."""
        if isinstance(value, str):
            return self.hash(field, value)
        import orjson

        try:
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            text = repr(value)
        return self.hash(field, text)

    def pseudonymise(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of an event payload whose personal fields, at the top level and in
        ``properties``, hold keyed hashes instead of raw values (None stays None)."""
        out = dict(payload)
        for name in self.fields.intersection(out):
            if out[name] is not None:
                out[name] = self.hash_any(name, out[name])
        properties = out.get("properties")
        if isinstance(properties, Mapping) and not self.fields.isdisjoint(properties):
            properties = dict(properties)
            for name in self.fields.intersection(properties):
                if properties[name] is not None:
                    properties[name] = self.hash_any(name, properties[name])
            out["properties"] = properties
        return out

    def scrub(self, value: Any) -> Any:
        """`value` (any JSON) with every string, key or value, that looks like personal data
        (the contract's :data:`~watershed.contract.PII_PATTERNS`) replaced by its keyed hash.
        For data kept for inspection, such as rejected events: the patterns are broad (a long
        number looks like a phone number), which is right there and wrong for accepted events."""
        if isinstance(value, str):
            kind = _looks_personal(value)
            return value if kind is None else self.hash(kind, value)
        if isinstance(value, dict):
            return {self.scrub(k) if isinstance(k, str) else k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value

    def redact(self, text: str, limit: int = 300) -> str:
        """Free text (an error message that may quote a submitted value) with e-mail and IPv4
        addresses replaced by their keyed hash, cut to `limit` characters. Phone numbers and
        IPv6 addresses are not looked for inside text: their patterns match ordinary numbers
        and clock times."""
        for kind, pattern in _text_patterns():

            def replace(match: re.Match[str], kind: str = kind) -> str:
                return self.hash(kind, match.group(0))

            text = pattern.sub(replace, text)
        return text if len(text) <= limit else text[: limit - 3] + "..."


@cache
def _text_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    from watershed.contract import PII_PATTERNS

    return tuple(
        ("ip" if name == "ipv4" else name, re.compile(PII_PATTERNS[name].removeprefix("^").removesuffix("$")))
        for name in ("email", "ipv4")
    )


@cache
def _pii_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    from watershed.contract import PII_PATTERNS

    # addresses first: a dotted IPv4 address also matches the (broad) phone pattern
    order = sorted(PII_PATTERNS, key=lambda name: name == "phone")
    return tuple(("ip" if name.startswith("ip") else name, re.compile(PII_PATTERNS[name])) for name in order)


def _looks_personal(text: str) -> str | None:
    if is_pseudonym(text):
        return None
    stripped = text.strip()
    for kind, pattern in _pii_patterns():
        if pattern.match(stripped):
            return kind
    return None


def is_pseudonym(value: object) -> bool:
    """Whether `value` has the form of a stored pseudonym (`<key id>:<64 hex>`)."""
    return isinstance(value, str) and _PSEUDONYM.match(value) is not None


def key_id_of(pseudonym: str) -> str:
    """The id of the key that produced a stored pseudonym."""
    if not is_pseudonym(pseudonym):
        raise ValueError("not a pseudonym of the form <key id>:<64 hex digits>")
    return pseudonym.split(":", 1)[0]
