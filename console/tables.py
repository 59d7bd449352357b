"""Imports every service's table module so ``metadata`` is complete (for alembic and tests)."""

from __future__ import annotations

from services.notifier import tables as _notifier_tables
from services.orchestrator.adapters import handoff_tables as _handoff_tables
from services.orchestrator.adapters import tables as _orchestrator_tables
from services.orchestrator.adapters import value_watch_store as _value_watch_tables
from trellis import source_table as _source_table
from trellis.db import metadata

__all__ = ["metadata"]

_ = (_source_table, _notifier_tables, _orchestrator_tables, _handoff_tables, _value_watch_tables)
