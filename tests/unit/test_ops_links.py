"""Signed reminder links: bound to one reminder and one action, expiring, unforgeable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from services.orchestrator.domain.reminders import ReminderAction
from services.orchestrator.ops.links import LinkProblem, ReminderLinks

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
LINKS = ReminderLinks(b"s3cret", "https://ops.example/", timedelta(days=7))
ACK, SNOOZE = ReminderAction.ACKNOWLEDGE, ReminderAction.SNOOZE


def test_a_token_allows_its_action_on_its_reminder_until_it_expires() -> None:
    token = LINKS.token("r_1", ACK, NOW)
    assert LINKS.check(token, "r_1", ACK, NOW + timedelta(days=6)) is None
    assert LINKS.check(token, "r_1", ACK, NOW + timedelta(days=8)) is LinkProblem.EXPIRED


def test_a_token_for_another_reminder_or_action_is_refused() -> None:
    token = LINKS.token("r_1", ACK, NOW)
    assert LINKS.check(token, "r_2", ACK, NOW) is LinkProblem.INVALID
    assert LINKS.check(token, "r_1", SNOOZE, NOW) is LinkProblem.INVALID


def test_a_token_signed_with_another_secret_or_edited_is_refused() -> None:
    other = ReminderLinks(b"other", LINKS.base_url).token("r_1", ACK, NOW)
    assert LINKS.check(other, "r_1", ACK, NOW) is LinkProblem.INVALID
    _, sig = LINKS.token("r_1", ACK, NOW).split(".")
    forged = LINKS.token("r_2", ACK, NOW).split(".")[0] + "." + sig
    assert LINKS.check(forged, "r_2", ACK, NOW) is LinkProblem.INVALID
    assert LINKS.check(None, "r_1", ACK, NOW) is LinkProblem.MISSING


@given(st.text(max_size=200))
def test_garbage_never_passes_and_never_raises(token: str) -> None:
    assert LINKS.check(token, "r_1", ACK, NOW) in (LinkProblem.INVALID, LinkProblem.MISSING)


def test_the_message_variables_sign_actions_and_open_the_dashboard_pages() -> None:
    v = LINKS.variables("r_1", "c_1", "a_1", NOW)
    assert set(v) == {"ack_url", "snooze_url", "contact_url", "account_url"}
    ack = urlsplit(v["ack_url"])
    assert ack.netloc == "ops.example" and ack.path == "/v1/reminders/r_1/acknowledge"
    (token,) = parse_qs(ack.query)["token"]
    assert LINKS.check(token, "r_1", ACK, NOW) is None
    assert v["contact_url"] == "https://ops.example/ui/contacts/c_1"
    assert v["account_url"] == "https://ops.example/ui/accounts/a_1"
    assert "account_url" not in LINKS.variables("r_1", "c_1", None, NOW)
