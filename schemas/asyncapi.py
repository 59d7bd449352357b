"""The AsyncAPI 3.0 document of every topic, built from the wire models (``schemas/asyncapi.json``).

Written by ``trellis schemas export`` (or ``python -m schemas.export``) next to the JSON Schemas,
so platform teams can read or generate code for the topics without reading Python. Schemas go
into ``components.schemas`` once and messages refer to them; each engagement event type is its
own message (the envelope with ``type`` fixed and ``properties`` typed). A dead-letter topic
carries the original record byte for byte plus headers that say where it came from and why.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.commands import DispatchTouch
from schemas.dead_letter import (
    DLQ_HEADER_CONSUMER,
    DLQ_HEADER_ERROR,
    DLQ_HEADER_OFFSET,
    DLQ_HEADER_PARTITION,
    DLQ_HEADER_TOPIC,
)
from schemas.events import EngagementEvent
from schemas.historical import HISTORICAL_HEADER, HISTORICAL_VALUE
from schemas.outcomes import TouchOutcome
from schemas.topics import (
    ENGAGEMENT,
    HAND_RAISE_TYPES,
    HANDRAISES,
    MAIN_TOPICS,
    OUTCOMES,
    REMINDERS,
    TOUCHES,
    dead_letter,
)
from schemas.vocabulary import KNOWN_TYPES, Properties

ASYNCAPI_VERSION = "3.0.0"
CONTRACT_VERSION = "1.0.0"
"""The topics' contract version (the ``.v1`` in their names), not the package's version."""
KAFKA_BINDING = "0.5.0"
_REF = "#/components/schemas/{model}"

_KEYS = {
    ENGAGEMENT: "`a:<account external_id or domain>`, else `c:<contact external_id, email or "
    "anonymous_id>`: one account's events stay in order on one partition.",
    HANDRAISES: "As on the engagement topic, whose partition count it has: partition p of both "
    "is read by one orchestrator lane, the hand-raises first.",
    TOUCHES: "The contact id: one person's touches stay in order.",
    REMINDERS: "The rep's address (the command's `to`): one rep's reminders stay in order.",
    OUTCOMES: "The contact id (an inbound SMS keyword: the sender's E.164 number).",
}
_CHANNELS = {
    ENGAGEMENT: ("engagement", "Engagement events, published by ingest once validated."),
    HANDRAISES: (
        "handraises",
        "The live hand-raises (a demo or a talk with sales asked for), published by ingest "
        "instead of on the engagement topic (history stays there); the orchestrator applies "
        "them ahead of the engagement backlog, by their `occurred_at` like any event.",
    ),
    TOUCHES: (
        "touches",
        "Commands to send one touch to a contact (email, SMS), from the orchestrator's scheduler.",
    ),
    REMINDERS: (
        "reminders",
        "Commands to remind a rep (channel `rep_call_reminder` or `rep_email_reminder`), from "
        "the orchestrator's scheduler: a lane of their own with its own notifier consumer, so "
        "no marketing backlog delays one.",
    ),
    OUTCOMES: (
        "outcomes",
        "What happened to a touch (or a consent act tied to a contact), from "
        "the notifier and provider callbacks.",
    ),
}
_DLQ_HEADERS: dict[str, dict[str, Any]] = {
    DLQ_HEADER_ERROR: {
        "type": "string",
        "maxLength": 4000,
        "description": "`<exception type>: <message>` of the failure that isolated the record.",
    },
    DLQ_HEADER_TOPIC: {"type": "string", "description": "The topic the record was read from."},
    DLQ_HEADER_PARTITION: {
        "type": "string",
        "pattern": "^[0-9]+$",
        "description": "Its partition there (decimal).",
    },
    DLQ_HEADER_OFFSET: {
        "type": "string",
        "pattern": "^[0-9]+$",
        "description": "Its offset there (decimal): where to look, or replay from.",
    },
    DLQ_HEADER_CONSUMER: {"type": "string", "description": "The consumer that gave up on it."},
}


def property_models() -> dict[str, type[Properties]]:
    """Event type -> its ``properties`` model (every subclass of ``Properties`` with a type)."""
    found: dict[str, type[Properties]] = {}
    pending = list(Properties.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if "type" in model.model_fields:
            found[model.model_fields["type"].default] = model
    return found


def _component_schemas(types: dict[str, type[Properties]]) -> dict[str, Any]:
    """Every model's JSON Schema once, refs pointing into ``components.schemas``.

    ``type`` is dropped from a properties model: on the wire it lives in the envelope only."""
    models: list[type[BaseModel]] = [EngagementEvent, DispatchTouch, TouchOutcome]
    models += [types[t] for t in KNOWN_TYPES]
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    schemas: dict[str, Any] = top["$defs"]
    for model in types.values():
        schema = schemas[model.__name__]
        schema["properties"].pop("type", None)
        required = [f for f in schema.get("required", []) if f != "type"]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
    return schemas


def _event_message(event_type: str, model: type[Properties]) -> dict[str, Any]:
    return {
        "name": event_type,
        "title": f"{event_type} event",
        "summary": (model.__doc__ or f"A {event_type} engagement.").strip().splitlines()[0],
        "contentType": "application/json",
        "payload": {
            "allOf": [
                {"$ref": _REF.format(model="EngagementEvent")},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type},
                        "properties": {"$ref": _REF.format(model=model.__name__)},
                    },
                    "required": ["type", "properties"],
                },
            ]
        },
        "headers": _ENGAGEMENT_HEADERS,
        "bindings": {"kafka": _key_binding(ENGAGEMENT)},
    }


_ENGAGEMENT_HEADERS = {
    "type": "object",
    "properties": {
        HISTORICAL_HEADER: {
            "type": "string",
            "enum": [HISTORICAL_VALUE.decode()],
            "description": "Imported history (`trellis import`, or a request sent with "
            "`Trellis-Historical: true`): applied to stages, scores and their histories like "
            "a live event; no touch or reminder is planned for it (decision reason `historical`).",
        },
    },
    "additionalProperties": True,
}


def _key_binding(topic: str) -> dict[str, Any]:
    return {
        "key": {"type": "string", "description": _KEYS[topic]},
        "bindingVersion": KAFKA_BINDING,
    }


def _command_message(topic: str, model: type[BaseModel], name: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "summary": (model.__doc__ or name).strip().splitlines()[0],
        "contentType": "application/json",
        "payload": {"$ref": _REF.format(model=model.__name__)},
        "bindings": {"kafka": _key_binding(topic)},
    }


def _dead_letter_message(topic: str) -> dict[str, Any]:
    return {
        "name": f"{topic} dead letter",
        "summary": f"A record of {topic} that a consumer could not apply, kept as it was.",
        "description": "The payload and key are the original record's, byte for byte (they may "
        "not even be JSON: that can be why they are here); the original headers are kept and "
        "these are added. Nothing reads this topic automatically: an operator inspects and "
        "replays from the dashboard.",
        "headers": {
            "type": "object",
            "properties": _DLQ_HEADERS,
            "required": sorted(_DLQ_HEADERS),
            "additionalProperties": True,
        },
        "payload": {"description": f"The original record's value, as it was on {topic}."},
        "bindings": {"kafka": _key_binding(topic)},
    }


def _messages(types: dict[str, type[Properties]]) -> dict[str, dict[str, Any]]:
    out = {f"event.{t}": _event_message(t, types[t]) for t in KNOWN_TYPES}
    out["DispatchTouch"] = _command_message(TOUCHES, DispatchTouch, "DispatchTouch")
    out["DispatchRepReminder"] = _command_message(REMINDERS, DispatchTouch, "DispatchRepReminder")
    out["TouchOutcome"] = _command_message(OUTCOMES, TouchOutcome, "TouchOutcome")
    for topic in MAIN_TOPICS:
        out[f"deadLetter.{_CHANNELS[topic][0]}"] = _dead_letter_message(topic)
    return out


def _channel_messages(topic: str) -> dict[str, Any]:
    names = {
        ENGAGEMENT: [f"event.{t}" for t in KNOWN_TYPES],
        HANDRAISES: [f"event.{t}" for t in KNOWN_TYPES if t in HAND_RAISE_TYPES],
        TOUCHES: ["DispatchTouch"],
        REMINDERS: ["DispatchRepReminder"],
        OUTCOMES: ["TouchOutcome"],
    }[topic]
    return {n: {"$ref": f"#/components/messages/{n}"} for n in names}


def _channels() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for topic in MAIN_TOPICS:
        name, description = _CHANNELS[topic]
        out[name] = {
            "address": topic,
            "description": description,
            "messages": _channel_messages(topic),
            "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING}},
        }
        letter = f"deadLetter.{name}"
        out[f"{name}.dlq"] = {
            "address": dead_letter(topic),
            "description": f"Poison records of {topic}, with the error in a header; the stream "
            "goes on without them.",
            "messages": {letter: {"$ref": f"#/components/messages/{letter}"}},
            "bindings": {"kafka": {"topic": dead_letter(topic), "bindingVersion": KAFKA_BINDING}},
        }
    return out


_OPERATIONS = (  # (id, action, channel, who)
    ("ingest.publish-engagement", "send", "engagement", "ingest, once the broker acknowledged"),
    ("orchestrator.on-engagement", "receive", "engagement", "the orchestrator, in batches"),
    ("ingest.publish-handraises", "send", "handraises", "ingest, once the broker acknowledged"),
    ("orchestrator.on-handraises", "receive", "handraises", "the orchestrator, ahead of the rest"),
    ("scheduler.dispatch-due-touches", "send", "touches", "the orchestrator's scheduler"),
    ("notifier.on-touches", "receive", "touches", "the notifier (at most once per touch id)"),
    ("scheduler.dispatch-due-reminders", "send", "reminders", "the orchestrator's scheduler"),
    ("notifier.on-reminders", "receive", "reminders", "the notifier's reminders consumer"),
    ("notifier.publish-outcomes", "send", "outcomes", "the notifier and ingest's callbacks"),
    ("orchestrator.on-outcomes", "receive", "outcomes", "the orchestrator"),
    ("orchestrator.dead-letter-engagement", "send", "engagement.dlq", "the orchestrator"),
    ("orchestrator.dead-letter-handraises", "send", "handraises.dlq", "the orchestrator"),
    ("notifier.dead-letter-touches", "send", "touches.dlq", "the notifier"),
    ("notifier.dead-letter-reminders", "send", "reminders.dlq", "the notifier"),
    ("orchestrator.dead-letter-outcomes", "send", "outcomes.dlq", "the orchestrator"),
)


def _operations(channels: dict[str, Any]) -> dict[str, Any]:
    return {
        op: {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{'Published' if action == 'send' else 'Consumed'} by {who}.",
            "messages": [
                {"$ref": f"#/channels/{channel}/messages/{m}"}
                for m in channels[channel]["messages"]
            ],
        }
        for op, action, channel, who in _OPERATIONS
    }


def asyncapi_document() -> dict[str, Any]:
    """The whole document as a JSON-ready dict (deterministic: same models, same document)."""
    types = property_models()
    channels = _channels()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:trellis:topics",
        "info": {
            "title": "Trellis topics",
            "version": CONTRACT_VERSION,
            "description": "The Kafka topics between Trellis services: engagement events in "
            "(live hand-raises on a topic of their own), "
            "touch commands, rep reminder commands, delivery outcomes, and a dead-letter topic "
            "for each. Generated from the pydantic models in `schemas/` by "
            "`trellis schemas export`.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "dev": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The embedded broker of `trellis dev` (memory-only).",
            },
        },
        "channels": channels,
        "operations": _operations(channels),
        "components": {
            "schemas": _component_schemas(types),
            "messages": _messages(types),
        },
    }
