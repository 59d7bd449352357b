"""A rep's reminder followed in a real headless Chromium (Debian's ``/usr/bin/chromium``, as in
test_dashboard_browser.py): a demo request backfilled two months late goes through the real
orchestrator (engagement, reminder, scheduler with signed links, the reminders topic) and the
real notifier's rendering and email sender (aiosmtpd). The email tells the story with its date,
every link in it lands on a 200 HTML page of that person or account (through the login form
without a session, at once with one), and the signed snooze link ends on a page saying what was
done, with the reminder snoozed. Screenshots of the email and of the Slack message are kept in the
test's temp dir (and copied to ``docs/screenshots/`` with TRELLIS_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import DispatchTouch
from schemas.topics import REMINDERS
from services.notifier.channels.email import SmtpConfig
from services.notifier.channels.rep_reminders import EmailReminderSender
from services.notifier.channels.slack import slack_payload
from services.notifier.render import JinjaRenderer
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import accounts, contacts, reminders
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.ops.app import create_ops_app, reminder_links
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.people import Nurture
from services.orchestrator.reminder_variables import tell_the_story
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.settings import OrchestratorSettings
from tests.e2e.test_dashboard_browser import ARGS, CHROMIUM, DOCS, UPDATE_DOCS
from tests.integration.notifier_servers import smtp_server
from tests.probes import StoredRecord, eventually, read_topic
from trellis.broker import free_port
from trellis.kafka import make_producer
from trellis.settings import TrellisSettings

T = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday noon: inside the reps' hours
MADE = T - timedelta(days=60)  # when the demo was requested; it reaches Trellis at T
REP = "dana.reyes@x.example"

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _event(tag: str, n: int, who: str, kind: str, at: datetime, traits: dict[str, Any]) -> Any:
    value = orjson.dumps({
        "id": f"{tag}-{n}", "type": kind, "source": "crm-backfill", "time": at.isoformat(),
        "contact": {"external_id": f"{tag}-{who}", "email": f"{who}@globex-{tag}.example",
                    "traits": traits},
        "account": {"external_id": f"globex-{tag}", "domain": f"globex-{tag}.example",
                    "traits": {"name": "Globex", "industry": "software"}},
        "properties": {"path": "/pricing"} if kind == "page_viewed" else {},
    })  # fmt: skip
    return StoredRecord("trellis.engagement.v1", 0, n, value)


async def _reminder_command(own: OrchestratorSettings, engine: AsyncEngine, tag: str) -> Any:
    """Ivan's demo request, made two months ago, arrives now; the scheduler sends the reminder."""
    ivan = {"first_name": "Ivan", "last_name": "Petrov", "title": "CFO", "role": "finance"}
    ana = {"first_name": "Ana", "last_name": "Ruiz", "role": "technical"}
    nurture = Nurture(default_nurture(), (REP,), ("x.example",))
    for n, record in enumerate([
        _event(tag, 0, "ana", "page_viewed", T - timedelta(days=2), ana),
        _event(tag, 1, "ivan", "demo_requested", MADE, ivan),
    ]):  # fmt: skip
        await apply_engagement([record], engine, default_playbook(), lambda: T, nurture=nurture)
        assert n < 2
    producer = make_producer(own)
    await producer.start()
    try:
        later = T + timedelta(minutes=5)
        links = reminder_links(own)
        scheduler = Scheduler(engine, producer, nurture, "e2e", lambda: later, links=links)
        while await scheduler.dispatch_due():
            pass
    finally:
        await producer.stop()
    records = await read_topic(
        own.bootstrap_servers, REMINDERS,
        lambda rs: any(f"globex-{tag}" in r.value.decode() for r in rs),
    )  # fmt: skip
    (cmd,) = [orjson.loads(r.value) for r in records if f"globex-{tag}" in r.value.decode()]
    return cmd


