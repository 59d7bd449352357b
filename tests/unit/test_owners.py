"""Owners are reps: a CRM owner change names someone we may remind, or it is refused."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.orchestrator.domain.nurture_config import RepProfile
from services.orchestrator.domain.owners import (
    OwnerRefusal,
    OwnerRefused,
    RepDirectory,
    resolve_owner,
)

REPS = RepDirectory(
    {"dana@yourco.example": RepProfile(crm_id="005A1"), "lee@yourco.example": RepProfile()},
    pool=("Pool@Sales.Example",),
    domains=("reps.example",),
)


@pytest.mark.parametrize(
    ("properties", "rep"),
    [
        ({"owner_id": "9", "owner_email": "Dana@YourCo.example"}, "dana@yourco.example"),
        ({"owner_id": "9", "owner_email": "pool@sales.example"}, "pool@sales.example"),
        ({"owner_id": "9", "owner_email": "sam@reps.example"}, "sam@reps.example"),
        ({"owner_id": "005A1"}, "dana@yourco.example"),
        ({"owner_id": "lee@yourco.example"}, "lee@yourco.example"),
        ({"owner": "Dana@YourCo.example"}, "dana@yourco.example"),  # the older field name
        # the domain is what follows the last "@" (a quoted local part may hold one)
        ({"owner_email": '"sam@home"@reps.example'}, '"sam@home"@reps.example'),
        # an outside address with a known id: the directory's rep, not the address
        ({"owner_id": "005A1", "owner_email": "attacker@evil.example"}, "dana@yourco.example"),
    ],
)
def test_an_owner_resolves_to_a_known_rep(properties: dict[str, str], rep: str) -> None:
    assert resolve_owner(properties, REPS) == rep


NOT_A_REP, UNKNOWN = OwnerRefusal.NOT_A_REP, OwnerRefusal.UNKNOWN_OWNER_ID


@pytest.mark.parametrize(
    ("properties", "refused"),
    [
        ({"owner_id": "9", "owner_email": " Attacker@Evil.example "},
         OwnerRefused(NOT_A_REP, "attacker@evil.example")),
        ({"owner_id": "9", "owner_email": "x@reps.example.evil.example"},
         OwnerRefused(NOT_A_REP, "x@reps.example.evil.example")),
        ({"owner_id": "9", "owner_email": "reps.example@evil.example"},
         OwnerRefused(NOT_A_REP, "reps.example@evil.example")),
        ({"owner_email": "mallory@evil.example"}, OwnerRefused(NOT_A_REP, "mallory@evil.example")),
        ({"owner_id": "unknown"}, OwnerRefused(UNKNOWN, "unknown")),
        ({}, OwnerRefused(UNKNOWN, "")),
    ],
)  # fmt: skip
def test_anyone_else_is_refused_with_a_reason_naming_who_was_claimed(
    properties: dict[str, str], refused: OwnerRefused
) -> None:
    assert resolve_owner(properties, REPS) == refused


def test_a_domain_may_be_configured_with_its_at_sign() -> None:
    reps = RepDirectory({}, domains=(" @Reps.Example ",))
    assert reps.is_rep("sam@reps.example")
    assert not reps.is_rep("sam@evil.example")


@dataclass(frozen=True)
class _Profile:
    crm_id: str | None


def test_an_outside_address_without_an_owner_id_never_matches_a_blank_crm_id() -> None:
    reps = RepDirectory({"blank@yourco.example": _Profile(crm_id="")})
    refused = resolve_owner({"owner_email": "attacker@evil.example"}, reps)
    assert refused == OwnerRefused(NOT_A_REP, "attacker@evil.example")


def test_an_empty_directory_trusts_no_address() -> None:
    nobody = RepDirectory({})
    assert isinstance(resolve_owner({"owner_email": "a@b.example"}, nobody), OwnerRefused)
    assert not nobody.is_rep("") and not nobody.is_rep(None)
