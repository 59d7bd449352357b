"""Ingest settings."""

from __future__ import annotations

from datetime import timedelta

from pydantic import AwareDatetime, Field, SecretStr, model_validator

from schemas.plausibility import EARLIEST, MAX_AHEAD, TimeWindow
from trellis.prod_checks import weak_secret
from trellis.settings import TrellisSettings

# Same names (and so the same TRELLIS_* variables) as the notifier's: one secret signs, one checks.
DEV_UNSUBSCRIBE_SECRET = "dev-unsubscribe-secret-change-me"  # noqa: S105 - refused outside dev
DEV_SMS_AUTH_TOKEN = "dev-token"  # noqa: S105 - SMS callbacks are refused with it in prod


class IngestSettings(TrellisSettings):
    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(default=8000, ge=1, le=65535)
    ingest_workers: int = Field(default=1, ge=1, le=64)
    ingest_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    ingest_max_batch: int = Field(default=500, ge=1, le=10_000)
    ingest_publish_timeout_s: float = Field(default=10.0, gt=0)
    ingest_retry_after_s: int = Field(default=5, ge=1)
    ingest_custom_event_types: list[str] = Field(
        default_factory=list,
        description=(
            "Custom event types accepted besides the vocabulary (until the playbook declares them)."
        ),
    )
    ingest_source_cache_s: float = Field(
        default=0.0,
        ge=0,
        description="Cache write key lookups this long (0: every request asks the database).",
    )
    ingest_tune_gc: bool = Field(
        default=True, description="freeze start-up objects, collect less often (collector.tune_gc)"
    )
    ingest_earliest_event_time: AwareDatetime = Field(
        default=EARLIEST, description="Events said to happen before this are refused (422)."
    )
    ingest_max_event_ahead_s: float = Field(
        default=MAX_AHEAD.total_seconds(),
        ge=0,
        le=366 * 86_400,
        description="Events more than this far in the future are refused (422): clock skew.",
    )
    unsubscribe_secret: SecretStr = SecretStr(DEV_UNSUBSCRIBE_SECRET)
    sms_auth_token: SecretStr = SecretStr(DEV_SMS_AUTH_TOKEN)
    ingest_public_url: str | None = Field(
        default=None,
        description=(
            "Base URL the SMS provider calls (behind a proxy); the Twilio signature covers it."
        ),
    )

    @model_validator(mode="after")
    def _real_secrets_outside_dev(self) -> IngestSettings:
        if self.env == "prod" and self.unsubscribe_secret.get_secret_value() == (
            DEV_UNSUBSCRIBE_SECRET
        ):
            raise ValueError("TRELLIS_UNSUBSCRIBE_SECRET must be set in prod")
        return self

    def prod_problems(self) -> list[str]:
        secrets = (
            weak_secret("TRELLIS_UNSUBSCRIBE_SECRET", self.unsubscribe_secret,
                        DEV_UNSUBSCRIBE_SECRET),
            weak_secret("TRELLIS_SMS_AUTH_TOKEN", self.sms_auth_token, DEV_SMS_AUTH_TOKEN),
        )  # fmt: skip
        return super().prod_problems() + [p for p in secrets if p]

    @property
    def event_time_window(self) -> TimeWindow:
        return TimeWindow(
            self.ingest_earliest_event_time, timedelta(seconds=self.ingest_max_event_ahead_s)
        )

    @property
    def sms_callbacks_enabled(self) -> bool:
        """Not in prod with the public dev token: anyone could sign a STOP or START for any
        number (a forged opt-in). Ingest still starts; SMS callbacks answer 503 until set."""
        return self.env != "prod" or self.sms_auth_token.get_secret_value() != DEV_SMS_AUTH_TOKEN
