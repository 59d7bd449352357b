"""Orchestrator settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from services.orchestrator.adapters.nurture_file import default_nurture, load_nurture
from services.orchestrator.adapters.playbook_file import default_playbook, load_playbook
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.retention import Retention
from trellis.memory import memory_limit
from trellis.prod_checks import loopback_url, weak_secret
from trellis.settings import TrellisSettings

DEV_OPS_LINK_SECRET = "dev-ops-link-secret-change-me"  # noqa: S105 - refused outside dev


class OrchestratorSettings(TrellisSettings):
    orchestrator_group: str = "trellis-orchestrator"
    orchestrator_max_batch: int = 10_000
    """The largest batch, taken by a lane that is behind. A batch pays per contact and account
    it touches (load, fold set-up, encode, one row each), so the more of each one's events a
    batch holds, the less each event costs: time-ordered history gives each contact about one
    event per 5,000. Was 2,000, then 5,000 (bench orchestrator: ~20% less CPU per event in the
    orchestrator, ~30% less in PostgreSQL); at 10,000 (2026-11-27) bench orchestrator measured
    13,012 against 11,259 ev/s (CPU 68 against 79 µs an event, PostgreSQL 25 against 31) and a
    historical import 17.6-19.3k against 14.6-16.2k ev/s. A hand-raise of a quiet spell waits
    for the batch in flight, then the budget sizes the lane's batches."""
    orchestrator_lanes: int | None = None
    """Batch loops over disjoint partitions (``pipeline``); unset: 2 on PostgreSQL, 1 on SQLite
    (one writer: a second lane would only wait on the first)."""
    orchestrator_lanes_on_backlog: bool = True
    """Lanes after the first open only while a full batch behind (``LanedConsumer.on_backlog``):
    one lane keeps latency when caught up, two catch up faster on a backlog."""
    orchestrator_min_batch: int = 100
    """The batch size a caught-up lane fetches; up to ``orchestrator_max_batch`` with lag."""
    orchestrator_outcomes_batch: int = Field(default=250, ge=1)
    """The largest batch of delivery outcomes. On SQLite a batch of them holds the one writer's
    lock, and a demo request's batch waits for it: a marketing drain's outcomes (thousands a
    second) in batches of up to ``orchestrator_max_batch`` held it for up to 1.9 s."""
    orchestrator_batch_budget_ms: float = Field(default=150.0, ge=0)
    """The longest a batch of engagement events should take while hand-raises flow (for 60 s
    after the last; 0: no limit); a lane sizes its next batch from the pace of its last ones,
    and a hand-raise waits about this for the batch in flight, then rides on the next
    (``pipeline``). Short batches cost a backlog throughput, so the budget holds only then."""
    playbook: Path | None = None
    """``TRELLIS_PLAYBOOK``: a playbook.yaml; the shipped default when unset."""

    nurture: Path | None = None
    """``TRELLIS_NURTURE``: a nurture plan YAML; the shipped default when unset."""
    orchestrator_rep_pool: str = ""
    """Comma-separated rep addresses for contacts without a CRM owner (chosen by account)."""
    rep_domains: str = ""
    """``TRELLIS_REP_DOMAINS``: comma-separated domains whose addresses are reps. A CRM owner
    change naming an address outside them, the directory and the pool is refused."""
    orchestrator_scheduler_interval_s: float = 1.0
    orchestrator_scheduler_batch: int = 500
    orchestrator_round_gap_ms: float = Field(default=200.0, ge=0, le=60_000)
    """The least time between the starts of two dispatch rounds woken by batches: wakes in
    between coalesce into one round (bigger rounds, fewer statements per touch). A hand-raise's
    reminder goes out in its batch's own round (``dispatch_now``), not after this gap."""
    orchestrator_redispatch_after_s: float = Field(
        default=600.0, gt=0, description="a touch still dispatched without an outcome this long "
        "is published again (same touch id: the notifier sends it at most once)",
    )  # fmt: skip
    orchestrator_redispatch_interval_s: float = Field(default=30.0, gt=0)
    orchestrator_tune_gc: bool = Field(
        default=True, description="freeze start-up objects, collect less often (collector.tune_gc)"
    )
    orchestrator_collect_between_batches: bool = Field(
        default=True,
        description="run the cyclic garbage collector after each batch and on a 1 s timer, "
        "never inside a batch (collector.Collector)",
    )
    orchestrator_state_cache_mb: int | None = Field(
        default=None, ge=0, description="memory for parsed lifecycle states kept between batches "
        "(0: none); default a quarter of what this process may use (its container's limit, else "
        "RAM): at about 6 KB a contact, 6 GB keeps a million contacts' states",
    )  # fmt: skip
    ops_serve: bool = True
    """``TRELLIS_OPS_SERVE``: serve the ops API next to the consumer."""
    ops_host: str = "127.0.0.1"
    ops_port: int = Field(default=8001, ge=0, le=65535)
    ops_base_url: str = "http://127.0.0.1:8001"
    """The ops API as reps reach it: the base of the links in reminder messages."""
    ops_link_secret: SecretStr = SecretStr(DEV_OPS_LINK_SECRET)
    ops_link_ttl_days: float = Field(default=7.0, gt=0)
    retention_inbox_margin_days: float = Field(
        default=7.0, ge=0, description="event ids kept this long past the topic's retention"
    )
    retention_decisions_days: float = Field(
        default=90.0, ge=0, description="decision log rows kept (0: forever)"
    )
    retention_touches_days: float = Field(
        default=180.0,
        ge=0,
        description="finished touches kept (0: forever); keep above every cap window",
    )
    prune_interval_s: float = Field(default=600.0, gt=0)
    prune_batch: int = Field(default=1000, ge=1, le=100_000)

    @model_validator(mode="after")
    def _real_link_secret_outside_dev(self) -> OrchestratorSettings:
        if self.env == "prod" and self.ops_link_secret.get_secret_value() == DEV_OPS_LINK_SECRET:
            raise ValueError("TRELLIS_OPS_LINK_SECRET must be set in prod")
        return self

    def prod_problems(self) -> list[str]:
        found = (
            weak_secret("TRELLIS_OPS_LINK_SECRET", self.ops_link_secret, DEV_OPS_LINK_SECRET),
            loopback_url("TRELLIS_OPS_BASE_URL", self.ops_base_url),  # reps click these links
        )
        return super().prod_problems() + [p for p in found if p]

    def state_cache_bytes(self) -> int:
        """``orchestrator_state_cache_mb`` in bytes, or a quarter of ``memory_limit()``."""
        if self.orchestrator_state_cache_mb is not None:
            return self.orchestrator_state_cache_mb << 20
        return memory_limit() // 4

    @property
    def rep_pool(self) -> tuple[str, ...]:
        return tuple(r.strip() for r in self.orchestrator_rep_pool.split(",") if r.strip())

    @property
    def rep_domain_list(self) -> tuple[str, ...]:
        return tuple(d.strip().lower() for d in self.rep_domains.split(",") if d.strip())

    @property
    def retention(self) -> Retention:
        """How long each table keeps its rows; contacts, accounts and consent: forever."""
        return Retention.of_days(
            inbox=self.topic_retention_days + self.retention_inbox_margin_days,
            decisions=self.retention_decisions_days,
            touches=self.retention_touches_days,
        )

    def load_nurture(self) -> NurtureConfig:
        return load_nurture(self.nurture) if self.nurture else default_nurture()

    def load_playbook(self) -> Playbook:
        return load_playbook(self.playbook) if self.playbook else default_playbook()
