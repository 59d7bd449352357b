"""Signed, expiring links for reminder actions: a rep clicking "Acknowledge" in Slack or email
lands on the ops API without an API key.

A token is bound to one reminder id and one action (``acknowledge``, ``snooze``, ``complete``):
payload ``v1|<reminder>|<action>|<expiry epoch>``, HMAC-SHA256 with a key *derived* from the
configured secret, so these tokens can never pass as another Trellis token signed with the same
secret. Expired tokens are told apart from forged ones (a clearer error for the rep).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote, urlencode

from services.orchestrator.domain.reminders import ReminderAction
from trellis import b64url

LINK_ACTIONS = (ReminderAction.ACKNOWLEDGE, ReminderAction.SNOOZE, ReminderAction.COMPLETE)
_CONTEXT = b"trellis/reminder-links/v1"


class LinkProblem(StrEnum):
    MISSING = "missing"
    INVALID = "invalid"  # forged, malformed, or for another reminder or action
    EXPIRED = "expired"


@dataclass(frozen=True)
class ReminderLinks:
    secret: bytes
    base_url: str
    ttl: timedelta = timedelta(days=7)

    def _sign(self, payload: bytes) -> bytes:
        key = hmac.new(self.secret, _CONTEXT, hashlib.sha256).digest()
        return hmac.new(key, payload, hashlib.sha256).digest()

    def token(self, reminder_id: str, action: ReminderAction, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        payload = f"v1|{reminder_id}|{action.value}|{expires}".encode()
        return f"{b64url.encode(payload)}.{b64url.encode(self._sign(payload))}"

    def check(
        self, token: str | None, reminder_id: str, action: ReminderAction, now: datetime
    ) -> LinkProblem | None:
        """``None`` when the token allows ``action`` on ``reminder_id`` at ``now``."""
        if not token:
            return LinkProblem.MISSING
        try:
            payload_b64, sig_b64 = token.split(".", 1)
            payload, sig = b64url.decode(payload_b64), b64url.decode(sig_b64)
            version, rid, act, expires = payload.decode().split("|")
            expiry = int(expires)
        except (ValueError, UnicodeDecodeError):
            return LinkProblem.INVALID
        if not hmac.compare_digest(sig, self._sign(payload)) or version != "v1":
            return LinkProblem.INVALID
        if rid != reminder_id or act != action.value:
            return LinkProblem.INVALID
        if now.timestamp() > expiry:
            return LinkProblem.EXPIRED
        return None

    def url(self, reminder_id: str, action: ReminderAction, now: datetime) -> str:
        query = urlencode({"token": self.token(reminder_id, action, now)})
        return f"{self.base_url.rstrip('/')}/v1/reminders/{quote(reminder_id)}/{action}?{query}"

    def variables(
        self, reminder_id: str, contact_id: str | None, account_id: str | None, now: datetime
    ) -> dict[str, str]:
        """The link variables the notifier's reminder channels render (``LINKS`` there). The
        person and the account open the dashboard's pages (the login form first when the
        browser has no session, then back to the page), not the API, which a browser cannot
        authenticate to."""
        base = self.base_url.rstrip("/")
        out = {
            "ack_url": self.url(reminder_id, ReminderAction.ACKNOWLEDGE, now),
            "snooze_url": self.url(reminder_id, ReminderAction.SNOOZE, now),
        }
        if contact_id:
            out["contact_url"] = f"{base}/ui/contacts/{quote(contact_id, safe='')}"
        if account_id:
            out["account_url"] = f"{base}/ui/accounts/{quote(account_id, safe='')}"
        return out
