"""Whether a planned touch may go out now (pure; ``now`` is given); planning is
``domain.planner``.

``check_eligibility`` runs when a touch is due. A "no" is a
``Skipped`` with a ``SkipReason``; when waiting would help (quiet hours, caps) it carries
``retry_at`` — the touch is deferred, never dropped and never sent early.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.orchestrator.domain.caps import CapKind, SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.sequences import SALES_OWNED_STAGES, Owner
from services.orchestrator.domain.stages import Stage

SkipReason = Reason
"""Why a step is not planned, or a due touch skipped or deferred: ``Reason``'s members."""


_CAP_REASON = {
    CapKind.MIN_GAP: SkipReason.MIN_GAP,
    CapKind.FREQUENCY_CAP: SkipReason.FREQUENCY_CAP,
    CapKind.ACCOUNT_CAP: SkipReason.ACCOUNT_CAP,
}


@dataclass(frozen=True, slots=True)
class Allowed:
    pass


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: SkipReason
    retry_at: datetime | None = None  # set: deferred until then; None: cancelled

    @property
    def deferred(self) -> bool:
        return self.retry_at is not None


@dataclass(frozen=True, slots=True)
class Recipient:
    """The facts about a contact at decision time."""

    contact_id: str
    account_id: str | None
    stage: Stage
    timezone: ZoneInfo
    role: str | None = None
    account_stage: Stage | None = None
    nps: int | None = None
    rep_timezone: ZoneInfo | None = None
    exited_sequences: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PlannedTouch:
    touch_id: str
    contact_id: str
    account_id: str | None
    sequence_id: str
    step_id: str
    stage: Stage
    channel: TouchChannel
    template: str
    window: str | None
    due_at: datetime

    @property
    def owner(self) -> Owner:
        return Owner.SALES if self.channel.is_reminder else Owner.MARKETING


def _zone(channel: TouchChannel, who: Recipient) -> ZoneInfo:
    return (who.rep_timezone or who.timezone) if channel.is_reminder else who.timezone


def blocked(channel: TouchChannel, ledger: ConsentLedger, now: datetime) -> SkipReason | None:
    """Why the contact may not be reached on ``channel`` now (None: it may): the one consent
    check, when a touch is planned and again when it is due."""
    consent = channel.consent_channel
    if ledger.suppression(consent, now) is not None:
        return SkipReason.SUPPRESSED
    if not ledger.allows(consent, now):
        return SkipReason.NO_CONSENT
    return None


def check_eligibility(
    touch: PlannedTouch,
    who: Recipient,
    ledger: ConsentLedger,
    history: Iterable[SentTouch],
    config: NurtureConfig,
    now: datetime,
) -> Allowed | Skipped:
    closed = blocked(touch.channel, ledger, now)
    if closed is not None:
        return Skipped(closed)
    sales_owned = who.stage in SALES_OWNED_STAGES or who.account_stage in SALES_OWNED_STAGES
    if touch.owner is Owner.MARKETING and sales_owned:
        return Skipped(SkipReason.SALES_OWNED)
    if touch.stage is not who.stage or touch.sequence_id in who.exited_sequences:
        return Skipped(SkipReason.STAGE_EXITED)
    violation = config.caps.violation(who.contact_id, who.account_id, touch.channel, history, now)
    if violation is not None:
        return Skipped(_CAP_REASON[violation.kind], retry_at=violation.retry_at)
    window, tz = config.window_for(touch.channel, touch.window), _zone(touch.channel, who)
    if not window.contains(now, tz):
        return Skipped(SkipReason.QUIET_HOURS, retry_at=window.next_open(now, tz))
    return Allowed()
