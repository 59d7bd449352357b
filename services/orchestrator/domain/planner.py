"""What a contact's plan should hold now, given its stage, role, consent and its touches (pure).

Plans tell the truth at every moment: what the ops API, the dashboard and "why" show as
``planned`` is what will be sent if nothing changes. So ``plan_contact``:

- plans the steps of the sequence for the contact's stage and role whose conditions hold
  (``min_nps``, roles) on channels the contact may be reached on; every step *not* planned is
  a ``NotPlanned`` with its reason (``CONDITION_NOT_MET``, ``NO_CONSENT``, ``SUPPRESSED``);
- cancels planned touches the contact can no longer get: of a stage it left or a sequence it
  is no longer in (``STAGE_EXITED``), on a channel it withdrew from or was suppressed on;
- never plans a second copy: a touch's identity is the contact, the sequence and the step
  (``touch_identity``), not the time the stage was entered, so re-entering a stage revives the
  steps that did not go out and leaves the ones that did.

When a touch is due, ``decide_due`` decides it again: send, defer (with when) or skip (with why).

Time is an argument; nothing here reads a clock or a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.eligibility import (
    PlannedTouch,
    Recipient,
    Skipped,
    SkipReason,
    blocked,
    check_eligibility,
)
from services.orchestrator.domain.holdout import held_out, holdout_unit
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.quiet_hours import Openings, SendWindow
from services.orchestrator.domain.sequences import NurtureSequence, Step
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import DispatchProblem, stable_id
from services.orchestrator.domain.touch_retry import RETRY_MARK

PLANNED = "planned"
SKIPPED = "skipped"
REVIVABLE = frozenset({SkipReason.STAGE_EXITED, SkipReason.NO_CONSENT, SkipReason.SUPPRESSED})
"""Why a cancelled step (never sent) may be planned again: the contact came back to the stage or
to the channel. One that went out never is, nor one its sequence's ``exit_on`` ended."""


@dataclass(frozen=True, slots=True)
class ExistingTouch:
    """A touch already stored for the contact (marketing sequences and retries alike)."""

    touch_id: str
    sequence_id: str
    step_id: str
    stage: Stage | None
    channel: TouchChannel
    status: str
    reason: str | None = None

    @classmethod
    def stored(
        cls, touch_id: str, sequence_step: str | None, stage: str, channel: str, status: str,
        reason: str | None,
    ) -> ExistingTouch:  # fmt: skip
        """From the stored strings (``sequence_step`` is ``<sequence>/<step>``)."""
        sequence, _, step = (sequence_step or "").partition("/")
        known = Stage(stage) if stage in Stage._value2member_map_ else None
        return cls(touch_id, sequence, step, known, TouchChannel(channel), status, reason)

    @property
    def is_planned(self) -> bool:
        return self.status == PLANNED

    @property
    def revivable(self) -> bool:
        return self.status == SKIPPED and self.reason in REVIVABLE


@dataclass(frozen=True, slots=True)
class NotPlanned:
    """A step the contact will not get now, and why (a decision, logged)."""

    contact_id: str
    account_id: str | None
    sequence_id: str
    step_id: str
    channel: TouchChannel
    template: str
    reason: SkipReason
    facts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Cancel:
    touch_id: str
    channel: TouchChannel
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class ContactPlan:
    """``create``: new touches; ``revive``: cancelled ones planned again (same id);
    ``cancel``: planned ones that will not go out; ``not_planned``: steps left out, why."""

    create: tuple[PlannedTouch, ...] = ()
    revive: tuple[PlannedTouch, ...] = ()
    cancel: tuple[Cancel, ...] = ()
    not_planned: tuple[NotPlanned, ...] = ()


def touch_identity(contact_id: str, sequence_id: str, step_id: str) -> str:
    """One touch per contact, sequence and step, however often the stage is entered."""
    return stable_id("t_", contact_id, sequence_id, step_id)


def cancellations(
    existing: Iterable[ExistingTouch], ledger: ConsentLedger, now: datetime
) -> list[Cancel]:
    """Planned marketing touches on channels the contact withdrew from or was suppressed on
    (rep reminders go to the rep, not the contact: the contact's consent does not stop them)."""
    return _cancellations(existing, _Consent(ledger, now))


