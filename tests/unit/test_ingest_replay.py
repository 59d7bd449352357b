"""Delivered webhook ids are remembered past the signature tolerance, then forgotten."""

from __future__ import annotations

from services.ingest.replay import REMEMBER_S, DeliveredWebhooks


def test_a_delivered_webhook_id_is_seen_until_it_expires() -> None:
    now = [0.0]
    delivered = DeliveredWebhooks(clock=lambda: now[0])
    assert not delivered.seen("src", "msg_1")
    delivered.remember("src", "msg_1")
    assert delivered.seen("src", "msg_1") and not delivered.seen("other", "msg_1")
    now[0] += REMEMBER_S + 1
    assert not delivered.seen("src", "msg_1")
