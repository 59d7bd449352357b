"""The ops API's lookups (issue 17, item 4): keyed as identity resolution keys contacts and
accounts, and documented in the OpenAPI with their bounds."""

from __future__ import annotations

import pytest

from services.orchestrator.ops.app import create_ops_app
from services.orchestrator.ops.lookups import contact_aliases, domain_key
from services.orchestrator.settings import OrchestratorSettings
from trellis.db import create_engine


@pytest.mark.parametrize(
    ("email", "external_id", "aliases"),
    [
        ("Ana@Acme.example", None, ["email:ana@acme.example"]),
        (" ana@acme.example ", None, ["email:ana@acme.example"]),
        (None, "CRM-1", ["ext:CRM-1"]),
        ("a@b.example", "u1", ["ext:u1", "email:a@b.example"]),
        (None, None, []),
    ],
)
def test_a_contact_is_looked_up_by_the_aliases_resolution_gave_it(
    email: str | None, external_id: str | None, aliases: list[str]
) -> None:
    assert contact_aliases(email, external_id) == aliases


@pytest.mark.parametrize(
    ("typed", "key"),
    [("Acme.example", "acme.example"), ("www.acme.example", "acme.example"),
     (" WWW.Acme.Example ", "acme.example"), ("www.", ""),
     ("shop.acme.example", "shop.acme.example")],
)  # fmt: skip
def test_a_domain_is_looked_up_as_accounts_store_it(typed: str, key: str) -> None:
    assert domain_key(typed) == key


def test_the_ops_api_documents_the_lookups_with_their_bounds() -> None:
    spec = create_ops_app(create_engine("sqlite+aiosqlite:///:memory:"), OrchestratorSettings())
    paths = spec.openapi()["paths"]
    for path, wanted in (("/v1/contacts", {"email": 320, "external_id": 200}),
                         ("/v1/accounts", {"domain": 253, "external_id": 200})):  # fmt: skip
        params = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        for name, longest in wanted.items():
            schema = params[name]["schema"]["anyOf"][0]
            assert (schema["type"], schema["maxLength"]) == ("string", longest), (path, name)
