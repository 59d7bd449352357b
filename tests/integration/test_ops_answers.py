"""Every JSON answer of the ops API, on state made by the real handler and scheduler: the same
JSON the routes wrote before they had response models (``queries`` encoded by FastAPI), and
valid against the response schema its OpenAPI names (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from fastapi.encoders import jsonable_encoder

from services.orchestrator.ops import queries
from tests.integration import test_ops_api as seeded
from tests.integration.test_ops_api import REP1, Api, _reminder_of

api = seeded.api  # the ops API served on state seeded by the real handler and scheduler


def _validator(spec: dict[str, Any], path: str, method: str = "get") -> jsonschema_rs.Validator:
    op = spec["paths"][path][method]
    (status,) = [s for s in op["responses"] if s.startswith("2")]
    schema = op["responses"][status]["content"]["application/json"]["schema"]
    return jsonschema_rs.validator_for({**schema, "components": spec["components"]})


async def test_every_answer_is_what_the_queries_say_and_fits_its_schema(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    ana = await api.contact_id("ana")
    reminder = await _reminder_of(api, REP1)
    account = reminder["account_id"]
    now, bases = api.clock(), api.settings.load_nurture().legal_basis
    roles = tuple(api.settings.load_playbook().accounts.committee_roles)
    async with api.engine.connect() as conn:
        expected: dict[str, tuple[str, Any]] = {
            "/v1/contacts": ("/v1/contacts", await queries.list_contacts(conn, limit=50)),
            f"/v1/contacts/{ana}": (
                "/v1/contacts/{contact_id}",
                await queries.get_contact(conn, ana, now=now, bases=bases),
            ),
            f"/v1/contacts/{ana}/timeline": (
                "/v1/contacts/{contact_id}/timeline",
                {"contact_id": ana, "items": await queries.contact_timeline(conn, ana)},
            ),
            f"/v1/contacts/{ana}/why": (
                "/v1/contacts/{contact_id}/why",
                await queries.why(conn, ana, now=now, bases=bases),
            ),
            f"/v1/contacts/{ana}/consent": (
                "/v1/contacts/{contact_id}/consent",
                await queries.consent_state(conn, ana, now=now, bases=bases),
            ),
            "/v1/accounts": ("/v1/accounts", await queries.list_accounts(conn)),
            f"/v1/accounts/{account}": (
                "/v1/accounts/{account_id}",
                await queries.get_account(conn, account, roles),
            ),
            "/v1/touches": ("/v1/touches", await queries.list_touches(conn)),
            "/v1/reminders": ("/v1/reminders", await queries.list_reminders(conn)),
            f"/v1/reminders/{reminder['id']}": (
                "/v1/reminders/{reminder_id}",
                await queries.get_reminder(conn, reminder["id"]),
            ),
            "/v1/decisions": ("/v1/decisions", await queries.list_decisions(conn)),
        }
    for url, (path, plain) in expected.items():
        answer = await api.get(url)
        assert answer.status_code == 200, (url, answer.text)
        assert answer.json() == jsonable_encoder(plain), url
        errors = [str(e) for e in _validator(spec, path).iter_errors(answer.json())]
        assert errors == [], (url, errors)
    page = (await api.get("/v1/touches")).json()
    assert page["items"] and all("+00:00" in t["due_at"] for t in page["items"])


async def test_actions_and_sources_fit_their_schemas(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    reminder = await _reminder_of(api, REP1)
    acked = await api.post(f"/v1/reminders/{reminder['id']}/acknowledge", "rep1")
    added = await api.post(
        "/v1/sources", json={"name": f"hook-{api.tag}", "kind": "server", "signed": True}
    )
    listed = await api.get("/v1/sources")
    funnel = await api.get("/v1/funnel")
    for answer, path, method in (
        (acked, "/v1/reminders/{reminder_id}/{action}", "post"),
        (added, "/v1/sources", "post"),
        (listed, "/v1/sources", "get"),
        (funnel, "/v1/funnel", "get"),
    ):
        assert answer.is_success, answer.text
        errors = [str(e) for e in _validator(spec, path, method).iter_errors(answer.json())]
        assert errors == [], (path, errors)
    assert acked.json()["status"] == "acknowledged"
    assert set(added.json()) == {"source", "webhook_secret", "shown_once"}  # no write_key: null
    assert "active_secrets" in added.json()["source"]
    assert all("active_secrets" not in s for s in listed.json() if s["auth"] == "write_key")
