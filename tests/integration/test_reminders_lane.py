"""The reminders lane through a real broker: a rep reminder on trellis.reminders.v1 (keyed by
rep) is delivered by the notifier while marketing email on trellis.touches.v1 is stuck behind a
provider that does not answer; its poison goes to trellis.reminders.v1.dlq."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime

import orjson
from aiokafka import TopicPartition
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from schemas.commands import Channel, DispatchTouch
from schemas.dead_letter import DLQ_HEADER_TOPIC
from schemas.topics import OUTCOMES, REMINDERS, TOUCHES, dead_letter
from services.notifier.main import run
from services.notifier.settings import NotifierSettings
from services.orchestrator.touch_commands import topic_for
from tests.integration.notifier_servers import SID, TOKEN, SmtpCatcher, http_server
from tests.probes import eventually, produce, read_topic
from trellis.broker import EmbeddedBroker, free_port
from trellis.kafka import encode, ensure_topics, make_consumer

BACKLOG = 300
CROWD = "@crowd.test"
REPS = {"r-call", "r-mail"}


class HeldMarketing(SmtpCatcher):
    """Accepts rep mail at once; marketing mail (to ``CROWD``) waits at DATA until ``release``."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()  # set from the test's loop, waited on in aiosmtpd's
        self.held = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if any(str(to).endswith(CROWD) for to in envelope.rcpt_tos):
            self.held += 1
            await asyncio.to_thread(self.release.wait, 60)
        return await super().handle_DATA(server, session, envelope)

    async def count_held(self) -> int:
        return self.held

    async def count_messages(self) -> int:
        return len(self.messages)


def _command(touch_id: str, channel: Channel, to: str, **variables: str) -> DispatchTouch:
    reminder = channel is not Channel.EMAIL
    return DispatchTouch(
        touch_id=touch_id, contact_id=f"c-{touch_id}", channel=channel,
        template_id="rep_reminder" if reminder else "generic", stage="sql" if reminder else "mql",
        to=to, variables={"subject": "Hi", "contact": {"name": "Ana"}, **variables},
        marketing=not reminder, decided_at=datetime.now(UTC),
    )  # fmt: skip


async def _committed(settings: NotifierSettings, topic: str) -> dict[int, int | None]:
    """The group's committed offsets on ``topic`` (read without joining the group)."""
    consumer = make_consumer(settings, group_id=settings.notifier_group)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in parts}
    finally:
        await consumer.stop()


async def test_a_rep_reminder_is_delivered_while_a_marketing_backlog_sits_unconsumed(
    isolated_broker: EmbeddedBroker, database_url: str
) -> None:
    async with http_server() as sink:
        catcher, smtp_port = HeldMarketing(), free_port()
        smtp = Controller(catcher, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        try:
            settings = NotifierSettings(
                env="test", kafka_bootstrap=isolated_broker.bootstrap, database_url=database_url,
                kafka_idempotence=False, topic_partitions=2, smtp_port=smtp_port,
                sms_base_url=sink.base_url, sms_account_sid=SID, sms_auth_token=TOKEN,
                slack_webhook_url=f"{sink.base_url}/slack", notifier_max_batch=100,
                notifier_group=f"n-{uuid.uuid4().hex}", notifier_http_port=0,
            )  # fmt: skip
            await ensure_topics(settings)
            crowd = [_command(f"m-{i}", Channel.EMAIL, f"p{i}{CROWD}") for i in range(BACKLOG)]
            await produce(
                settings.bootstrap_servers, TOUCHES,
                [(c.contact_id.encode(), encode(c)) for c in crowd],
            )  # fmt: skip
            stop = asyncio.Event()
            notifier = asyncio.create_task(run(settings, stop))
            try:
                await eventually(catcher.count_held, lambda n: n >= 1, 60)
                call = _command(
                    "r-call", Channel.REP_CALL_REMINDER, "west@vendor.test", rep_channel="slack"
                )
                mail = _command("r-mail", Channel.REP_EMAIL_REMINDER, "east@vendor.test")
                lane = [topic_for(call), topic_for(mail)]
                assert lane == [(REMINDERS, b"west@vendor.test"), (REMINDERS, b"east@vendor.test")]
                items: list[tuple[bytes | None, bytes]] = [
                    (key, encode(c)) for c, (_, key) in zip([call, mail], lane, strict=True)
                ]
                items.append((b"west@vendor.test", b'{"not": "a reminder"}'))  # poison
                await produce(settings.bootstrap_servers, REMINDERS, items)
                outcomes = await read_topic(
                    settings.bootstrap_servers, OUTCOMES,
                    lambda rs: {orjson.loads(r.value)["touch_id"] for r in rs} >= REPS, 60,
                )  # fmt: skip
                # The reminders went out; not one marketing email has, and none is committed.
                assert len(sink.slack) == 1
                assert [m["To"] for m in catcher.messages] == ["east@vendor.test"]
                assert not [m for m in catcher.messages if str(m["To"]).endswith(CROWD)]
                assert set((await _committed(settings, TOUCHES)).values()) <= {None, 0}
                sent = {orjson.loads(r.value)["touch_id"]: orjson.loads(r.value) for r in outcomes}
                assert sent["r-call"]["status"] == sent["r-mail"]["status"] == "sent"
                (poison,) = await read_topic(
                    settings.bootstrap_servers, dead_letter(REMINDERS), lambda rs: len(rs) >= 1
                )
                assert poison.value == b'{"not": "a reminder"}'
                assert dict(poison.headers)[DLQ_HEADER_TOPIC] == REMINDERS.encode()
                # Then the provider answers and the backlog drains, each email once.
                catcher.release.set()
                await eventually(catcher.count_messages, lambda n: n >= BACKLOG + 1, 120)
            finally:
                catcher.release.set()
                stop.set()
                await asyncio.wait_for(notifier, 60)
        finally:
            smtp.stop()
    delivered = [str(m["X-Trellis-Touch-Id"]) for m in catcher.messages]
    assert sorted(delivered) == sorted([c.touch_id for c in crowd] + ["r-mail"])
