"""The one home of Kafka client construction: producers, consumers, topics, encoding.

Clients speak only the Kafka protocol, so the same code runs against Apache Kafka in production
and the embedded Tansu broker in development and tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import orjson
import pydantic_core
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from pydantic import BaseModel

from schemas.topics import ALL_TOPICS
from trellis.membership import GroupMembership
from trellis.settings import TrellisSettings

log = logging.getLogger(__name__)


def encode(message: BaseModel | dict[str, Any]) -> bytes:
    """JSON bytes for a wire model (pydantic-core) or a plain mapping (orjson)."""
    if isinstance(message, BaseModel):
        return pydantic_core.to_json(message)
    return orjson.dumps(message)


def make_producer(settings: TrellisSettings, **overrides: Any) -> AIOKafkaProducer:
    """A producer that only reports success once every in-sync replica has the record."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.kafka_client_id,
        "acks": "all",
        "linger_ms": settings.kafka_linger_ms,
        "enable_idempotence": settings.idempotent_producer,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "max_batch_size": 1024 * 1024,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    settings: TrellisSettings,
    *topics: str,
    group_id: str | None,
    member: GroupMembership | None = None,
    **overrides: Any,
) -> AIOKafkaConsumer:
    """A consumer that never commits on its own: offsets move only after effects are durable.

    ``member``: a service's own group membership, told of every rebalance; only such a member
    joins statically (``TRELLIS_KAFKA_STATIC_MEMBERSHIP``), never a probe or a tool."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.kafka_client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }
    if group_id is not None:
        options |= {
            "session_timeout_ms": settings.kafka_session_timeout_ms,
            "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
            "rebalance_timeout_ms": settings.kafka_rebalance_timeout_ms,
        }
    if member is not None:
        options["group_instance_id"] = settings.group_instance_id
    options.update(overrides)
    if member is None:
        return AIOKafkaConsumer(*topics, **options)
    consumer = AIOKafkaConsumer(**options)
    consumer.subscribe(topics=list(topics), listener=member)
    return consumer


async def ensure_topics(
    settings: TrellisSettings,
    topics: Iterable[str] = ALL_TOPICS,
    *,
    partitions: int | None = None,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created. Safe to rerun.

    ``min_insync_replicas``: with ``acks=all``, how many replicas must have a record before it is
    acknowledged (2 of 3 survives one broker down without losing an acknowledged event)."""
    wanted = list(topics)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, client_id=settings.kafka_client_id
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if not missing:
            return []
        count = partitions or settings.topic_partitions
        new = [
            NewTopic(
                t, num_partitions=count, replication_factor=replication_factor,
                topic_configs=topic_configs(settings, t, min_insync_replicas),
            )
            for t in missing
        ]  # fmt: skip
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            log.info("topics created concurrently by another process: %s", missing)
        return missing
    finally:
        await admin.close()


def topic_configs(
    settings: TrellisSettings, topic: str, min_insync_replicas: int | None
) -> dict[str, str]:
    """Retention (dead letters wait longer: someone has to look at them) and durability. The
    orchestrator's inbox keeps event ids past the topic's retention (plus a margin), so a
    redelivery is always recognised."""
    days = settings.dlq_retention_days if topic.endswith(".dlq") else settings.topic_retention_days
    configs = {"retention.ms": str(int(days * 86_400_000))}
    if min_insync_replicas is not None:
        configs["min.insync.replicas"] = str(min_insync_replicas)
    return configs


async def describe_topics(settings: TrellisSettings) -> dict[str, int]:
    """Topic name -> partition count, as the broker reports it."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, client_id=settings.kafka_client_id
    )
    await admin.start()
    try:
        names = await admin.list_topics()
        described = await admin.describe_topics(names)
        return {d["topic"]: len(d["partitions"]) for d in described}
    finally:
        await admin.close()


class TopicsMisconfigured(RuntimeError):
    """Topics a service reads side by side disagree on how they are partitioned."""


async def require_co_partitioned(settings: TrellisSettings, *topics: str) -> None:
    """Refuse to start when ``topics`` (keyed alike, read by one member per partition number)
    have different partition counts: one key would land on different partition numbers, and two
    members would apply the same account at once. A topic not created yet is not checked."""
    counts = await describe_topics(settings)
    found = {t: counts[t] for t in topics if t in counts}
    if len(set(found.values())) > 1:
        told = ", ".join(f"{t} has {n}" for t, n in found.items())
        raise TopicsMisconfigured(
            f"{told} partitions: they must have the same count (add partitions to the smaller "
            "with kafka-topics --alter, before any service reads them)"
        )
