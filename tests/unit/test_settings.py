"""Settings: defaults for the embedded stack, overrides for production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from trellis.settings import TrellisSettings, normalise_database_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("TRELLIS_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_embedded_stack() -> None:
    s = TrellisSettings()
    assert s.uses_embedded_broker
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.resolved_database_url == "sqlite+aiosqlite:///.trellis/trellis.db"
    assert s.idempotent_producer is False


def test_a_real_cluster_turns_idempotence_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    s = TrellisSettings()
    assert not s.uses_embedded_broker
    assert s.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert s.idempotent_producer is True


def test_idempotence_can_be_forced_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("TRELLIS_KAFKA_IDEMPOTENCE", "false")
    assert TrellisSettings().idempotent_producer is False


def test_data_dir_moves_the_default_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_DATA_DIR", "/var/lib/trellis")
    assert TrellisSettings().data_dir == Path("/var/lib/trellis")
    assert TrellisSettings().resolved_database_url.endswith("/var/lib/trellis/trellis.db")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_pasted_database_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_blank_bootstrap_is_refused_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_KAFKA_BOOTSTRAP", "  ")
    with pytest.raises(ValidationError, match="TRELLIS_KAFKA_BOOTSTRAP"):
        TrellisSettings()
