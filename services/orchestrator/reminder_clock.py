"""The reminder clock's adapter: ``tend_reminders`` runs ``handle_reminder_clock``
(``application.reminder_clock``) in the caller's transaction; the scheduler calls it each
round."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.application.reminder_clock import Tended, handle_reminder_clock


async def tend_reminders(
    conn: AsyncConnection, now: datetime, expire_after: timedelta, version: str = ""
) -> Tended:
    return await handle_reminder_clock(SqlUnitOfWork(conn), now, expire_after, version)
