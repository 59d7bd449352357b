"""Typed views of the stored rows that touch and reminder decisions read: a contact and its
account without their lifecycle documents, a stored touch and a rep reminder. Built by the
adapters from a row (``from_row``); frozen, so a change is a new view (``dataclasses.replace``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ContactView:
    id: str
    account_id: str | None = None
    email: str | None = None
    stage: str | None = None
    role: str | None = None
    timezone: str | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)
    owner_rep: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ContactView:
        return cls(
            id=row["id"], account_id=row.get("account_id"), email=row.get("email"),
            stage=row.get("stage"), role=row.get("role"), timezone=row.get("timezone"),
            traits=row.get("traits") or {}, owner_rep=row.get("owner_rep"),
        )  # fmt: skip


@dataclass(frozen=True)
class AccountView:
    id: str
    stage: str | None = None
    owner_rep: str | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    domain: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> AccountView:
        return cls(
            id=row["id"], stage=row.get("stage"), owner_rep=row.get("owner_rep"),
            traits=row.get("traits") or {}, name=row.get("name"), domain=row.get("domain"),
        )  # fmt: skip


@dataclass(frozen=True)
class StoredTouch:
    """A touch as stored (``channel``, ``stage``: the stored strings)."""

    id: str
    contact_id: str
    account_id: str | None
    channel: str
    template_id: str
    stage: str
    sequence_step: str | None
    due_at: datetime
    dispatched_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> StoredTouch:
        return cls(
            id=row["id"], contact_id=row["contact_id"], account_id=row["account_id"],
            channel=row["channel"], template_id=row["template_id"], stage=row["stage"],
            sequence_step=row["sequence_step"], due_at=row["due_at"],
            dispatched_at=row.get("dispatched_at"),
        )  # fmt: skip


@dataclass(frozen=True)
class ReminderNote:
    """What a rep reminder's message carries besides the people."""

    id: str
    rep: str | None
    reason: str
    evidence: Any
    talking_points: Any
    contact_id: str | None = None
    account_id: str | None = None
    status: str = "open"
    snoozed_until: datetime | None = None
    due_at: datetime | None = None
    created_at: datetime | None = None  # when Trellis learned of it (a late hand-raise is told so)

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ReminderNote:
        return cls(
            id=row["id"], rep=row["rep"], reason=row["reason"], evidence=row["evidence"],
            talking_points=row["talking_points"], contact_id=row.get("contact_id"),
            account_id=row.get("account_id"), status=row.get("status") or "open",
            snoozed_until=row.get("snoozed_until"), due_at=row.get("due_at"),
            created_at=row.get("created_at"),
        )  # fmt: skip
