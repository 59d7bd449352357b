"""The chaos run's invariants, checked independently of the services' own bookkeeping.

- every 2xx-acknowledged event is in the inbox exactly once, and nothing else is;
- no effect recorded twice (stage transitions, consent entries per event);
- contact stages equal a pure replay (the domain's ``decide``) of the acknowledged events;
- no message received twice at the sinks (SMTP by X-Trellis-Touch-Id and Message-ID, SMS by
  recipient + body);
- no marketing message without a consent grant in the acknowledged events recorded before it;
- no message outside its channel's send window (read from the run's nurture plan YAML, evaluated
  here with ``zoneinfo`` in the contact's time zone from the events);
- the engagement dead-letter topic holds exactly the injected poison messages; the other
  dead-letter topics are empty.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT, ENGAGEMENT_TOPICS, MAIN_TOPICS, dead_letter
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import to_engagement
from services.orchestrator.domain.identity import resolve_accounts, resolve_contacts

WINDOW_GRACE = timedelta(minutes=5)
"""A touch decided inside its window may reach the provider a little after it closes."""


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def check(self, name: str, bad: int, detail: object = "") -> None:
        self.counts[name] = bad
        if bad:
            self.failures.append(f"{name}: {bad} {str(detail)[:600]}")


def pure_stages(events: list[dict[str, Any]], now: datetime) -> dict[str, str]:
    """Contact stages from one pure replay of ``events``, keyed by contact external id."""
    parsed = sorted(
        (EngagementEvent.model_validate(e) for e in events), key=lambda e: (e.time, e.id)
    )
    people = resolve_contacts(parsed, {})
    orgs = resolve_accounts(parsed, [])
    engagements = [to_engagement(e, people.contact_of[e.id], orgs.account_of[e.id]) for e in parsed]
    result = decide({}, {}, engagements, default_playbook(), now)
    ext_of = {people.contact_of[e.id]: e.contact.external_id for e in parsed}
    return {str(ext_of[cid]): str(s.stage) for cid, s in result.contacts.items()}


async def check_database(
    report: Report, conn: asyncpg.Connection, acked: dict[str, dict[str, Any]], now: datetime
) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT event_id FROM inbox WHERE topic = ANY($1)", list(ENGAGEMENT_TOPICS)
    )
    inbox = {r["event_id"] for r in rows}
    report.counts["events acknowledged"] = len(acked)
    report.counts["events applied (inbox rows)"] = len(inbox)
    report.check("lost (acknowledged, not applied)", len(acked.keys() - inbox),
                 sorted(acked.keys() - inbox)[:10])  # fmt: skip
    report.check("applied but never acknowledged", len(inbox - acked.keys()),
                 sorted(inbox - acked.keys())[:10])  # fmt: skip
    twice = await conn.fetchval(
        "SELECT count(*) FROM (SELECT subject_id, to_stage, event_id FROM stage_history "
        "WHERE event_id IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
    )
    report.check("stage transitions recorded twice", int(twice))
    twice = await conn.fetchval(
        "SELECT count(*) FROM (SELECT contact_id, channel, event_id FROM consent_ledger "
        "WHERE event_id IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
    )
    report.check("consent entries recorded twice", int(twice))
    live = {r["external_id"]: r["stage"] for r in await conn.fetch(
        "SELECT external_id, stage FROM contacts WHERE external_id IS NOT NULL")}  # fmt: skip
    pure = pure_stages(list(acked.values()), now)
    differ = {k: (live.get(k), v) for k, v in pure.items() if live.get(k) != v}
    report.counts["contacts compared with the pure replay"] = len(pure)
    report.check("contact stages differing from the pure replay", len(differ),
                 list(differ.items())[:10])  # fmt: skip
    ids = await conn.fetch("SELECT id, external_id FROM contacts")
    return {r["id"]: r["external_id"] for r in ids}


@dataclass(frozen=True)
class Window:
    days: frozenset[int]
    start: time
    end: time | None

    def contains(self, at: datetime, tz: ZoneInfo) -> bool:
        local = at.astimezone(tz)
        wall = local.time().replace(tzinfo=None)
        return (
            local.weekday() in self.days
            and wall >= self.start
            and (self.end is None or wall < self.end)
        )


def channel_windows(nurture: Path) -> tuple[dict[str, Window], str]:
    plan = yaml.safe_load(nurture.read_text())
    windows = {
        name: Window(
            frozenset(w.get("days", range(7))),
            time.fromisoformat(w.get("start", "00:00")),
            time.fromisoformat(w["end"]) if w.get("end") else None,
        )
        for name, w in plan["windows"].items()
    }
    by_channel = {ch: windows[name] for ch, name in plan["channel_windows"].items()}
    return by_channel, str(plan.get("default_timezone", "UTC"))


def check_messages(
    report: Report,
    received: list[dict[str, Any]],
    commands: dict[str, dict[str, Any]],
    acked: dict[str, dict[str, Any]],
    external_of: dict[str, str],
    nurture: Path,
) -> None:
    mails = [r for r in received if r["channel"] == "smtp"]
    sms = [r for r in received if r["channel"] == "sms"]
    report.counts["emails received"] = len(mails)
    report.counts["sms received"] = len(sms)
    by_touch = Counter(r["touch_id"] for r in mails)
    by_msgid = Counter(r["message_id"] for r in mails)
    by_sms = Counter((r["to"], r["body"]) for r in sms)
    dupes = [k for k, n in (*by_touch.items(), *by_msgid.items(), *by_sms.items()) if n > 1]
    report.check("messages received more than once", len(dupes), dupes[:10])

    # consent grants and time zones, from the acknowledged events alone
    grants: dict[tuple[str, str], list[tuple[datetime, bool]]] = {}
    tz_of: dict[str, str] = {}
    phone_of: dict[str, str] = {}
    for e in acked.values():
        ext = e["contact"].get("external_id")
        traits = e["contact"].get("traits") or {}
        if traits.get("timezone"):
            tz_of[ext] = traits["timezone"]
        if traits.get("phone"):
            phone_of[traits["phone"]] = ext
        if e["type"] in ("consent_given", "consent_withdrawn"):
            at = datetime.fromisoformat(e["time"])
            key = (ext, e["properties"]["channel"])
            grants.setdefault(key, []).append((at, e["type"] == "consent_given"))
    windows, default_tz = channel_windows(nurture)
    sms_touches = {c["to"]: t for t, c in commands.items() if c["channel"] == "sms"}
    no_consent: list[str] = []
    outside: list[str] = []
    unknown: list[str] = []
    checked: Counter[str] = Counter()
    for r in received:
        touch_id = r.get("touch_id") if r["channel"] == "smtp" else sms_touches.get(r["to"])
        cmd = commands.get(touch_id or "")
        if cmd is None:
            unknown.append(str(touch_id or r.get("to")))
            continue
        at = datetime.fromtimestamp(float(r["at"]), UTC)
        checked[cmd["channel"]] += 1
        ext = external_of.get(cmd["contact_id"], "")
        if cmd.get("marketing", True) and cmd["channel"] in ("email", "sms"):
            history = sorted(grants.get((ext, cmd["channel"]), []))
            state = [granted for when, granted in history if when <= at]
            if not state or not state[-1]:
                no_consent.append(f"{touch_id} ({ext}, {cmd['channel']})")
        tz = ZoneInfo(tz_of.get(ext, default_tz))
        window = windows[cmd["channel"]]
        if not (window.contains(at, tz) or window.contains(at - WINDOW_GRACE, tz)):
            outside.append(f"{touch_id} {cmd['channel']} at {at.astimezone(tz):%a %H:%M} {tz}")
    for channel, n in sorted(checked.items()):
        report.counts[f"  of which {channel} (consent/window checked)"] = n
    report.check("messages without a matching DispatchTouch", len(unknown), unknown[:10])
    report.check("marketing messages without consent", len(no_consent), no_consent[:10])
    report.check("messages outside their send window", len(outside), outside[:10])


async def dead_letters(bootstrap: str) -> dict[str, list[bytes]]:
    """Every record on each dead-letter topic, read from the beginning."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: dict[str, list[bytes]] = {}
    try:
        await consumer.topics()
        parts = [
            TopicPartition(dead_letter(t), p)
            for t in MAIN_TOPICS
            for p in (consumer.partitions_for_topic(dead_letter(t)) or ())
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out = {dead_letter(t): [] for t in MAIN_TOPICS}
        while any([await consumer.position(tp) < ends[tp] for tp in parts]):
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                out[tp.topic] += [r.value or b"" for r in records]
    finally:
        await consumer.stop()
    return out


async def check_dead_letters(report: Report, bootstrap: str, poison: list[bytes]) -> None:
    found = await dead_letters(bootstrap)
    got = Counter(found.get(dead_letter(ENGAGEMENT), []))
    want = Counter(poison)
    report.counts["poison messages injected"] = len(poison)
    report.counts["dead-lettered on the engagement topic"] = sum(got.values())
    report.check("poison messages not dead-lettered", sum((want - got).values()))
    report.check("good messages dead-lettered", sum((got - want).values()),
                 [v[:200] for v in (got - want)][:5])  # fmt: skip
    others = {t: len(v) for t, v in found.items() if t != dead_letter(ENGAGEMENT) and v}
    report.check("records on other dead-letter topics", sum(others.values()), others)
