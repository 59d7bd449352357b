"""Secrets from files (compose and Kubernetes mount them; environment variables leak)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.notifier.settings import NotifierSettings
from trellis.settings import TrellisSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("TRELLIS_"):
            monkeypatch.delenv(key)


def test_a_setting_is_read_from_the_file_its_file_variable_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "unsubscribe").write_text("from-a-file-" + "x" * 30 + "\n")
    monkeypatch.setenv("TRELLIS_UNSUBSCRIBE_SECRET_FILE", str(tmp_path / "unsubscribe"))
    secret = NotifierSettings().unsubscribe_secret.get_secret_value()
    assert secret == "from-a-file-" + "x" * 30  # the trailing newline of `echo > file` is gone
    monkeypatch.setenv("TRELLIS_UNSUBSCRIBE_SECRET", "the-variable-wins")
    assert NotifierSettings().unsubscribe_secret.get_secret_value() == "the-variable-wins"


def test_an_unreadable_secret_file_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRELLIS_SMS_AUTH_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"TRELLIS_SMS_AUTH_TOKEN_FILE=.*missing"):
        NotifierSettings()


def test_the_database_password_goes_into_a_url_without_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "pg").write_text("p@ss/word")
    monkeypatch.setenv("TRELLIS_DATABASE_PASSWORD_FILE", str(tmp_path / "pg"))
    monkeypatch.setenv("TRELLIS_DATABASE_URL", "postgresql://trellis@postgres:5432/trellis")
    assert TrellisSettings().resolved_database_url == (
        "postgresql+asyncpg://trellis:p%40ss%2Fword@postgres:5432/trellis"
    )
    monkeypatch.setenv("TRELLIS_DATABASE_URL", "postgresql://trellis:given@postgres/trellis")
    assert TrellisSettings().resolved_database_url.endswith("trellis:given@postgres/trellis")
