"""Who may own a contact: a CRM owner change names a rep, and only a rep gets reminders (pure).

A reminder carries a contact's name, account, evidence and signed acknowledge/snooze links, so
an owner address is used only if it is a rep: in the plan's ``reps:`` directory, in the round-robin
pool, or at an allowed domain (``TRELLIS_REP_DOMAINS``). ``owner_id`` alone (what every CRM sends)
resolves through the directory's ``crm_id``. Anything else is refused with a reason, and the
contact keeps its previous owner (else the pool).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from services.orchestrator.domain.reasons import Reason

OwnerRefusal = Reason  # NOT_A_REP, UNKNOWN_OWNER_ID


class HasCrmId(Protocol):
    @property
    def crm_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RepDirectory:
    """The reps we know: the plan's directory (address -> profile with ``crm_id``), the pool,
    and the domains whose addresses are reps."""

    profiles: Mapping[str, HasCrmId]
    pool: Collection[str] = ()
    domains: Collection[str] = ()

    def is_rep(self, address: str | None) -> bool:
        if not address:
            return False
        email = address.strip().lower()
        if email in self.profiles or email in {p.strip().lower() for p in self.pool}:
            return True
        _, at, domain = email.rpartition("@")
        return bool(at) and domain in {d.strip().lower().lstrip("@") for d in self.domains}

    def by_crm_id(self, owner_id: str) -> str | None:
        for email, profile in self.profiles.items():
            if profile.crm_id is not None and profile.crm_id == owner_id:
                return email
        return None


@dataclass(frozen=True, slots=True)
class OwnerRefused:
    reason: OwnerRefusal
    claimed: str


def resolve_owner(properties: Mapping[str, Any], reps: RepDirectory) -> str | OwnerRefused:
    """The rep a ``crm_owner_changed`` names, or why it names none we may remind."""
    owner_id = str(properties.get("owner_id") or "")
    claimed = properties.get("owner_email") or properties.get("owner")
    if isinstance(claimed, str) and claimed.strip():
        if reps.is_rep(claimed):
            return claimed.strip().lower()
        by_id = reps.by_crm_id(owner_id) if owner_id else None
        return by_id or OwnerRefused(OwnerRefusal.NOT_A_REP, claimed.strip().lower())
    if owner_id:
        if reps.is_rep(owner_id):  # some CRMs use the owner's address as its id
            return owner_id.strip().lower()
        by_id = reps.by_crm_id(owner_id)
        return by_id or OwnerRefused(OwnerRefusal.UNKNOWN_OWNER_ID, owner_id)
    return OwnerRefused(OwnerRefusal.UNKNOWN_OWNER_ID, "")
