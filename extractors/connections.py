"""Ad platform credentials from Airflow connections, in the shapes Airflow's own providers use.

* ``google_ads_default`` (``WATERSHED_ADS_GOOGLE_CONN_ID``), as the Google provider's GoogleAdsHook:
  extra ``{"google_ads_client": {"developer_token", "client_id", "client_secret",
  "refresh_token", "login_customer_id"}}`` (the keys may also sit at the top of extra), plus
  ``customer_ids`` (a list, or a comma-separated string), and optionally ``endpoint`` and
  ``token_uri``.
* ``facebook_default`` (``WATERSHED_ADS_META_CONN_ID``), as the Facebook provider's
  FacebookAdsReportingHook: extra ``{"app_id", "app_secret", "access_token", "account_id"}``
  (``account_id`` a list or a comma-separated string), and optionally ``graph_url``.

A connection that exists overrides the ``WATERSHED_ADS_*`` settings of its platform, field by
field; without one the settings are used as they are. Airflow keeps a connection in its secrets
backend (or ``AIRFLOW_CONN_<ID>``) and masks its secret fields in task logs; the values become
``SecretStr`` here and are never returned to XCom.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import SecretStr

from extractors.settings import AdSettings
from watershed.errors import ConfigError

GOOGLE_FIELDS = ("developer_token", "client_id", "client_secret", "refresh_token", "login_customer_id")
_SECRETS = {"developer_token", "client_secret", "refresh_token", "app_secret", "access_token"}


def _ids(value: Any, conn_id: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple) and all(isinstance(v, str | int) for v in value):
        return tuple(str(v) for v in value)
    raise ConfigError(f"Airflow connection {conn_id}: extra {key} must be a list or a comma-separated string")


def _value(key: str, value: Any) -> Any:
    return SecretStr(str(value)) if key in _SECRETS else str(value)


def google_overrides(conn_id: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """AdSettings fields from a Google Ads connection's extra (pure)."""
    client = extra.get("google_ads_client", extra)
    if not isinstance(client, Mapping):
        raise ConfigError(f"Airflow connection {conn_id}: extra google_ads_client must be an object")
    out = {f"google_{k}": _value(k, client[k]) for k in GOOGLE_FIELDS if client.get(k) not in (None, "")}
    if extra.get("customer_ids") is not None:
        out["google_customer_ids"] = _ids(extra["customer_ids"], conn_id, "customer_ids")
    out |= {f"google_{k}": str(extra[k]) for k in ("endpoint", "token_uri") if extra.get(k)}
    return out


def meta_overrides(conn_id: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """AdSettings fields from a Facebook Ads connection's extra (pure)."""
    out = {f"meta_{k}": _value(k, extra[k]) for k in ("app_id", "app_secret", "access_token") if extra.get(k)}
    if extra.get("account_id") is not None:
        out["meta_account_ids"] = _ids(extra["account_id"], conn_id, "account_id")
    if extra.get("graph_url"):
        out["meta_graph_url"] = str(extra["graph_url"])
    return out


def with_connections(
    settings: AdSettings, extra_of: Callable[[str], Mapping[str, Any] | None]
) -> tuple[AdSettings, list[str]]:
    """`settings` with every existing connection's fields applied, and the ids of those used.

    ``extra_of(conn_id)`` returns a connection's extra, or None when it does not exist."""
    overrides: dict[str, Any] = {}
    used = []
    for conn_id, reader in ((settings.google_conn_id, google_overrides), (settings.meta_conn_id, meta_overrides)):
        extra = extra_of(conn_id)
        if extra is not None:
            overrides |= reader(conn_id, extra)
            used.append(conn_id)
    return (settings.model_copy(update=overrides) if overrides else settings), used


def airflow_extra(conn_id: str) -> Mapping[str, Any] | None:
    """An Airflow connection's extra (None when no backend defines it); inside a task only."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import Connection

    try:
        connection = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    return connection.extra_dejson  # Airflow masks its secret keys in the task's logs from here on
