"""Imports every service's table module so ``metadata`` is complete (for alembic and tests)."""

from __future__ import annotations

from services.ingest import tables as _ingest_tables
from services.notifier import tables as _notifier_tables
from services.orchestrator.adapters import tables as _orchestrator_tables
from trellis.db import metadata

__all__ = ["metadata"]

_ = (_ingest_tables, _notifier_tables, _orchestrator_tables)
