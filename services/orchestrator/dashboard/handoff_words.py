"""The timeline's words for a handoff's decisions: handed over, taken, breached, escalated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.touch_log import TouchDecision

HANDOFF_KINDS = frozenset({
    TouchDecision.HANDOFF_CREATED, TouchDecision.HANDOFF_COMPLETED,
    TouchDecision.HANDOFF_BREACHED, TouchDecision.HANDOFF_ESCALATED,
})  # fmt: skip
KIND_WORDS = {
    "mql_accept": "the MQL to accept",
    "sql_first_contact": "first contact with the SQL",
    "csm_kickoff": "the customer kickoff",
}


def handoff_words(kind: str, reason: str, facts: Mapping[str, Any]) -> str:
    what = KIND_WORDS.get(str(facts.get("kind")), "the handoff")
    owner = facts.get("owner") or "nobody (the team has no one)"
    if kind == TouchDecision.HANDOFF_CREATED:
        before = f" from {facts['previous_owner']}" if facts.get("previous_owner") else ""
        return (f"Handed over{before} to {owner} ({facts.get('team')}): {what}, due by "
                f"{facts.get('deadline_at')}.")  # fmt: skip
    if kind == TouchDecision.HANDOFF_BREACHED:
        return f"Nobody took {what} by {facts.get('deadline_at')}: {owner} is reminded."
    if kind == TouchDecision.HANDOFF_ESCALATED:
        to = facts.get("to") or "nobody else in the team"
        return f"{what[0].upper()}{what[1:]} stayed untaken after the reminder: escalated to {to}."
    if reason == Reason.HANDOFF_SUPERSEDED:
        return f"{what[0].upper()}{what[1:]} was overtaken by the account's next handoff."
    return f"{owner} took {what} ({facts.get('by')})."
