"""Notifier settings (``TRELLIS_*``): consumer, SMTP, SMS provider and rep reminder channels."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from sqlalchemy.engine import make_url

from trellis.db import is_sqlite
from trellis.message_templates import (
    DEFAULT_TEMPLATES_DIR,
    Template,
    TemplateFileError,
    load_templates,
    template_problems,
)
from trellis.prod_checks import loopback_url, placeholder_sender, unset, weak_secret
from trellis.settings import TrellisSettings, normalise_database_url

DEV_UNSUBSCRIBE_SECRET = "dev-unsubscribe-secret-change-me"  # noqa: S105 - refused outside dev
DEV_SMS_AUTH_TOKEN = "dev-token"  # noqa: S105 - refused in prod


class NotifierDatabase(TrellisSettings):
    """Where the notifier's tables live: all that `trellis migrate` and `trellis reconcile` need
    of the notifier's settings (without its secrets, which they must not require)."""

    notifier_database_url: str = Field(
        default="",
        description="The send ledger and rate budget. Unset: on SQLite a file of its own beside "
        "the orchestrator's (<name>-notifier.db), else TRELLIS_DATABASE_URL.",
    )

    @property
    def shared_database_url(self) -> str:
        """The orchestrator's database (``TRELLIS_DATABASE_URL``)."""
        return super().resolved_database_url

    @property
    def resolved_database_url(self) -> str:
        """The notifier's own database. On SQLite one file has one write lock: sharing the
        orchestrator's made every ledger write wait behind its batches (and theirs behind ours),
        so by default the ledger lives in a file of its own. PostgreSQL locks rows: the same
        database unless ``TRELLIS_NOTIFIER_DATABASE_URL`` says otherwise."""
        if self.notifier_database_url:
            url = make_url(normalise_database_url(self.notifier_database_url))
            if self.database_password is not None and url.password is None and url.username:
                url = url.set(password=self.database_password.get_secret_value())
            return url.render_as_string(hide_password=False)
        shared = self.shared_database_url
        if not is_sqlite(shared):
            return shared
        url = make_url(shared)
        if not url.database or url.database == ":memory:":
            return shared
        path = Path(url.database)
        own = path.with_name(f"{path.stem}-notifier{path.suffix}")
        return url.set(database=own.as_posix()).render_as_string(hide_password=False)


class NotifierSettings(NotifierDatabase):
    notifier_group: str = "trellis-notifier"
    notifier_max_batch: int = 500
    notifier_concurrency: int = Field(default=16, ge=1, le=1024)
    notifier_retry_attempts: int = Field(default=4, ge=1, le=20)
    notifier_retry_base_s: float = Field(default=0.5, gt=0)
    notifier_retry_max_s: float = Field(default=30.0, gt=0)
    notifier_max_age_s: float = Field(default=6 * 3600, gt=0)
    smtp_rate_per_s: float | None = Field(
        default=None, gt=0, description="Shared by all instances; unset = unlimited."
    )
    sms_rate_per_s: float | None = Field(default=None, gt=0)
    rate_burst: int = Field(default=1, ge=1)
    notifier_http_host: str = "127.0.0.1"
    notifier_http_port: int = Field(
        default=8002, ge=0, le=65535, description="/metrics and /healthz; 0 = any free port."
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_use_tls: bool = False
    smtp_start_tls: bool | None = None
    smtp_validate_certs: bool = True
    smtp_pool_size: int = Field(
        default=8, ge=1, le=256, description="Open SMTP connections reused across messages."
    )
    mail_from: str = "Trellis <nurture@trellis.localhost>"

    unsubscribe_base_url: str = "http://127.0.0.1:8000/v1/unsubscribe"
    unsubscribe_secret: SecretStr = SecretStr(DEV_UNSUBSCRIBE_SECRET)
    unsubscribe_ttl_days: int = Field(default=60, ge=1)

    sms_base_url: str = "http://127.0.0.1:8025"
    sms_account_sid: str = "AC00000000000000000000000000000000"
    sms_auth_token: SecretStr = SecretStr(DEV_SMS_AUTH_TOKEN)
    sms_from: str = "+15550000000"
    sms_status_callback: str | None = None

    dev_smtp_port: int = Field(
        default=1025, ge=1, le=65535, description="`trellis dev`: the local SMTP catcher's port."
    )
    dev_sms_port: int = Field(
        default=8025, ge=1, le=65535, description="`trellis dev`: the local SMS sink's port."
    )

    rep_reminder_via: Literal["email", "slack", "webhook"] = "email"
    slack_webhook_url: str | None = None
    slack_bot_token: SecretStr | None = Field(
        default=None, description="A bot token (xoxb-, scope chat:write): reminders go to the "
        "rep's Slack user id (reps directory: slack_user_id) as a direct message.",
    )  # fmt: skip
    slack_api_url: str = "https://slack.com/api"
    slack_channel: str | None = Field(
        default=None, description="With a bot token: where a rep without a Slack id is named."
    )
    rep_webhook_url: str | None = None
    rep_webhook_secret: SecretStr | None = None
    templates_dir: Path | None = Field(
        default=None,
        description="Message templates (<dir>/<group>/<name>.txt); shipped ones if unset.",
    )

    def load_templates(self) -> dict[str, Template]:
        """All templates, checked: a broken one stops start-up instead of failing sends."""
        templates = load_templates(self.templates_dir or DEFAULT_TEMPLATES_DIR)
        problems = [p for tid, t in templates.items() for p in template_problems(tid, t, templates)]
        if problems:
            raise TemplateFileError("invalid templates:\n  " + "\n  ".join(problems))
        return templates

    def prod_problems(self) -> list[str]:
        """Besides secrets: providers left at the dev sinks' defaults, and addresses that
        recipients would see pointing at this machine or at example domains."""
        found = [
            weak_secret("TRELLIS_UNSUBSCRIBE_SECRET", self.unsubscribe_secret,
                        DEV_UNSUBSCRIBE_SECRET),
            weak_secret("TRELLIS_SMS_AUTH_TOKEN", self.sms_auth_token, DEV_SMS_AUTH_TOKEN),
            placeholder_sender("TRELLIS_MAIL_FROM", self.mail_from),
            loopback_url("TRELLIS_UNSUBSCRIBE_BASE_URL", self.unsubscribe_base_url),
        ]  # fmt: skip
        found += unset(self, "smtp_host", "sms_base_url", "sms_account_sid", "sms_from")
        return super().prod_problems() + [p for p in found if p]

    @model_validator(mode="after")
    def _real_secrets_outside_dev(self) -> NotifierSettings:
        if self.env == "prod" and self.unsubscribe_secret.get_secret_value() == (
            DEV_UNSUBSCRIBE_SECRET
        ):
            raise ValueError("TRELLIS_UNSUBSCRIBE_SECRET must be set in prod")
        slack = self.slack_webhook_url or self.slack_bot_token
        if self.rep_reminder_via == "slack" and not slack:
            raise ValueError("rep_reminder_via=slack needs TRELLIS_SLACK_WEBHOOK_URL or _BOT_TOKEN")
        if self.rep_reminder_via == "webhook" and not (
            self.rep_webhook_url and self.rep_webhook_secret
        ):
            raise ValueError("rep_reminder_via=webhook needs TRELLIS_REP_WEBHOOK_URL and _SECRET")
        return self