async def _with_the_account(engine: AsyncEngine, touch: DispatchTouch) -> None:
    """What ``tell_the_story`` adds from the database (score, committee, colleagues) — the
    scheduler's dispatch calls it once wired (issue 20's report); calling it again is a no-op."""
    async with engine.connect() as conn:
        note = ReminderNote.from_row(
            (await conn.execute(select(reminders).where(reminders.c.id == touch.touch_id)))
            .mappings()
            .one()
        )
        row = await conn.execute(select(contacts).where(contacts.c.id == touch.contact_id))
        person = ContactView.from_row(row.mappings().one())
        firm = await conn.execute(select(accounts).where(accounts.c.id == touch.account_id))
        account = AccountView.from_row(firm.mappings().one())
        plan = default_nurture()
        await tell_the_story(conn, [touch], {touch.touch_id: note}, {person.id: person},
                             {account.id: account}, plan, T + timedelta(minutes=5))  # fmt: skip


@contextlib.asynccontextmanager
async def _serving(app: FastAPI, port: int) -> AsyncIterator[None]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), bool, deadline_s=10)
    try:
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def _slack_page(payload: dict[str, Any]) -> str:
    """The Block Kit message drawn as Slack draws it (for the README's picture)."""

    def mrkdwn(text: str) -> str:
        text = re.sub(r"<@(\w+)>", r'<span class="mention">@Dana Reyes</span>', text)
        return re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", text).replace("\n", "<br>")

    parts = []
    for block in payload["blocks"]:
        if block["type"] == "section" and "text" in block:
            parts.append(f"<p>{mrkdwn(block['text']['text'])}</p>")
        elif block["type"] == "section":
            cells = "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in block["fields"])
            parts.append(f'<div class="fields">{cells}</div>')
        elif block["type"] == "context":
            said = block["elements"][0]["text"].replace(":warning:", "\u26a0\ufe0f")
            parts.append(f'<p class="context">{mrkdwn(said)}</p>')
        elif block["type"] == "actions":
            buttons = "".join(
                f'<span class="button {e.get("style", "")}">{html.escape(e["text"]["text"])}</span>'
                for e in block["elements"]
            )
            parts.append(f'<p class="actions">{buttons}</p>')
    style = (
        "body{font:15px/1.46 Lato,'Segoe UI',sans-serif;color:#1d1c1d;margin:0;padding:16px;"
        "width:680px}.msg{display:flex;gap:8px}.avatar{flex:none;width:36px;height:36px;border-radius:4px;"
        "background:#2171b5;color:#fff;font-weight:700;text-align:center;line-height:36px}"
        "p{margin:4px 0}.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}"
        ".fields{display:grid;grid-template-columns:1fr 1fr;gap:4px 16px;margin:6px 0}"
        ".context{color:#616061;font-size:13px}.button{display:inline-block;border:1px solid "
        "#ccc;border-radius:4px;padding:3px 12px;margin-right:8px;font-weight:700;font-size:13px}"
        ".button.primary{background:#007a5a;color:#fff;border-color:#007a5a}"
    )
    body = "".join(parts)
    return (
        f"<!doctype html><meta charset=utf-8><style>{style}</style><div class=msg>"
        f"<div class=avatar>T</div><div><b>Trellis</b> <small>APP</small>{body}</div></div>"
    )


