"""``bench speed_to_lead --at-sink``: the rep's side of the stack. A marketing backlog queued on
``trellis.touches.v1``, the notifier (both lanes) in a process of its own, and the rep's channels
(``bench.rep_sinks``: an SMTP server and a Slack-style webhook) in another; two pool reps, one
reached by email and one by Slack, so every other demo request tests each channel."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx
import yaml

from schemas.commands import Channel, DispatchTouch
from schemas.topics import TOUCHES
from services.notifier.main import run as run_notifier
from services.notifier.settings import NotifierSettings
from trellis.broker import free_port, port_in_use
from trellis.kafka import encode, make_producer
from trellis.runtime import run_service
from trellis.settings import TrellisSettings

MAIL_REP, SLACK_REP = "rep-mail@bench.example", "rep-slack@bench.example"
REPS = f"{MAIL_REP},{SLACK_REP}"
MARKETING_DOMAIN = "@crowd.bench.example"


def nurture_with_reps(path: Path) -> Path:
    """The shipped plan with a rep directory: both reps in UTC, one on email, one on Slack."""
    shipped = resources.files("services.orchestrator").joinpath("default_nurture.yaml")
    plan = yaml.safe_load(shipped.read_text())
    plan["reps"] = {
        MAIL_REP: {"timezone": "UTC", "channel": "email"},
        SLACK_REP: {"timezone": "UTC", "channel": "slack"},
    }
    path.write_text(yaml.safe_dump(plan))
    return path


async def queue_marketing(settings: TrellisSettings, count: int, tag: str) -> None:
    """``count`` marketing emails on trellis.touches.v1, as the scheduler would have queued them."""
    producer = make_producer(settings)
    await producer.start()
    try:
        now = datetime.now(UTC)
        for i in range(count):
            cmd = DispatchTouch(
                touch_id=f"mkt-{tag}-{i}", contact_id=f"crowd-{tag}-{i}", channel=Channel.EMAIL,
                template_id="generic", stage="engaged", to=f"c{i}{MARKETING_DOMAIN}",
                variables={"subject": "Our guide", "body": "Hello"}, decided_at=now,
            )  # fmt: skip
            await producer.send(TOUCHES, encode(cmd), key=cmd.contact_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


def _notifier_process(settings: dict[str, Any]) -> None:
    run_service(run_notifier(NotifierSettings(**settings)))  # on the service's own event loop


@dataclass
class RepSide:
    """The sinks and the notifier, started around one backend's run."""

    bootstrap: str
    database_url: str
    tag: str
    marketing_rate: float | None = None  # the email provider's limit (reminders are not held)
    smtp_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    sinks: subprocess.Popen[bytes] | None = None
    notifier: BaseProcess | None = None

    @property
    def received_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/received"

    def start_sinks(self) -> None:
        argv = [sys.executable, "-m", "bench.rep_sinks", str(self.smtp_port), str(self.http_port)]
        self.sinks = subprocess.Popen([*argv, MARKETING_DOMAIN])
        deadline = time.monotonic() + 30
        while not port_in_use("127.0.0.1", self.http_port):
            if self.sinks.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench.rep_sinks did not start")
            time.sleep(0.05)

    def start_notifier(self) -> None:
        settings = {
            "kafka_bootstrap": self.bootstrap, "kafka_idempotence": False,
            "database_url": self.database_url, "notifier_database_url": self.database_url,
            "notifier_group": f"stl-notifier-{self.tag}",
            "smtp_port": self.smtp_port, "rep_reminder_via": "email",
            "slack_webhook_url": f"http://127.0.0.1:{self.http_port}/slack",
            "notifier_http_port": 0, "notifier_max_age_s": 10**9,  # the bench clock is not today
            "smtp_rate_per_s": self.marketing_rate,
        }  # fmt: skip
        self.notifier = multiprocessing.get_context("spawn").Process(
            target=_notifier_process, args=(settings,), daemon=True
        )
        self.notifier.start()

    def check_alive(self) -> None:
        if self.notifier is not None and not self.notifier.is_alive():
            raise SystemExit("the notifier stopped during the run")

    def stop(self) -> None:
        if self.notifier is not None and self.notifier.is_alive():
            self.notifier.terminate()  # SIGTERM: the notifier finishes its batch and stops
            self.notifier.join(30)
            if self.notifier.is_alive():
                self.notifier.kill()
        if self.sinks is not None and self.sinks.poll() is None:
            self.sinks.terminate()
            self.sinks.wait(10)


