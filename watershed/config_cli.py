"""`watershed config show`: every settings model, resolved from the environment, secrets never shown.

The core does not know the components: the CLI entry (``watershed.cli``) hands
:func:`config_group` the list of :class:`SettingsModel` to print, each loaded only when the
command runs. Secret values are never printed: ``SecretStr`` fields, the fields a model lists as
secret (shown as ``**********`` when set, ``null`` when not) and passwords inside URLs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

import click
from pydantic import BaseModel, SecretStr

from watershed.settings import Settings, _without_password, load_settings

MASK = "**********"


@dataclasses.dataclass(frozen=True)
class SettingsModel:
    """One settings model of `watershed config show`."""

    name: str  # its heading in the output (the room it configures)
    load: Callable[[Settings], Any]  # the model as the environment resolves it, given the platform's settings
    secrets: tuple[str, ...] = ()  # fields whose value is never printed (SecretStr fields never are)


def describe(model: Any, secrets: Sequence[str] = ()) -> dict[str, Any]:
    """A model as a JSON-ready dictionary without any secret value: its own ``describe()`` if it
    has one, else its fields (pydantic model or dataclass)."""
    if callable(getattr(model, "describe", None)):
        data = dict(model.describe())
    elif isinstance(model, BaseModel):
        data = {name: getattr(model, name) for name in type(model).model_fields}
    elif dataclasses.is_dataclass(model) and not isinstance(model, type):
        data = {field.name: getattr(model, field.name) for field in dataclasses.fields(model)}
    else:
        raise TypeError(f"cannot describe {type(model).__name__}")
    for name in secrets:
        if name in data:
            data[name] = None if data[name] in (None, "") else MASK
    return {name: _safe(value) for name, value in data.items()}


def _safe(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, BaseModel) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        return describe(value)
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return _url_without_password(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _url_without_password(url: str) -> str:
    """`url` with any password in it replaced by `***`; masked whole if it cannot be parsed."""
    try:
        return _without_password(url)
    except ValueError:
        return MASK


def config_group(models: Sequence[SettingsModel]) -> click.Group:
    """The `config` group, printing `models` (the platform's own settings first)."""

    @click.group()
    def config() -> None:
        """Inspect the configuration."""

    @config.command("show")
    def show() -> None:
        """Print every settings model, resolved, as JSON under its name (secret values are never printed)."""
        platform = load_settings()
        resolved = {model.name: describe(model.load(platform), model.secrets) for model in models}
        click.echo(json.dumps(resolved, indent=2))

    return config
