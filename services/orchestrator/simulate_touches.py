"""What the nurture plan would do over history: touches sent, skipped by reason, rep reminders.

The live path plans touches when a contact's stage changes (``nurture.plan_for_changes``) and the
scheduler decides again when each one is due (``scheduler.Scheduler``). Here the same pure rules
run on simulated time: a touch is decided at its ``due_at`` against the consent ledger, the caps
over what the simulation already sent, the send window and the contact's state at that moment;
deferred touches come back at their ``retry_at``. Rep reminders follow the same rules and
deduplication window as live. No I/O.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from schemas.events import EngagementEvent
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import ConsentLedger, admit_all
from services.orchestrator.domain.eligibility import (
    PlannedTouch,
    Recipient,
    Skipped,
    SkipReason,
    check_eligibility,
)
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.outcomes import consent_from_event
from services.orchestrator.domain.planner import PLANNED, ExistingTouch, plan_contact
from services.orchestrator.domain.reminders import (
    DEDUP_WINDOW,
    ReminderReason,
    Signal,
    reminders_needed,
)
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.state import AccountState, ContactState, Decision
from services.orchestrator.domain.views import AccountView, ContactView
from services.orchestrator.nurture import PRICING_LOOKBACK, is_pricing_view, recipient_of

DISPATCHED, SKIPPED = "dispatched", "skipped"
_CALL_REASONS = {
    ReminderReason.DEMO_REQUESTED,
    ReminderReason.CONTACT_SALES,
    ReminderReason.BECAME_SQL,
}


@dataclass
class TouchTally:
    """Counts a team compares between two plans."""

    planned: Counter[str] = field(default_factory=Counter)  # by channel
    not_planned: Counter[str] = field(default_factory=Counter)  # by reason code
    sent: Counter[str] = field(default_factory=Counter)  # by "stage/channel"
    skipped: Counter[str] = field(default_factory=Counter)  # by reason code
    deferred: Counter[str] = field(default_factory=Counter)  # by reason code
    reminders: Counter[str] = field(default_factory=Counter)  # by rule
    pending: int = 0  # still due after the end of the history
    rows: list[dict[str, Any]] = field(default_factory=list)  # every decision, per touch

    def as_dict(self) -> dict[str, Any]:
        counters = ("planned", "not_planned", "sent", "skipped", "deferred", "reminders")
        return {n: dict(sorted(getattr(self, n).items())) for n in counters} | {
            "pending": self.pending
        }


class TouchSimulator:
    """Fed batch by batch by ``simulate``; ``finish`` decides what fell due by the end."""

    def __init__(self, config: NurtureConfig) -> None:
        self.config = config
        self.tally = TouchTally()
        self._due: list[tuple[datetime, str, PlannedTouch]] = []
        # id -> (touch, status, reason when skipped)
        self._touches: dict[str, tuple[PlannedTouch, str, str | None]] = {}
        self._consent_changed: dict[str, str] = {}
        self._ledgers: dict[str, ConsentLedger] = {}
        self._history: list[SentTouch] = []
        self._reminded: dict[tuple[str, ReminderReason], datetime] = {}
        self._keys: set[str] = set()
        self._pricing: dict[str, dict[str, tuple[str, datetime]]] = {}
        self._contacts: Mapping[str, ContactState] = {}
        self._accounts: Mapping[str, AccountState] = {}

    def before_batch(self, batch: Sequence[EngagementEvent], contact_of: Mapping[str, str]) -> None:
        """Decide what fell due before this batch, then record its consent changes."""
        self._run_until(batch[0].time)
        self._consent_changed = {}
        for e in sorted(batch, key=lambda e: e.time):
            source = e.received_from or e.source
            item = consent_from_event(contact_of[e.id], e.type, e.properties, source, e.time)
            if item is None:
                continue
            ledger = self._ledger(item.contact_id)
            (admitted,) = admit_all(ledger, [item])  # as live: a refused grant changes nothing
            self._ledgers[item.contact_id] = ledger.with_item(admitted)
            self._consent_changed[item.contact_id] = e.id

    def after_batch(
        self,
        batch: Sequence[EngagementEvent],
        decision: Decision,
        contact_of: Mapping[str, str],
        account_of: Mapping[str, str | None],
        contacts: Mapping[str, ContactState],
        accounts: Mapping[str, AccountState],
        now: datetime,
    ) -> None:
        """Plan for stage changes and create reminders, as ``plan_for_changes`` does live."""
        self._contacts, self._accounts = contacts, accounts
        signals = [
            Signal(e.id, contact_of[e.id], account_of.get(e.id), e.type, e.properties, e.time)
            for e in batch
        ]
        changed = {t.subject_key for t in decision.transitions if t.subject_kind == "contact"}
        became_sql = {
            t.subject_key
            for t in decision.transitions
            if t.subject_kind == "contact" and t.to_stage is Stage.SQL
        }
        mql = {k for k, a in decision.accounts.items() if a.stage is Stage.MQL}
        lead = timedelta(days=self.config.renewal_lead_days)
        needs = reminders_needed(
            signals, became_sql, mql, self._pricing_viewers(signals, now), lead
        )
        called: set[str] = set()
        for n in needs:
            if n.reason in _CALL_REASONS:
                called.add(n.contact_id)
            if n.dedup_key is not None:
                if n.dedup_key in self._keys:
                    continue
                self._keys.add(n.dedup_key)
            last = self._reminded.get((n.contact_id, n.reason))
            if last is not None and last > now - DEDUP_WINDOW:
                continue
            self._reminded[(n.contact_id, n.reason)] = now
            self.tally.reminders[n.reason.value] += 1
        for cid in sorted(changed | set(self._consent_changed)):
            who = self._recipient(cid)
            if who is None:
                continue
            ledger = replace(self._ledger(cid), bases=self.config.legal_basis)
            plan = plan_contact(self.config, who, ledger, self._existing(cid), now)
            for p in (*plan.create, *plan.revive):
                if p.channel is TouchChannel.REP_CALL_REMINDER and cid in called:
                    continue  # the rule's reminder already calls the rep
                self.tally.planned[p.channel.value] += 1
                self._touches[p.touch_id] = (p, PLANNED, None)
                heapq.heappush(self._due, (p.due_at, p.touch_id, p))
            for c in plan.cancel:
                self._set(c.touch_id, SKIPPED, c.reason)
                self.tally.skipped[c.reason.value] += 1
                self._record(self._touches[c.touch_id][0], "skipped", c.reason, now)
            for left_out in plan.not_planned:
                self.tally.not_planned[left_out.reason.value] += 1
                self.tally.rows.append({
                    "contact": cid, "touch_id": None, "sequence": left_out.sequence_id,
                    "step": left_out.step_id, "channel": left_out.channel.value,
                    "template": left_out.template, "status": "not_planned",
                    "reason": left_out.reason.value, "at": now.isoformat(),
                })  # fmt: skip
        self._exit_sequences(signals)

    def _existing(self, contact_id: str) -> list[ExistingTouch]:
        return [
            ExistingTouch(t.touch_id, t.sequence_id, t.step_id, t.stage, t.channel, status, why)
            for t, status, why in self._touches.values()
            if t.contact_id == contact_id
        ]

    def _set(self, touch_id: str, status: str, reason: str | None = None) -> None:
        touch = self._touches[touch_id][0]
        self._touches[touch_id] = (touch, status, reason)

    def _is_planned(self, touch: PlannedTouch) -> bool:
        known = self._touches.get(touch.touch_id)
        return known is not None and known[1] == PLANNED

    def _exit_sequences(self, signals: Sequence[Signal]) -> None:
        """As live (``nurture._exit_sequences``): an ``exit_on`` event skips the contact's
        planned touches of that sequence at once."""
        ended = {(seq, s.contact_id) for s in signals for seq in self.config.exited_by(s.type)}
        if not ended:
            return
        for touch, status, _ in list(self._touches.values()):
            if status == PLANNED and (touch.sequence_id, touch.contact_id) in ended:
                self._set(touch.touch_id, SKIPPED, SkipReason.SEQUENCE_EXITED)
                self.tally.skipped[SkipReason.SEQUENCE_EXITED.value] += 1
                self._record(touch, "skipped", SkipReason.SEQUENCE_EXITED, touch.due_at)

    def finish(self, until: datetime) -> TouchTally:
        self._run_until(until)
        self.tally.pending = sum(1 for _, status, _ in self._touches.values() if status == PLANNED)
        for touch, status, _ in self._touches.values():
            if status == PLANNED:
                self._record(touch, "planned", None, touch.due_at)
        return self.tally

    def _record(self, touch: PlannedTouch, status: str, reason: str | None, at: datetime) -> None:
        """One line of ``trellis simulate --per touch``: what, to whom, when, and why not."""
        self.tally.rows.append({
            "contact": touch.contact_id, "touch_id": touch.touch_id,
            "sequence": touch.sequence_id, "step": touch.step_id, "channel": touch.channel.value,
            "template": touch.template, "status": status, "reason": reason,
            "at": at.isoformat(),
        })  # fmt: skip

    def _run_until(self, until: datetime) -> None:
        while self._due and self._due[0][0] <= until:
            due_at, _, touch = heapq.heappop(self._due)
            if not self._is_planned(touch):
                continue  # cancelled meanwhile, or an earlier copy of a revived touch
            who = self._recipient(touch.contact_id)
            if who is None:
                self._set(touch.touch_id, SKIPPED, "UNKNOWN_CONTACT")
                self.tally.skipped["UNKNOWN_CONTACT"] += 1
                self._record(touch, "skipped", "UNKNOWN_CONTACT", due_at)
                continue
            ledger = replace(self._ledger(touch.contact_id), bases=self.config.legal_basis)
            verdict = check_eligibility(touch, who, ledger, self._history, self.config, due_at)
            if not isinstance(verdict, Skipped):
                self._history.append(
                    SentTouch(who.contact_id, who.account_id, touch.channel, due_at)
                )
                self._set(touch.touch_id, DISPATCHED)
                self.tally.sent[f"{touch.stage}/{touch.channel.value}"] += 1
                self._record(touch, "sent", None, due_at)
            elif verdict.retry_at is not None and verdict.retry_at > due_at:
                self.tally.deferred[verdict.reason.value] += 1
                heapq.heappush(self._due, (verdict.retry_at, touch.touch_id, touch))
                self._record(touch, "deferred", verdict.reason, due_at)
            else:
                self._set(touch.touch_id, SKIPPED, verdict.reason)
                self.tally.skipped[verdict.reason.value] += 1
                self._record(touch, "skipped", verdict.reason, due_at)

    def _ledger(self, contact_id: str) -> ConsentLedger:
        return self._ledgers.get(contact_id) or ConsentLedger(bases=self.config.legal_basis)

    def _recipient(self, contact_id: str) -> Recipient | None:
        state = self._contacts.get(contact_id)
        if state is None or state.stage is None:
            return None
        traits = dict(state.current.contact_traits)
        account = self._accounts.get(state.account_key or "")
        zone, role = traits.get("timezone"), traits.get("role")
        contact = ContactView(
            id=contact_id,
            account_id=state.account_key,
            stage=str(state.stage),
            traits=traits,
            timezone=zone if isinstance(zone, str) else None,
            role=role if isinstance(role, str) else None,
        )
        acc = (
            AccountView(id=state.account_key or "", stage=str(account.stage))
            if account is not None
            else None
        )
        return recipient_of(contact, acc, self.config)

    def _pricing_viewers(
        self, signals: Sequence[Signal], now: datetime
    ) -> dict[str, dict[str, str]]:
        """account -> {contact: event id} over the lookback, like the live decision log query."""
        views = [s for s in signals if is_pricing_view(s) and s.account_id]
        for s in views:
            assert s.account_id is not None
            self._pricing.setdefault(s.account_id, {})[s.contact_id] = (s.event_id, s.occurred_at)
        horizon = now - PRICING_LOOKBACK
        return {
            aid: {cid: eid for cid, (eid, at) in self._pricing[aid].items() if at > horizon}
            for aid in {s.account_id for s in views if s.account_id}
        }
