"""Schema versions: which ones the collector accepts and how an older payload is upgraded.

Rules (docs/contract.md, "Versioning"): a compatible change (a new optional field, a new event
type, a new enum value, a looser limit) keeps the version. Any other change bumps
:data:`CURRENT_SCHEMA_VERSION` and registers in :data:`UPGRADES` a function that rewrites a
payload of the previous version into the new one, so old clients keep working until
:data:`MIN_SUPPORTED_SCHEMA_VERSION` is raised (announced one release ahead, at least 90 days).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from watershed.contract.fields import CURRENT_SCHEMA_VERSION

MIN_SUPPORTED_SCHEMA_VERSION = 1

# UPGRADES[v] turns a version-v payload into a version v+1 payload. Empty while only v1 exists.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class UnsupportedVersion(ValueError):
    """The payload's schema_version is outside the accepted range."""


def upgrade(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` rewritten to the current version; payloads whose schema_version is not an int
    are returned unchanged for validation to report."""
    version = payload.get("schema_version")
    result = dict(payload)
    if not isinstance(version, int) or isinstance(version, bool):
        return result
    if not MIN_SUPPORTED_SCHEMA_VERSION <= version <= CURRENT_SCHEMA_VERSION:
        raise UnsupportedVersion(
            f"schema_version {version} is not accepted; this collector accepts "
            f"{MIN_SUPPORTED_SCHEMA_VERSION} to {CURRENT_SCHEMA_VERSION}"
        )
    for step in range(version, CURRENT_SCHEMA_VERSION):
        result = UPGRADES[step](result)
        result["schema_version"] = step + 1
    return result
