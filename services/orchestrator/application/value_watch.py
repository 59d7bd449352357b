"""The time-to-value watch through the unit of work (the rules are ``domain.churn_risk``).

``needs_after_batch``: a batch's product, deal, ticket, NPS and seat events fold into their
accounts' watches; each watch is checked at ``now`` before the fold (what time alone changed:
an episode that cleared, a day N that passed) and after it; the alerts become reminder needs
for the account's CSM, created with the batch's other reminders. ``handle_value_watch``: the
reminder clock's part, for what fires on an absence (no activation by day N, usage that
stopped): the watches whose ``next_check_at`` has come, checked and reminded the same way.

The CSM is the account's owner in the team that owns onboarding (``stage_teams``), else the
owner rep / pool as for every rep reminder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.orchestrator.application import rep_reminders
from services.orchestrator.application.unit_of_work import UnitOfWork
from services.orchestrator.domain.churn_risk import Alert, Verdict, check, next_check
from services.orchestrator.domain.churn_risk_story import points, story
from services.orchestrator.domain.identity import AccountMerge
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.reminders import ReminderNeed, ReminderReason, Signal
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.domain.value_watch import (
    ACTIVATED,
    MILESTONE,
    WON,
    ValueWatch,
    ValueWatchRules,
    merged,
    observe,
)
from services.orchestrator.people import Nurture

CLEARED, PASSED_OVER = "churn_risk_cleared", "activation_check_too_late"
"""Decision kinds of the watch's own rows (its reminders log as every reminder does)."""
STARTS = frozenset({WON, ACTIVATED, MILESTONE})
"""Events that start a watch for an account without one (the others only add to one)."""
CLOCK_BATCH = 500


@dataclass(frozen=True)
class Watched:
    checked: int
    reminded: int


async def needs_after_batch(
    uow: UnitOfWork,
    nurture: Nurture,
    signals: Sequence[Signal],
    now: datetime,
    log: list[DecisionRecord],
    remind: bool = True,
) -> list[ReminderNeed]:
    """Fold the batch into the watches and return the reminders they call for (``remind``
    off, as for imported history: folded and saved, nothing checked)."""
    rules = nurture.config.value_watch
    mine = [s for s in signals if s.account_id and rules.enabled and rules.watches(s.type)]
    if not mine:
        return []
    stored = await uow.value_watches.load({s.account_id for s in mine if s.account_id})
    watches = dict(stored)
    alerts: list[tuple[Alert, ValueWatch]] = []
    verdicts: dict[str, Verdict] = {}
    for s in sorted(mine, key=lambda s: (s.occurred_at, s.event_id)):
        assert s.account_id is not None
        w = watches.get(s.account_id)
        if w is None and not (s.type in STARTS or s.type in rules.usage_events):
            continue
        if w is None:
            w = ValueWatch(s.account_id)
        elif remind and s.account_id in stored and s.account_id not in verdicts:
            verdicts[s.account_id] = check(w, now, rules)  # what time alone changed
            w = verdicts[s.account_id].watch
            alerts += [(a, w) for a in verdicts[s.account_id].alerts]
        watches[s.account_id] = observe(w, s.type, s.properties, s.occurred_at, s.event_id,
                                        s.contact_id, rules)  # fmt: skip
    checked = []
    for aid, w in sorted(watches.items()):
        if remind:
            before = verdicts.get(aid)
            verdict = check(w, now, rules)
            _log_verdict(before, verdict, now, nurture, log)
            w = verdict.watch
            alerts += [(a, w) for a in verdict.alerts]
        checked.append((w, next_check(w, now, rules) if remind else _first_check(w, now, rules)))
    await uow.value_watches.save(checked, now)
    return await _needs(uow, nurture, alerts, now)


async def absorb_merges(
    uow: UnitOfWork, merges: Sequence[AccountMerge], now: datetime, rules: ValueWatchRules
) -> None:
    """A merged-away account's watch folds into its survivor's (what was told stays told)."""
    if not merges:
        return
    stored = await uow.value_watches.load({a for m in merges for a in (m.loser, m.winner)})
    gone: list[str] = []
    kept: dict[str, ValueWatch] = {}
    for m in merges:
        lost = stored.pop(m.loser, None)
        if lost is not None:
            survivor = kept.get(m.winner) or stored.get(m.winner) or ValueWatch(m.winner)
            kept[m.winner] = merged(survivor, lost, rules)
            gone.append(m.loser)
    await uow.value_watches.save([(w, next_check(w, now, rules)) for w in kept.values()], now)
    await uow.value_watches.retire(gone)


