"""Orchestrator settings."""

from __future__ import annotations

from trellis.settings import TrellisSettings


class OrchestratorSettings(TrellisSettings):
    orchestrator_group: str = "trellis-orchestrator"
    orchestrator_max_batch: int = 2000
