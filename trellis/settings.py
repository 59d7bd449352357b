"""Typed 12-factor settings shared by every service (``TRELLIS_*`` environment variables).

Nothing here is instantiated at import time: entry points build a settings object and pass it
down, so tests and tools can run several configurations in one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from trellis.prod_checks import base_problems

EMBEDDED = "embedded"
DEFAULT_DATA_DIR = Path(".trellis")


class TrellisSettings(BaseSettings):
    """Settings every Trellis process reads. Service settings subclass this."""

    model_config = SettingsConfigDict(env_prefix="TRELLIS_", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    kafka_bootstrap: str = EMBEDDED
    kafka_idempotence: bool | None = Field(
        default=None,
        description="Idempotent producer. Default: off for the embedded broker, on otherwise.",
    )
    kafka_client_id: str = "trellis"
    kafka_linger_ms: int = Field(default=5, ge=0, le=1000)
    kafka_fetch_max_wait_ms: int = Field(
        default=50, ge=1, le=10_000, description="how long a fetch waits for data (latency bound)"
    )
    kafka_request_timeout_ms: int = Field(default=10_000, ge=1000)
    topic_partitions: int = Field(default=6, ge=1, le=1024)
    embedded_broker_host: str = "127.0.0.1"
    embedded_broker_port: int = Field(default=9092, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("kafka_bootstrap")
    @classmethod
    def _no_blank_bootstrap(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("TRELLIS_KAFKA_BOOTSTRAP must be 'embedded' or host:port[,host:port]")
        return value

    def prod_problems(self) -> list[str]:
        """Why this configuration must not run with ``TRELLIS_ENV=prod`` (one line each).
        Services extend it with their secrets and providers; ``trellis.startup`` refuses."""
        return base_problems(self)

    @property
    def uses_embedded_broker(self) -> bool:
        return self.kafka_bootstrap == EMBEDDED

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to; the embedded broker's when none is configured."""
        if self.uses_embedded_broker:
            return f"{self.embedded_broker_host}:{self.embedded_broker_port}"
        return self.kafka_bootstrap

    @property
    def idempotent_producer(self) -> bool:
        # Tansu refuses InitProducerId (UnknownError), so idempotence follows the broker kind.
        if self.kafka_idempotence is not None:
            return self.kafka_idempotence
        return not self.uses_embedded_broker

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL; a SQLite file under ``data_dir`` unless one is set."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'trellis.db').as_posix()}"


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``, ``sqlite://``) and
    return the async-driver form SQLAlchemy needs."""
    for prefix, replacement in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    return url
