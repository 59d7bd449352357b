"""Typed 12-factor settings shared by every service (``TRELLIS_*`` environment variables).

Nothing here is instantiated at import time: entry points build a settings object and pass it
down, so tests and tools can run several configurations in one process.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

from trellis.prod_checks import base_problems
from trellis.secret_files import SecretFilesSource

EMBEDDED = "embedded"
DEFAULT_DATA_DIR = Path(".trellis")
SERVER_KEEP_ALIVE_S = 75
"""How long our HTTP servers keep an idle connection open (uvicorn's ``timeout_keep_alive``).
Longer than clients keep one in their pools (httpx 5 s, load balancers 60 s): at uvicorn's
default of 5 s the server closed a connection at the moment a client reused it, and the client
got a reset (``httpx.ReadError``) for a request never read; a CI run failed on it. A client
that closes first is never refused."""


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
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        ge=1000,
        le=1_800_000,
        description="a silent member is dropped (its partitions reassigned) after this",
    )
    kafka_heartbeat_interval_ms: int = Field(default=3_000, ge=100, le=600_000)
    kafka_rebalance_timeout_ms: int | None = Field(
        default=None,
        ge=1000,
        le=1_800_000,
        description="how long a rebalance waits for members to rejoin; default: session timeout",
    )
    kafka_static_membership: bool = Field(
        default=False,
        description=(
            "join as TRELLIS_INSTANCE (KIP-345): a restart within the session timeout gets its "
            "partitions back without a rebalance; each replica needs its own stable instance"
        ),
    )
    ready_failing_after_s: float = Field(
        default=30.0, gt=0, description="/readyz is 503 once batches fail for longer than this"
    )
    instance: str = Field(default="", description="this replica's stable name (default: host)")
    topic_partitions: int = Field(default=6, ge=1, le=1024)
    topic_retention_days: float = Field(
        default=7.0, gt=0, description="retention.ms of the topics `trellis topics create` makes"
    )
    dlq_retention_days: float = Field(
        default=30.0, gt=0, description="dead letters wait longer: someone has to look at them"
    )
    embedded_broker_host: str = "127.0.0.1"
    embedded_broker_port: int = Field(default=9092, ge=1, le=65535)
    database_password: SecretStr | None = Field(
        default=None,
        description="put into TRELLIS_DATABASE_URL when it has none (from a secret file)",
    )
    log_level: str = "INFO"
    log_json: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then ``TRELLIS_X``, then the file named by ``TRELLIS_X_FILE``."""
        files = SecretFilesSource(settings_cls, "TRELLIS_")
        return init_settings, env_settings, dotenv_settings, files, file_secret_settings

    @model_validator(mode="after")
    def _heartbeat_inside_session(self) -> TrellisSettings:
        if self.kafka_heartbeat_interval_ms >= self.kafka_session_timeout_ms:
            raise ValueError(
                "TRELLIS_KAFKA_HEARTBEAT_INTERVAL_MS must be below TRELLIS_KAFKA_SESSION_TIMEOUT_MS"
            )
        return self

    @property
    def group_instance_id(self) -> str | None:
        """The static member id of this replica, or None for dynamic membership."""
        if not self.kafka_static_membership:
            return None
        return self.instance or socket.gethostname()

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
            url = normalise_database_url(self.database_url)
            if self.database_password is None or make_url(url).password is not None:
                return url
            with_password = make_url(url).set(password=self.database_password.get_secret_value())
            return with_password.render_as_string(hide_password=False)
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
