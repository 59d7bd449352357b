"""Provider callbacks against a real server and broker: one-click unsubscribe (RFC 8058),
Twilio-style inbound SMS keywords and delivery status, a JSON email bounce callback."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from schemas.topics import OUTCOMES
from services.ingest.callback_tokens import status_callback_url
from services.ingest.settings import IngestSettings
from services.ingest.twilio import twilio_signature
from services.notifier.unsubscribe import UnsubscribeSigner
from tests.integration.ingest_server import add_source, basic, running_ingest
from tests.probes import read_topic
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind

SECRET = "test-unsubscribe-secret"
TOKEN = "test-auth-token"


def _ingest(settings: TrellisSettings) -> IngestSettings:
    return IngestSettings(
        **{
            **settings.model_dump(),
            "kafka_idempotence": False,
            "unsubscribe_secret": SECRET,
            "sms_auth_token": TOKEN,
        }
    )


async def _outcomes(bootstrap: str, ids: set[str]) -> list[dict[str, Any]]:
    def parsed(records: list[Any]) -> list[dict[str, Any]]:
        out = []
        for r in records:  # the shared topic also holds other tests' poison messages
            with contextlib.suppress(orjson.JSONDecodeError, TypeError, KeyError):
                out.append({**orjson.loads(r.value), "_key": r.key.decode()})
        return [o for o in out if o.get("id") in ids]

    records = await read_topic(bootstrap, OUTCOMES, lambda rs: len(parsed(rs)) >= len(ids))
    return parsed(records)


def _signed_form(url: str, form: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio_signature(TOKEN, url, form.items())}


async def test_one_click_unsubscribe_publishes_one_outcome_and_get_only_shows_a_page(
    settings: TrellisSettings,
) -> None:
    contact = f"ct-{uuid.uuid4().hex}"
    signer = UnsubscribeSigner(SECRET.encode(), "/v1/unsubscribe")
    now = datetime.now(UTC)
    link = signer.url(contact, now)
    expired = signer.url(contact, now - timedelta(days=61))
    forged = UnsubscribeSigner(b"someone-else", "/v1/unsubscribe").url(contact, now)
    prefetched = f"ct-{uuid.uuid4().hex}"  # a mail scanner GETs this link; nobody clicks
    async with running_ingest(_ingest(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        scanner = await http.get(signer.url(prefetched, now))
        page = await http.get(link)
        one_click = await http.post(link, data={"List-Unsubscribe": "One-Click"})
        again = await http.post(link, files={"List-Unsubscribe": (None, "One-Click")})
        bad = [
            await http.post(u, data={"List-Unsubscribe": "One-Click"}) for u in (expired, forged)
        ]
        missing = await http.post("/v1/unsubscribe", data={"List-Unsubscribe": "One-Click"})
        bad_page = await http.get(forged)
    assert scanner.status_code == page.status_code == 200 and "method='post'" in page.text
    assert "One-Click" in page.text
    assert [one_click.status_code, again.status_code] == [200, 200]  # idempotent, no redirect
    assert [r.status_code for r in bad] == [400, 403]
    assert "expired" in bad[0].json()["detail"] and "not valid" in bad[1].json()["detail"]
    assert missing.status_code == 400 and bad_page.status_code == 403
    records = await read_topic(
        settings.kafka_bootstrap, OUTCOMES, lambda rs: any(contact.encode() in r.value for r in rs)
    )
    mine = [orjson.loads(r.value) for r in records if contact.encode() in r.value]
    assert not any(prefetched.encode() in r.value for r in records)  # GET never unsubscribes
    assert {o["status"] for o in mine} == {"unsubscribed"}
    assert len({o["id"] for o in mine}) == 1  # the repeat carries the same dedup id
    assert mine[0]["channel"] == "email" and mine[0]["contact_id"] == contact


async def test_sms_stop_start_help_keywords_with_twilio_signature(
    settings: TrellisSettings,
) -> None:
    phone = f"+1555{uuid.uuid4().int % 10**7:07d}"
    sids = {k: f"SM{uuid.uuid4().hex}" for k in ("stop", "start", "help", "forged")}

    def form(kind: str, body: str, **extra: str) -> dict[str, str]:
        return {
            "From": phone,
            "To": "+15550000000",
            "Body": body,
            "MessageSid": sids[kind],
            **extra,
        }

    async with running_ingest(_ingest(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        target = f"{url}/v1/sms/inbound"

        async def send(data: dict[str, str]) -> httpx.Response:
            return await http.post("/v1/sms/inbound", data=data, headers=_signed_form(target, data))

        stop = await send(form("stop", "Stop please", OptOutType="STOP"))
        start = await send(form("start", "start"))
        help_ = await send(form("help", "HELP"))
        tampered = form("forged", "STOP")
        forged = await http.post(
            "/v1/sms/inbound", data=tampered, headers=_signed_form(target, {**tampered, "To": "x"})
        )
        unsigned = await http.post("/v1/sms/inbound", data=tampered)
    assert [stop.status_code, start.status_code, help_.status_code] == [200, 200, 200]
    assert "<Message>" in help_.text and "<Response>" in stop.text
    assert [forged.status_code, unsigned.status_code] == [401, 401]
    ids = {f"sms-inbound:{sids[k]}": k for k in ("stop", "start")}
    found = await _outcomes(settings.kafka_bootstrap, set(ids))
    by_kind = {ids[o["id"]]: o for o in found}
    # keyed by the phone: the orchestrator applies it to every contact with that number
    for kind in ("stop", "start"):
        o = by_kind[kind]
        assert (o["status"], o["channel"], o["contact_id"], o["_key"]) == (
            kind,
            "sms",
            phone,
            phone,
        )
        assert f"keyword={kind.upper()}" in o["detail"]


async def test_sms_delivery_status_carries_the_signed_contact_and_touch(
    settings: TrellisSettings,
) -> None:
    contact, touch = f"ct-{uuid.uuid4().hex}", f"t-{uuid.uuid4().hex}"
    sids = [f"SM{uuid.uuid4().hex}" for _ in range(4)]
    async with running_ingest(_ingest(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        callback = status_callback_url(
            f"{url}/v1/sms/status", SECRET.encode(), contact, touch, datetime.now(UTC)
        )

        async def report(sid: str, status: str, code: str | None = None) -> httpx.Response:
            data = {"MessageSid": sid, "MessageStatus": status, "To": "+15551234567"}
            if code:
                data["ErrorCode"] = code
            return await http.post(callback, data=data, headers=_signed_form(callback, data))

        results = [
            await report(sids[0], "delivered"),
            await report(sids[1], "undelivered", "30003"),
            await report(sids[2], "failed", "21610"),
            await report(sids[3], "queued"),
        ]
        data = {"MessageSid": sids[0], "MessageStatus": "delivered"}
        no_token = await http.post(
            "/v1/sms/status", data=data, headers=_signed_form(f"{url}/v1/sms/status", data)
        )
    assert [r.status_code for r in results] == [204] * 4
    assert no_token.status_code == 400
    ids = {
        f"sms-status:{sids[0]}:delivered",
        f"sms-status:{sids[1]}:undelivered",
        f"sms-status:{sids[2]}:failed",
    }
    got = {o["id"]: o for o in await _outcomes(settings.kafka_bootstrap, ids)}
    assert got[f"sms-status:{sids[0]}:delivered"]["status"] == "delivered"
    assert got[f"sms-status:{sids[1]}:undelivered"]["status"] == "failed"
    assert got[f"sms-status:{sids[2]}:failed"]["status"] == "stop"  # 21610: the recipient opted out
    assert {(o["contact_id"], o["touch_id"]) for o in got.values()} == {(contact, touch)}
    assert "ErrorCode=30003" in got[f"sms-status:{sids[1]}:undelivered"]["detail"]


async def test_email_bounce_callback_needs_a_provider_key_and_becomes_an_outcome(
    settings: TrellisSettings,
) -> None:
    ingest = _ingest(settings)
    sdk = await add_source(ingest, "mail-relay", SourceKind.PROVIDER)
    body = {
        "id": f"bounce-{uuid.uuid4().hex}",
        "contact_id": "ct-1",
        "touch_id": "t-1",
        "status": "bounced",
        "detail": "550 5.1.1 user unknown",
    }
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        ok = await http.post("/v1/email/status", json=body, headers=basic(sdk.credential))
        anonymous = await http.post("/v1/email/status", json=body)
        invalid = await http.post(
            "/v1/email/status", json={**body, "status": "lost"}, headers=basic(sdk.credential)
        )
    assert ok.status_code == 202, ok.text
    assert [anonymous.status_code, invalid.status_code] == [401, 422]
    assert invalid.json()["detail"][0]["loc"] == ["body", "status"]
    (outcome,) = await _outcomes(settings.kafka_bootstrap, {body["id"]})
    assert (outcome["status"], outcome["channel"], outcome["touch_id"]) == (
        "bounced",
        "email",
        "t-1",
    )
