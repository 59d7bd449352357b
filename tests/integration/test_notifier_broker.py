"""The notifier process through a real broker: commands on trellis.touches.v1 become real SMTP
messages and SMS requests, once per touch id even when published twice or replayed, and
outcomes land on trellis.outcomes.v1 keyed by contact id."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import orjson

from schemas.commands import Channel, DispatchTouch
from schemas.topics import OUTCOMES, TOUCHES
from services.notifier.main import run
from services.notifier.settings import NotifierSettings
from tests.integration.notifier_servers import SID, TOKEN, http_server, smtp_server
from trellis.broker import EmbeddedBroker
from trellis.kafka import encode, ensure_topics, make_consumer, make_producer

NOW = datetime.now(UTC)  # the process checks max age against the real clock


def touch(touch_id: str, channel: Channel, to: str) -> DispatchTouch:
    return DispatchTouch(
        touch_id=touch_id,
        contact_id=f"c-{touch_id}",
        channel=channel,
        template_id="generic",
        stage="engaged",
        to=to,
        variables={"subject": "Hi", "body": "Hello"},
        decided_at=NOW,
    )


async def read_outcomes(settings: NotifierSettings, want: set[str]) -> dict[str, dict[str, object]]:
    consumer = make_consumer(settings, OUTCOMES, group_id=f"probe-{uuid.uuid4().hex}")
    await consumer.start()
    found: dict[str, dict[str, object]] = {}
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while not want <= found.keys():
            assert asyncio.get_running_loop().time() < deadline, f"outcomes seen: {found}"
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    body = orjson.loads(r.value)
                    found[body["touch_id"]] = body | {"_key": r.key.decode()}
    finally:
        await consumer.stop()
    return found


async def publish(settings: NotifierSettings, touches: list[DispatchTouch]) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for t in touches:
            await producer.send_and_wait(TOUCHES, encode(t), key=t.partition_key().encode())
        await producer.send_and_wait(TOUCHES, b'{"not": "a command"}', key=b"x")  # poison
    finally:
        await producer.stop()


async def run_until(settings: NotifierSettings, want: set[str]) -> dict[str, dict[str, object]]:
    """Run the notifier process until outcomes for ``want`` are on the outcomes topic."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    try:
        return await read_outcomes(settings, want)
    finally:
        stop.set()
        await task


async def test_commands_published_twice_are_sent_once_and_reported(
    isolated_broker: EmbeddedBroker, database_url: str
) -> None:
    async with smtp_server() as (catcher, smtp_port), http_server() as sink:
        settings = NotifierSettings(
            env="test",
            kafka_bootstrap=isolated_broker.bootstrap,
            database_url=database_url,
            topic_partitions=1,
            kafka_idempotence=False,
            smtp_port=smtp_port,
            sms_base_url=sink.base_url,
            sms_account_sid=SID,
            sms_auth_token=TOKEN,
            notifier_group=f"n-{uuid.uuid4().hex}",
            notifier_http_port=0,  # any free port: chaos runs a notifier on 8002 beside it
        )
        await ensure_topics(settings)
        touches = [touch(f"e-{i}", Channel.EMAIL, f"p{i}@acme.test") for i in range(5)]
        touches.append(touch("s-1", Channel.SMS, "+15551230001"))
        await publish(settings, touches + touches)  # every command published twice
        outcomes = await run_until(settings, {t.touch_id for t in touches})
        assert len(catcher.messages) == 5
        # Replay the whole topic from the start (a new consumer group) after a sentinel: the
        # ledger answers for every old command, only the sentinel is new.
        sentinel = touch("e-sentinel", Channel.EMAIL, "new@acme.test")
        await publish(settings, [sentinel])
        replay = settings.model_copy(update={"notifier_group": f"n-{uuid.uuid4().hex}"})
        await run_until(replay, {sentinel.touch_id})
        assert len(catcher.messages) == 6
    for t in touches[:5]:
        assert len(catcher.by_touch(t.touch_id)) == 1
    assert [m["To"] for m in sink.sms] == ["+15551230001"]
    assert {o["status"] for o in outcomes.values()} == {"sent"}
    assert str(outcomes["s-1"]["provider_id"]).startswith("SM")
    assert all(o["_key"] == o["contact_id"] for o in outcomes.values())
