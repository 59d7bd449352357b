"""A synthetic B2B world: accounts with buying committees walking the funnel (pure, seeded).

Used by ``trellis demo`` (streams it into a running stack), ``trellis simulate`` examples and the
benchmarks. Deterministic for a seed, so a demo, a test and a benchmark see the same world.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

INDUSTRIES = ("software", "fintech", "manufacturing", "healthcare", "retail", "logistics")
REGIONS = {
    "emea": ("Europe/Berlin", "Europe/London", "Europe/Paris"),
    "na": ("America/New_York", "America/Chicago", "America/Los_Angeles"),
    "apac": ("Asia/Singapore", "Australia/Sydney", "Asia/Tokyo"),
}
ROLES = ("technical", "user", "manager", "finance", "executive")
SENIORITY = {
    "technical": "manager",
    "user": "individual",
    "manager": "manager",
    "finance": "executive",
    "executive": "executive",
}
FIRST = ("ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo", "kai", "lea")
# How far each account's journey goes, with weights (most never get past the top of the funnel).
DEPTHS = (
    ("aware", 35),
    ("engaged", 25),
    ("mql", 15),
    ("sql", 10),
    ("lost", 5),
    ("customer", 6),
    ("expansion", 2),
    ("advocate", 1),
    ("churned", 1),
)


HeldOut = Callable[[str, str], bool]
"""Whether a contact (its external id) is held out of a sequence: the stack's plan decides
(``console/demo_lift.py`` asks it), so the world knows whom nurture never touched."""
LIFTED, FLAT = "mql-proof", "engaged-technical"
DEMO_HOLDOUTS = {LIFTED: "50%", FLAT: "50%"}
"""The holdouts of ``trellis dev``'s plan: large, so a demo of a few hundred accounts measures."""
STALLS = 0.7
"""In the demo, ``mql-proof`` works: a champion held out of it stalls at mql 7 times in 10 where
a treated one would have gone on. ``engaged-technical`` changes nothing: no lift to find."""
SHALLOW = frozenset({"aware", "engaged", "mql"})
CURRENCY = {"emea": "EUR", "na": "USD", "apac": "USD"}


@dataclass(frozen=True)
class DemoRep:
    """A sales rep of the demo world: the CRM owner of the accounts in ``regions``."""

    email: str
    crm_id: str
    timezone: str
    regions: tuple[str, ...]


DEMO_REPS = (
    DemoRep("sam@trellis.example", "rep-sam", "America/Los_Angeles", ("na",)),
    DemoRep("priya@trellis.example", "rep-priya", "Asia/Kolkata", ("emea", "apac")),
)
"""Two reps half a world apart, so ``trellis demo`` shows reminders in each rep's hours
(``trellis dev`` puts them in its plan's rep directory with these zones)."""


DEMO_CSMS = (
    DemoRep("lena@trellis.example", "csm-lena", "Europe/Berlin", ("emea", "apac")),
    DemoRep("omar@trellis.example", "csm-omar", "America/New_York", ("na",)),
)
"""The success team of the demo world (its lead first): every other closed-won deal names its
region's CSM (``csm_email``), the rest go to the team's round-robin (``trellis dev``'s plan has
both teams, so the demo makes handoffs, and the ones it made in the past are breaches)."""


def owner_of(region: str) -> DemoRep:
    return next(rep for rep in DEMO_REPS if region in rep.regions)


@dataclass(frozen=True)
class Person:
    external_id: str
    email: str
    role: str
    timezone: str


