"""What a dead-letter record carries besides the original bytes (sent as Kafka headers)."""

from __future__ import annotations

DLQ_HEADER_ERROR = "trellis-error"
DLQ_HEADER_TOPIC = "trellis-original-topic"
DLQ_HEADER_PARTITION = "trellis-original-partition"
DLQ_HEADER_OFFSET = "trellis-original-offset"
DLQ_HEADER_CONSUMER = "trellis-consumer"
