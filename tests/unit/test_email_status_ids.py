"""A delivery callback's outcome id: stable (the dedup key downstream) and always a valid id."""

from __future__ import annotations

from datetime import UTC, datetime

from services.ingest.email_status import EmailStatus, EmailStatusCallback

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _outcome_id(**fields: object) -> str:
    return EmailStatusCallback.model_validate({"contact_id": "c1", **fields}).to_outcome(NOW).id


def test_a_short_provider_id_reads_as_itself() -> None:
    assert _outcome_id(status="bounced", provider_id="m-1") == "email-status:m-1:bounced"


def test_a_provider_id_of_200_characters_still_gives_a_valid_stable_id() -> None:
    long = "0" * 200
    first = _outcome_id(status="failed", provider_id=long)
    assert len(first) <= 200 and first.startswith("email-status:sha256:")
    assert first == _outcome_id(status="failed", provider_id=long)
    assert first != _outcome_id(status=EmailStatus.BOUNCED.value, provider_id=long)


def test_the_callers_own_id_wins() -> None:
    assert _outcome_id(id="cb-7", status="delivered", provider_id="m-1") == "cb-7"


def test_a_contact_id_longer_than_any_stored_one_is_refused_at_the_door() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        EmailStatusCallback.model_validate({"contact_id": "c" * 65, "status": "bounced"})


def test_a_200_character_outcome_id_still_fits_the_inbox_with_its_prefix() -> None:
    from schemas.outcomes import TouchOutcome
    from services.orchestrator.outcomes import MAX_EVENT_ID, inbox_id

    long = TouchOutcome.model_validate(
        {
            "id": "x" * 200,
            "contact_id": "c1",
            "channel": "email",
            "status": "bounced",
            "occurred_at": NOW.isoformat(),
        }
    )
    short = long.model_copy(update={"id": "cb-1"})
    assert len(inbox_id(long)) <= MAX_EVENT_ID and inbox_id(long) == inbox_id(long)
    assert inbox_id(short) == "outcome:cb-1"