async def received(url: str) -> dict[str, Any]:
    """What ``bench.rep_sinks`` at ``url`` has received so far."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


async def arrived(url: str | None, reminders: dict[str, tuple[str, str, str]]) -> bool:
    """Any reminder of ``reminders`` reached the rep's channel (True when no sinks run)."""
    return url is None or bool(arrivals_by_demo(await received(url), reminders))


def arrivals_by_demo(
    got: dict[str, Any], reminders: dict[str, tuple[str, str, str]]
) -> dict[str, tuple[str, float]]:
    """demo id -> (channel, first arrival at the rep's channel). ``reminders``: touch id ->
    (demo id, the lead's email, rep) as the probe read them on trellis.reminders.v1. Email
    carries the touch id in a header; a Slack message is the rep's text, which names the lead."""
    out: dict[str, tuple[str, float]] = {}
    by_touch = {r["touch_id"]: float(r["at"]) for r in got["smtp"]}
    for touch_id, (demo, _, rep) in reminders.items():
        if rep == MAIL_REP and touch_id in by_touch:
            out[demo] = ("email", min(by_touch[touch_id], out.get(demo, ("", 1e18))[1]))
    slack = [(float(m["at"]), m["body"]) for m in got["slack"]]
    for demo, email, rep in reminders.values():
        if rep != SLACK_REP:
            continue
        hits = [at for at, body in slack if email in body]
        if hits:
            out[demo] = ("slack", min(hits))
    return out


async def wait_for_arrivals(
    side: RepSide, reminders: dict[str, tuple[str, str, str]], deadline_s: float
) -> dict[str, Any]:
    """Poll the sinks until every reminder arrived (or the deadline); their last answer."""
    end = time.monotonic() + deadline_s
    while True:
        got_now = await received(side.received_url)
        got = arrivals_by_demo(got_now, reminders)
        if len(got) >= len({d for d, _, _ in reminders.values()}) or time.monotonic() > end:
            return got_now
        await asyncio.sleep(0.5)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def latency(values: list[float]) -> dict[str, float | int]:
    """n, p50, p99 and max in milliseconds."""
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50_ms": _pct(ms, 0.5), "p99_ms": _pct(ms, 0.99),
            "max_ms": max(ms, default=float("nan"))}  # fmt: skip


def sink_figures(
    received_now: dict[str, Any],
    sent: dict[str, float],
    seen: dict[str, float],
    reminders: dict[str, tuple[str, str, str]],
    backlog: int,
) -> dict[str, Any]:
    """Demo request -> arrival at the rep's channel, per channel and in all, and from the topic
    to the rep (the notifier's share); and how much of the
    marketing backlog arrived before the first demo request, during the measurement, and was
    still queued when the last reminder arrived (> 0: it drained all through)."""
    arrivals = arrivals_by_demo(received_now, reminders)
    by_channel: dict[str, list[float]] = {"email": [], "slack": []}
    notifier: list[float] = []  # on the topic -> at the rep: the notifier's share
    for demo, (channel, at) in arrivals.items():
        if demo in sent:
            by_channel[channel].append(at - sent[demo])
            if demo in seen:
                notifier.append(at - seen[demo])
    marketing = sorted(float(t) for t in received_now["marketing"])
    start = min(sent.values(), default=0.0)
    end = max((at for d, (_, at) in arrivals.items() if d in sent), default=start)
    before = sum(1 for t in marketing if t < start)
    during = sum(1 for t in marketing if start <= t <= end)
    return {
        "all": latency(by_channel["email"] + by_channel["slack"]),
        **{channel: latency(values) for channel, values in by_channel.items()},
        "topic_to_rep": latency(notifier),
        "missing": len(sent) - sum(len(v) for v in by_channel.values()),
        "marketing_backlog": backlog,
        "marketing_before_first_demo": before,
        "marketing_during_measurement": during,
        "marketing_still_queued_at_last_reminder": backlog - before - during,
    }


def backlog_words(figures: dict[str, Any]) -> str:
    return (
        f"marketing backlog {figures['marketing_backlog']:,}: "
        f"{figures['marketing_before_first_demo']:,} received before the first demo request, "
        f"{figures['marketing_during_measurement']:,} during the measurement, "
        f"{figures['marketing_still_queued_at_last_reminder']:,} still queued at the last reminder"
    )
