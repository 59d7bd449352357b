"""Rep reminders in Slack: a Block Kit message that @mentions the rep (``rep.slack_id`` from the
reps directory; a rep without one is named instead), tells the story in sections and carries
each link once, as a button. It goes through an incoming webhook (one shared channel) or, with
a bot token, ``chat.postMessage`` to the rep's user id (a direct message from the app)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from schemas.commands import DispatchTouch
from services.notifier.channels.base import Failed, SendResult, Sent
from services.notifier.render import RenderedMessage

BUTTONS = (
    ("ack_url", "Acknowledge", "primary"),
    ("snooze_url", "Snooze", None),
    ("contact_url", "Open contact", None),
    ("account_url", "Open account", None),
)
SECTION_MAX = 3000  # Slack: a section's text
FALLBACK_MAX = 4000  # Slack: the top-level ``text`` shown in notifications


def escape(text: object) -> str:
    """Slack's mrkdwn control characters (``&``, ``<``, ``>``) escaped, as its docs ask."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_MAX]}}


def _bullets(title: str, items: Sequence[object]) -> dict[str, Any]:
    return _section(f"*{title}*\n" + "\n".join(f"• {escape(i)}" for i in items))


def mention(variables: Mapping[str, Any]) -> str:
    """``<@U…>`` for a rep with a Slack id, else their name (the shared channel reads it)."""
    rep = variables.get("rep") if isinstance(variables.get("rep"), Mapping) else {}
    assert isinstance(rep, Mapping)
    if slack_id := rep.get("slack_id"):
        return f"<@{slack_id}>"
    return f"*For {escape(rep.get('name') or rep.get('email') or 'the account owner')}*"


def _field(title: str, lines: Sequence[object]) -> dict[str, str]:
    shown = "\n".join(escape(x) for x in lines if x)
    return {"type": "mrkdwn", "text": f"*{title}*\n{shown}"[:2000]}


def slack_payload(touch: DispatchTouch, message: RenderedMessage) -> dict[str, Any]:
    """``{text, blocks}``: the text is the notification line (no links); the links are only
    in the buttons."""
    v = touch.variables
    who, firm = v.get("contact") or {}, v.get("account") or {}
    head = f"{mention(v)} *{escape(message.subject)}*"
    if v.get("happened"):
        head += f"\n{escape(v['happened'])}"
    blocks: list[dict[str, Any]] = [_section(head)]
    if v.get("late"):
        note = ":warning: This reached Trellis late: it is not a fresh request."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    person = [who.get("label"), ", ".join(x for x in (who.get("title"), who.get("role")) if x),
              who.get("local_time")]  # fmt: skip
    place = [firm.get("label"), ", ".join(str(x) for x in (firm.get("stage"),
             f"score {firm['score']}" if firm.get("score") else None) if x),
             firm.get("coverage")]  # fmt: skip
    blocks.append({"type": "section", "fields": [_field("Who", person), _field("Account", place)]})
    if v.get("colleagues"):
        blocks.append(_bullets("Also engaged there", v["colleagues"][:8]))
    if v.get("evidence"):
        blocks.append(_bullets("What led here", v["evidence"][:8]))
    if v.get("talking_points"):
        blocks.append(_bullets("Talking points", v["talking_points"][:8]))
    if v.get("next_step"):
        blocks.append(_section(f"*Next step:* {escape(v['next_step'])}"))
    buttons = []
    for key, label, style in BUTTONS:
        if url := v.get(key):
            button = {"type": "button", "action_id": key, "url": str(url),
                      "text": {"type": "plain_text", "text": label}}  # fmt: skip
            buttons.append(button | ({"style": style} if style else {}))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    text = f"{mention(v)} {message.subject}"
    if v.get("happened"):
        text += f": {v['happened']}"
    return {"text": text[:FALLBACK_MAX], "blocks": blocks}


def _http_result(response: httpx.Response, provider_id: str) -> SendResult:
    if 200 <= response.status_code < 300:
        return Sent(provider_id=provider_id)
    retryable = response.status_code == 429 or response.status_code >= 500
    return Failed(retryable=retryable, detail=f"{response.status_code}: {response.text[:500]}")


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], provider_id: str
) -> SendResult:
    try:
        response = await client.post(url, content=body, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return Failed(retryable=True, detail=f"connect: {exc!r}")
    except httpx.TransportError as exc:
        return Failed(retryable=False, detail=f"unknown: {exc!r}")
    if not 200 <= response.status_code < 300 or "/chat.postMessage" not in url:
        return _http_result(response, provider_id)
    try:  # the Web API answers 200 with ``ok: false`` for its refusals
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return Failed(retryable=True, detail=f"not JSON: {response.text[:200]}")
    if answer.get("ok") is True:
        return Sent(provider_id=f"{provider_id}:{answer.get('ts', '')}")
    error = str(answer.get("error", "unknown"))
    return Failed(retryable=error in ("ratelimited", "rate_limited", "service_unavailable",
                                      "fatal_error", "internal_error"), detail=error)  # fmt: skip


@dataclass(frozen=True)
class SlackBot:
    """A bot token (``xoxb-…``, scope ``chat:write``) and where a rep without an id goes."""

    token: str
    api_url: str = "https://slack.com/api"
    fallback_channel: str | None = None


class SlackReminderSender:
    """With a bot: to the rep's user id (else the fallback channel, else the webhook); without
    one, the incoming webhook."""

    def __init__(
        self, webhook_url: str | None, client: httpx.AsyncClient, bot: SlackBot | None = None
    ) -> None:
        self._url = webhook_url
        self._client = client
        self._bot = bot

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        payload = slack_payload(touch, message)
        rep = touch.variables.get("rep")
        user = rep.get("slack_id") if isinstance(rep, Mapping) else None
        if self._bot is not None and (where := user or self._bot.fallback_channel):
            body = orjson.dumps({"channel": where, **payload, "unfurl_links": False})
            headers = {
                "content-type": "application/json; charset=utf-8",
                "authorization": f"Bearer {self._bot.token}",
            }
            url = f"{self._bot.api_url.rstrip('/')}/chat.postMessage"
            return await post(self._client, url, body, headers, f"slack:{touch.touch_id}")
        if self._url is None:
            return Failed(retryable=False, detail="no Slack user id, channel or webhook")
        headers = {"content-type": "application/json"}
        body = orjson.dumps(payload)
        return await post(self._client, self._url, body, headers, f"slack:{touch.touch_id}")
