"""Every operation in ingest's OpenAPI, driven with generated requests: never a 5xx.

A schemathesis-style run without schemathesis (not a dependency here): the operations come from
the app's own OpenAPI document, so a new route is fuzzed without editing this test. Each request
mixes valid and hostile parts: a valid or random write key, JSON (mutations of a valid body for
the route) or random bytes or a form, any content type and encoding, random query and path
values, signature headers. tests/integration/test_ingest_fuzz.py goes deeper on the bodies of
``/v1/events`` and ``/v1/batch``.

Skipped: the orchestrator's ops API (tested by its own authors).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import uuid
from collections import Counter
from typing import Any

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, basic, running_ingest, sample_event
from trellis.settings import TrellisSettings
from trellis.sources import Auth, SourceKind

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
EXAMPLES: dict[str, Any] = {
    "/v1/events": sample_event(),
    "/v1/webhooks/{source_id}": sample_event(),
    "/v1/batch": {"batch": [{"type": "track", "event": "Demo Requested", "userId": "u-1"}]},
    "/v1/identify": {"userId": "u-1", "traits": {"email": "a@b.example"}},
    "/v1/track": {"userId": "u-1", "event": "Page Viewed"},
    "/v1/group": {"userId": "u-1", "groupId": "g-1"},
    "/v1/page": {"userId": "u-1", "name": "Pricing"},
    "/v1/cloudevents": {
        "specversion": "1.0",
        "id": "ce-1",
        "source": "/crm",
        "type": "com.example.demo_requested",
        "data": {"contact": {"email": "a@b.example"}},
    },
    "/v1/email/status": {"contact_id": "ct-1", "status": "bounced", "provider_id": "p-1"},
}
_HEADER_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)  # h11 refuses others
CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
    "text/plain",
    "",
]


def _operations() -> list[tuple[str, str]]:
    spec = create_app(IngestSettings()).openapi()
    return sorted((path, method) for path, ops in spec["paths"].items() for method in ops)


def _mutated(example: Any) -> st.SearchStrategy[Any]:
    if not isinstance(example, dict):
        return json_values
    return st.dictionaries(st.sampled_from(sorted(example)), json_values, max_size=3).map(
        lambda patch: {**example, **patch}
    )


def _body(path: str) -> st.SearchStrategy[tuple[bytes, dict[str, str]]]:
    example = EXAMPLES.get(path)
    as_json = (st.just(example) | json_values | _mutated(example)).map(
        lambda value: json.dumps(value).encode()
    )
    form = st.dictionaries(
        st.sampled_from(["From", "To", "Body", "MessageStatus", "token", "List-Unsubscribe"]),
        st.text(max_size=20),
    ).map(lambda f: httpx.QueryParams(f).__str__().encode())
    raw = st.binary(max_size=64)
    # about half of each part valid, so requests also get through to the pipeline
    encodings = st.just("") | st.sampled_from(["", "gzip", "gzip-bad", "br"])
    encoded = st.tuples(as_json | (form | raw), encodings)

    def headers(item: tuple[bytes, str], content_type: str) -> tuple[bytes, dict[str, str]]:
        content, encoding = item
        out = {"content-type": content_type} if content_type else {}
        if encoding == "gzip":
            content = gzip.compress(content)
        if encoding:
            out["content-encoding"] = "gzip" if encoding == "gzip-bad" else encoding
        return content, out

    content_types = st.just(CONTENT_TYPES[0]) | st.sampled_from(CONTENT_TYPES)
    return st.builds(headers, encoded, content_types)


def _ingest(settings: TrellisSettings) -> IngestSettings:
    return IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})


async def test_no_operation_answers_5xx_to_generated_requests(settings: TrellisSettings) -> None:
    ingest = _ingest(settings)
    sdk = await add_source(ingest, f"fz-{uuid.uuid4().hex[:6]}", SourceKind.SDK)
    hook = await add_source(
        ingest, f"fz-{uuid.uuid4().hex[:6]}", SourceKind.SERVER, auth=Auth.WEBHOOK
    )
    # delivery callbacks need a provider's key, everything else an SDK's
    provider = await add_source(ingest, f"fz-{uuid.uuid4().hex[:6]}", SourceKind.PROVIDER)
    valid_keys = {"/v1/email/status": basic(provider.credential)}
    wrong = st.sampled_from(
        [
            basic("wk_nope"),
            {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:").decode()},
            {"Authorization": "Bearer x"},
            {},
        ]
    )
    signature = st.fixed_dictionaries(
        {
            "webhook-id": st.text(_HEADER_CHARS, max_size=10),
            "webhook-timestamp": st.sampled_from(["", "0", "99999999999999999999", "x"]),
            "webhook-signature": st.sampled_from(["", "v1,", "v1,AAAA", "v1,!!", "x y z"]),
            "X-Twilio-Signature": st.text(_HEADER_CHARS, max_size=10),
            "ce-specversion": st.sampled_from(["", "1.0"]),
        }
    )
    path_values = st.sampled_from([hook.source.id, sdk.source.id, "nope"]) | st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
        min_size=1,
        max_size=8,
    )
    problems: list[str] = []
    answered: Counter[tuple[str, int]] = Counter()

    async with running_ingest(ingest) as url:

        def fuzz(http: httpx.Client, path: str, method: str) -> None:
            @hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
            @given(
                body=_body(path),
                auth=st.just(valid_keys.get(path, basic(sdk.credential))) | wrong,
                sig=signature,
                token=st.none() | st.text(max_size=40),  # no valid one: see test_tokens_*
                value=path_values,
            )
            def one(
                body: tuple[bytes, dict[str, str]],
                auth: dict[str, str],
                sig: dict[str, str],
                token: str | None,
                value: str,
            ) -> None:
                content, headers = body
                target = path.replace("{source_id}", value)
                response = http.request(
                    method.upper(),
                    target,
                    content=None if method == "get" else content,
                    headers={**headers, **auth, **sig},
                    params={} if token is None else {"token": token},
                )
                answered[(path, response.status_code // 100)] += 1
                # 503 is the broker-unavailable answer (Retry-After), not a server error
                if response.status_code >= 500 and response.status_code != 503:
                    problems.append(f"{method} {target}: {response.status_code}")
                    raise AssertionError((method, target, response.text[:300]))

            one()

        def check() -> None:
            with httpx.Client(base_url=url, timeout=30) as http:
                for path, method in _operations():
                    fuzz(http, path, method)

        await asyncio.to_thread(check)
    assert not problems
    # not trivially green: generated requests got through to the pipeline on the main routes
    reached = {path for (path, family), _ in answered.items() if family == 2}
    assert {"/v1/events", "/v1/batch", "/v1/email/status", "/healthz"} <= reached, answered
