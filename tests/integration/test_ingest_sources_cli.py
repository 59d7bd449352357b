"""``trellis sources`` manages credentials that the running service then honours."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from typer.testing import CliRunner

from console.cli import app
from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import basic, running_ingest, sample_event
from trellis.settings import TrellisSettings


async def _cli(monkeypatch: pytest.MonkeyPatch, settings: TrellisSettings, *args: str) -> str:
    monkeypatch.setenv("TRELLIS_DATABASE_URL", settings.database_url)
    # The CLI runs its own event loop, as it does from a shell: give it a thread.
    result = await asyncio.to_thread(CliRunner().invoke, app, ["sources", *args])
    assert result.exit_code == 0, result.output
    return result.output


async def test_sources_add_list_rotate_disable_drive_what_ingest_accepts(
    settings: TrellisSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = await _cli(monkeypatch, settings, "add", "segment-prod", "--rate-limit", "50")
    key = re.search(r"(wk_\S+)", added)
    assert key is not None
    listed = await _cli(monkeypatch, settings, "list")
    assert "segment-prod\tsdk\twrite_key\tactive\t50/s" in listed and key.group(1) not in listed
    hook = await _cli(monkeypatch, settings, "add", "marketo", "--kind", "server", "--signed")
    assert re.search(r"whsec_\S+", hook) and "/v1/webhooks/src_" in hook

    ingest = IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        before = await http.post("/v1/events", json=sample_event(), headers=basic(key.group(1)))
        rotated = re.search(
            r"(wk_\S+)", await _cli(monkeypatch, settings, "rotate", "segment-prod")
        )
        assert rotated is not None
        old = await http.post("/v1/events", json=sample_event(), headers=basic(key.group(1)))
        new = await http.post("/v1/events", json=sample_event(), headers=basic(rotated.group(1)))
        await _cli(monkeypatch, settings, "disable", "segment-prod")
        off = await http.post("/v1/events", json=sample_event(), headers=basic(rotated.group(1)))
    assert [r.status_code for r in (before, old, new, off)] == [202, 401, 202, 403]


async def test_a_sources_kind_decides_what_it_may_send_and_can_be_changed(
    settings: TrellisSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = await _cli(monkeypatch, settings, "add", "hubspot-sync")
    key = re.search(r"(wk_\S+)", added)
    assert key is not None
    deal = sample_event("deal_created", properties={"deal_id": "d-1"})
    ingest = IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        as_sdk = await http.post("/v1/events", json=deal, headers=basic(key.group(1)))
        changed = await _cli(monkeypatch, settings, "kind", "hubspot-sync", "crm")
        as_crm = await http.post("/v1/events", json=deal, headers=basic(key.group(1)))
        page = await http.post("/v1/events", json=sample_event(), headers=basic(key.group(1)))
    assert as_sdk.status_code == 403
    assert as_sdk.json()["event_type"] == "deal_created"
    assert as_sdk.json()["allowed_kinds"] == ["crm"]
    assert "hubspot-sync\tcrm\twrite_key" in changed
    assert as_crm.status_code == 202, as_crm.text
    assert page.status_code == 403 and set(page.json()["allowed_kinds"]) == {"sdk", "server"}


def test_an_sdk_source_cannot_be_a_signed_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["sources", "add", "site", "--kind", "sdk", "--signed"])
    assert result.exit_code != 0


def test_the_help_prints_who_may_send_which_event_type() -> None:
    result = CliRunner().invoke(app, ["sources", "add", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "consent: consent_given, consent_withdrawn" in result.output
    assert "crm_owner_changed" in result.output
