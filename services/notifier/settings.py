"""Notifier settings."""

from __future__ import annotations

from trellis.settings import TrellisSettings


class NotifierSettings(TrellisSettings):
    notifier_group: str = "trellis-notifier"
    notifier_max_batch: int = 500
