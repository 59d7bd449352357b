"""The rep's inbox and the account list over HTTP on both databases: overdue before due before
not-yet-due before snoozed, filters by reason and account, counts in the navigation, names on
every card; accounts sorted by stage, score and last activity and searched by name or domain."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.tables import accounts, contacts, reminders
from services.orchestrator.dashboard.routes import dashboard_router
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
REP = "dana@x.example"
FIRMS = [  # id, name, domain, stage, score, the newest engagement of its people
    ("a_globex", "Globex", "globex.example", "sql", 40.0, NOW - timedelta(days=2)),
    ("a_initech", None, "initech.example", "mql", 75.0, NOW - timedelta(hours=1)),
    ("a_umbrella", "Umbrella", "umbrella.example", "engaged", 12.5, NOW - timedelta(days=30)),
]
REMINDERS = [  # id, account, reason, status, due (from now), snoozed until (from now)
    ("r_later", "a_globex", "demo_requested", "open", timedelta(hours=2), None),
    ("r_snoozed", "a_initech", "demo_requested", "snoozed", -timedelta(hours=5),
     timedelta(hours=1)),
    ("r_due", "a_initech", "nps_detractor", "open", -timedelta(hours=3), None),
    ("r_overdue", "a_globex", "demo_requested", "open", -timedelta(hours=3), None),
    ("r_done", "a_umbrella", "demo_requested", "done", -timedelta(days=3), None),
]  # fmt: skip


async def _seed(engine: AsyncEngine) -> None:
    common = {"fit": 0.0, "traits": {}, "state": {}, "created_at": NOW, "updated_at": NOW}
    async with engine.begin() as conn:
        await conn.execute(accounts.insert(), [
            {"id": i, "name": n, "domain": d, "stage": s, "score": sc, **common}
            for i, n, d, s, sc, _ in FIRMS
        ])  # fmt: skip
        await conn.execute(contacts.insert(), [
            {"id": f"c_{i}", "account_id": i, "email": None, "stage": s, "score": 1.0,
             "last_event_at": last, **common}
            for i, _, _, s, _, last in FIRMS
        ])  # fmt: skip
        await conn.execute(reminders.insert(), [
            {"id": rid, "rep": REP, "contact_id": f"c_{aid}", "account_id": aid, "reason": why,
             "status": status, "evidence": [], "talking_points": ["Book a slot"],
             "snoozed_until": NOW + until if until else None, "due_at": NOW + due,
             "created_at": NOW - timedelta(days=4), "updated_at": NOW, "suppressed": False}
            for rid, aid, why, status, due, until in REMINDERS
        ])  # fmt: skip


@pytest.fixture
async def ui(engine: AsyncEngine, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await _seed(engine)
    async with engine.begin() as conn:
        secret = (await issue_key(conn, Scope.REP, NOW, rep=REP)).secret
    app = FastAPI()
    settings = OrchestratorSettings(env="test", database_url=database_url)
    app.include_router(dashboard_router(engine, settings, clock=lambda: NOW))
    transport = httpx.ASGITransport(app=app)
    cookie = {"trellis_ui_key": secret}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://ui.test", cookies=cookie
    ) as c:
        yield c


def _cards(html: str) -> list[tuple[str, str]]:
    return re.findall(r'id="reminder-(r_\w+)" data-status="\w+" data-urgency="(\w+)"', html)


async def test_the_inbox_puts_overdue_before_due_before_later_before_snoozed(
    ui: httpx.AsyncClient,
) -> None:
    page = await ui.get("/ui/reminders")
    assert page.status_code == 200
    assert _cards(page.text) == [
        ("r_overdue", "overdue"),  # a demo request waits an hour at most
        ("r_due", "due"),  # a detractor gets a day
        ("r_later", "upcoming"),
        ("r_snoozed", "snoozed"),
    ]
    assert "a_globex" not in re.sub(r'(href|value)="[^"]*"', "", page.text)  # names, not ids
    assert ">Globex</a>" in page.text and ">initech.example</a>" in page.text
    assert "a contact without a name" in page.text


async def test_the_navigation_counts_overdue_due_and_snoozed_on_every_page(
    ui: httpx.AsyncClient,
) -> None:
    for path in ("/ui/reminders", "/ui/accounts", "/ui/contacts"):
        nav = (await ui.get(path)).text.split("</nav>")[0]
        assert "1 overdue" in nav and "1 due" in nav and "1 snoozed" in nav, path


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"reason": "nps_detractor"}, ["r_due"]),
        ({"account": "a_globex"}, ["r_overdue", "r_later"]),
        ({"account": "a_globex", "reason": "nps_detractor"}, []),
        ({"status": "done"}, ["r_done"]),
        ({"reason": "not-a-reason"}, ["r_overdue", "r_due", "r_later", "r_snoozed"]),
    ],
)
async def test_the_inbox_filters_by_reason_and_account(
    ui: httpx.AsyncClient, query: dict[str, str], shown: list[str]
) -> None:
    page = await ui.get("/ui/reminders", params=query)
    assert [rid for rid, _ in _cards(page.text)] == shown


def _accounts(html: str) -> list[str]:
    return re.findall(r'<tr class="account">\s*<td><a href="/ui/accounts/(\w+)"', html)


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ({}, ["a_globex", "a_initech", "a_umbrella"]),  # by name: Globex, initech.example, ...
        ({"sort": "score", "order": "desc"}, ["a_initech", "a_globex", "a_umbrella"]),
        ({"sort": "stage"}, ["a_umbrella", "a_initech", "a_globex"]),  # funnel order
        ({"sort": "activity", "order": "desc"}, ["a_initech", "a_globex", "a_umbrella"]),
        ({"q": "UMBR"}, ["a_umbrella"]),  # name, any case
        ({"q": "initech.ex"}, ["a_initech"]),  # domain
        ({"q": "%"}, []),  # taken literally
        ({"q": "e", "stage": "sql"}, ["a_globex"]),
    ],
)
async def test_the_account_list_sorts_and_searches(
    ui: httpx.AsyncClient, query: dict[str, Any], order: list[str]
) -> None:
    page = await ui.get("/ui/accounts", params=query)
    assert page.status_code == 200 and _accounts(page.text) == order


async def test_a_page_of_accounts_that_does_not_exist_is_a_404_page(ui: httpx.AsyncClient) -> None:
    for page in ("0", "x", "10001"):
        reply = await ui.get("/ui/accounts", params={"page": page})
        assert reply.status_code == 404 and "does not exist" in reply.text
