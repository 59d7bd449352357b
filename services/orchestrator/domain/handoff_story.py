"""What a handoff reminder tells its new owner (pure): the buying committee with their roles and
what each engaged with, the deal (amount, products, promised outcomes from the deal's
properties), who handed it over, the deadline, and the first steps from the playbook. A note to
the previous owner says who took over. Story items are ``{"said", "at"}`` like every reminder's
(``domain.reminders.told``), so ``reminder_story`` tells them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.orchestrator.domain.handoffs import SALES, HandoffKind, TeamOwner

TOLD_ENGAGEMENTS = 3
COMMITTEE = 8

FIRST_STEPS: Mapping[HandoffKind, tuple[str, ...]] = {
    HandoffKind.MQL_ACCEPT: (
        "Accept the lead (acknowledge this reminder) or hand it back with a reason",
        "Check fit and the engagement below before the first call",
    ),
    HandoffKind.SQL_FIRST_CONTACT: (
        "Call or email now: first contact is due by the deadline",
        "Log the call or book the meeting so the clock stops",
    ),
    HandoffKind.CSM_KICKOFF: (
        "Book the kickoff with the champion and the buying committee",
        "Confirm the promised outcomes as success criteria",
        "Agree the onboarding timeline and the first value milestone",
    ),
}
KIND_WORDS: Mapping[HandoffKind, str] = {
    HandoffKind.MQL_ACCEPT: "a marketing-qualified lead to accept",
    HandoffKind.SQL_FIRST_CONTACT: "a sales-qualified account to contact",
    HandoffKind.CSM_KICKOFF: "a new customer to kick off",
}


@dataclass(frozen=True, slots=True)
class Stakeholder:
    """One person of the buying committee, as the handoff tells them."""

    name: str
    role: str | None
    engaged: tuple[str, ...]  # what they did, newest first, in words


@dataclass(frozen=True, slots=True)
class Deal:
    deal_id: str | None
    amount: float | None
    currency: str | None
    products: tuple[str, ...]
    outcomes: tuple[str, ...]

    @classmethod
    def of(cls, properties: Mapping[str, Any]) -> Deal:
        """The deal a ``deal_closed_won`` carries: ``amount``, ``currency``, ``products`` (or
        ``product``) and ``promised_outcomes`` (or ``success_criteria``), lists or strings."""
        p = properties
        return cls(
            deal_id=_text(p.get("deal_id")),
            amount=_number(p.get("amount")),
            currency=_text(p.get("currency")),
            products=_texts(p.get("products") or p.get("product")),
            outcomes=_texts(p.get("promised_outcomes") or p.get("success_criteria")),
        )

    def said(self) -> str:
        value = (
            f"{self.amount:,.0f} {self.currency or ''}".strip() if self.amount is not None else None
        )
        parts = [
            f"Deal won{f' ({self.deal_id})' if self.deal_id else ''}: {value or 'amount not given'}"
        ]
        if self.products:
            parts.append("products: " + ", ".join(self.products))
        parts.append(
            "promised: "
            + ("; ".join(self.outcomes) if self.outcomes else "no outcomes recorded on the deal")
        )
        return "; ".join(parts)  # fmt: skip


def handoff_story(
    kind: HandoffKind,
    committee: Sequence[Stakeholder],
    deal: Deal | None,
    previous_owner: str | None,
    deadline_at: datetime,
    at: datetime,
    steps: Sequence[str] = (),
) -> tuple[tuple[dict[str, str], ...], tuple[str, ...]]:
    """(story items, talking points) of the new owner's handoff reminder."""
    items: list[dict[str, str]] = [
        {"said": f"was handed to you: {KIND_WORDS[kind]}, due by {deadline_at:%a %d %b %H:%M} UTC",
         "at": at.isoformat()},
    ]  # fmt: skip
    if deal is not None:
        items.append({"said": deal.said()})
    items.append({"said": f"Handed over by {previous_owner}" if previous_owner
                  else "Handed over by: nobody owned it before"})  # fmt: skip
    if committee:
        for person in committee[:COMMITTEE]:
            did = "; ".join(person.engaged[:TOLD_ENGAGEMENTS]) or "no engagement on record"
            items.append({"said": f"{person.name} ({person.role or 'role unknown'}): {did}"})
    else:
        items.append({"said": "Buying committee: nobody known at the account yet"})
    return tuple(items), tuple(steps) or FIRST_STEPS[kind]


def taken_over_story(
    kind: HandoffKind, new_owner: str, team: str, at: datetime
) -> tuple[tuple[dict[str, str], ...], tuple[str, ...]]:
    """The note to the previous owner: who took the account over, and why."""
    said = f"was taken over by {new_owner} ({team}): {KIND_WORDS[kind]}"
    return ({"said": said, "at": at.isoformat()},), (
        f"Brief {new_owner} on anything the record does not say",
        "Nothing else is needed from you: the account is theirs now",
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value.strip()[:200] if isinstance(value, str) and value.strip() else None


def _texts(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",")]
    if isinstance(value, list | tuple):
        return tuple(t for v in value if (t := _text(v)))[:10]
    return ()


def owners_in_words(
    owners: Iterable[TeamOwner], sales_rep: str | None, first_team: str | None = None
) -> str:
    """Who owns the account now and who did before, for every reminder about it: the team
    owning its stage first ("cara@x (success; before: sam@x); dana@x (sales)")."""
    by_team = {o.team: o for o in owners}
    if sales_rep and SALES not in by_team:
        by_team[SALES] = TeamOwner("", SALES, sales_rep, None, datetime.min, "crm")
    ordered = sorted(by_team.values(), key=lambda o: (o.team != first_team, o.team))
    return "; ".join(
        f"{o.owner} ({o.team}{f'; before: {o.previous_owner}' if o.previous_owner else ''})"
        for o in ordered
    )
