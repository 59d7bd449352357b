"""``trellis import FILE`` as the README writes it, against the real broker: the valid lines land
on ``trellis.engagement.v1`` in occurred_at order, keyed as ingest keys them and marked
``trellis-historical: 1``; the invalid ones are named by line number and counted."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from console.cli import app
from schemas.topics import ENGAGEMENT
from tests.probes import read_topic
from trellis.kafka import make_producer
from trellis.settings import TrellisSettings


def _event(tag: str, n: int, day: int) -> bytes:
    return orjson.dumps({
        "id": f"imp-{tag}-{n}", "type": "page_viewed", "source": "crm-export",
        "time": f"2024-06-{day:02d}T09:00:00Z", "contact": {"email": f"ana@{tag}.example"},
        "account": {"external_id": f"acme-{tag}"}, "properties": {"path": "/pricing"},
    })  # fmt: skip


async def test_import_publishes_history_in_order_marked_and_names_the_bad_lines(
    settings: TrellisSettings, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join([_event(tag, 1, 20), b'{"type": "nope"}', _event(tag, 2, 3)]))
    env = {
        "TRELLIS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "TRELLIS_KAFKA_IDEMPOTENCE": "false",
        "TRELLIS_DATA_DIR": str(tmp_path),
    }
    result = await asyncio.to_thread(CliRunner().invoke, app, ["import", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "line 2: skipped" in result.output
    assert "imported 2 events as history" in result.output
    assert "skipped 1 invalid lines" in result.output

    def mine(records: list[Any]) -> list[Any]:
        return [r for r in records if f"-{tag}-".encode() in (r.value or b"")]

    records = mine(
        await read_topic(settings.kafka_bootstrap, ENGAGEMENT, lambda r: len(mine(r)) == 2)
    )
    assert [orjson.loads(r.value)["id"] for r in records] == [f"imp-{tag}-2", f"imp-{tag}-1"]
    assert {r.key for r in records} == {f"a:acme-{tag}".encode()}
    assert all(("trellis-historical", b"1") in r.headers for r in records)


async def test_import_reads_history_from_another_topic(settings: TrellisSettings) -> None:
    tag = uuid.uuid4().hex[:8]
    source = f"warehouse-export-{tag}"
    producer = make_producer(settings)
    await producer.start()
    try:
        for n, day in ((1, 9), (2, 8)):
            await producer.send_and_wait(source, _event(tag, n, day))
    finally:
        await producer.stop()
    env = {
        "TRELLIS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "TRELLIS_KAFKA_IDEMPOTENCE": "false",
    }
    args = ["import", "--from-topic", source]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "imported 2 events as history" in result.output


def test_import_wants_a_file_or_a_topic() -> None:
    neither = CliRunner().invoke(app, ["import"])
    wrong = CliRunner().invoke(app, ["import", "--from-topic", ENGAGEMENT])
    assert neither.exit_code == 2 and "FILE" in neither.output
    assert wrong.exit_code == 2 and "where history goes" in wrong.output
