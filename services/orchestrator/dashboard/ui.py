"""What every dashboard page shares: the ``Ui`` context, templates and their filters, and the
signals a page raises (``PageMissing``, ``BadInput``) for the router's route class to answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.dashboard import access
from services.orchestrator.dashboard.inbox import inbox_counts
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import LegalBasis
from services.orchestrator.domain.stages import Stage
from services.orchestrator.ops.auth import ApiKey, Scope
from services.orchestrator.settings import OrchestratorSettings

HERE = Path(__file__).parent
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def when(value: Any) -> str:
    """Times as people read them in an ops tool: minutes, UTC, no microseconds."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if not isinstance(value, datetime):
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def percent(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f}%"


def make_templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    env.filters["when"] = when
    env.filters["percent"] = percent
    env.filters["q"] = lambda v: quote(str(v), safe="")
    return Jinja2Templates(env=env)


@dataclass(frozen=True)
class Ui:
    """What every page needs, built once per router (nothing at import time)."""

    engine: AsyncEngine
    settings: OrchestratorSettings
    clock: Clock
    templates: Jinja2Templates
    committee_roles: tuple[str, ...]
    bases: dict[Channel, LegalBasis]
    wanted_roles: Mapping[Stage, tuple[str, ...]] = field(default_factory=dict)

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        counts = getattr(request.state, "inbox_counts", None)
        return self.templates.TemplateResponse(
            request, name, {"now": self.clock(), "inbox_counts": counts, **context},
            status_code=status_code,
        )  # fmt: skip


class PageMissing(LookupError):
    pass


class BadInput(ValueError):
    """A value no page or form takes (a control character, an absurd length or number)."""


def set_key_cookie(response: Response, request: Request, secret: str) -> None:
    response.set_cookie(
        access.COOKIE, secret, max_age=access.COOKIE_MAX_AGE_S, path=access.PREFIX,
        httponly=True, samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip


async def viewer(ui: Ui, request: Request) -> ApiKey:
    """The caller's key, from the cookie only; otherwise ``access.LoginNeeded``. A ``?key=`` in
    the address is ignored (and dropped from where the login sends you back): a key in a URL
    lands in history, proxy logs and ``Referer`` headers, so only the login form takes one."""
    key = await access.current_key(request, ui.engine)
    async with ui.engine.connect() as conn:  # the navigation's reminder counts, on every page
        mine = key.rep if key.scope is Scope.REP else None
        request.state.inbox_counts = await inbox_counts(conn, mine, ui.clock())
    return key
