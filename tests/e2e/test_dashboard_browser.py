"""The dashboard in a real headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright; nothing is downloaded). The database is filled by the real orchestrator consuming the
demo world from a real broker; the pages are served by uvicorn on a free port.

A newcomer's path: the funnel, one account from first visit to advocacy with its committee, a
contact's timeline with every "no" and its reason, a rep working the reminder inbox, and a
dead letter replayed and consumed. No console errors anywhere; a screenshot of each page is kept
in the test's temp dir (and copied to ``docs/screenshots/`` with TRELLIS_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import ConsoleMessage, Page, async_playwright
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.dead_letter import (
    DLQ_HEADER_CONSUMER,
    DLQ_HEADER_ERROR,
    DLQ_HEADER_OFFSET,
    DLQ_HEADER_PARTITION,
    DLQ_HEADER_TOPIC,
)
from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT, dead_letter
from services.orchestrator.adapters.tables import accounts, contacts, decisions, inbox, reminders
from services.orchestrator.dashboard.routes import dashboard_router
from services.orchestrator.domain.stages import Stage
from services.orchestrator.main import run
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import eventually
from trellis.broker import EmbeddedBroker, free_port
from trellis.demo import shifted_world
from trellis.kafka import encode, ensure_topics, make_producer
from trellis.settings import TrellisSettings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The README's copies change only on purpose: TRELLIS_UPDATE_SCREENSHOTS=1 refreshes them.
UPDATE_DOCS = os.environ.get("TRELLIS_UPDATE_SCREENSHOTS") == "1"
ACCOUNTS, SEED = 40, 7  # this world has an account that goes all the way to advocate

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing: `make install` installs Debian's chromium package",
)

Clock = Callable[[], datetime]


async def _scalar(engine: AsyncEngine, query: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(query)).scalar()


@contextlib.asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), bool, deadline_s=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def _advocate_domain(world: list[dict[str, Any]]) -> str:
    """The account whose champion gave a 10: the demo world's advocate journey."""
    return next(
        str(e["account"]["domain"])
        for e in world
        if e["type"] == "nps_submitted" and e["properties"].get("score") == 10
    )


async def _orchestrate(
    settings: OrchestratorSettings, engine: AsyncEngine, world: list[dict[str, Any]]
) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for e in world:
            key = EngagementEvent.model_validate(e).partition_key().encode()
            await producer.send(ENGAGEMENT, orjson.dumps(e), key=key)
        await producer.flush()
    finally:
        await producer.stop()
    count = select(func.count()).select_from(inbox)
    await eventually(lambda: _scalar(engine, count), lambda n: n == len(world), deadline_s=120)


async def _dead_letter_one(settings: TrellisSettings, event_id: str) -> None:
    """What the consumer would have written after failing on a good event (say the database was
    briefly broken in a way it did not recognise as transient)."""
    event = {
        "id": event_id, "type": "page_viewed", "source": "e2e",
        "time": datetime.now(UTC).isoformat(),
        "contact": {"external_id": "dlq-dana", "email": "dana@dlq.example"},
        "account": {"domain": "dlq.example"}, "properties": {"path": "/pricing"},
    }  # fmt: skip
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            dead_letter(ENGAGEMENT),
            encode(event),
            key=b"dlq.example",
            headers=[
                (DLQ_HEADER_ERROR, b"IntegrityError: simulated <failure> for the e2e test"),
                (DLQ_HEADER_TOPIC, ENGAGEMENT.encode()),
                (DLQ_HEADER_PARTITION, b"0"),
                (DLQ_HEADER_OFFSET, b"42"),
                (DLQ_HEADER_CONSUMER, b"orchestrator"),
            ],
        )
    finally:
        await producer.stop()


