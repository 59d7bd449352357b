"""`trellis simulate --from-topic` reads the same history the orchestrator consumed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from console.cli import app
from schemas.topics import ENGAGEMENT, HAND_RAISE_TYPES, HANDRAISES
from tests.probes import produce
from trellis.broker import EmbeddedBroker
from trellis.demo_world import build_world
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings


def test_the_topic_gives_the_same_report_as_the_file_and_poison_is_counted_not_fatal(
    isolated_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    world = build_world(15, seed=11, start=datetime(2026, 6, 1, tzinfo=UTC))
    history = tmp_path / "history.jsonl"
    history.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in world))
    env = {
        "TRELLIS_KAFKA_BOOTSTRAP": isolated_broker.bootstrap,
        "TRELLIS_KAFKA_IDEMPOTENCE": "false",
    }

    async def fill() -> None:
        await ensure_topics(TrellisSettings(**{k.lower()[8:]: v for k, v in env.items()}))
        items = [(str(e["account"]).encode(), orjson.dumps(e)) for e in world]
        raised = [
            item for item, e in zip(items, world, strict=True) if e["type"] in HAND_RAISE_TYPES
        ]
        assert raised, "the world has hand-raises: the test reads both topics"
        rest = [item for item in items if item not in raised]
        await produce(isolated_broker.bootstrap, ENGAGEMENT, [*rest, (b"x", b"{not json")])
        await produce(isolated_broker.bootstrap, HANDRAISES, raised)  # where ingest puts them

    asyncio.run(fill())
    runner = CliRunner()
    from_file = runner.invoke(app, ["simulate", "--events", str(history), "--format", "json"])
    from_topic = runner.invoke(app, ["simulate", "--from-topic", "--format", "json"], env=env)
    assert from_file.exit_code == 0, from_file.output
    assert from_topic.exit_code == 0, from_topic.output
    assert "skipped 1 invalid message(s) on the topic" in from_topic.output

    def report(out: str) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(out[out.index("{") :])
        return parsed

    assert report(from_topic.stdout) == report(from_file.stdout)
    assert report(from_topic.stdout)["current"]["events"] == len(world)
