"""Dashboard text and request helpers (pure): timeline sentences, ranges, login redirects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.requests import Request

from services.orchestrator.dashboard import access, words
from services.orchestrator.dashboard.funnel_view import funnel_bars, time_range
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.stages import Stage

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ANA = {"id": "c_1", "email": "ana@acme.example", "stage": "engaged", "traits": {}}
EMPTY = ConsentLedger((), ())


def _item(kind: str, code: str, **facts: Any) -> dict[str, Any]:
    return {"type": "decision", "kind": kind, "reason": code, "at": NOW, "facts": facts,
            "touch_id": "t_1"}  # fmt: skip


def test_a_skipped_touch_for_lack_of_consent_says_so_in_plain_words() -> None:
    touch = {"id": "t_1", "channel": "email", "template_id": "engaged/webinar",
             "due_at": NOW, "stage": "engaged", "status": "skipped"}  # fmt: skip
    text = words.describe(_item("touch_skipped", "NO_CONSENT"), ANA, touch, EMPTY, NOW)
    assert "was not sent" in text and "has not opted in to email" in text
    assert words.tone(_item("touch_skipped", "NO_CONSENT")) == "no"


@pytest.mark.parametrize(
    ("kind", "reason", "facts", "expected"),
    [
        ("stage_changed", "evidence:engaged", {"from": "awareness", "score": 12.5,
         "engagements": 3}, "Moved from awareness to engaged: the playbook's entry rule was met"),
        ("stage_changed", "first_engagement:awareness", {}, "Moved to awareness: first known"),
        ("event_ignored", "duplicate", {}, "duplicate"),
        ("consent_changed", "withdrawn", {"source": "unsubscribe"}, "withdrawn (source: unsub"),
        ("reminder_created", "REP_RULE", {"rep": "r@x", "reason": "demo_requested"},
         "Rep r@x was asked to follow up: the contact requested a demo."),
        ("touch_outcome", "bounced", {"channel": "email", "detail": "550"}, "bounced: 550"),
        ("reminder_created", "REP_RULE", {"rep": "csm@x", "reason": "early_churn_risk"},
         "Rep csm@x was asked to follow up: the contact is at a new customer that has not "
         "activated (early churn)."),
        ("churn_risk_cleared", "churn_risk_cleared", {"episode_since": "2026-06-01"},
         "churn-risk signals cleared (the episode began 2026-06-01)"),
        ("activation_check_too_late", "activation_check_too_late", {}, "found too late"),
        ("brand_new_kind", "SOME_CODE", {}, "brand new kind: SOME CODE."),
    ],
)  # fmt: skip
def test_every_decision_kind_reads_as_a_sentence(
    kind: str, reason: str, facts: dict[str, Any], expected: str
) -> None:
    assert expected in words.describe(_item(kind, reason, **facts), ANA, None, EMPTY, NOW)


def test_events_show_their_type_and_a_few_properties() -> None:
    item = {"type": "event", "kind": "page_viewed", "at": NOW, "properties": {"path": "/pricing"}}
    assert words.describe(item, ANA, None, EMPTY, NOW) == "Event: page viewed (path: /pricing)."


def test_stage_changes_are_placed_when_they_happened_not_when_decided() -> None:
    then = NOW - timedelta(days=3)
    item = _item("stage_changed", "evidence:mql", occurred_at=then.isoformat())
    assert words.happened(item) == then
    assert words.happened(_item("touch_planned", "STAGE_ENTERED")) == NOW


def test_the_default_range_is_the_last_thirty_days() -> None:
    lo, hi, problem = time_range(None, None, NOW)
    assert (lo, hi, problem) == (NOW - timedelta(days=30), NOW, "")


def test_until_is_inclusive_of_its_day() -> None:
    lo, hi, _ = time_range("2026-11-01", "2026-11-02", NOW)
    assert lo == datetime(2026, 11, 1, tzinfo=UTC) and hi == datetime(2026, 11, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until"),
    [("yesterday", None), ("2026-11-05", "2026-11-01"), (None, "9999-12-31"),
     ("9999-12-31", None), ("1999-12-31", None), ("2026-11-01", "2032-01-01")],
)  # fmt: skip
def test_a_bad_range_falls_back_with_a_note(since: str, until: str | None) -> None:
    _, hi, problem = time_range(since, until, NOW)
    assert hi == NOW and "not valid" in problem


def test_funnel_bars_cover_every_stage_with_conversion_notes() -> None:
    metrics = {
        "entered": {"awareness": 10, "engaged": 4},
        "conversion": [{"from": "awareness", "to": "engaged", "rate": 0.4}],
    }
    bars = funnel_bars(metrics, "/ui/contacts")
    assert [b.label for b in bars] == [s.value for s in Stage]
    assert bars[0].note == "40% on to engaged" and bars[0].href == "/ui/contacts?stage=awareness"
    assert [b.label for b in bars if b.muted] == ["churned", "disqualified"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/ui/reminders?rep=a", "/ui/reminders?rep=a"), ("https://evil.example", "/ui/"),
     ("//evil.example/ui", "/ui/"), ("/admin", "/ui/"), (None, "/ui/"),
     ("/ui/reminders?key=tok_x&rep=a", "/ui/reminders?rep=a"), ("/ui/?key=tok_x", "/ui/")],
)  # fmt: skip
def test_login_only_returns_to_dashboard_pages(target: str | None, expected: str) -> None:
    assert access.safe_next(target) == expected


def _request(headers: dict[str, str], query: bytes = b"") -> Request:
    return Request({
        "type": "http", "method": "POST", "scheme": "http", "path": "/ui/reminders",
        "query_string": query, "server": ("127.0.0.1", 8000),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"127.0.0.1:8000")],
    })  # fmt: skip


def test_forms_posted_from_another_site_are_refused() -> None:
    access.same_origin(_request({"origin": "http://127.0.0.1:8000"}))
    access.same_origin(_request({}))  # curl and friends send no Origin
    for bad in ({"origin": "https://evil.example"}, {"origin": "null"},
                {"referer": "http://evil.example/page"}):  # fmt: skip
        with pytest.raises(access.CrossSite):
            access.same_origin(_request(bad))


def test_the_key_parameter_is_dropped_from_the_address() -> None:
    request = _request({}, b"key=tok_secret&rep=a%40x&status=open")
    assert access.without_key(request) == "/ui/reminders?rep=a%40x&status=open"
