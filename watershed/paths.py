"""Where the platform's shipped files are: the dbt project, the DAGs, service configs.

Nothing here depends on the source checkout. An installed wheel carries the dbt project and the
DAGs as package data under ``watershed/bundled/`` (pyproject.toml maps them there); an editable
install (``make setup``) has no such folder and uses the checkout's own ``dbt/`` and ``dags/``,
which is where the wheel's copies come from. Where the platform *writes* (state, caches) is a
setting: ``Settings.state_dir`` and ``Settings.cache_dir``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "bundled"
_CHECKOUT = _PACKAGE.parent


def bundled(name: str) -> Path:
    """A shipped resource folder (``dbt``, ``dags``): the installed copy, else the checkout's."""
    for candidate in (_BUNDLED / name, _CHECKOUT / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder is not installed with watershed (looked in {_BUNDLED})")


def dbt_project_dir() -> Path:
    return bundled("dbt")


def dags_dir() -> Path:
    return bundled("dags")


def monitoring_dir() -> Path:
    """The monitoring room's folder (its alert rules ship inside the package), found without
    importing it: the core does not depend on the rooms above it."""
    import importlib.util

    spec = importlib.util.find_spec("monitoring")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the monitoring package is not installed with watershed")
    return Path(spec.origin).parent


def conf_dir() -> Path:
    """Configuration templates of the local services (log4j for Kafka, ...)."""
    return _PACKAGE / "conf"
