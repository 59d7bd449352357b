"""The protocols' own examples, as their authors wrote them, and the answers their docs give,
through the running ingest and the real broker (signature test vectors without HTTP:
tests/unit/test_peer_signature_examples.py).

Sources and licences (each example below is copied from one of them; ``messageId``/``id`` values
are made unique per run where the shared broker must tell this run's records apart):
- Segment: the HTTP Tracking API page and the Spec pages (identify, page, group, Email, B2B SaaS),
  https://github.com/segmentio/segment-docs (src/connections/sources/catalog/libraries/server/
  http-api/index.md, src/connections/spec/*.md), licence CC BY 4.0 (its license.md).
- Twilio: twilio-python's request-validator tests (token, form and default-port rule),
  https://github.com/twilio/twilio-python/blob/main/tests/unit/test_request_validator.py,
  licence MIT.
- CloudEvents: the conformance suite's JSON format cases, https://github.com/cloudevents/
  conformance/tree/c5bcce28fa078aeef41e5b1998a7c01270d62d35/format/json (valid-batches.json,
  invalid-events.json), licence Apache-2.0.
"""

from __future__ import annotations

import uuid

import httpx

from services.ingest.settings import IngestSettings
from services.ingest.twilio import twilio_signature
from tests.integration.ingest_server import add_source, arrived, basic, running_ingest
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind

# --- Segment ------------------------------------------------------------------------------------

HTTP_API = {  # the HTTP Tracking API page: one example per route
    "identify": {"userId": "019mr8mf4r", "traits": {"email": "pgibbons@example.com",
                 "name": "Peter Gibbons", "industry": "Technology"},
                 "context": {"ip": "24.5.68.47"}, "timestamp": "2012-12-02T00:30:08.276Z",
                 "writeKey": "YOUR_WRITE_KEY"},
    "track": {"userId": "019mr8mf4r", "event": "Item Purchased",
              "properties": {"name": "Leap to Conclusions Mat", "revenue": 14.99},
              "context": {"ip": "24.5.68.47"}, "timestamp": "2012-12-02T00:30:12.984Z",
              "writeKey": "YOUR_WRITE_KEY"},
    "page": {"userId": "019mr8mf4r", "name": "Tracking HTTP API",
             "timestamp": "2012-12-02T00:31:29.738Z", "writeKey": "YOUR_WRITE_KEY"},
    "screen": {"userId": "019mr8mf4r", "name": "Tracking HTTP API",
               "timestamp": "2012-12-02T00:31:29.738Z", "writeKey": "YOUR_WRITE_KEY"},
    "group": {"userId": "019mr8mf4r", "groupId": "8e9df332ac",
              "traits": {"name": "Initech", "industry": "Technology", "employees": 420},
              "timestamp": "2012-12-02T00:31:38.208Z", "writeKey": "YOUR_WRITE_KEY"},
}  # fmt: skip
_BROWSER = {
    "anonymousId": "507f191e810c19729de860ea", "channel": "browser",
    "context": {"ip": "8.8.8.8", "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_5) "
                "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/40.0.2214.115 Safari/537.36"},
    "integrations": {"All": True, "Mixpanel": False, "Salesforce": False},
    "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db", "receivedAt": "2015-02-23T22:28:55.387Z",
    "sentAt": "2015-02-23T22:28:55.111Z", "timestamp": "2015-02-23T22:28:55.111Z",
    "userId": "97980cfea0067", "version": "1.1",
}  # fmt: skip
SPEC = {  # the Spec pages' complete examples, posted to the route of their call
    "page": {**_BROWSER, "type": "page", "name": "Home",
             "properties": {"title": "Welcome | Initech", "url": "http://www.example.com"}},
    "group": {**_BROWSER, "type": "group", "groupId": "0e8c78ea9d97a7b8185e8632",
              "traits": {"name": "Initech", "industry": "Technology", "employees": 329,
                         "plan": "enterprise", "total billed": 830}},
    "identify": {**_BROWSER, "type": "identify", "integrations": {
                 "All": False, "Mixpanel": True, "Salesforce": True},
                 "traits": {"name": "Peter Gibbons", "email": "peter@example.com",
                            "plan": "premium", "logins": 5,
                            "address": {"street": "6th St", "city": "San Francisco",
                                        "state": "CA", "postalCode": "94103", "country": "USA"}}},
    "email-link-clicked": {"user_id": "019mr8mf4r", "action": "track",
                           "event": "Email Link Clicked",
                           "context": {"ip": "67.207.109.102",
                                       "traits": {"email": "joanna@chotchkies.com"}},
                           "properties": {"email_id": "18vzF7u3z",
                                          "email_subject": "First shirt on us!",
                                          "campaign_id": "123",
                                          "campaign_name": "New Customer Discount",
                                          "link_id": "101", "link_url":
                                          "https://www.buymyshirts.com?promo=NEWCUSTOMER"}},
    "account-created": {"userId": "019mr8mf4r", "type": "track", "event": "Account Created",
                        "properties": {"account_name": "Initech"},
                        "context": {"groupId": "acct_123"}},
    "trial-started": {"userId": "019mr8mf4r", "type": "track", "event": "Trial Started",
                      "properties": {"trial_start_date": "2018-08-28T04:09:47Z",
                                     "trial_end_date": "2018-09-20T04:09:47Z",
                                     "trial_plan_name": "Business"},
                      "context": {"groupId": "acct_123"}},
}  # fmt: skip
SPEC_ROUTE = {"email-link-clicked": "track", "account-created": "track", "trial-started": "track"}


