"""The ``nurture:`` configuration: send windows, caps, legal bases, time zones and sequences."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from services.orchestrator.domain.caps import Caps
from services.orchestrator.domain.channels import Channel, TouchChannel
from services.orchestrator.domain.consent import DEFAULT_BASES, LegalBasis
from services.orchestrator.domain.handoffs import (
    DEFAULT_SLAS,
    DEFAULT_STAGE_TEAMS,
    SALES,
    HandoffKind,
    HandoffSla,
    TeamConfig,
    TeamMember,
)
from services.orchestrator.domain.holdout import HoldoutShare, HoldoutUnit
from services.orchestrator.domain.quiet_hours import SendWindow
from services.orchestrator.domain.sequences import NurtureSequence
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_retry import TouchRetryPolicy
from services.orchestrator.domain.value_watch import ValueWatchRules


class RepProfile(BaseModel):
    """What the directory knows about one rep (keyed by the rep's email)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str | None = None
    """Reminders fall in the rep's working hours in this zone (else the contact's zone)."""
    channel: Literal["email", "slack", "webhook"] | None = None
    """How the notifier reaches this rep (else its ``TRELLIS_REP_REMINDER_VIA``)."""
    crm_id: str | None = Field(default=None, min_length=1, max_length=200)
    """The rep's owner id in the CRM: a ``crm_owner_changed`` with only ``owner_id`` finds the
    rep by it."""
    slack_user_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,20}$")
    """The rep's Slack member id (``U…``): the message @mentions them, and with a bot token it
    goes to them directly."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            ZoneInfo(name)  # raises for unknown zones
        return name


class ReminderStory(BaseModel):
    """What a rep reminder tells (``domain.reminder_story``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stale_after_hours: float = Field(default=24, gt=0, le=24 * 365)
    """A hand-raise older than this when it reached Trellis is told as late, not as fresh."""
    remind_late: bool = True
    """Whether a late hand-raise still reminds the rep (told as late) or only lands in the log."""
    talking_points: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Per reason (``demo_requested``, ...), the talking points instead of the built-in ones."""


class AccountPause(BaseModel):
    """When one stakeholder raises a hand, the account's other stakeholders' marketing waits
    (``domain.account_plays``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: float = Field(default=14, gt=0, le=90)
    """How long, from the event; the rep acknowledging a reminder at the account ends it."""
    events: dict[Stage, tuple[str, ...]] = Field(default_factory=dict)
    """Per account stage, the event types that pause (none listed: nothing pauses)."""

    @property
    def length(self) -> timedelta:
        return timedelta(days=self.days)


class NurtureConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = ""
    default_timezone: str = "UTC"
    region_timezones: dict[str, str] = Field(default_factory=dict)
    legal_basis: dict[Channel, LegalBasis] = Field(default_factory=lambda: dict(DEFAULT_BASES))
    windows: dict[str, SendWindow] = Field(default_factory=dict)
    channel_windows: dict[TouchChannel, str] = Field(
        default_factory=dict, description="the window a step uses when it names none"
    )
    caps: Caps = Caps()
    sequences: tuple[NurtureSequence, ...] = ()
    renewal_lead_days: float = Field(default=60, ge=0, le=730)
    """How long before a ``renewal_date`` the owner rep is reminded."""
    reminder_expire_days: float = Field(default=14, gt=0, le=365)
    """A reminder nobody acknowledged, snoozed or completed this long after it was due expires."""
    reminders: ReminderStory = ReminderStory()
    _chosen: dict[tuple[Stage, str | None], NurtureSequence | None] = PrivateAttr(
        default_factory=dict
    )
    reps: dict[str, RepProfile] = Field(default_factory=dict)
    """The rep directory: time zone and reminder channel per rep email."""
    retry: TouchRetryPolicy = TouchRetryPolicy()
    """Touches that failed transiently (``failed(retryable)``) are planned again with backoff."""
    holdout: HoldoutShare = 0.0
    """Share of people held out of every sequence (a sequence's own ``holdout`` wins)."""
    holdout_by: HoldoutUnit = "contact"
    """Hold out contacts one by one, or whole accounts (their contacts together)."""
    account_pause: AccountPause = AccountPause()
    """One stakeholder's hand-raise pauses the marketing to the account's others."""
    stage_teams: dict[Stage, str] = Field(default_factory=lambda: dict(DEFAULT_STAGE_TEAMS))
    """Which team owns each stage (``domain.handoffs``); entering another team's stage hands
    the account over."""
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    """People per team with their lead; every member is a rep too (added to ``reps``). Without
    a ``sales`` team the ``reps:`` directory is the sales team."""
    handoffs: dict[HandoffKind, HandoffSla] = Field(default_factory=lambda: dict(DEFAULT_SLAS))
    """Per handoff kind its SLA (kinds not listed keep the defaults)."""
    value_watch: ValueWatchRules = ValueWatchRules()
    """Time to value: the CSM is reminded when a new customer has not activated by day N, or a
    customer's usage falls, NPS turns detractor or tickets spike (``domain.churn_risk``)."""

    @model_validator(mode="before")
    @classmethod
    def _members_are_reps(cls, data: Any) -> Any:
        """Team members join the rep directory (their zone, channel, CRM id) unless listed
        there already; given SLAs override the defaults kind by kind."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("handoffs"), dict):
            data["handoffs"] = {**DEFAULT_SLAS, **data["handoffs"]}
        reps = dict(data.get("reps") or {})
        for team in (data.get("teams") or {}).values():
            members = team.members if isinstance(team, TeamConfig) else (team or {}).get("members")
            for email, member in (members or {}).items():
                if isinstance(member, TeamMember):
                    member = member.model_dump(exclude_none=True)
                profile = {k: v for k, v in (member or {}).items() if k != "capacity"}
                reps.setdefault(str(email).strip().lower(), profile)
        if reps:
            data["reps"] = reps
        return data

    @field_validator("reps")
    @classmethod
    def _rep_emails_lowercase(cls, reps: dict[str, RepProfile]) -> dict[str, RepProfile]:
        return {email.strip().lower(): profile for email, profile in reps.items()}

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        ZoneInfo(name)  # raises for unknown zones
        return name

    @model_validator(mode="after")
    def _check(self) -> Self:
        names = set(self.channel_windows.values()) | {
            s.window for q in self.sequences for s in q.steps if s.window is not None
        }
        if missing := sorted(names - set(self.windows)):
            raise ValueError(f"unknown send windows: {', '.join(missing)}")
        if uncovered := sorted(set(TouchChannel) - set(self.channel_windows)):
            raise ValueError(f"channel_windows lacks: {', '.join(uncovered)}")
        ids = [q.id for q in self.sequences]
        if len(set(ids)) != len(ids):
            raise ValueError("sequence ids must be unique")
        return self

    def window_for(self, channel: TouchChannel, name: str | None = None) -> SendWindow:
        return self.windows[name or self.channel_windows[channel]]

    def model_post_init(self, context: Any, /) -> None:
        """The stage x role -> sequence table (a ``model_copy`` changing ``sequences`` would keep
        the old one: build a new plan instead)."""
        roles = {r for q in self.sequences for r in q.roles} | {None}
        for st in Stage:
            for r in roles:
                serving = [q for q in self.sequences if q.serves(st, r)]
                serving.sort(key=lambda q: not q.roles)
                self._chosen[(st, r)] = serving[0] if serving else None

    def sequence_for(self, stage: Stage, role: str | None) -> NurtureSequence | None:
        """The role-specific sequence for the stage if any, else the stage's generic one
        (from a table built with the plan: this is asked for every contact planned)."""
        # a role no sequence names is served as no role: by the generic sequences only
        return self._chosen.get((stage, role), self._chosen[(stage, None)])

    def rep_zone(self, rep: str | None) -> ZoneInfo | None:
        profile = self.reps.get((rep or "").lower())
        return ZoneInfo(profile.timezone) if profile and profile.timezone else None

    def rep_slack_id(self, rep: str | None) -> str | None:
        profile = self.reps.get((rep or "").lower())
        return profile.slack_user_id if profile else None

    def rep_channel(self, rep: str | None) -> str | None:
        profile = self.reps.get((rep or "").lower())
        return profile.channel if profile else None

    def team(self, name: str) -> TeamConfig:
        """A team's people; ``sales`` without a team of its own is the ``reps:`` directory."""
        if name in self.teams:
            return self.teams[name]
        if name == SALES:
            return TeamConfig(members={e: TeamMember(timezone=p.timezone) for e, p in
                                       self.reps.items()})  # fmt: skip
        return TeamConfig()

    def exited_by(self, event_type: str) -> frozenset[str]:
        """The ids of the sequences an event of this type ends (their ``exit_on``)."""
        return frozenset(q.id for q in self.sequences if event_type in q.exit_on)

    def holdout_share(self, sequence: NurtureSequence) -> float:
        return self.holdout if sequence.holdout is None else sequence.holdout

    def sequence(self, sequence_id: str) -> NurtureSequence | None:
        return next((q for q in self.sequences if q.id == sequence_id), None)
