"""`trellis demo` sends its world through ingest like any producer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from typer.testing import CliRunner

from console.cli import app
from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, arrived, running_ingest
from trellis.demo import shifted_world, stream
from trellis.producers import DEV_KINDS
from trellis.settings import TrellisSettings


async def test_the_demo_world_is_accepted_by_ingest_and_lands_on_the_topic(
    settings: TrellisSettings,
) -> None:
    ingest = IngestSettings(**settings.model_dump())
    keys = {
        kind: (await add_source(ingest, f"demo-{uuid.uuid4().hex[:6]}", kind)).credential
        for kind in DEV_KINDS
    }
    now = datetime.now(UTC)
    world = shifted_world(6, seed=uuid.uuid4().int % 1000, span_days=30, now=now)
    tag = uuid.uuid4().hex[:8]
    for e in world:
        e["id"] = f"{tag}-{e['id']}"
    async with running_ingest(ingest) as url:
        sent = await stream(url, keys, world)
    assert sent == len(world)
    got = await arrived(ingest.bootstrap_servers, [e["id"] for e in world])
    assert len(got) == len(world)
    times = [datetime.fromisoformat(e["time"]) for e in world]
    assert now - timedelta(days=30) <= min(times) and max(times) <= now


def test_demo_can_write_its_world_to_a_file_for_simulate(tmp_path: Path) -> None:
    out = tmp_path / "world.jsonl"
    result = CliRunner().invoke(app, ["demo", "--accounts", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_bytes().splitlines()
    assert len(lines) > 5 and all(orjson.loads(line)["source"] == "trellis-demo" for line in lines)
