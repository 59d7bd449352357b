"""The handoff board over HTTP on both databases: open handoffs with their clocks read from the
handoffs table, breaches first (the longest overdue at the top), then by the time left; the
owner, team, kind, account and escalation on each row; completed ones left out; a rep sees its
own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.tables import accounts
from services.orchestrator.dashboard.handoff_board import span_words
from services.orchestrator.dashboard.routes import dashboard_router
from services.orchestrator.domain.handoffs import Handoff, HandoffKind
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from tests.handoff_history import store_handoffs

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def made(hid: str, kind: HandoffKind, team: str, owner: str, created: timedelta,
         due: timedelta, **times: datetime | str | None) -> Handoff:  # fmt: skip
    return Handoff(
        id=hid, account_id=f"a_{hid}", contact_id=f"c_{hid}", kind=kind, team=team, owner=owner,
        previous_owner="mia@x.example", episode="e", created_at=NOW + created,
        deadline_at=NOW + due, escalate_at=NOW + due + 4 * H, **times,  # type: ignore[arg-type]
    )  # fmt: skip


BOARD = [  # made in another order than their deadlines, on purpose
    made("b_new", HandoffKind.CSM_KICKOFF, "success", "cara@x.example", -3 * 24 * H, -H / 2,
         breached_at=NOW - H / 2),
    made("o_late", HandoffKind.CSM_KICKOFF, "success", "cara@x.example", -H, 27 * H),
    made("b_old", HandoffKind.SQL_FIRST_CONTACT, "sales", "dana@x.example", -9 * H, -5 * H,
         breached_at=NOW - 5 * H, escalated_at=NOW - H, escalated_to="lee@x.example"),
    made("o_soon", HandoffKind.MQL_ACCEPT, "sales", "dana@x.example", -2 * H, 2 * H),
    made("done", HandoffKind.SQL_FIRST_CONTACT, "sales", "dana@x.example", -8 * H, -6 * H,
         breached_at=NOW - 6 * H, completed_at=NOW - 2 * H),
    made("met", HandoffKind.SQL_FIRST_CONTACT, "sales", "dana@x.example", -30 * H, -26 * H,
         first_contact_at=NOW - 28 * H, completed_at=NOW - 28 * H),
]  # fmt: skip


async def _client(
    engine: AsyncEngine, database_url: str, scope: Scope, rep: str | None = None
) -> httpx.AsyncClient:
    async with engine.begin() as conn:
        secret = (await issue_key(conn, scope, NOW, rep=rep)).secret
    app = FastAPI()
    settings = OrchestratorSettings(env="test", database_url=database_url)
    app.include_router(dashboard_router(engine, settings, clock=lambda: NOW))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ui.test",
        cookies={"trellis_ui_key": secret},
    )  # fmt: skip


@pytest.fixture
async def seeded(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    common = {"fit": 0.0, "traits": {}, "state": {}, "created_at": NOW, "updated_at": NOW,
              "stage": "sql", "score": 1.0}  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(accounts.insert(), [
            {"id": h.account_id, "name": f"Firm {h.id}", "domain": f"{h.id}.example", **common}
            for h in BOARD
        ])  # fmt: skip
    await store_handoffs(engine, BOARD)
    yield engine


def _rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'id="handoff-(\w+)" data-state="(\w+)"', html)


def _row(html: str, hid: str) -> str:
    return html.split(f'id="handoff-{hid}"', 1)[1].split("</tr>", 1)[0]


async def test_the_board_shows_breaches_first_with_their_clocks(
    seeded: AsyncEngine, database_url: str
) -> None:
    async with await _client(seeded, database_url, Scope.READ) as ui:
        page = await ui.get("/ui/handoffs")
    assert page.status_code == 200
    html = page.text
    # the longest overdue, the other breach, then the least time left; the completed one gone
    assert _rows(html) == [("b_old", "escalated"), ("b_new", "breached"), ("o_soon", "open"),
                           ("o_late", "open")]  # fmt: skip
    assert "2 past the deadline" in html and 'href="/ui/handoffs"' in html
    old = _row(html, "b_old")
    for said in (
        "overdue 5 h 0 min",
        "Firm b_old",
        "SQL to contact",
        "sales",
        "dana@x.example",
        "mia@x.example",
        "2026-11-18 07:00 UTC",
        "lee@x.example · 2026-11-18 11:00 UTC",
    ):
        assert said in old, said  # fmt: skip
    assert "overdue 30 min" in _row(html, "b_new") and "customer kickoff" in _row(html, "b_new")
    assert "2 h 0 min left" in _row(html, "o_soon") and "MQL to accept" in _row(html, "o_soon")
    assert "1 d 3 h left" in _row(html, "o_late")


async def test_a_team_filter_and_a_rep_sees_its_own(seeded: AsyncEngine, database_url: str) -> None:
    async with await _client(seeded, database_url, Scope.READ) as ui:
        success = (await ui.get("/ui/handoffs", params={"team": "success"})).text
    assert _rows(success) == [("b_new", "breached"), ("o_late", "open")]
    async with await _client(seeded, database_url, Scope.REP, rep="dana@x.example") as ui:
        mine = (await ui.get("/ui/handoffs", params={"team": "success"})).text
        all_mine = (await ui.get("/ui/handoffs")).text
    assert _rows(mine) == [] and "No open handoffs to success." in mine
    assert _rows(all_mine) == [("b_old", "escalated"), ("o_soon", "open")]


def _cells(html: str, row: str) -> list[str]:
    return re.findall(r"<td[^>]*>([^<]*)</td>", html.split(row, 1)[1].split("</tr>", 1)[0])


async def test_under_the_board_the_kpis_per_team_and_owner(
    seeded: AsyncEngine, database_url: str
) -> None:
    async with await _client(seeded, database_url, Scope.READ) as ui:
        html = (await ui.get("/ui/handoffs")).text
    # sales: b_old (open past due: missed, never contacted, breached, escalated), o_soon
    # (pending), done (completed after its deadline: missed, breached), met (contact 2 h after,
    # due 4 h: met) -> 1 / 3 = 33%, first contact median 2.0 h, no acceptance
    assert _cells(html, 'data-team="sales">') == [
        "sales", "4", "33%", "1 / 2 / 1", "—", "2.0 h", "1", "2", "1",
    ]  # fmt: skip
    # success: b_new (missed, breached), o_late (pending) -> 0 / 1 = 0%
    assert _cells(html, 'data-team="success">') == [
        "success", "2", "0%", "0 / 1 / 1", "—", "—", "0", "1", "0",
    ]  # fmt: skip
    assert _cells(html, 'data-owner="cara@x.example">')[:4] == [
        "success", "cara@x.example", "2", "0%",
    ]  # fmt: skip
    async with await _client(seeded, database_url, Scope.REP, rep="cara@x.example") as ui:
        mine = (await ui.get("/ui/handoffs")).text
    assert 'id="team-kpis"' not in mine  # a rep sees its own figures only
    assert re.findall(r'data-owner="([^"]+)"', mine) == ["cara@x.example"]


def test_span_words() -> None:
    spans = (timedelta(minutes=12), 3 * H + timedelta(minutes=20), 51 * H, -H)
    assert [span_words(s) for s in spans] == ["12 min", "3 h 20 min", "2 d 3 h", "1 h 0 min"]


async def test_the_account_page_names_its_owner_per_team_and_the_one_before(
    seeded: AsyncEngine, database_url: str
) -> None:
    """An account's page shows who owns it in each team now and who did before, and its open
    handoffs with their deadlines (a completed one is not open)."""
    from services.orchestrator.adapters.sql_handoffs import SqlHandoffs
    from services.orchestrator.domain.handoffs import TeamOwner

    async with seeded.begin() as conn:
        await SqlHandoffs(conn).set_owners([
            TeamOwner("a_b_old", "sales", "dana@x.example", "mia@x.example", NOW - 9 * H, "crm"),
            TeamOwner("a_b_old", "success", "cara@x.example", None, NOW - H, "pool"),
        ])  # fmt: skip
    async with await _client(seeded, database_url, Scope.READ) as ui:
        page = await ui.get("/ui/accounts/a_b_old")
        done = await ui.get("/ui/accounts/a_done")
    assert page.status_code == 200 and done.status_code == 200
    owners = page.text.split('id="account-owners"', 1)[1].split("</ul>", 1)[0]
    assert re.findall(r'data-team="(\w+)">\w+: <strong>([^<]+)</strong>', owners) == [
        ("sales", "dana@x.example"), ("success", "cara@x.example")]  # fmt: skip
    assert "(before: mia@x.example)" in owners.split('data-team="success"')[0]
    assert "before" not in owners.split('data-team="success"')[1]
    handoffs = page.text.split('id="account-handoffs"', 1)[1].split("</ul>", 1)[0]
    assert 'data-kind="sql_first_contact"' in handoffs and "dana@x.example" in handoffs
    assert "breached" in handoffs and "escalated to lee@x.example" in handoffs
    assert 'id="account-handoffs"' not in done.text  # its only handoff is completed
