"""What ``TRELLIS_ENV=prod`` refuses: settings that work on a laptop and lose data or leak trust
in production. Each check returns one operator-readable line (or nothing); the settings classes
collect them in ``prod_problems()`` and ``trellis.startup`` refuses to start on any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from trellis.db import is_sqlite

if TYPE_CHECKING:
    from trellis.settings import TrellisSettings

MIN_SECRET_CHARS = 32
"""A signing secret shorter than this can be guessed offline from one signed link."""

_PLACEHOLDER_DOMAINS = ("localhost", "example", "example.com", "example.org", "example.net",
                        "invalid", "test", "local")  # fmt: skip
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "0.0.0.0", "localhost")  # noqa: S104 - compared, not bound


def weak_secret(variable: str, value: SecretStr | None, *dev_values: str) -> str | None:
    """A dev placeholder or a short secret: anyone who reads the repository can sign with it."""
    secret = value.get_secret_value() if value is not None else ""
    if not secret:
        return f"{variable} is not set"
    if secret in dev_values:
        return f"{variable} is the public dev value; set a random one of {MIN_SECRET_CHARS}+ chars"
    if len(secret) < MIN_SECRET_CHARS:
        return f"{variable} has {len(secret)} chars; at least {MIN_SECRET_CHARS} are needed"
    return None


def placeholder_domain(domain: str) -> bool:
    """True for domains that never reach a real mailbox (RFC 2606/6761) or only this host."""
    domain = domain.strip().strip(".").lower()
    return domain in _LOOPBACK_HOSTS or any(
        domain == d or domain.endswith("." + d) for d in _PLACEHOLDER_DOMAINS
    )


def placeholder_sender(variable: str, address: str) -> str | None:
    """A ``From`` at localhost or example.*: providers reject it, receivers mark it as spam."""
    domain = address.rsplit("@", 1)[-1].rstrip(">").strip() if "@" in address else ""
    if not domain or placeholder_domain(domain):
        return f"{variable} ({domain or 'no domain'}) is not a domain you send from"
    return None


def loopback_url(variable: str, url: str) -> str | None:
    """A link recipients or reps click must not point at the machine that sent it."""
    host = urlsplit(url).hostname or ""
    if not host or placeholder_domain(host):
        return f"{variable} points at {host or 'no host'}; set the public address"
    return None


def unset(settings: TrellisSettings, *fields: str) -> list[str]:
    """Provider settings left at their dev defaults (never given in the environment)."""
    return [
        f"TRELLIS_{name.upper()} is not set (its default is the dev sink)"
        for name in fields
        if name not in settings.model_fields_set
    ]


def base_problems(settings: TrellisSettings) -> list[str]:
    """What every service refuses in prod: the memory-only broker and a single-file database."""
    problems = []
    if settings.uses_embedded_broker:
        problems.append(
            "TRELLIS_KAFKA_BOOTSTRAP is 'embedded': the memory-only broker loses every "
            "acknowledged event when it stops; name a Kafka cluster"
        )
    if is_sqlite(settings.resolved_database_url):
        problems.append(
            "TRELLIS_DATABASE_URL is SQLite: one file on one host; set a postgresql:// URL"
        )
    return problems
