"""The port every channel adapter implements: send one rendered touch, return what happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from schemas.commands import DispatchTouch
from services.notifier.render import RenderedMessage


@dataclass(frozen=True)
class Sent:
    provider_id: str


@dataclass(frozen=True)
class Failed:
    """``retryable`` only when the provider certainly did not accept the message."""

    retryable: bool
    detail: str


SendResult = Sent | Failed


class ChannelSender(Protocol):
    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult: ...