async def test_every_link_of_a_late_reminder_email_opens_its_page_in_chromium(
    settings: TrellisSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    own = OrchestratorSettings(
        **settings.model_dump(), ops_base_url=base, ops_link_secret="e2e-link-secret",
        ops_serve=False, orchestrator_rep_pool=REP,
    )  # fmt: skip
    cmd = await _reminder_command(own, engine, tag)
    touch = DispatchTouch.model_validate(cmd)
    await _with_the_account(engine, touch)
    message = JinjaRenderer().render_touch(touch)
    async with smtp_server() as (catcher, smtp_port):
        config = SmtpConfig("127.0.0.1", smtp_port, "Trellis reminders <reminders@trellis.test>")
        await EmailReminderSender(config, lambda: T).send(touch, message)
    [email] = catcher.messages
    assert isinstance(email, EmailMessage)
    assert email["Subject"] == "Late demo request: Ivan Petrov at Globex"
    body = email.get_body(("html",))
    assert body is not None
    page_html = body.get_content()
    assert "Ivan Petrov requested a demo on 19 Sep, 60 days ago — arrived late." in page_html
    assert "Ivan Petrov (CFO" not in page_html  # title, then role: "Ivan Petrov, CFO (finance)"
    assert "Ivan Petrov</a>, CFO (finance)" in page_html
    assert "Ana Ruiz (technical, awareness)" in page_html  # a colleague engaged there
    links = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page_html)]
    by_kind = {
        "contact": [u for u in links if "/ui/contacts/" in u],
        "account": [u for u in links if "/ui/accounts/" in u],
        "acknowledge": [u for u in links if "/acknowledge?token=" in u],
        "snooze": [u for u in links if "/snooze?token=" in u],
    }
    assert sorted(links) == sorted(u for found in by_kind.values() for u in found)  # no others
    assert all(len(found) == 1 for found in by_kind.values()), by_kind

    async with engine.begin() as conn:
        key = (await issue_key(conn, Scope.REP, T, rep=REP, name="e2e-rep")).secret
    app = create_ops_app(engine, own, lambda: T + timedelta(minutes=10))
    shots = tmp_path / "screenshots"
    shots.mkdir()

    async def shoot(page: Page, name: str) -> None:
        target = shots / f"{name}.png"
        await page.screenshot(path=str(target), full_page=True)
        if UPDATE_DOCS:
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, DOCS / target.name)

    async with _serving(app, port), async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 760, "height": 240})
            page.set_default_timeout(15_000)
            await page.set_content(page_html)
            await shoot(page, "reminder-email")
            slack = touch.model_copy(deep=True)
            slack.variables["rep"] |= {"slack_id": "U024BE7LH"}
            await page.set_content(_slack_page(slack_payload(slack, message)))
            await shoot(page, "reminder-slack")

            # Each page link: without a session through the login form, then with one at once.
            pages = {"contact": f"ivan@globex-{tag}.example", "account": f"globex-{tag}.example"}
            for kind in pages:
                (url,) = by_kind[kind]
                context = await browser.new_context()
                fresh = await context.new_page()
                await fresh.goto(url)
                assert "/ui/login" in fresh.url, kind
                await fresh.fill("input[name=key]", key)
                await fresh.click("form.login button[type=submit]")
                await fresh.wait_for_url(url)
                for other, also in pages.items():  # now with the session, both open at once
                    reply = await fresh.goto(by_kind[other][0])
                    assert reply is not None and reply.status == 200, (kind, other)
                    assert "text/html" in reply.headers["content-type"]
                    assert fresh.url == by_kind[other][0] and also in await fresh.inner_text("main")
                await context.close()

            # The signed acknowledge page names the person; a GET changes nothing.
            reply = await page.goto(by_kind["acknowledge"][0])
            assert reply is not None and reply.status == 200
            assert "Ivan Petrov" in await page.inner_text("main")
            assert await page.locator("button", has_text="Acknowledge").count() == 1

            # The signed snooze link: a page with the choices; the button ends on a page.
            reply = await page.goto(by_kind["snooze"][0])
            assert reply is not None and reply.status == 200
            text = await page.inner_text("main")
            assert "Ivan Petrov" in text and "Globex" in text and "tomorrow morning" in text
            await shoot(page, "reminder-snooze")
            await page.check("input[name=choice][value='4h']")
            async with page.expect_navigation() as done:
                await page.click("button[type=submit]")
            answer = await done.value
            assert answer is not None and answer.status == 200
            assert "text/html" in answer.headers["content-type"]
            assert "Snoozed until Wed 18 Nov, 16:10 (UTC)" in await page.inner_text("main")
            await shoot(page, "reminder-snoozed")
        finally:
            await browser.close()
    async with engine.connect() as conn:
        status = await conn.scalar(select(reminders.c.status).where(reminders.c.rep == REP))
    assert status == "snoozed"
