"""Settings of the quality gates: ``WATERSHED_QUALITY_*`` variables.

The platform's :class:`watershed.settings.Settings` says where the lake, the warehouse and the
state folder are; this model adds what only the gates need: where results go, where alerts go,
how metrics are exported and the tolerances of the soft checks. Every value has a working local
default, so ``watershed quality run bronze --date D`` needs no configuration.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from quality.suites.marts import NOISE_SIGMAS
from watershed.contract.semantics import LATE_AFTER
from watershed.errors import ConfigError
from watershed.settings import Settings


class QualitySettings(BaseSettings):
    """Typed configuration of the quality gates (see docs/quality.md)."""

    model_config = SettingsConfigDict(env_prefix="WATERSHED_QUALITY_", extra="ignore", frozen=True)

    # Results, the Great Expectations project (suites, validation results, Data Docs) and the
    # metrics file; default <WATERSHED_STATE_DIR>/quality.
    dir: Path | None = None

    # Slack-compatible incoming webhook for failed checkpoints; falls back to the platform's
    # WATERSHED_ALERT_WEBHOOK_URL. Unset: failures are only logged.
    webhook_url: str | None = Field(
        None, validation_alias=AliasChoices("WATERSHED_QUALITY_WEBHOOK_URL", "WATERSHED_ALERT_WEBHOOK_URL")
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0)

    # Prometheus: a textfile-collector folder (node_exporter --collector.textfile.directory);
    # default <WATERSHED_STATE_DIR>/metrics, beside the pipeline's own run metrics. A Pushgateway
    # URL as well, if you run one.
    textfile_dir: Path | None = None
    pushgateway_url: str | None = None

    # Soft checks of bronze: they tolerate a share of the day's events.
    # received this long after it occurred: late. The platform's one bound (the contract's
    # LATE_AFTER), read from WATERSHED_LATE_AFTER_SECONDS as landing and the real-time job read it.
    late_after_seconds: float = Field(
        LATE_AFTER.total_seconds(), gt=0, validation_alias=AliasChoices("WATERSHED_LATE_AFTER_SECONDS")
    )
    max_late_share: float = Field(0.01, ge=0, le=1)
    max_out_of_order_share: float = Field(0.01, ge=0, le=1)
    max_bot_share: float = Field(0.10, ge=0, le=1)

    # Marts: a day's volume may differ from the previous day's by this share (0.5: -50%..+50%),
    # or by this many square roots of the previous volume when that is more: the day-to-day noise
    # of a count (quality/suites/marts.py:volume_band; 0 turns the noise floor off).
    volume_band: float = Field(0.5, ge=0)
    volume_noise_sigmas: float = Field(NOISE_SIGMAS, ge=0)
    # A JSON file replacing the default list of mart checks (docs/quality.md has the format).
    marts_file: Path | None = None
    # DuckDB schema of the marts (dbt's `marts` layer schema).
    marts_schema: str = "marts"
    # The ledger's `marts` stage: the warehouse table holding one row per event, and its time.
    ledger_marts_table: str = "fct_user_events"
    ledger_marts_time_column: str = "occurred_at"

    # Ad-platform rows in the lake, relative to the lake root; {date} is the day (extractors/lake.py).
    ad_rows_path: str = "silver/ad_platform/dt={date}"
    # The platforms the ads checkpoint expects an extraction of, every day.
    ad_platforms: tuple[str, ...] = ("google_ads", "facebook_ads")

    # Sample of unexpected values kept per failed expectation.
    samples: int = Field(10, ge=1, le=200)

    def quality_dir(self, settings: Settings) -> Path:
        return (self.dir or settings.state_dir / "quality").resolve()

    def metrics_dir(self, settings: Settings) -> Path:
        return (self.textfile_dir or settings.state_dir / "metrics").resolve()


def load_quality_settings(**overrides: object) -> QualitySettings:
    try:
        return QualitySettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = "WATERSHED_QUALITY_" + str(first["loc"][0]).upper() if first.get("loc") else "WATERSHED_QUALITY_*"
        raise ConfigError(f"{name}: {first.get('msg', 'invalid value')}") from None