def told_once(
    needs: Sequence[ReminderNeed], watched: Sequence[ReminderNeed], now: datetime,
    log: list[DecisionRecord], version: str,
) -> list[ReminderNeed]:  # fmt: skip
    """The batch's needs with the watch's: a detractor whose answer opened a churn-risk episode
    is told once, to the CSM with the account's evidence, not also as the rep's
    ``nps_detractor`` (logged as deduplicated, saying so)."""
    opened = {
        (n.account_id, n.contact_id) for n in watched if n.reason is ReminderReason.CHURN_RISK
    }
    kept = []
    for n in needs:
        if n.reason is ReminderReason.NPS_DETRACTOR and (n.account_id, n.contact_id) in opened:
            log.append(DecisionRecord(
                contact_id=n.contact_id, account_id=n.account_id,
                kind=TouchDecision.REMINDER_DEDUPLICATED, reason=Reason.NPS_DETRACTOR,
                facts={"evidence": list(n.evidence), "told_as": ReminderReason.CHURN_RISK.value},
                playbook_version=version, decided_at=now,
            ))  # fmt: skip
            continue
        kept.append(n)
    return [*kept, *watched]


def _first_check(w: ValueWatch, now: datetime, rules: ValueWatchRules) -> datetime | None:
    """Imported history: the clock looks at the watch now (a day N long past is passed over)."""
    return now if next_check(w, now, rules) is not None else None


async def handle_value_watch(
    uow: UnitOfWork, nurture: Nurture, now: datetime, limit: int = CLOCK_BATCH
) -> Watched:
    """The reminder clock's pass: the watches due by ``now``, checked and reminded."""
    rules = nurture.config.value_watch
    if not rules.enabled:
        return Watched(0, 0)
    due = await uow.value_watches.due(now, limit)
    if not due:
        return Watched(0, 0)
    log: list[DecisionRecord] = []
    alerts, checked = [], []
    for w in due:
        verdict = check(w, now, rules)
        _log_verdict(None, verdict, now, nurture, log)
        alerts += [(a, verdict.watch) for a in verdict.alerts]
        checked.append((verdict.watch, next_check(verdict.watch, now, rules)))
    await uow.value_watches.save(checked, now)
    needs = await _needs(uow, nurture, alerts, now)
    people = await uow.contacts.views({n.contact_id for n in needs})
    accs = await uow.accounts.views({n.account_id for n in needs if n.account_id})
    await rep_reminders.create_reminders(uow, nurture, needs, people, accs, now, log)
    await uow.decisions.log(log)
    return Watched(len(due), len(needs))


def _log_verdict(
    before: Verdict | None, after: Verdict, now: datetime, nurture: Nurture,
    log: list[DecisionRecord],
) -> None:  # fmt: skip
    version = nurture.config.version or "nurture"
    for v in (before, after):
        if v is None:
            continue
        w = v.watch
        facts: dict[str, object] = {}
        if v.ended is not None:
            facts = {"episode_since": v.ended.isoformat(), "episodes": w.episodes}
            log.append(DecisionRecord(
                contact_id=w.contact_id, account_id=w.account_id, kind=CLEARED,
                reason=Reason.CHURN_RISK_CLEARED, facts=facts, playbook_version=version,
                decided_at=now,
            ))  # fmt: skip
        if v.passed_over and w.won_at is not None:
            facts = {"won_at": w.won_at.isoformat()}
            log.append(DecisionRecord(
                contact_id=w.contact_id, account_id=w.account_id, kind=PASSED_OVER,
                reason=Reason.ACTIVATION_CHECK_TOO_LATE, facts=facts, playbook_version=version,
                decided_at=now,
            ))  # fmt: skip


async def _needs(
    uow: UnitOfWork, nurture: Nurture, alerts: Sequence[tuple[Alert, ValueWatch]], now: datetime
) -> list[ReminderNeed]:
    """Each alert as a reminder need for the account's CSM, its evidence as the story."""
    mine = [(a, w) for a, w in alerts if a.contact_id is not None]
    if not mine:
        return []
    csm = await csms(uow, nurture, {a.account_id for a, _ in mine})
    rules = nurture.config.value_watch
    return [
        ReminderNeed(
            str(a.contact_id), a.account_id, ReminderReason(a.risk.value), (a.dedup_key,),
            dedup_key=a.dedup_key, rep=csm.get(a.account_id), story=story(a, w, now, rules),
            points=points(a),
        )
        for a, w in mine
    ]  # fmt: skip


async def csms(uow: UnitOfWork, nurture: Nurture, account_ids: Iterable[str]) -> dict[str, str]:
    """account -> its owner in the team that owns onboarding, where it has one."""
    team = nurture.config.stage_teams.get(Stage.ONBOARDING)
    if team is None:
        return {}
    owners = await uow.handoffs.owners(account_ids)
    return {aid: o.owner for (aid, t), o in owners.items() if t == team}