async def test_segment_examples_are_answered_200_success_and_arrive_as_written(
    settings: TrellisSettings,
) -> None:
    # "Item Purchased" is no type of ours: declared as a custom type, the documented way
    ingest = IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False,
                               "ingest_custom_event_types": ["item_purchased"]})  # fmt: skip
    key = (await add_source(ingest, f"seg-{uuid.uuid4().hex[:6]}", SourceKind.SDK)).credential
    run = uuid.uuid4().hex[:8]
    sent = {f"http-{n}-{run}": (n, call) for n, call in HTTP_API.items()}
    sent |= {f"spec-{n}-{run}": (SPEC_ROUTE.get(n, n), call) for n, call in SPEC.items()}
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        answers = {
            mid: await http.post(f"/v1/{route}", json={**call, "messageId": mid},
                                 headers=basic(key))
            for mid, (route, call) in sent.items()
        }  # fmt: skip
    assert {m: (a.status_code, a.json()) for m, a in answers.items()} == {
        m: (200, {"success": True}) for m in sent
    }
    got = await arrived(settings.kafka_bootstrap, sent)
    e = {m.removesuffix(f"-{run}"): got[m] for m in sent}
    assert e["http-identify"]["type"] == "contact_identified"
    assert e["http-identify"]["contact"]["email"] == "pgibbons@example.com"
    assert e["http-identify"]["time"].startswith("2012-12-02T00:30:08.276")
    assert e["http-track"]["type"] == "item_purchased"
    for call in ("http-page", "http-screen"):  # a server-side page names the page only
        assert (e[call]["type"], e[call]["properties"]["title"]) == (
            "page_viewed", "Tracking HTTP API"
        )  # fmt: skip
    assert e["http-group"]["account"]["external_id"] == "8e9df332ac"
    assert e["http-group"]["account"]["traits"]["name"] == "Initech"
    page = e["spec-page"]["properties"]
    assert (page["url"], page["title"], page["name"]) == (
        "http://www.example.com", "Welcome | Initech", "Home"
    )  # fmt: skip
    assert e["spec-group"]["account"]["traits"]["total billed"] == 830
    assert e["spec-identify"]["contact"]["traits"]["address"]["city"] == "San Francisco"
    clicked = e["spec-email-link-clicked"]
    assert (clicked["type"], clicked["contact"]["email"]) == (
        "email_clicked",
        "joanna@chotchkies.com",
    )
    assert clicked["properties"]["url"] == "https://www.buymyshirts.com?promo=NEWCUSTOMER"
    assert clicked["properties"]["message_id"] == "18vzF7u3z"
    assert e["spec-account-created"]["type"] == "account_linked"
    assert e["spec-account-created"]["account"]["external_id"] == "acct_123"
    assert e["spec-trial-started"]["type"] == "product_activated"
    assert e["spec-trial-started"]["properties"]["plan"] == "Business"


# --- Twilio (the validator's vectors themselves: tests/unit/test_peer_signature_examples.py) ----

TWILIO_TOKEN = "12345"


