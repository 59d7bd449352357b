"""The faults the chaos run injects, one at a time on a fixed rotation, and their counts."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import orjson

from bench.stack import Stack
from chaos.proxy import TcpProxy
from schemas.topics import ENGAGEMENT
from trellis.kafka import make_producer
from trellis.settings import TrellisSettings


@dataclass
class Injector:
    stack: Stack
    db: TcpProxy
    smtp: TcpProxy
    sms: TcpProxy
    control_url: str
    outage_s: float = 6.0
    counts: Counter[str] = field(default_factory=Counter)
    poison: list[bytes] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def say(self, line: str) -> None:
        stamp = f"[{time.monotonic() - self.started:6.1f}s]"
        self.log.append(f"{stamp} {line}")
        print(f"  {stamp} {line}", flush=True)

    def rotation(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        return [
            ("kill -9 orchestrator", lambda: self.kill("orchestrator")),
            ("database cut", lambda: self.cut(self.db, "database")),
            ("kill -9 notifier", lambda: self.kill("notifier")),
            ("poison messages", self.inject_poison),
            ("kill -9 ingest", lambda: self.kill("ingest")),
            ("smtp 451 tempfail", lambda: self.sink_mode("smtp", "tempfail")),
            ("smtp connection refused", lambda: self.cut(self.smtp, "smtp")),
            ("sms 503 tempfail", lambda: self.sink_mode("sms", "tempfail")),
            ("smtp slow (2 s/message)", lambda: self.sink_mode("smtp", "slow")),
            ("sms connection refused", lambda: self.cut(self.sms, "sms")),
            ("smtp 550 + sms 400 permfail", self.permfail),
        ]

    async def kill(self, name: str) -> None:
        service = self.stack.services[name]
        service.kill9()
        self.counts[f"kill -9 {name}"] += 1
        self.say(f"kill -9 {name}")
        await asyncio.sleep(1.0)
        service.start()

    async def cut(self, proxy: TcpProxy, what: str) -> None:
        self.counts[f"{what} cut"] += 1
        self.say(f"{what} cut for {self.outage_s:.0f}s")
        await proxy.cut()
        await asyncio.sleep(self.outage_s)
        await proxy.restore()

    async def sink_mode(self, channel: str, mode: str, seconds: float | None = None) -> None:
        self.counts[f"{channel} {mode}"] += 1
        self.say(f"{channel} {mode} for {seconds or self.outage_s:.0f}s")
        await self.control({channel: mode})
        await asyncio.sleep(seconds or self.outage_s)
        await self.control({channel: "ok"})

    async def permfail(self) -> None:
        self.counts["smtp+sms permfail"] += 1
        self.say("smtp 550 + sms 400 for 2s")
        await self.control({"smtp": "permfail", "sms": "permfail"})
        await asyncio.sleep(2)
        await self.control({"smtp": "ok", "sms": "ok"})

    async def control(self, body: dict[str, object]) -> None:
        async with httpx.AsyncClient() as http:
            reply = await http.post(self.control_url, json=body | {"delay_s": 2.0}, timeout=5)
            reply.raise_for_status()

    async def inject_poison(self, n: int = 3) -> None:
        """Schema-invalid records produced straight to the engagement topic."""
        tag = uuid.uuid4().hex[:6]
        values = [
            b"{not json " + tag.encode(),
            orjson.dumps({"id": f"poison-{tag}", "type": "page_viewed"}),  # no source/time/contact
            orjson.dumps(
                {
                    "id": f"poison-{tag}-t",
                    "type": "page_viewed",
                    "source": "chaos",
                    "time": "2026-11-02T10:00:00",  # no time zone: not an AwareDatetime
                    "contact": {  # personal data, which must not reach the dead-letter log line
                        "external_id": "nobody",
                        "email": f"poison.{tag}@chaos.example",
                        "traits": {"phone": "+15559990000"},
                    },
                }
            ),
        ][:n]
        settings = TrellisSettings(
            kafka_bootstrap=self.stack.broker.bootstrap, kafka_idempotence=False
        )
        producer = make_producer(settings)
        await producer.start()
        try:
            for i, value in enumerate(values):
                await producer.send_and_wait(ENGAGEMENT, value, key=f"poison-{tag}-{i}".encode())
        finally:
            await producer.stop()
        self.poison += values
        self.counts["poison messages"] += len(values)
        self.say(f"{len(values)} poison messages produced to {ENGAGEMENT}")

    async def restore_all(self) -> None:
        for proxy in (self.db, self.smtp, self.sms):
            await proxy.restore()
        await self.control({"smtp": "ok", "sms": "ok"})
