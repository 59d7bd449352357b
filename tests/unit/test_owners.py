"""Owners are reps: a CRM owner change names someone we may remind, or it is refused."""

from __future__ import annotations

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
        # an outside address with a known id: the directory's rep, not the address
        ({"owner_id": "005A1", "owner_email": "attacker@evil.example"}, "dana@yourco.example"),
    ],
)
def test_an_owner_resolves_to_a_known_rep(properties: dict[str, str], rep: str) -> None:
    assert resolve_owner(properties, REPS) == rep


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"owner_id": "9", "owner_email": "attacker@evil.example"}, OwnerRefusal.NOT_A_REP),
        ({"owner_id": "9", "owner_email": "x@reps.example.evil.example"}, OwnerRefusal.NOT_A_REP),
        ({"owner_id": "9", "owner_email": "reps.example@evil.example"}, OwnerRefusal.NOT_A_REP),
        ({"owner_id": "unknown"}, OwnerRefusal.UNKNOWN_OWNER_ID),
        ({}, OwnerRefusal.UNKNOWN_OWNER_ID),
    ],
)
def test_anyone_else_is_refused_with_a_reason(
    properties: dict[str, str], reason: OwnerRefusal
) -> None:
    refused = resolve_owner(properties, REPS)
    assert isinstance(refused, OwnerRefused) and refused.reason is reason


def test_an_empty_directory_trusts_no_address() -> None:
    nobody = RepDirectory({})
    assert isinstance(resolve_owner({"owner_email": "a@b.example"}, nobody), OwnerRefused)
    assert not nobody.is_rep("") and not nobody.is_rep(None)
