"""A world of producers for our own tools (demo, bench, chaos): each event goes out with the key
of a source whose kind may assert it, as a real deployment's website, backend, CRM and consent
tool each send their own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schemas.vocabulary import SourceKind, kinds_allowed

DEV_KINDS: tuple[SourceKind, ...] = (
    SourceKind.SDK,
    SourceKind.SERVER,
    SourceKind.CRM,
    SourceKind.CONSENT,
)
"""The sources ``make run`` creates (``dev`` is the sdk one), in order of preference."""


class NoSourceFor(ValueError):
    def __init__(self, event_type: str, have: Sequence[SourceKind]) -> None:
        allowed = ", ".join(sorted(k.value for k in kinds_allowed(event_type)))
        super().__init__(
            f"no key of a kind that may send {event_type} (allowed: {allowed}; "
            f"have: {', '.join(k.value for k in have) or 'none'})"
        )


def key_for(event_type: str, keys: Mapping[SourceKind, str]) -> str:
    for kind in DEV_KINDS:
        if kind in keys and kind in kinds_allowed(event_type):
            return keys[kind]
    raise NoSourceFor(event_type, list(keys))


def route(
    events: Sequence[dict[str, Any]], keys: Mapping[SourceKind, str], most: int
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Consecutive runs of events that share a key, at most ``most`` per run, in order."""
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    for event in events:
        key = key_for(event["type"], keys)
        if runs and runs[-1][0] == key and len(runs[-1][1]) < most:
            runs[-1][1].append(event)
        else:
            runs.append((key, [event]))
    return runs


def dev_key_file_name(kind: SourceKind) -> str:
    """``dev-write-key`` for the sdk source (the README's curl), ``dev-<kind>-write-key``."""
    return "dev-write-key" if kind is SourceKind.SDK else f"dev-{kind.value}-write-key"


def dev_source_name(kind: SourceKind) -> str:
    return "dev" if kind is SourceKind.SDK else f"dev-{kind.value}"
