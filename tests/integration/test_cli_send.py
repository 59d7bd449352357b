"""``trellis send TYPE --email E`` as the README writes it: the type as an argument, the URL from
``TRELLIS_INGEST_PORT`` and the key from the dev key file when none is given."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from typer.testing import CliRunner

from console.cli import app
from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, arrived, running_ingest
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind


async def test_send_takes_the_type_as_an_argument_and_ingest_port_and_dev_key_from_the_setup(
    settings: TrellisSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})
    sdk = await add_source(ingest, "cli-positional", SourceKind.SDK)
    (tmp_path / "dev-write-key").write_text(sdk.credential + "\n")
    runner = CliRunner()
    async with running_ingest(ingest) as url:
        port = str(urlsplit(url).port)
        env = {"TRELLIS_INGEST_PORT": port, "TRELLIS_DATA_DIR": str(tmp_path)}
        monkeypatch.delenv("TRELLIS_WRITE_KEY", raising=False)
        by_argument = await asyncio.to_thread(
            runner.invoke, app, ["send", "demo_requested", "--email", "ana@acme.example"], env=env
        )
        by_option = await asyncio.to_thread(
            runner.invoke,
            app,
            ["send", "--type", "page_viewed", "--email", "b@acme.example", "-p", "path=/pricing"],
            env=env,
        )
    assert by_argument.exit_code == 0, by_argument.output
    assert by_option.exit_code == 0, by_option.output
    ids = [orjson.loads(r.output.partition(" ")[2])["ids"][0] for r in (by_argument, by_option)]
    events = await arrived(settings.kafka_bootstrap, ids)
    assert events[ids[0]]["type"] == "demo_requested"
    assert events[ids[0]]["contact"]["email"] == "ana@acme.example"
    assert events[ids[1]]["type"] == "page_viewed"


def test_send_refuses_two_different_types_and_none(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"TRELLIS_DATA_DIR": str(tmp_path), "TRELLIS_WRITE_KEY": "k"}
    both = runner.invoke(app, ["send", "page_viewed", "--type", "demo_requested"], env=env)
    neither = runner.invoke(app, ["send", "--email", "a@b.example"], env=env)
    assert both.exit_code == 2 and "page_viewed" in both.output
    assert neither.exit_code == 2 and "TYPE" in neither.output


def test_send_without_a_key_or_a_dev_key_file_says_what_to_pass(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["send", "page_viewed"],
        env={"TRELLIS_DATA_DIR": str(tmp_path), "TRELLIS_WRITE_KEY": ""},
    )
    assert result.exit_code == 2 and "--write-key" in result.output