class PlanMemo:
    """What ``plan_contact`` asks the plan, memoised over one planning pass (the contacts of a
    batch): the sequence per stage and role, whether each step is a rep reminder, the send
    windows and their openings."""

    __slots__ = ("_sequences", "_steps", "_windows", "config", "openings")

    def __init__(self, config: NurtureConfig) -> None:
        self.config = config
        self.openings = Openings()
        self._sequences: dict[tuple[Stage, str | None], NurtureSequence | None] = {}
        # id(sequence) -> (the sequence, kept alive for its id; (step, is a reminder) each)
        self._steps: dict[int, tuple[NurtureSequence, tuple[tuple[Step, bool], ...]]] = {}
        self._windows: dict[tuple[TouchChannel, str | None], SendWindow] = {}

    def sequence_for(self, stage: Stage, role: str | None) -> NurtureSequence | None:
        key = (stage, role)
        if key not in self._sequences:
            self._sequences[key] = self.config.sequence_for(stage, role)
        return self._sequences[key]

    def steps(self, sequence: NurtureSequence) -> tuple[tuple[Step, bool], ...]:
        known = self._steps.get(id(sequence))
        if known is None:
            steps = tuple((step, step.channel.is_reminder) for step in sequence.steps)
            known = self._steps[id(sequence)] = (sequence, steps)
        return known[1]

    def window_for(self, channel: TouchChannel, name: str | None) -> SendWindow:
        key = (channel, name)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = self.config.window_for(channel, name)
        return window


class _Consent:
    """``blocked`` per channel for one contact's ledger at ``now``, each asked once."""

    __slots__ = ("_known", "ledger", "now")

    def __init__(self, ledger: ConsentLedger, now: datetime) -> None:
        self.ledger, self.now = ledger, now
        self._known: dict[TouchChannel, SkipReason | None] = {}

    def blocked(self, channel: TouchChannel) -> SkipReason | None:
        if channel not in self._known:
            self._known[channel] = blocked(channel, self.ledger, self.now)
        return self._known[channel]


def _cancellations(existing: Iterable[ExistingTouch], consent: _Consent) -> list[Cancel]:
    out = []
    for t in existing:
        if t.is_planned and not t.channel.is_reminder:
            reason = consent.blocked(t.channel)
            if reason is not None:
                out.append(Cancel(t.touch_id, t.channel, reason))
    return out


