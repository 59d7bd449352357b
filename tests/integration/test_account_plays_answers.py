"""Account plays as the ops API and the dashboard answer them, on SQLite and PostgreSQL over
real HTTP: the account answer and page name the committee gap (missing roles, who is closest,
who can introduce them), and a rep acknowledging a reminder at a paused account makes its
paused touches due again."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.adapters.tables import contacts, reminders, touches
from services.orchestrator.application.engagement import handle_engagement
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.ops.auth import Scope
from tests.integration.ops_client import ops_client
from tests.unit.test_account_plays import PLAN, PLAYBOOK, TUESDAY, event, mql_history, opted_in

MEETING = TUESDAY + timedelta(hours=3)
END = MEETING + timedelta(days=14)


async def _feed(engine: AsyncEngine, events: list[EngagementEvent], now: datetime) -> None:
    async with SqlUnitOfWork.begin(engine) as uow:
        received = [(InboxEntry(e.id, "t", 0, i), e) for i, e in enumerate(events)]
        await handle_engagement(uow, received, PLAYBOOK, now, PLAN)


async def test_the_account_answer_names_the_gap_and_an_acknowledgement_ends_the_pause(
    engine: AsyncEngine, database_url: str
) -> None:
    await _feed(engine, [*opted_in("ben", TUESDAY), *mql_history(TUESDAY)], TUESDAY)
    async with engine.connect() as conn:
        ids = {r.email.split("@")[0]: (r.id, r.account_id)
               for r in await conn.execute(select(contacts))}  # fmt: skip
    account = ids["ana"][1]
    now = MEETING + timedelta(hours=1)
    async with ops_client(engine, database_url, lambda: now, Scope.ADMIN) as http:
        answer = (await http.get(f"/v1/accounts/{account}")).json()
        gap = answer["committee"]["gap"]
        assert answer["pause"] is None  # nobody raised a hand yet
        assert gap["stage"] == "mql" and gap["missing"] == ["finance", "executive"]
        assert [p["email"] for p in gap["closest"]] == ["fay@acme.example"]
        assert gap["champion"]["email"] == "ana@acme.example"
        secret = http.headers["authorization"].removeprefix("Bearer ")
        page = await http.get(
            f"/ui/accounts/{account}", headers={"cookie": f"trellis_ui_key={secret}"}
        )
        assert page.status_code == 200
        assert 'id="committee-gap"' in page.text and "no finance or executive engaged" in page.text
        assert "fay@acme.example</a> (finance, awareness)" in page.text

        # ana books a meeting: ben's marketing waits; acknowledging a reminder ends the wait
        await _feed(engine, [event(50, "meeting_booked", MEETING, "ana")], MEETING)
        async with engine.connect() as conn:
            bens = (await conn.execute(
                select(touches.c.id, touches.c.due_at, touches.c.reason)
                .where(touches.c.contact_id == ids["ben"][0], touches.c.status == "planned")
            )).all()  # fmt: skip
            (gap_reminder,) = (await conn.execute(
                select(reminders.c.id).where(reminders.c.reason == "committee_gap")
            )).scalars().all()  # fmt: skip
        assert bens and {r.reason for r in bens} == {"ACCOUNT_PAUSED"}
        assert min(r.due_at.replace(tzinfo=END.tzinfo) for r in bens) >= END
        paused = (await http.get(f"/v1/accounts/{account}")).json()["pause"]
        assert paused["until"].startswith(END.isoformat()[:19]) and paused["by"]["email"] == (
            "ana@acme.example"
        )
        assert paused["event_type"] == "meeting_booked"
        page = await http.get(
            f"/ui/accounts/{account}", headers={"cookie": f"trellis_ui_key={secret}"}
        )
        assert 'id="account-pause"' in page.text and "meeting booked" in page.text
        why = (await http.get(f"/v1/contacts/{ids['ben'][0]}/why")).json()
        assert why["decision"]["reason"] == "ACCOUNT_PAUSED", why
        assert (
            f"raised a hand, so the account's marketing waits until {END:%d %b %Y}" in why["answer"]
        )
        acked = await http.post(f"/v1/reminders/{gap_reminder}/acknowledge")
        assert acked.status_code == 200, acked.text
    async with engine.connect() as conn:
        back = (await conn.execute(
            select(touches.c.due_at, touches.c.reason)
            .where(touches.c.id.in_([r.id for r in bens]))
        )).all()  # fmt: skip
    assert {r.reason for r in back} == {None}
    async with ops_client(engine, database_url, lambda: now, Scope.ADMIN) as http:
        assert (await http.get(f"/v1/accounts/{account}")).json()["pause"] is None  # lifted
    assert min(r.due_at.replace(tzinfo=now.tzinfo) for r in back) == now
