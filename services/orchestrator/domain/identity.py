"""Identity resolution, decided purely: which contact and account each event belongs to.

Contacts are known by aliases (``ext:<id>``, ``email:<addr>``, ``anon:<id>``). An event's aliases
are looked up (by the adapter, in bulk); the strongest known alias wins (external id, then email,
then anonymous id); an event whose aliases are all new creates a contact whose id is derived from
its strongest alias, so replays and concurrent instances derive the same id. When one event ties
together two known contacts (an anonymous visitor identifies as a known lead), the weaker contact
is merged into the stronger: its aliases move and the merge is recorded.

Accounts are keyed by external id or domain; an email's domain maps to its account unless it is a
free-mail domain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.events import EngagementEvent

ALIAS_PRIORITY = ("ext:", "email:", "anon:")

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "outlook.com",
        "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me",
        "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "yandex.com",
        "yandex.ru", "zoho.com", "fastmail.com", "hey.com", "qq.com", "163.com", "126.com",
        "naver.com", "orange.fr", "free.fr", "t-online.de", "libero.it", "hotmail.co.uk",
    }
)  # fmt: skip


def stable_id(prefix: str, key: str) -> str:
    """A short id that every instance derives the same way from the same key."""
    return prefix + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def contact_aliases(event: EngagementEvent) -> list[str]:
    """The event's contact aliases, strongest first."""
    c = event.contact
    out = []
    if c.external_id:
        out.append("ext:" + c.external_id)
    if c.email:
        out.append("email:" + str(c.email).lower())
    if c.anonymous_id:
        out.append("anon:" + c.anonymous_id)
    return out


def normal_domain(domain: str | None) -> str | None:
    """A domain as accounts are keyed by it: lower case, without ``www.``."""
    return (domain or "").lower().removeprefix("www.") or None


def account_key(event: EngagementEvent) -> str | None:
    """``ext:<id>`` or ``domain:<d>``; from the contact's work email when no account is given."""
    a = event.account
    if a is not None:
        if a.external_id:
            return "ext:" + a.external_id
        return "domain:" + (normal_domain(a.domain) or "")
    email = event.contact.email
    if email:
        domain = str(email).rsplit("@", 1)[1].lower()
        if domain not in FREE_MAIL_DOMAINS:
            return "domain:" + domain
    return None


@dataclass(frozen=True)
class Merge:
    """``loser`` was found to be the same person as ``winner``; ``via`` tied them together."""

    loser: str
    winner: str
    via: str
    event_id: str


@dataclass
class Resolution:
    contact_of: dict[str, str] = field(default_factory=dict)  # event id -> contact id
    new_aliases: dict[str, str] = field(default_factory=dict)  # alias -> contact id
    moved_aliases: dict[str, str] = field(default_factory=dict)  # alias -> new contact id
    merges: list[Merge] = field(default_factory=list)
    created: set[str] = field(default_factory=set)


def resolve_contacts(
    events: Sequence[EngagementEvent],
    known: Mapping[str, str],
    aliases_of: Sequence[list[str]] | None = None,
) -> Resolution:
    """Assign a contact id to every event. ``known`` maps alias -> contact id from storage;
    ``aliases_of``: each event's ``contact_aliases``, where the caller has them already."""
    alias_of: dict[str, str] = dict(known)
    res = Resolution()
    for i, event in enumerate(events):
        aliases = aliases_of[i] if aliases_of is not None else contact_aliases(event)
        owners = [alias_of[a] for a in aliases if a in alias_of]
        if owners:
            winner = owners[0]
        else:
            winner = stable_id("c_", aliases[0])
            res.created.add(winner)
        for loser in dict.fromkeys(o for o in owners[1:] if o != winner):
            via = next(a for a in aliases if alias_of.get(a) == loser)
            res.merges.append(Merge(loser, winner, via, event.id))
            for alias, owner in list(alias_of.items()):
                if owner == loser:
                    alias_of[alias] = winner
                    if alias in known:
                        res.moved_aliases[alias] = winner
                    else:
                        res.new_aliases[alias] = winner
        for alias in aliases:
            if alias not in alias_of:
                alias_of[alias] = winner
                res.new_aliases[alias] = winner
        res.contact_of[event.id] = winner
    if res.merges:  # an earlier event of the batch may name a contact merged away since
        res.contact_of = {eid: merged_into(cid, res.merges) for eid, cid in res.contact_of.items()}
        res.created -= {m.loser for m in res.merges}
    return res


