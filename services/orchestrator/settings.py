"""Orchestrator settings."""

from __future__ import annotations

from pathlib import Path

from services.orchestrator.adapters.playbook_file import default_playbook, load_playbook
from services.orchestrator.domain.playbook import Playbook
from trellis.settings import TrellisSettings


class OrchestratorSettings(TrellisSettings):
    orchestrator_group: str = "trellis-orchestrator"
    orchestrator_max_batch: int = 2000
    playbook: Path | None = None
    """``TRELLIS_PLAYBOOK``: a playbook.yaml; the shipped default when unset."""

    def load_playbook(self) -> Playbook:
        return load_playbook(self.playbook) if self.playbook else default_playbook()
