"""``bench e2e``'s figures: a markdown table and a PNG chart under ``bench/results/``."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MB = 1024 * 1024


@dataclass
class Sample:
    at: float
    applied: int
    rss: dict[str, int]
    cpu: dict[str, float]


@dataclass
class Figures:
    events: int
    phase1_events: int
    ingest_alone_eps: float
    drain_eps: float
    accepted_eps: float
    e2e_eps: float
    latency_s: list[float]
    demos: dict[str, float]
    probe_seen: dict[str, float]
    commands: dict[str, dict[str, Any]]
    received: list[dict[str, Any]]
    samples: list[Sample]
    cpu_phase1: dict[str, float]
    phase1_s: float
    cpu_phase3: dict[str, float]
    phase3_s: float
    retries: dict[str, int]
    rate: int
    latency_seconds: float


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def demo_of(email: str) -> str:
    """The demo request's id from its lead's email (``bench.e2e.demo_request``:
    ``lead<i>@<tag>-l<i>.example`` -> ``<tag>-lead-<i>``)."""
    name, _, domain = email.partition("@")
    i = name.removeprefix("lead")
    return f"{domain.removesuffix(f'-l{i}.example')}-lead-{i}"


def reminder_latencies(f: Figures) -> tuple[list[float], list[float]]:
    """demo request 202 -> rep_call_reminder on trellis.reminders.v1, and -> received at the SMTP
    sink (the rep's channel). A reminder names its lead in ``variables.contact.email``."""
    at_sink = {r["touch_id"]: r["at"] for r in f.received if r.get("touch_id")}
    topic: list[float] = []
    sink: list[float] = []
    for touch_id, cmd in f.commands.items():
        if cmd.get("channel") != "rep_call_reminder":
            continue
        lead = ((cmd.get("variables") or {}).get("contact") or {}).get("email") or ""
        if (demo := demo_of(str(lead))) in f.demos:
            topic.append(f.probe_seen[touch_id] - f.demos[demo])
            if touch_id in at_sink:
                sink.append(at_sink[touch_id] - f.demos[demo])
    return topic, sink


def rss_growth(f: Figures, name: str) -> tuple[float, float, float]:
    """(RSS MB at the end, MB per 100k events applied by linear fit after 20%, peak MB)."""
    import numpy as np

    points = [(s.applied, s.rss.get(name, 0)) for s in f.samples if s.rss.get(name)]
    if len(points) < 3:
        return float("nan"), float("nan"), float("nan")
    top = max(p[0] for p in points)
    fit = [(a, r) for a, r in points if a >= 0.2 * top]
    slope = 0.0
    if len({a for a, _ in fit}) > 2:
        slope = float(np.polyfit([a for a, _ in fit], [r for _, r in fit], 1)[0])
    return points[-1][1] / MB, slope * 100_000 / MB, max(r for _, r in points) / MB


def dispatched_rate(f: Figures) -> tuple[float, float, int, int]:
    """(DispatchTouch commands/s, messages received/s) over the span they occurred in."""

    def per_s(times: list[float]) -> float:
        return (len(times) - 1) / (max(times) - min(times)) if len(times) > 2 else float("nan")

    cmd_times = list(f.probe_seen.values())
    got = [float(r["at"]) for r in f.received]
    return per_s(cmd_times), per_s(got), len(cmd_times), len(got)


def write_report(f: Figures, stem: Path) -> str:
    stem.parent.mkdir(parents=True, exist_ok=True)
    topic, sink = reminder_latencies(f)
    cmd_rate, got_rate, n_cmd, n_got = dispatched_rate(f)
    names = [n for n in ("ingest", "orchestrator", "notifier", "sinks") if n in f.cpu_phase3]
    touch_ids = [r["touch_id"] for r in f.received if r.get("touch_id")]
    dupes = len(touch_ids) - len(set(touch_ids))
    ms = 1000
    lines = [
        f"# End-to-end benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{f.events:,} demo-world events + {f.latency_seconds:.0f} s at {f.rate} ev/s; "
        f"{os.cpu_count()} CPUs shared with other jobs ({platform.machine()}), embedded broker "
        "(Tansu), PostgreSQL on loopback, one process per service. Single run: figures on a "
        "shared machine vary by +/-20% between runs; quote ratios.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| ingest alone (phase 1) | {f.ingest_alone_eps:,.0f} ev/s accepted |",
        f"| orchestrator draining phase 1's backlog (incl. start-up) | {f.drain_eps:,.0f} ev/s |",
        f"| phase 3: accepted by ingest with the whole stack running "
        f"| {f.accepted_eps:,.0f} ev/s |",
        f"| phase 3: end to end (first POST -> last event in the inbox) | {f.e2e_eps:,.0f} ev/s |",
        f"| **end to end / ingest alone** (target >= 75%) "
        f"| **{f.e2e_eps / f.ingest_alone_eps:.0%}** |",
        f"| event 202 -> inbox row, p50 / p99 (n={len(f.latency_s)}, polled every 20 ms) | "
        f"{pct(f.latency_s, 0.5) * ms:,.0f} / {pct(f.latency_s, 0.99) * ms:,.0f} ms |",
        f"| demo request 202 -> rep_call_reminder on trellis.reminders.v1, p50 / p99 "
        f"(n={len(topic)}) "
        f"| {pct(topic, 0.5) * ms:,.0f} / {pct(topic, 0.99) * ms:,.0f} ms |",
        f"| demo request 202 -> reminder received by the SMTP sink, p50 / p99 (n={len(sink)}) | "
        f"{pct(sink, 0.5) * ms:,.0f} / {pct(sink, 0.99) * ms:,.0f} ms |",
        f"| demo requests without a reminder | {len(f.demos) - len(topic)} of {len(f.demos)} |",
        f"| DispatchTouch commands ({n_cmd:,}) | {cmd_rate:,.0f} /s over their span |",
        f"| messages received by the sinks ({n_got:,}) | {got_rate:,.0f} /s over their span |",
        f"| touch ids received more than once | {dupes} |",
        f"| ingest retries (status or error: count) | {f.retries or 'none'} |",
        "",
        "CPU seconds per service (phase 1: ingest alone; phase 3: end to end) and per event:",
        "",
        "| service | phase 1 CPU s | phase 3 CPU s | phase 3 CPU us/event | RSS end MB "
        "| RSS peak MB | RSS growth MB per 100k events |",
        "|---|---|---|---|---|---|---|",
    ]
    rest = f.events - f.phase1_events
    for name in names:
        end, growth, peak = rss_growth(f, name)
        lines.append(
            f"| {name} | {f.cpu_phase1.get(name, 0):.1f} | {f.cpu_phase3[name]:.1f} | "
            f"{f.cpu_phase3[name] / max(rest, 1) * 1e6:,.0f} | {end:,.0f} | {peak:,.0f} | "
            f"{growth:+.1f} |"
        )
    lines += [
        "",
        f"Phase 3 lasted {f.phase3_s:.1f} s; the sum of service CPU over it is "
        f"{sum(f.cpu_phase3[n] for n in names) / f.phase3_s:.2f} cores (of "
        f"{os.cpu_count()}; broker, PostgreSQL and the load generator use the rest).",
        "",
        f"![RSS and throughput]({stem.name}.png)",
        "",
    ]
    text = "\n".join(lines)
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_bytes(figures_json(f, topic, sink, dupes))
    chart(f, stem.with_suffix(".png"))
    return text


def figures_json(f: Figures, topic: list[float], sink: list[float], dupes: int) -> bytes:
    """The headline figures, for tools: throughput, and speed to lead on the topic and at the
    rep's channel (the SMTP sink), in ms."""
    import orjson

    def lat(values: list[float]) -> dict[str, float | int]:
        return {"n": len(values), "p50_ms": pct(values, 0.5) * 1000,
                "p99_ms": pct(values, 0.99) * 1000}  # fmt: skip

    return orjson.dumps({
        "at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(), "events": f.events,
        "ingest_alone_ev_per_s": f.ingest_alone_eps, "e2e_ev_per_s": f.e2e_eps,
        "latency_phase_rate": f.rate, "latency_seconds": f.latency_seconds,
        "event_to_inbox": lat(f.latency_s), "demo_to_reminder_on_topic": lat(topic),
        "demo_to_reminder_at_sink": lat(sink), "demo_requests": len(f.demos),
        "duplicate_touch_ids_received": dupes,
        "note": "one run on a shared machine: figures vary between runs",
    }, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)  # fmt: skip


def chart(f: Figures, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in ("ingest", "orchestrator", "notifier"):
        pts = [(s.applied, s.rss.get(name, 0) / MB) for s in f.samples if s.rss.get(name)]
        if pts:
            left.plot([p[0] for p in pts], [p[1] for p in pts], label=name)
    left.set_xlabel("events applied (inbox rows)")
    left.set_ylabel("RSS (MB)")
    left.set_title("memory vs events applied")
    left.legend()
    t0 = f.samples[0].at if f.samples else 0.0
    xs = [s.at - t0 for s in f.samples[1:]]
    rate = [
        (b.applied - a.applied) / max(b.at - a.at, 1e-6)
        for a, b in zip(f.samples, f.samples[1:], strict=False)
    ]
    right.plot(xs, rate, label="events applied/s")
    got = sorted(float(r["at"]) - t0 for r in f.received)
    if got:
        buckets = [0] * (int(max(got)) + 1)
        for g in got:
            buckets[int(g)] += 1
        right.plot(range(len(buckets)), buckets, label="messages received/s")
    right.set_xlabel("seconds")
    right.set_title("throughput over the run")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
