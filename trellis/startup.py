"""Start-up refusals: a service that would run unsafely stops before it consumes or serves.

An operator reading a crash-looping container's log needs the reason in one line, not a
traceback box: every problem is one ERROR record (JSON when ``TRELLIS_LOG_JSON`` is on) and the
process exits with status 2. In prod (``TRELLIS_ENV=prod``) the settings' ``prod_problems()``
and an un-migrated database are refused too.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import NoReturn, TypeVar

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from trellis.db import create_engine, is_sqlite
from trellis.logs import configure_logging, error_kind
from trellis.migrate import alembic_config
from trellis.settings import TrellisSettings

log = logging.getLogger("trellis.startup")
S = TypeVar("S", bound=TrellisSettings)
EXIT_REFUSED = 2
CONNECT_TIMEOUT_S = 10


class StartupRefused(SystemExit):
    """Raised once every problem is logged; a ``SystemExit`` so no traceback is printed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(EXIT_REFUSED)
        self.problems = problems


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per invalid setting, named as the operator set it (``TRELLIS_X``)."""
    lines = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"TRELLIS_{name}: {message}" if name else message)
    return lines


async def migration_problem(settings: TrellisSettings) -> str | None:
    """The database must carry every revision this release knows. A revision it does not know
    comes from a newer release (an expand step ahead of this code): that is allowed."""
    url = settings.resolved_database_url
    if is_sqlite(url):
        return None  # refused in prod on its own; `trellis dev` migrates before starting
    script = ScriptDirectory.from_config(alembic_config(url))
    engine = create_engine(url, connect_args={"timeout": CONNECT_TIMEOUT_S})
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)  # "Context impl"
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(
                lambda sync: set(MigrationContext.configure(sync).get_current_heads())
            )
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        return f"database unreachable at start-up ({error_kind(exc)})"
    finally:
        await engine.dispose()
    applied: set[str] = set()
    for revision in current:
        if script.get_revision(revision) is None:
            return None  # a newer release migrated it; this code's schema is contained in it
        applied |= {r.revision for r in script.iterate_revisions(revision, "base")}
    missing = sorted(set(script.get_heads()) - applied)
    if missing:
        return f"database is not migrated (missing {', '.join(missing)}): run `trellis migrate`"
    return None


def checked_settings(service: str, build: Callable[[], S]) -> S:
    """Build a service's settings and configure its logging, or log every reason it may not
    start and exit (status 2)."""
    try:
        settings = build()
    except ValueError as exc:  # a ValidationError, or a TRELLIS_X_FILE that cannot be read
        configure_logging(
            service,
            os.environ.get("TRELLIS_LOG_LEVEL", "INFO"),
            _truthy(os.environ.get("TRELLIS_LOG_JSON")),
        )
        refuse(settings_problems(exc) if isinstance(exc, ValidationError) else [str(exc)])
    configure_logging(service, settings.log_level, settings.log_json)
    if settings.env == "prod":
        problems = settings.prod_problems()
        if (migration := asyncio.run(migration_problem(settings))) is not None:
            problems.append(migration)
        if problems:
            refuse(problems)
    return settings


def refuse(problems: list[str]) -> NoReturn:
    for problem in problems:
        log.error("refusing to start: %s", problem)
    raise StartupRefused(problems)
