"""The dashboard's composition: ``dashboard_router(engine, settings)`` -> the ``/ui`` pages.

Server-rendered Jinja2 (autoescaped) with inline SVG charts and plain HTML forms: no JavaScript,
no front-end build. Include it in any FastAPI app (``app.include_router(dashboard_router(...))``);
it brings its own error pages (login redirect, 403, 404) through a route class, because routers
cannot register app-wide exception handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.plausibility import has_control_characters
from services.orchestrator.dashboard import access, actions, pages, work_pages
from services.orchestrator.dashboard.handoff_board import add_handoff_board
from services.orchestrator.dashboard.ui import (
    BadInput,
    Clock,
    PageMissing,
    Ui,
    make_templates,
    utc_now,
)
from services.orchestrator.settings import OrchestratorSettings

MAX_VALUE = 2000
"""Longest path or query value a page takes: ids are 64 characters, cursors a few hundred, and
the login page's ``next`` holds a whole page address with its query."""

HEADERS = {
    # No script at all, nothing from elsewhere, forms only to us, never framed.
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "cache-control": "no-store",  # pages hold personal data
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",  # frame-ancestors for browsers without CSP level 2
}


def check_address(request: Request) -> None:
    """Refuse control characters (PostgreSQL refuses NUL in text) and absurd lengths in any path
    or query value, before a page hands one to a query."""
    values = [*request.path_params.values(), *request.query_params.values()]
    for value in values:
        if isinstance(value, str) and (len(value) > MAX_VALUE or has_control_characters(value)):
            raise BadInput(
                f"The address holds a value no page takes (over {MAX_VALUE} characters, "
                "or a control character)."
            )


def _route_class(ui: Ui) -> type[APIRoute]:
    class UiRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                response = await answer(request)
                response.headers.update(HEADERS)
                return response

            async def answer(request: Request) -> Response:
                try:
                    check_address(request)
                    return await handler(request)
                except access.LoginNeeded as exc:
                    target = f"{access.PREFIX}/login?next={quote(exc.next_url, safe='')}"
                    if exc.problem:
                        target += "&problem=1"
                    return RedirectResponse(target, status_code=303)
                except (access.NotAllowed, access.CrossSite) as exc:
                    return ui.page(request, "message.html", 403, title="Not allowed",
                                   message=str(exc))  # fmt: skip
                except PageMissing as exc:
                    return ui.page(request, "message.html", 404, title="Not found",
                                   message=str(exc))  # fmt: skip
                except BadInput as exc:
                    return ui.page(request, "message.html", 422, title="Not valid",
                                   message=str(exc))  # fmt: skip

            return guarded

    return UiRoute


def dashboard_router(
    engine: AsyncEngine, settings: OrchestratorSettings, clock: Clock = utc_now
) -> APIRouter:
    """The dashboard under ``/ui`` on ``engine`` (owned by the caller)."""
    ui = Ui(
        engine=engine,
        settings=settings,
        clock=clock,
        templates=make_templates(),
        committee_roles=tuple(settings.load_playbook().accounts.committee_roles),
        wanted_roles=settings.load_playbook().accounts.wanted_roles,
        bases=dict(settings.load_nurture().legal_basis),
    )
    router = APIRouter(
        prefix=access.PREFIX,
        tags=["dashboard"],
        include_in_schema=False,
        route_class=_route_class(ui),
    )
    pages.add_pages(router, ui)
    work_pages.add_work_pages(router, ui)
    add_handoff_board(router, ui)
    actions.add_actions(router, ui)
    return router
