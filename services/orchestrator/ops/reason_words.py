"""Words for every ``Reason``: the clause after "was not sent:" / "was planned because" in the
"why" answers and the timeline. Matched exhaustively (``assert_never``): a new reason without
words is a type error, and a test walks the enum."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from services.orchestrator.domain.reasons import Reason


@dataclass(frozen=True)
class Said:
    """What the words may name: the person, the channel in words, the stages, the facts."""

    name: str = "the contact"
    channel: str = "this channel"
    stage: str | None = None
    touch_stage: str | None = None
    facts: Mapping[str, Any] | None = None

    @property
    def retry(self) -> str:
        at = (self.facts or {}).get("retry_at")
        return f"; it is deferred to {at}" if at else ""

    def day(self, key: str) -> str | None:
        """A date in the facts (ISO 8601) as a reader says it: "15 Dec 2026"."""
        raw = (self.facts or {}).get(key)
        try:
            return f"{datetime.fromisoformat(raw):%d %b %Y}" if isinstance(raw, str) else None
        except ValueError:
            return raw

    @property
    def unmet(self) -> str:
        parts = [f"{k}: {v}" for k, v in (self.facts or {}).items() if k in ("roles", "min_nps")]
        return f" ({'; '.join(parts)})" if parts else ""


def words(reason: Reason, s: Said) -> str:
    name, channel, retry = s.name, s.channel, s.retry
    match reason:
        case Reason.STAGE_ENTERED:
            return f"{name} entered the {s.stage} stage"
        case Reason.REP_RULE:
            return "a rule for the rep fired (a hand-raise or a signal at the account)"
        case Reason.ALLOWED:
            return "it passed the consent, cap, quiet-hours and stage checks"
        case Reason.SUPPRESSED:
            return (
                f"{name} cannot be reached on {channel} (an unsubscribe, STOP, bounce or complaint)"
            )
        case Reason.NO_CONSENT:
            return f"{name} has not opted in to {channel}"
        case Reason.SALES_OWNED:
            return (f"{name} (or their account) is in a sales-owned stage ({s.stage}), so "
                    "marketing touches are paused")  # fmt: skip
        case Reason.STAGE_EXITED:
            return f"it was planned for the {s.touch_stage} stage and {name} is now in {s.stage}"
        case Reason.SEQUENCE_EXITED:
            return (f"{name} did something that ends its sequence (e.g. asked for a demo), so "
                    "the rest of the sequence stopped")  # fmt: skip
        case Reason.MIN_GAP:
            return f"another touch reached {name} too recently (minimum gap){retry}"
        case Reason.FREQUENCY_CAP:
            return f"{name} already had the most {channel} touches the frequency cap allows{retry}"
        case Reason.ACCOUNT_CAP:
            return f"the account already had its daily maximum of touches{retry}"
        case Reason.QUIET_HOURS:
            return f"it fell in quiet hours in {name}'s time zone{retry}"
        case Reason.CONDITION_NOT_MET:
            return f"its step's conditions do not hold for {name}{s.unmet}"
        case Reason.ACCOUNT_PAUSED:
            until = s.day("until")
            return (
                f"a colleague of {name} raised a hand, so the account's marketing waits"
                + (f" until {until}" if until else "")
                + " while the rep works it"
            )
        case Reason.PAUSE_LIFTED:
            return "the rep acknowledged a reminder at the account, so its paused marketing resumes"
        case Reason.HOLDOUT:
            share = (s.facts or {}).get("holdout", "a")
            return (f"{name} is in this sequence's holdout ({share} control group, never sent) "
                    "so its effect on stage progress can be measured")  # fmt: skip
        case Reason.NO_ADDRESS:
            return f"there is no {channel} address for {name}"
        case Reason.NO_REP:
            return "no rep owns this contact or account and the rep pool is empty"
        case Reason.UNKNOWN_STEP:
            return "its sequence step is no longer in the nurture plan"
        case Reason.UNKNOWN_CONTACT:
            return "the contact is unknown or was merged into another"
        case Reason.PROVIDER_TRANSIENT:
            return f"the provider failed for a moment; it is tried again{retry}"
        case Reason.REMINDER_EXPIRED:
            return "the rep did not act on the reminder before it expired"
        case Reason.SNOOZE_ENDED:
            return "the rep's snooze ended, so the reminder is due again"
        case Reason.REDISPATCHED:
            return ("no delivery outcome came back after it was sent to the notifier, so it was "
                    "handed over again (the notifier never sends one touch twice)")  # fmt: skip
        case Reason.RETRIES_EXHAUSTED:
            return "the provider failed every retry we were allowed"
        case Reason.RETRY_EXPIRED:
            return "the provider kept failing until it was too late to send"
        case Reason.CRM_OWNER:
            return "the CRM named a new owner, who is a rep"
        case Reason.POOL_ASSIGNED:
            return "nobody owned the account, so the rep pool's least-loaded rep took it"
        case Reason.NOT_A_REP:
            return "the CRM named an owner who is not a rep (refused; the owner is unchanged)"
        case Reason.UNKNOWN_OWNER_ID:
            return "the CRM named an owner id no rep in the directory has (refused)"
        case Reason.PRICING_PAGE:
            return f"{name} viewed the pricing page"
        case Reason.HANDOFF:
            return "the account entered a stage another team owns, so it was handed over"
        case Reason.HANDOFF_DONE:
            return "the new owner took the handoff (acknowledged it, met or called)"
        case Reason.HANDOFF_SUPERSEDED:
            return "the account moved on to the next handoff before this one was taken"
        case Reason.SLA_BREACHED:
            return "the handoff's deadline passed with nobody taking it; its owner is reminded"
        case Reason.SLA_ESCALATED:
            return "the handoff stayed untaken after its reminder, so it went to the team lead"
        case Reason.ACKNOWLEDGE:
            return "the rep acknowledged the reminder"
        case Reason.SNOOZE:
            return "the rep snoozed the reminder"
        case Reason.COMPLETE:
            return "the rep marked the reminder done"
        case Reason.REMINDER_DONE:
            return "the rep closed the reminder, so its call is no longer needed"
        case Reason.EXPIRE:
            return "the reminder expired"
        case Reason.WAKE:
            return "the reminder's snooze ended"
        case Reason.DEMO_REQUESTED:
            return f"{name} requested a demo"
        case Reason.CONTACT_SALES:
            return f"{name} asked to talk to sales"
        case Reason.BECAME_SQL:
            return f"{name} became sales-qualified"
        case Reason.NPS_DETRACTOR:
            return f"{name} gave a detractor NPS score"
        case Reason.PRICING_COMMITTEE:
            return "several people at the account viewed the pricing page"
        case Reason.RENEWAL_WINDOW:
            return "the account's renewal date is coming up"
        case Reason.COMMITTEE_GAP:
            missing = " or ".join(map(str, (s.facts or {}).get("missing") or ())) or "a role"
            return (
                f"the account reached its stage with no {missing} engaged in the buying committee"
            )
        case Reason.EARLY_CHURN_RISK:
            return "the customer has not activated the product since the deal closed (early churn)"
        case Reason.CHURN_RISK:
            return "the customer's usage fell, its NPS is a detractor's or its tickets spiked"
        case Reason.CHURN_RISK_CLEARED:
            return "the customer's churn-risk signals cleared, so the episode ended"
        case Reason.ACTIVATION_CHECK_TOO_LATE:
            return "day N without activation was found too late (imported history): no reminder"
        case Reason.FIRST_ENGAGEMENT:
            return f"{name} engaged for the first time"
        case Reason.EVIDENCE:
            return "the playbook's rules for the stage were met"
        case Reason.CRM_EVENT:
            return "the CRM said so (a deal or lead status change)"
        case Reason.RECYCLED:
            return f"{name} went quiet long enough to be recycled"
        case Reason.DUPLICATE:
            return "the same event had already been applied"
        case Reason.TOO_LATE:
            return "the event arrived too late to change the stage (outside the lateness window)"
        case Reason.IDENTITY_MERGED:
            return "two records turned out to be the same person and were merged"
        case Reason.HISTORICAL:
            return "the events were imported history: they set the stage, nothing is sent"
        case Reason.GRANTED:
            return f"{name} gave consent for {channel}"
        case Reason.WITHDRAWN:
            return f"{name} withdrew consent for {channel}"
        case Reason.REFUSED:
            return (f"a grant for {channel} was refused: only {name} can lift their own "
                    "opt-out")  # fmt: skip
        case Reason.DO_NOT_CONTACT:
            return f"{name} is marked do-not-contact"
        case Reason.UNSUBSCRIBED:
            return f"{name} unsubscribed from {channel}"
        case Reason.STOP:
            return f"{name} replied STOP to SMS"
        case Reason.HARD_BOUNCE:
            return f"{name}'s address hard-bounced"
        case Reason.COMPLAINT:
            return f"{name} marked one of our emails as spam"
        case Reason.SENT:
            return "the provider accepted it"
        case Reason.DELIVERED:
            return "the provider delivered it"
        case Reason.FAILED:
            return "the provider could not send it"
        case Reason.BOUNCED:
            return "it bounced"
        case Reason.COMPLAINED:
            return "the recipient marked it as spam"
        case Reason.START:
            return f"{name} replied START to SMS (opted back in)"
        case Reason.CONFIRMED:
            return f"{name} confirmed their subscription from the link we sent"
        case unreachable:
            assert_never(unreachable)