async def test_an_sms_callback_signed_over_the_default_port_is_accepted(
    settings: TrellisSettings,
) -> None:
    public = "https://hooks.example.com"
    ingest = IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False,
                               "sms_auth_token": TWILIO_TOKEN, "ingest_public_url": public,
                               "unsubscribe_secret": "peer-examples-secret"})  # fmt: skip
    form = {"From": "+14158675309", "To": "+18005551212", "Body": "HELP",
            "MessageSid": f"SM{uuid.uuid4().hex}"}  # fmt: skip
    spellings = {
        "with :443": "https://hooks.example.com:443/v1/sms/inbound",
        "without a port": "https://hooks.example.com/v1/sms/inbound",
        "another port": "https://hooks.example.com:8443/v1/sms/inbound",
        "another host": "https://evil.example.com/v1/sms/inbound",
    }
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        answers = {
            name: (await http.post("/v1/sms/inbound", data=form, headers={
                "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, signed, form.items())}
            )).status_code
            for name, signed in spellings.items()
        }  # fmt: skip
    # the reference validator tries the URL with :443 and without a port, never another one
    assert answers == {"with :443": 200, "without a port": 200, "another port": 401,
                       "another host": 401}  # fmt: skip


# --- CloudEvents --------------------------------------------------------------------------------

OUR_DATA = {"contact": {"email": "ada@example.com"}, "properties": {"path": "/pricing"}}
INVALID_EVENTS = {  # invalid-events.json, each given our data so only its own flaw remains
    "invalidNoSpecVersion": {"id": "invalid", "type": "io.cloudevents.test",
                             "source": "https://cloudevents.io"},
    "invalidNoId": {"specversion": "1.0", "type": "io.cloudevents.test",
                    "source": "https://cloudevents.io"},
    "invalidNoType": {"specversion": "1.0", "id": "invalid", "source": "https://cloudevents.io"},
    "invalidNoSource": {"specversion": "1.0", "id": "invalid", "type": "io.cloudevents.test"},
    **{name: {"id": "invalid", "specversion": "1.0", "type": "io.cloudevents.test",
              "source": "https://cloudevents.io", "time": time} for name, time in (
        ("invalidTimeGarbage", "lunchtime"), ("invalidTimeToMinute", "2018-04-05T18:31Z"),
        ("invalidTimeOffsetX", "2018-04-05T18:31:00X"),
        ("invalidTimeOffsetOutOfRange", "2018-04-05T18:31:00+25:00"),
        ("invalidTimeOffsetNonInteger", "2018-04-05T18:31:00+xx:00"),
        ("invalidTimeOffsetHourOnly", "2018-04-05T18:31:00+05"))},
    "invalidEmptyId": {"id": "", "specversion": "1.0", "type": "io.cloudevents.test",
                       "source": "https://cloudevents.io"},
    "invalidEmptyType": {"id": "invalid", "specversion": "1.0", "type": "",
                         "source": "https://cloudevents.io"},
    "invalidEmptySource": {"id": "invalid", "specversion": "1.0", "type": "io.cloudevents.test",
                           "source": ""},
    "invalidEmptySpecVersion": {"id": "invalid", "specversion": "", "type": "io.cloudevents.test",
                                "source": "https://cloudevents.io"},
    "invalidUnknownSpecVersion": {"id": "invalid", "specversion": "0.9",
                                  "type": "io.cloudevents.test",
                                  "source": "https://cloudevents.io"},
    **{name: {"id": "invalid", "specversion": "1.0", "type": "io.cloudevents.test",
              "source": "https://cloudevents.io", attribute: value}
       for name, attribute, value in (
        ("invalidNonRfc2046DataContentType", "datacontenttype", "xyz"),
        ("invalidEmptyDataContentType", "datacontenttype", ""),
        ("invalidEmptyDataSchema", "dataschema", ""),
        ("invalidEmptySubject", "subject", ""),
        ("invalidCapitalizedExtension", "MyExtension", "bad"),
        ("invalidPunctuatedExtension", "my.extension", "bad"),
        ("invalidNonIntegerExtensionValue", "my.extension", 1.5),
        ("invalidBothDataAndDataBase64", "data_base64", "eyAieHl6IjogMTIzIH0="))},
    "invalidNumericId": {"id": 25, "specversion": "1.0", "type": "io.cloudevents.test",
                         "source": "https://cloudevents.io"},
    "invalidObjectId": {"id": {"xyz": "abc"}, "specversion": "1.0", "type": "io.cloudevents.test",
                        "source": "https://cloudevents.io"},
}  # fmt: skip
ALL_EXTENSION_TYPES = {  # valid-batches.json, validBatchMinimalAndAllExtensionTypes' second event
    "specversion": "1.0", "id": "allExtensionTypes", "type": "io.cloudevents.test",
    "source": "https://cloudevents.io", "extinteger": 10, "extboolean": True, "extstring": "text",
    "exturi": "https://cloudevents.io", "exturiref": "//authority/path",
    "exttimestamp": "2023-03-31T15:12:00Z", "extbinary": "TWE=",
}  # fmt: skip


async def test_cloudevents_conformance_batches_and_invalid_events(
    settings: TrellisSettings,
) -> None:
    ingest = IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False,
                               "ingest_custom_event_types": ["io.cloudevents.test"]})  # fmt: skip
    key = (await add_source(ingest, f"ce-{uuid.uuid4().hex[:6]}", SourceKind.SDK)).credential
    batched = {**basic(key), "content-type": "application/cloudevents-batch+json"}
    structured = {**basic(key), "content-type": "application/cloudevents+json"}
    extended = {**ALL_EXTENSION_TYPES, "id": f"allExtensionTypes-{uuid.uuid4().hex}",
                "data": OUR_DATA}  # fmt: skip
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        empty = await http.post("/v1/cloudevents", content=b"[]", headers=batched)
        valid = await http.post("/v1/cloudevents", json=[extended], headers=batched)
        refused = {
            name: (await http.post("/v1/cloudevents", json={**event, "data": OUR_DATA},
                                   headers=structured)).status_code
            for name, event in INVALID_EVENTS.items()
        }  # fmt: skip
    assert (empty.status_code, empty.json()) == (202, {"accepted": 0, "ids": []})
    assert (valid.status_code, valid.json()["accepted"]) == (202, 1), valid.text
    assert refused == dict.fromkeys(INVALID_EVENTS, 422)
    got = await arrived(settings.kafka_bootstrap, [extended["id"]])
    assert got[extended["id"]]["type"] == "io.cloudevents.test"
