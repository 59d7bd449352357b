"""Ingest settings."""

from __future__ import annotations

from pydantic import Field

from trellis.settings import TrellisSettings


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
