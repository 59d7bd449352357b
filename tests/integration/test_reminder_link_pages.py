"""A reminder's signed links in a browser, on both databases: pages in the dashboard's look for
every answer — the action done, a day out of bounds, a link expired or forged, an action its
state no longer allows — never the API's JSON, which API clients still get."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.tables import accounts, contacts, reminders
from services.orchestrator.domain.reminders import ReminderAction
from services.orchestrator.ops.app import create_ops_app, reminder_links
from services.orchestrator.settings import OrchestratorSettings

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
BASE = "http://ops.test"
HTML = {"accept": "text/html"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def ops(engine: AsyncEngine, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    common = {"fit": 0.0, "score": 1.0, "state": {}, "created_at": NOW, "updated_at": NOW}
    async with engine.begin() as conn:
        await conn.execute(
            accounts.insert().values(
                id="a_1", name=None, domain="globex.example", stage="sql", traits={}, **common
            )
        )
        await conn.execute(
            contacts.insert().values(
                id="c_1",
                account_id="a_1",
                email=None,
                stage="sql",
                traits={"first_name": "Ivan", "last_name": "Petrov"},
                **common,
            )
        )
        await conn.execute(reminders.insert().values(
            id="r_1", rep="dana@x.example", contact_id="c_1", account_id="a_1",
            reason="demo_requested", status="open", evidence=[], talking_points=[],
            due_at=NOW, created_at=NOW, updated_at=NOW, suppressed=False))  # fmt: skip
    settings = OrchestratorSettings(
        env="test", database_url=database_url, ops_base_url=BASE, ops_link_secret="s3cret"
    )
    app = create_ops_app(engine, settings, lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


def _link(action: ReminderAction, at: datetime = NOW) -> str:
    settings = OrchestratorSettings(env="test", ops_base_url=BASE, ops_link_secret="s3cret")
    return reminder_links(settings).url("r_1", action, at)


async def _status(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.scalar(select(reminders.c.status).where(reminders.c.id == "r_1"))


async def test_the_link_page_names_the_person_and_account_and_its_button_says_what_it_did(
    ops: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    link = _link(ReminderAction.ACKNOWLEDGE)
    page = await ops.get(link, headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Ivan Petrov</a>" in page.text and "globex.example</a>" in page.text
    assert 'href="/ui/static/dashboard.css"' in page.text and "c_1<" not in page.text
    done = await ops.post(link, headers=FORM, content=b"")
    assert done.status_code == 200 and "Acknowledged:" in done.text
    assert await _status(engine) == "acknowledged"
    again = await ops.post(link, headers=FORM, content=b"")
    assert again.status_code == 409 and "already acknowledged" in again.text
    assert again.headers["content-type"].startswith("text/html")


async def test_a_day_outside_the_bounds_snoozes_nothing_and_says_why(
    ops: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    link = _link(ReminderAction.SNOOZE)
    far = (NOW + timedelta(days=45)).date().isoformat()
    refused = await ops.post(link, headers=FORM, content=f"choice=date&day={far}".encode())
    assert refused.status_code == 422 and "Pick a day from 19 Nov to 18 Dec 2026." in refused.text
    assert await _status(engine) == "open"
    picked = await ops.post(link, headers=FORM, content=b"choice=date&day=2026-11-20")
    assert picked.status_code == 200 and "Snoozed until Fri 20 Nov, 09:00 (UTC)" in picked.text
    assert await _status(engine) == "snoozed"


async def test_an_expired_or_forged_link_is_a_page_not_json(ops: httpx.AsyncClient) -> None:
    expired = _link(ReminderAction.SNOOZE, NOW - timedelta(days=8))
    page = await ops.get(expired, headers=HTML)
    assert page.status_code == 403 and "This link has expired" in page.text
    forged = _link(ReminderAction.SNOOZE).replace("token=", "token=x")
    posted = await ops.post(forged, headers=FORM, content=b"choice=1h")
    assert posted.status_code == 403 and "not valid for this reminder" in posted.text
    assert (await ops.get(expired)).json()["detail"]["error"] == "forbidden"  # API clients
