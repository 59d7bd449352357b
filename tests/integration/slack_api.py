"""A local Slack: ``chat.postMessage`` (bot token) and an incoming webhook, both refusing a
request Slack would refuse — wrong auth or content type, no text, or Block Kit outside its
documented limits — so a test passing here sends what Slack takes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.integration.notifier_servers import serving
from trellis.broker import free_port

BOT_TOKEN = "xoxb-test-token"
TEXT_TYPES = {"mrkdwn", "plain_text"}


def _text(obj: Any, limit: int, types: set[str] = TEXT_TYPES) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in types:
        return [f"not a text object: {obj!r}"]
    text = obj.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        return [f"text empty or over {limit}"]
    return []


def block_problems(blocks: Any) -> list[str]:
    """What Slack's Block Kit reference says no to, for the block types we send."""
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return ["blocks: a list of 1..50"]
    problems: list[str] = []
    action_ids: set[str] = set()
    for b in blocks:
        kind = b.get("type")
        if kind == "section":
            fields = b.get("fields")
            if "text" not in b and not fields:
                problems.append("section without text or fields")
            if "text" in b:
                problems += _text(b["text"], 3000)
            if fields is not None:
                if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                    problems.append("section fields: 1..10")
                for f in fields or ():
                    problems += _text(f, 2000)
        elif kind == "context":
            elements = b.get("elements") or []
            if not 1 <= len(elements) <= 10:
                problems.append("context elements: 1..10")
            for e in elements:
                problems += _text(e, 3000)
        elif kind == "actions":
            elements = b.get("elements") or []
            if not 1 <= len(elements) <= 25:
                problems.append("actions elements: 1..25")
            for e in elements:
                if e.get("type") != "button":
                    problems.append(f"unexpected element {e.get('type')}")
                problems += _text(e.get("text"), 75, {"plain_text"})
                url, action_id = e.get("url"), e.get("action_id")
                if not isinstance(url, str) or not 1 <= len(url) <= 3000:
                    problems.append("button url: 1..3000 characters")
                if not isinstance(action_id, str) or action_id in action_ids:
                    problems.append(f"action_id missing or repeated: {action_id!r}")
                action_ids.add(str(action_id))
                if e.get("style") not in (None, "primary", "danger"):
                    problems.append("button style")
        else:
            problems.append(f"unexpected block type {kind!r}")
    return problems


@dataclass
class LocalSlack:
    posted: list[dict[str, Any]] = field(default_factory=list)  # chat.postMessage bodies
    hooked: list[dict[str, Any]] = field(default_factory=list)  # webhook bodies
    refused: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/XXXX"


def _app(slack: LocalSlack) -> Starlette:
    async def post_message(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {BOT_TOKEN}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        if request.headers.get("content-type") != "application/json; charset=utf-8":
            slack.refused.append(request.headers.get("content-type", ""))
            return JSONResponse({"ok": False, "error": "invalid_form_data"})
        body = orjson.loads(await request.body())
        problems = block_problems(body.get("blocks"))
        if not isinstance(body.get("channel"), str) or not body.get("text"):
            problems.append("channel and text are required")
        if problems:
            slack.refused += problems
            return JSONResponse({"ok": False, "error": "invalid_blocks", "errors": problems})
        slack.posted.append(body)
        return JSONResponse({"ok": True, "channel": "D0DIRECT", "ts": "1700000000.000100"})

    async def webhook(request: Request) -> Response:
        body = orjson.loads(await request.body())
        problems = block_problems(body.get("blocks")) + ([] if body.get("text") else ["no_text"])
        if problems:
            slack.refused += problems
            return PlainTextResponse("invalid_blocks", status_code=400)
        slack.hooked.append(body)
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/api/chat.postMessage", post_message, methods=["POST"]),
            Route("/services/T000/B000/XXXX", webhook, methods=["POST"]),
        ]
    )


@asynccontextmanager
async def local_slack() -> AsyncIterator[LocalSlack]:
    slack = LocalSlack(port=free_port())
    async with serving(_app(slack), slack.port):
        yield slack
