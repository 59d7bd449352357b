"""``Reason``: the one vocabulary of why, for every row of the decision log.

Each member is the stored string of one reason. The touch and reminder decisions use them as
they are (``SkipReason``, ``DispatchProblem``, ``LaterReason``, ``PlanReason``, ``RetryEnd``
and ``OwnerRefusal`` are names for this enum where a module reads better with them); the
lifecycle's own enums (stage-change reasons, ignored events, consent changes, delivery outcomes,
reminder rules) have members here with the same values, so whatever the log holds has a member,
and the "why" explainer (``ops.explain.words``) has words for each, matched exhaustively.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # planned, and why
    STAGE_ENTERED = "STAGE_ENTERED"
    REP_RULE = "REP_RULE"
    ALLOWED = "ALLOWED"
    # not planned, skipped or deferred (consent, stage, caps, windows, conditions, holdout)
    SUPPRESSED = "SUPPRESSED"
    NO_CONSENT = "NO_CONSENT"
    SALES_OWNED = "SALES_OWNED"
    STAGE_EXITED = "STAGE_EXITED"
    SEQUENCE_EXITED = "SEQUENCE_EXITED"
    MIN_GAP = "MIN_GAP"
    FREQUENCY_CAP = "FREQUENCY_CAP"
    ACCOUNT_CAP = "ACCOUNT_CAP"
    QUIET_HOURS = "QUIET_HOURS"
    CONDITION_NOT_MET = "CONDITION_NOT_MET"
    HOLDOUT = "HOLDOUT"  # in the sequence's control group: never sent, measured (domain.holdout)
    ACCOUNT_PAUSED = "ACCOUNT_PAUSED"  # a colleague raised a hand: waits (domain.account_plays)
    PAUSE_LIFTED = "PAUSE_LIFTED"  # the rep acknowledged a reminder at the paused account
    # a due touch that cannot go out
    NO_ADDRESS = "NO_ADDRESS"
    NO_REP = "NO_REP"
    UNKNOWN_STEP = "UNKNOWN_STEP"
    UNKNOWN_CONTACT = "UNKNOWN_CONTACT"
    # later: retries, the reminder clock, re-dispatch
    PROVIDER_TRANSIENT = "PROVIDER_TRANSIENT"
    REMINDER_EXPIRED = "REMINDER_EXPIRED"
    SNOOZE_ENDED = "SNOOZE_ENDED"
    REDISPATCHED = "REDISPATCHED"
    RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"
    RETRY_EXPIRED = "RETRY_EXPIRED"
    # owners and signals
    CRM_OWNER = "CRM_OWNER"
    POOL_ASSIGNED = "POOL_ASSIGNED"
    NOT_A_REP = "OWNER_NOT_A_REP"
    """The address is neither in the directory or pool nor at an allowed domain."""
    UNKNOWN_OWNER_ID = "OWNER_ID_UNKNOWN"
    """No address given, and the directory has no rep with that CRM id."""
    PRICING_PAGE = "PRICING_PAGE"
    # handoffs between teams (domain.handoffs)
    HANDOFF = "HANDOFF"  # the account entered a stage another team receives
    HANDOFF_DONE = "HANDOFF_DONE"  # acknowledged, or a completing event (a meeting, a call)
    HANDOFF_SUPERSEDED = "HANDOFF_SUPERSEDED"  # the account moved on to the next handoff
    SLA_BREACHED = "SLA_BREACHED"  # its deadline passed: the owner is reminded once
    SLA_ESCALATED = "SLA_ESCALATED"  # still nothing: the team lead (or the next person) is told
    # a rep's hand on a reminder (ops API, dashboard, signed links)
    ACKNOWLEDGE = "ACKNOWLEDGE"
    SNOOZE = "SNOOZE"
    COMPLETE = "COMPLETE"
    EXPIRE = "EXPIRE"
    WAKE = "WAKE"
    REMINDER_DONE = "REMINDER_DONE"
    # the reminder rules (a deduplicated reminder says which rule fired)
    DEMO_REQUESTED = "demo_requested"
    CONTACT_SALES = "contact_sales"
    BECAME_SQL = "became_sql"
    NPS_DETRACTOR = "nps_detractor"
    PRICING_COMMITTEE = "pricing_committee"
    RENEWAL_WINDOW = "renewal_window"
    COMMITTEE_GAP = "committee_gap"
    EARLY_CHURN_RISK = "early_churn_risk"
    CHURN_RISK = "churn_risk"
    # the time-to-value watch (domain.churn_risk): an episode ends, a day N found too late
    CHURN_RISK_CLEARED = "churn_risk_cleared"
    ACTIVATION_CHECK_TOO_LATE = "activation_check_too_late"
    # the lifecycle: why a stage changed (stored as ``<reason>:<stage>``), an event ignored
    FIRST_ENGAGEMENT = "first_engagement"
    EVIDENCE = "evidence"
    CRM_EVENT = "crm_event"
    RECYCLED = "recycled"
    DUPLICATE = "duplicate"
    TOO_LATE = "too_late"
    IDENTITY_MERGED = "identity_merged"
    HISTORICAL = "historical"  # imported history: applied to stages, nothing planned or sent
    # consent changes and suppressions
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    DO_NOT_CONTACT = "do_not_contact"
    UNSUBSCRIBED = "unsubscribed"
    STOP = "stop"
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    # delivery outcomes
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    START = "start"
    CONFIRMED = "confirmed"


def reason_of(code: str) -> Reason | None:
    """The member a stored reason names (a stage change's ``evidence:mql`` is ``EVIDENCE``);
    None for a string from before this vocabulary."""
    base = code.split(":", 1)[0]
    return Reason(base) if base in Reason._value2member_map_ else None