def plan_contact(
    config: NurtureConfig,
    who: Recipient,
    ledger: ConsentLedger,
    existing: Sequence[ExistingTouch],
    now: datetime,
    memo: PlanMemo | None = None,
) -> ContactPlan:
    """The contact's plan for its current stage: see the module's rules. ``memo``: one
    ``PlanMemo(config)`` shared by the contacts of a planning pass (the answer is the same)."""
    memo = memo if memo is not None and memo.config is config else PlanMemo(config)
    sequence = memo.sequence_for(who.stage, who.role)
    current = sequence.id if sequence is not None else None
    cancel = [
        Cancel(t.touch_id, t.channel, SkipReason.STAGE_EXITED)
        for t in existing
        if t.is_planned and t.sequence_id != "reminder" and t.sequence_id != current
    ]
    consent = _Consent(ledger, now)
    if cancel:
        cancelled = {c.touch_id for c in cancel}
        cancel += [c for c in _cancellations(existing, consent) if c.touch_id not in cancelled]
    else:
        cancel = _cancellations(existing, consent)
    if sequence is None or sequence.id in who.exited_sequences:
        return ContactPlan(cancel=tuple(cancel))
    by_step = _by_step(existing) if existing else {}
    create: list[PlannedTouch] = []
    revive: list[PlannedTouch] = []
    not_planned: list[NotPlanned] = []
    due = now
    share = config.holdout_share(sequence)
    holdout = _holdout(config, who, sequence.id, share) if share > 0 else {}
    for step, is_reminder in memo.steps(sequence):
        if not step.conditions.hold(who.role, who.nps):
            not_planned.append(
                NotPlanned(who.contact_id, who.account_id, sequence.id, step.id, step.channel,
                           step.template, SkipReason.CONDITION_NOT_MET,
                           step.conditions.unmet(who.role, who.nps))
            )  # fmt: skip
            continue
        window = memo.window_for(step.channel, step.window)
        zone = (who.rep_timezone or who.timezone) if is_reminder else who.timezone
        due = memo.openings.next_open(window, max(due + step.delay, now), zone)
        known = by_step.get((sequence.id, step.id))
        if known is not None and not known.revivable:
            continue  # planned already, went out, or ended: never a second copy
        reason = None if is_reminder else consent.blocked(step.channel)
        if reason is not None:
            not_planned.append(
                NotPlanned(who.contact_id, who.account_id, sequence.id, step.id, step.channel,
                           step.template, reason)
            )  # fmt: skip
            continue
        if holdout and not is_reminder:  # only what would go; reps still hear
            not_planned.append(
                NotPlanned(who.contact_id, who.account_id, sequence.id, step.id, step.channel,
                           step.template, SkipReason.HOLDOUT, holdout)
            )  # fmt: skip
            continue
        touch_id = known.touch_id if known else touch_identity(who.contact_id, sequence.id, step.id)
        touch = PlannedTouch(
            touch_id=touch_id, contact_id=who.contact_id, account_id=who.account_id,
            sequence_id=sequence.id, step_id=step.id, stage=who.stage, channel=step.channel,
            template=step.template, window=step.window, due_at=due,
        )  # fmt: skip
        (revive if known is not None else create).append(touch)
    return ContactPlan(tuple(create), tuple(revive), tuple(cancel), tuple(not_planned))


def _holdout(
    config: NurtureConfig, who: Recipient, sequence_id: str, share: float
) -> dict[str, str]:
    """The facts of a held-out contact (``domain.holdout``), or none when it is treated."""
    unit = holdout_unit(config.holdout_by, who.contact_id, who.account_id)
    if not held_out(share, unit, sequence_id):
        return {}
    by = "contact" if unit == who.contact_id else "account"
    return {"stage": who.stage.value, "holdout": f"{share:.0%}", "by": by}


def _by_step(existing: Iterable[ExistingTouch]) -> dict[tuple[str, str], ExistingTouch]:
    """The stored touch of each step (retries ``<id>~r<n>`` aside), preferring one that is
    planned or went out over a cancelled one; ids from before ``touch_identity`` count too."""
    out: dict[tuple[str, str], ExistingTouch] = {}
    for t in existing:
        if RETRY_MARK in t.touch_id:
            continue
        key = (t.sequence_id, t.step_id)
        known = out.get(key)
        if known is None or (known.revivable and not t.revivable):
            out[key] = t
    return out


@dataclass(frozen=True, slots=True)
class Send:
    """Due and allowed: dispatch it now."""


@dataclass(frozen=True, slots=True)
class Defer:
    """Not now (quiet hours, a cap): decided again at ``until``, never dropped, never early."""

    reason: SkipReason
    until: datetime


@dataclass(frozen=True, slots=True)
class Skip:
    """Not at all, and why."""

    reason: SkipReason | DispatchProblem


def decide_due(
    touch: PlannedTouch | None,
    who: Recipient | None,
    address: str | None,
    ledger: ConsentLedger,
    history: Iterable[SentTouch],
    config: NurtureConfig,
    now: datetime,
) -> Send | Defer | Skip:
    """A touch whose time has come, decided again against the state *now*: the contact and its
    step still known, consent, stage, caps and windows (``check_eligibility``), an address."""
    if who is None:
        return Skip(DispatchProblem.UNKNOWN_CONTACT)
    if touch is None:
        return Skip(DispatchProblem.UNKNOWN_STEP)
    verdict = check_eligibility(touch, who, ledger, history, config, now)
    if isinstance(verdict, Skipped):
        if verdict.retry_at is not None:
            return Defer(verdict.reason, verdict.retry_at)
        return Skip(verdict.reason)
    if address is None:
        return Skip(DispatchProblem.NO_ADDRESS)
    return Send()