def merged_into(contact: str, merges: Sequence[Merge]) -> str:
    """The contact ``contact`` is after ``merges`` (in order; a chain is followed)."""
    for m in merges:
        if m.loser == contact:
            contact = m.winner
    return contact


def account_refs(event: EngagementEvent) -> tuple[str | None, str | None]:
    """(external id, domain) the event names for its account; the domain may come from a work
    email when no account is given."""
    a = event.account
    if a is not None:
        return a.external_id, normal_domain(a.domain)
    key = account_key(event)
    return None, key.removeprefix("domain:") if key else None


@dataclass(frozen=True)
class KnownIdentity:
    """What a batch says about a contact's or an account's identifiers (and an account's
    traits); stored where the row has none yet."""

    external_id: str | None = None
    email: str | None = None
    domain: str | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountMerge:
    """``loser``, an account known only by its domain, is the company ``winner`` names by
    external id (one event named both). ``domain``: the loser's domain when the winner already
    had one, so the merged-away row keeps it (it still finds the winner); None when it moved."""

    loser: str
    winner: str
    via: str
    event_id: str
    domain: str | None = None


@dataclass
class AccountResolution:
    account_of: dict[str, str | None] = field(default_factory=dict)  # event id -> account id
    claims: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> new identifiers
    merges: list[AccountMerge] = field(default_factory=list)


def resolve_accounts(
    events: Sequence[EngagementEvent],
    known: Sequence[tuple[str, str | None, str | None]],
    refs: Sequence[tuple[str | None, str | None]] | None = None,
) -> AccountResolution:
    """Match by external id, then by domain. ``known`` holds stored (id, external id, domain)
    triples (an account may appear once per domain it is known by).

    A new external id adopts the account known by its domain if that account has no external id
    yet (first seen through a work email, then named by the CRM); a domain held by an account with
    another external id is not claimed again (subsidiaries may share one). An event naming a
    known external id and a domain known to an account without one merges that account into the
    external id's: one company, seen twice. ``refs``: each event's ``account_refs``, where the
    caller has them already.
    """
    ext_of = {ext: aid for aid, ext, _ in known if ext}
    dom_of = {dom: aid for aid, _, dom in known if dom}
    has_ext = {aid for aid, ext, _ in known if ext}
    stored = {aid for aid, _, _ in known}
    res = AccountResolution()
    for i, event in enumerate(events):
        ext, domain = refs[i] if refs is not None else account_refs(event)
        if ext is None and domain is None:
            res.account_of[event.id] = None
            continue
        aid = ext_of.get(ext) if ext else None
        if domain in dom_of:
            candidate = dom_of[domain]
            if aid is None and (ext is None or candidate not in has_ext):
                aid = candidate
            elif aid is not None and candidate != aid and candidate not in has_ext:
                _merge(res, dom_of, candidate, aid, domain, event.id, candidate in stored)
        if aid is None:
            aid = stable_id("a_", "ext:" + ext if ext else "domain:" + (domain or ""))
        claims = res.claims.setdefault(aid, {})
        if ext and ext not in ext_of:
            ext_of[ext] = aid
            has_ext.add(aid)
            claims["external_id"] = ext
        if domain and domain not in dom_of:
            dom_of[domain] = aid
            claims["domain"] = domain
        res.account_of[event.id] = aid
    return res


def _merge(
    res: AccountResolution, dom_of: dict[str, str], loser: str, winner: str, domain: str,
    event_id: str, stored: bool,
) -> None:  # fmt: skip
    """``loser`` (no external id, so known by ``domain`` only) becomes ``winner``: its domain
    moves to the winner if the winner has none, its earlier events of the batch follow. A loser
    first seen in this batch is recorded only if its row must keep the domain."""
    takes = winner not in dom_of.values()
    dom_of[domain] = winner
    res.claims.pop(loser, None)
    if takes:
        res.claims.setdefault(winner, {})["domain"] = domain
    if stored or not takes:
        kept = None if takes else domain
        res.merges.append(AccountMerge(loser, winner, "domain:" + domain, event_id, kept))
    for eid, aid in res.account_of.items():
        if aid == loser:
            res.account_of[eid] = winner
