"""Restore, reconcile, no duplicate sends: the database goes back to a restore point T (its send
ledger forgets what was sent after T), ``trellis reconcile --since T`` reads the outcomes topic,
and the notifier's own claim then refuses every touch a provider took after T."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from console.cli import app
from schemas.commands import Channel, DispatchTouch
from schemas.outcomes import OutcomeStatus, TouchOutcome
from schemas.topics import OUTCOMES
from services.notifier.ledger import claim_for_sending
from services.notifier.settings import NotifierDatabase, NotifierSettings
from services.notifier.tables import send_ledger
from tests.integration.notifier_servers import smtp_server
from tests.integration.test_notifier_broker import publish, run_until, touch
from tests.probes import produce
from trellis.broker import EmbeddedBroker
from trellis.db import create_engine
from trellis.kafka import encode, ensure_topics
from trellis.settings import TrellisSettings

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _outcome(touch: str, status: OutcomeStatus, at: datetime, retryable: bool = False) -> bytes:
    return encode(TouchOutcome(
        id=f"{touch}-{status}", touch_id=touch, contact_id="c-1", channel=Channel.EMAIL,
        status=status, retryable=retryable, provider_id=f"p-{touch}", occurred_at=at,
    ))  # fmt: skip


def _command(touch: str) -> DispatchTouch:
    return DispatchTouch(
        touch_id=touch, contact_id="c-1", channel=Channel.EMAIL, template_id="x",
        stage="awareness", to="ana@acme.example", decided_at=T,
    )  # fmt: skip


@pytest_asyncio.fixture(loop_scope="session")
async def ledger_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The notifier's database: on SQLite the file beside the orchestrator's, where reconcile
    writes by default; on PostgreSQL the same database."""
    engine = create_engine(NotifierDatabase(database_url=database_url).resolved_database_url)
    yield engine
    await engine.dispose()


async def test_touches_sent_after_the_restore_point_are_never_claimed_again(
    isolated_broker: EmbeddedBroker, ledger_engine: AsyncEngine, database_url: str
) -> None:
    engine = ledger_engine
    settings = TrellisSettings(kafka_bootstrap=isolated_broker.bootstrap, kafka_idempotence=False)
    await ensure_topics(settings, [OUTCOMES], partitions=2)
    after = T + timedelta(minutes=5)
    await produce(isolated_broker.bootstrap, OUTCOMES, [
        (b"c-1", _outcome("t-before", OutcomeStatus.SENT, T - timedelta(hours=1))),
        (b"c-1", _outcome("t-sent", OutcomeStatus.SENT, after)),
        (b"c-1", _outcome("t-delivered", OutcomeStatus.SENT, after)),
        (b"c-1", _outcome("t-delivered", OutcomeStatus.DELIVERED, after + timedelta(minutes=1))),
        (b"c-1", _outcome("t-mid-send", OutcomeStatus.SENT, after)),
        (b"c-1", _outcome("t-final-failure", OutcomeStatus.FAILED, after)),
        (b"c-1", _outcome("t-retryable", OutcomeStatus.FAILED, after, retryable=True)),
        (b"c-1", b"{not an outcome"),
    ])  # fmt: skip
    async with engine.begin() as conn:  # the restored ledger: what it knew at T
        await conn.execute(insert(send_ledger), [
            {"touch_id": "t-before", "channel": "email", "status": "sent", "attempts": 1,
             "provider_id": "p-t-before", "created_at": T, "updated_at": T},
            {"touch_id": "t-mid-send", "channel": "email", "status": "sending", "attempts": 1,
             "provider_id": None,
             "created_at": T, "updated_at": T},
        ])  # fmt: skip
    done = await _reconcile(isolated_broker.bootstrap, database_url, T)
    assert done.exit_code == 0, done.output
    assert "4 touches settled" in done.output and "4 written" in done.output
    async with engine.begin() as conn:
        ledger = dict(
            (await conn.execute(select(send_ledger.c.touch_id, send_ledger.c.status))).all()
        )
        every = ["t-before", "t-sent", "t-delivered", "t-mid-send", "t-final-failure",
                 "t-retryable", "t-new"]  # fmt: skip
        claimed = await claim_for_sending(conn, [(_command(t), i) for i, t in enumerate(every)], T)
    assert ledger["t-mid-send"] == "sent" and ledger["t-final-failure"] == "failed"
    assert ledger["t-delivered"] == "sent" and "t-retryable" not in ledger
    assert claimed == {"t-retryable", "t-new"}  # only what no provider took is sent (again)


def test_a_restore_point_needs_its_zone() -> None:
    done = CliRunner().invoke(app, ["reconcile", "--since", "2026-11-20T10:00:00"])
    assert done.exit_code == 2 and "zone" in done.output


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a dump is a template
async def test_restore_to_an_earlier_dump_then_reconcile_sends_nothing_twice(
    isolated_broker: EmbeddedBroker, database_url: str
) -> None:
    """The notifier sends A, the database is dumped (T), it sends B; the dump is restored and
    reconciled; the orchestrator re-dispatches B along with new C: A, B and C arrive once each."""
    async with smtp_server() as (catcher, smtp_port):
        live = NotifierSettings(
            env="test", kafka_bootstrap=isolated_broker.bootstrap, kafka_idempotence=False,
            database_url=database_url, topic_partitions=1, smtp_port=smtp_port,
            notifier_http_port=0, notifier_group=f"n-{uuid.uuid4().hex}",
        )  # fmt: skip
        await ensure_topics(live)
        sent = {name: [touch(f"{name}-{i}", Channel.EMAIL, f"p{i}@acme.test") for i in range(3)]
                for name in ("a", "b")}  # fmt: skip
        await publish(live, sent["a"])
        await run_until(live, {t.touch_id for t in sent["a"]})
        restore_point = datetime.now(UTC)
        dump = await _dump(database_url)
        await publish(live, sent["b"])
        await run_until(live, {t.touch_id for t in sent["b"]})
        restored = live.model_copy(update={"database_url": dump})
        done = await _reconcile(isolated_broker.bootstrap, dump, restore_point)
        assert done.exit_code == 0 and "3 written" in done.output, done.output
        new = touch("c-0", Channel.EMAIL, "new@acme.test")
        await publish(restored, [*sent["b"], new])  # re-dispatched after the restore, and a new one
        await run_until(restored, {new.touch_id})
    every = [*sent["a"], *sent["b"], new]
    assert {t.touch_id: len(catcher.by_touch(t.touch_id)) for t in every} == {
        t.touch_id: 1 for t in every
    }


async def _reconcile(bootstrap: str, database_url: str, since: datetime) -> Result:
    """``trellis reconcile --since`` as an operator runs it, on this broker and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")} | {
        "TRELLIS_KAFKA_BOOTSTRAP": bootstrap,
        "TRELLIS_KAFKA_IDEMPOTENCE": "false",
        "TRELLIS_DATABASE_URL": database_url,
    }
    args = ["reconcile", "--since", since.isoformat()]
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env)


async def _dump(database_url: str) -> str:
    """The database as a backup taken now would restore it: a copy (no one is connected)."""
    url = make_url(database_url)
    name = f"{url.database}_dump"
    admin = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database="test")
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    finally:
        await admin.close()
    return url.set(database=name).render_as_string(hide_password=False)
