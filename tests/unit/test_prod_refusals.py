"""``TRELLIS_ENV=prod`` refuses what works on a laptop but loses data or trust in production.

Each case starts from a configuration every service accepts and changes one variable, so each
refusal is shown to come from that variable alone.
"""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from services.ingest.settings import IngestSettings
from services.notifier.settings import NotifierSettings
from services.orchestrator.settings import OrchestratorSettings
from trellis.settings import TrellisSettings
from trellis.startup import settings_problems

GOOD = {
    "TRELLIS_ENV": "prod",
    "TRELLIS_KAFKA_BOOTSTRAP": "kafka-1:9092,kafka-2:9092",
    "TRELLIS_DATABASE_URL": "postgresql://trellis@db.internal:5432/trellis",
    "TRELLIS_UNSUBSCRIBE_SECRET": "u" * 40,
    "TRELLIS_OPS_LINK_SECRET": "o" * 40,
    "TRELLIS_SMS_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
    "TRELLIS_MAIL_FROM": "Nurture <nurture@mail.trellis-customer.io>",
    "TRELLIS_UNSUBSCRIBE_BASE_URL": "https://in.trellis-customer.io/v1/unsubscribe",
    "TRELLIS_OPS_BASE_URL": "https://ops.trellis-customer.io",
    "TRELLIS_SMTP_HOST": "smtp.trellis-customer.io",
    "TRELLIS_SMS_BASE_URL": "https://api.twilio.com",
    "TRELLIS_SMS_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
    "TRELLIS_SMS_FROM": "+14155550123",
}
SERVICES: tuple[type[TrellisSettings], ...] = (
    IngestSettings,
    OrchestratorSettings,
    NotifierSettings,
)


@pytest.fixture(autouse=True)
def _prod_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("TRELLIS_"):
            monkeypatch.delenv(key)
    for key, value in GOOD.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.__name__)
def test_a_real_production_configuration_is_accepted(service: type[TrellisSettings]) -> None:
    assert service().prod_problems() == []


CASES = [
    # (variable, value or None to unset, services that refuse it, words in the one line)
    ("TRELLIS_KAFKA_BOOTSTRAP", "embedded", SERVICES, "memory-only broker"),
    ("TRELLIS_DATABASE_URL", "sqlite:////var/lib/trellis.db", SERVICES, "SQLite"),
    ("TRELLIS_DATABASE_URL", None, SERVICES, "SQLite"),  # the default is a file
    ("TRELLIS_UNSUBSCRIBE_SECRET", "s3cret", (IngestSettings, NotifierSettings), "6 chars"),
    ("TRELLIS_SMS_AUTH_TOKEN", None, (IngestSettings, NotifierSettings), "public dev value"),
    ("TRELLIS_SMS_AUTH_TOKEN", "dev-token", (IngestSettings, NotifierSettings), "dev value"),
    ("TRELLIS_SMS_AUTH_TOKEN", "a" * 31, (IngestSettings, NotifierSettings), "31 chars"),
    ("TRELLIS_OPS_LINK_SECRET", "x" * 20, (OrchestratorSettings,), "at least 32"),
    ("TRELLIS_MAIL_FROM", None, (NotifierSettings,), "trellis.localhost"),
    ("TRELLIS_MAIL_FROM", "ops@localhost", (NotifierSettings,), "localhost"),
    ("TRELLIS_MAIL_FROM", "Acme <hi@news.example.com>", (NotifierSettings,), "example.com"),
    ("TRELLIS_UNSUBSCRIBE_BASE_URL", None, (NotifierSettings,), "127.0.0.1"),
    (
        "TRELLIS_UNSUBSCRIBE_BASE_URL",
        "http://localhost:8000/v1/unsubscribe",
        (NotifierSettings,),
        "localhost",
    ),
    ("TRELLIS_OPS_BASE_URL", "http://127.0.0.1:8001", (OrchestratorSettings,), "127.0.0.1"),
    ("TRELLIS_SMTP_HOST", None, (NotifierSettings,), "TRELLIS_SMTP_HOST is not set"),
    ("TRELLIS_SMS_BASE_URL", None, (NotifierSettings,), "TRELLIS_SMS_BASE_URL is not set"),
    ("TRELLIS_SMS_ACCOUNT_SID", None, (NotifierSettings,), "TRELLIS_SMS_ACCOUNT_SID is not"),
    ("TRELLIS_SMS_FROM", None, (NotifierSettings,), "TRELLIS_SMS_FROM is not set"),
]


@pytest.mark.parametrize(
    ("variable", "value", "refused_by", "words"),
    CASES,
    ids=[f"{c[0]}={c[1]}" for c in CASES],
)
def test_each_unsafe_setting_is_one_refusal_of_the_services_that_use_it(
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str | None,
    refused_by: tuple[type[TrellisSettings], ...],
    words: str,
) -> None:
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    for service in SERVICES:
        try:
            problems = service().prod_problems()
        except ValidationError as exc:  # the dev secrets were refused before: still refused
            problems = settings_problems(exc)
        if service in refused_by:
            assert len(problems) == 1, (service.__name__, problems)
            assert variable in problems[0] and words in problems[0], problems
        else:
            assert problems == [], (service.__name__, problems)


def test_outside_prod_the_dev_defaults_are_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in GOOD:
        monkeypatch.delenv(key)
    for service in SERVICES:
        settings = service()
        assert settings.env == "dev" and settings.prod_problems() != []  # refused only in prod


def test_an_invalid_setting_is_named_as_the_operator_spells_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRELLIS_INGEST_PORT", "eighty")
    monkeypatch.setenv("TRELLIS_INGEST_MAX_BATCH", "0")
    with pytest.raises(ValidationError) as raised:
        IngestSettings()
    problems = settings_problems(raised.value)
    assert [p.split(":")[0] for p in problems] == [
        "TRELLIS_INGEST_PORT",
        "TRELLIS_INGEST_MAX_BATCH",
    ]