class WorldBuilder:
    def __init__(self, seed: int, start: datetime, held_out: HeldOut | None = None) -> None:
        self.rnd = random.Random(seed)
        self.held_out = held_out
        self.start = start
        self.events: list[dict[str, Any]] = []
        self.serial = 0

    def emit(
        self,
        when: datetime,
        who: Person,
        account: dict[str, Any],
        kind: str,
        props: dict[str, Any] | None = None,
    ) -> None:
        self.serial += 1
        self.events.append(
            {
                "id": f"demo-{self.serial}",
                "type": kind,
                "source": "trellis-demo",
                "time": when.isoformat(),
                "contact": {
                    "external_id": who.external_id,
                    "email": who.email,
                    "traits": {
                        "role": who.role,
                        "seniority": SENIORITY[who.role],
                        "timezone": who.timezone,
                    },
                },
                "account": account,
                "properties": props or {},
            }
        )

    def account(self, n: int) -> None:
        rnd = self.rnd
        region = rnd.choice(tuple(REGIONS))
        domain = f"co{n}.example"
        account = {
            "external_id": f"acc-{n}",
            "domain": domain,
            "traits": {
                "industry": rnd.choice(INDUSTRIES),
                "region": region,
                "employees": rnd.choice((40, 120, 400, 900, 2500, 8000)),
            },
        }
        size = rnd.randint(2, 5)
        roles = ["technical", *rnd.sample(ROLES[1:], size - 1)]
        people = [
            Person(
                f"acc-{n}-u{i}",
                f"{rnd.choice(FIRST)}.{i}@{domain}",
                role,
                rnd.choice(REGIONS[region]),
            )
            for i, role in enumerate(roles)
        ]
        depth = rnd.choices([d for d, _ in DEPTHS], [w for _, w in DEPTHS])[0]
        if self._stalls(people[0], depth):
            depth = "mql"
        t = self.start + timedelta(hours=rnd.randrange(24 * 14))

        def later(hours: float = 30) -> datetime:
            nonlocal t
            t += timedelta(hours=rnd.uniform(1, hours))
            return t

        champion = people[0]
        for p in people:
            if rnd.random() < 0.7:
                self.emit(
                    later(4),
                    p,
                    account,
                    "consent_given",
                    {"channel": "email", "method": "form", "form": "newsletter-signup"},
                )
            if rnd.random() < 0.2:
                self.emit(
                    later(4),
                    p,
                    account,
                    "consent_given",
                    {"channel": "sms", "method": "form", "form": "sms-alerts-signup"},
                )
            self.emit(later(), p, account, "page_viewed", {"path": "/blog/b2b-nurture"})
        if depth == "aware":
            return
        self.emit(
            later(),
            champion,
            account,
            "content_downloaded",
            {"content_id": "guide-1", "content_type": "guide"},
        )
        self.emit(later(), champion, account, "webinar_registered", {"webinar_id": "w-1"})
        self.emit(later(), champion, account, "webinar_attended", {"webinar_id": "w-1"})
        for p in people[1:]:
            self.emit(later(), p, account, "email_clicked", {"url": "https://trellis.example/x"})
        if depth == "engaged":
            return
        for p in people[:2]:
            self.emit(later(), p, account, "page_viewed", {"path": "/pricing"})
        self.emit(
            later(),
            champion,
            account,
            "content_downloaded",
            {"content_id": "cs-1", "content_type": "case_study"},
        )
        if depth == "mql":
            return
        self.emit(later(), champion, account, "demo_requested", {"notes": "wants a demo"})
        self.emit(
            later(8),
            champion,
            account,
            "crm_owner_changed",
            {"owner_id": owner_of(region).crm_id, "owner_email": owner_of(region).email},
        )
        if depth == "sql":
            return
        self.emit(
            later(),
            champion,
            account,
            "deal_created",
            {"deal_id": f"d-{n}", "amount": 24000, "currency": CURRENCY[region]},
        )
        if depth == "lost":
            self.emit(later(200), champion, account, "deal_closed_lost", {"deal_id": f"d-{n}"})
            return
        won: dict[str, Any] = {"deal_id": f"d-{n}"}
        if n % 2 == 0:  # the CRM names a CSM; the other half: the success team's round-robin
            won["csm_email"] = next(c.email for c in DEMO_CSMS if region in c.regions)
        self.emit(later(300), champion, account, "deal_closed_won", won)
        self.emit(later(100), champion, account, "product_activated", {"plan": "team"})
        for p in people:
            self.emit(later(), p, account, "usage_milestone", {"milestone": "first_report"})
        if depth == "churned":
            self.emit(later(500), champion, account, "subscription_cancelled", {"reason": "budget"})
        elif depth == "expansion":
            self.emit(
                later(300), champion, account, "seats_changed", {"seats": 40, "previous_seats": 20}
            )
        elif depth == "advocate":
            self.emit(later(300), champion, account, "nps_submitted", {"score": 10})
        else:
            self.emit(
                later(300), people[-1], account, "nps_submitted", {"score": rnd.choice((4, 7, 8))}
            )

    def _stalls(self, champion: Person, depth: str) -> bool:
        """A champion held out of the lifting sequence may stop at mql (only with ``held_out``
        given, so the world without it is unchanged)."""
        if self.held_out is None or depth in SHALLOW:
            return False
        return self.held_out(champion.external_id, LIFTED) and self.rnd.random() < STALLS


def build_world(
    accounts: int, seed: int, start: datetime, held_out: HeldOut | None = None
) -> list[dict[str, Any]]:
    """Events of ``accounts`` accounts' journeys from ``start``, in time order; with
    ``held_out``, nurture's lift is in them (``STALLS``)."""
    builder = WorldBuilder(seed, start, held_out)
    for n in range(accounts):
        builder.account(n)
    return sorted(builder.events, key=lambda e: (e["time"], e["id"]))