async def test_a_newcomer_follows_an_account_and_a_rep_works_the_inbox_in_chromium(
    isolated_broker: EmbeddedBroker,
    settings: TrellisSettings,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    shift = [timedelta(0)]

    def clock() -> datetime:
        return datetime.now(UTC) + shift[0]

    own = OrchestratorSettings(
        **settings.model_dump(exclude={"kafka_bootstrap"}),
        kafka_bootstrap=isolated_broker.bootstrap,
        orchestrator_group=f"orc-{uuid.uuid4().hex}",
        orchestrator_rep_pool="pool@trellis.example",
        orchestrator_scheduler_interval_s=0.2,
        ops_serve=False,  # the pages are served below, on a free port
    )
    await ensure_topics(own, partitions=3)
    world = shifted_world(ACCOUNTS, seed=SEED, span_days=30, now=datetime.now(UTC))
    stop = asyncio.Event()
    orchestrator = asyncio.create_task(run(own, stop, clock))
    try:
        await _orchestrate(own, engine, world)
        # Three days on, the first nurture emails (planned two days out) have fallen due: the
        # scheduler decides again and says "no" to everyone who never opted in. Not two: a
        # touch waits for its recipient's send window, and two days after some hours of the
        # day (17:30 UTC, say) no window had opened yet, so nothing was due.
        shift[0] = timedelta(days=3)
        skipped = (
            select(decisions.c.contact_id)
            .where(decisions.c.kind == "touch_skipped", decisions.c.reason == "NO_CONSENT")
            .limit(1)
        )
        no_consent = await eventually(lambda: _scalar(engine, skipped), bool, deadline_s=30)

        domain = _advocate_domain(world)
        advocate = await _scalar(engine, select(accounts.c.id).where(accounts.c.domain == domain))
        busiest = (
            select(reminders.c.rep)
            .where(reminders.c.status == "open")
            .group_by(reminders.c.rep)
            .order_by(func.count().desc(), reminders.c.rep)
            .limit(1)
        )
        rep = await _scalar(engine, busiest)
        async with engine.begin() as conn:
            admin = (await issue_key(conn, Scope.ADMIN, clock(), name="e2e-admin")).secret
        app = FastAPI()
        app.include_router(dashboard_router(engine, own, clock))

        shots = tmp_path / "screenshots"
        shots.mkdir()
        problems: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning"):
                problems.append(f"console {message.type}: {message.text} ({page.url})")

        async def visit(url: str, name: str) -> None:
            reply = await page.goto(url)
            assert reply is not None and reply.status == 200, (url, reply and reply.status)
            await shoot(name)

        async def shoot(name: str) -> None:
            target = shots / f"{name}.png"
            await page.screenshot(path=str(target), full_page=True)
            if UPDATE_DOCS:
                DOCS.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(target, DOCS / target.name)

        async with _serving(app) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page: Page = await browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(15_000)
                page.on("console", on_console)
                page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

                # Log in with the key; the login form brings us back where we were going.
                await page.goto(f"{base}/ui/")
                assert "/ui/login" in page.url
                await page.fill("input[name=key]", admin)
                await page.click("form.login button[type=submit]")
                await page.wait_for_url(f"{base}/ui/")

                # The funnel: one bar per stage for contacts and for accounts, and the flow.
                await shoot("funnel")
                bars = page.locator("#contacts-funnel svg rect.bar")
                assert await bars.count() == len(Stage)
                assert await page.locator("#accounts-funnel svg rect.bar").count() == len(Stage)
                assert await page.locator("#stage-flow svg polygon.band").count() >= 4
                awareness = page.locator('#contacts-funnel rect[data-stage="awareness"]')
                assert int(await awareness.get_attribute("data-value") or 0) > 0

                # One account, first visit to advocacy: its stage, its committee, its journey.
                await visit(f"{base}/ui/accounts?stage=advocate", "accounts")
                await page.click(f"text={domain}")
                await page.wait_for_url(f"{base}/ui/accounts/{advocate}")
                await shoot("account")
                assert await page.inner_text("#account-stage") == "advocate"
                for role in own.load_playbook().accounts.committee_roles:
                    assert await page.locator(f'#committee tr[data-role="{role}"]').count() == 1
                journey = await page.inner_text("#journey")
                assert "first engagement" in journey and "advocate" in journey
                champion = page.locator("#journey td a").first
                await champion.click()
                await page.wait_for_selector("#timeline")
                timeline = await page.inner_text("#timeline")
                assert "Moved from retained to advocate" in timeline
                assert "Event: page viewed" in timeline
                await shoot("contact-advocate")

                # Every "no" with its reason, in plain words.
                await visit(f"{base}/ui/contacts/{no_consent}", "contact")
                refusal = page.locator("#timeline li.tone-no").first
                assert "was not sent" in await refusal.inner_text()
                assert "has not opted in to email" in await refusal.inner_text()

                # A rep works the inbox: acknowledge the first reminder.
                await visit(f"{base}/ui/reminders?rep={rep}", "reminders")
                first = page.locator("li.reminder").first
                reminder_id = (await first.get_attribute("id") or "").removeprefix("reminder-")
                await first.locator("button", has_text="Acknowledge").click()
                await page.wait_for_selector("p.notice")
                assert "Reminder acknowledged." in await page.inner_text("p.notice")
                status = select(reminders.c.status).where(reminders.c.id == reminder_id)
                assert await _scalar(engine, status) == "acknowledged"
                await shoot("reminders-after")

                # A dead letter: see its error, replay it, see it consumed.
                event_id = f"dlq-{uuid.uuid4().hex[:8]}"
                await _dead_letter_one(own, event_id)
                await visit(f"{base}/ui/dead-letters", "dead-letters")
                row = page.locator("tr.letter", has_text=event_id)
                assert "simulated <failure>" in await row.locator("td.error").inner_text()
                await row.locator("button", has_text="Replay").click()
                await page.wait_for_selector("p.notice")
                applied = select(inbox.c.event_id).where(inbox.c.event_id == event_id)
                await eventually(lambda: _scalar(engine, applied), bool, deadline_s=30)
                dana = select(contacts.c.id).where(contacts.c.email == "dana@dlq.example")
                assert await _scalar(engine, dana)
                await page.reload()
                assert (
                    "replayed by dashboard: key e2e-admin"
                    in await page.locator("tr.letter", has_text=event_id).inner_text()
                )
                await shoot("dead-letters-after")
            finally:
                await browser.close()
        assert problems == []
    finally:
        stop.set()
        await asyncio.wait_for(orchestrator, 30)
