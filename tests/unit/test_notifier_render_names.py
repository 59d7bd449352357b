"""The renderer builds only the variables a template reads: every shipped template renders
exactly as it does with every declared variable present, and a template that includes a part
(whose names its own source does not show) gets them all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.commands import Channel, DispatchTouch
from services.notifier.render import JinjaRenderer, RenderedMessage, template_context
from trellis.message_templates import Template

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SHIPPED = JinjaRenderer()
VARIABLES = {
    "contact": {"first_name": "Ana", "last_name": "Diaz", "title": "CTO", "local_time": "9:00"},
    "account": {"name": "Acme", "domain": "acme.example", "stage": "sql", "owners": "Bo"},
    "rep": {"name": "Bo Rep", "email": "bo@trellis.test", "timezone": "Europe/Paris"},
    "subject": "Hi", "body": "Body", "reason": "demo requested", "evidence": ["visited pricing"],
    "talking_points": ["ROI"], "reminder_id": "r1", "ack_url": "https://t.test/a",
    "snooze_url": "https://t.test/s", "contact_url": "https://t.test/c",
    "account_url": "https://t.test/acc", "call_at": "10:00", "call_minutes": 15,
    "happened": "asked for a demo", "late": True, "next_step": "call", "colleagues": ["Cy"],
}  # fmt: skip


def touch(template_id: str, channel: Channel = Channel.EMAIL, **variables: object) -> DispatchTouch:
    return DispatchTouch(
        touch_id="t1", contact_id="c1", account_id="a1", channel=channel, template_id=template_id,
        stage="engaged", to="ana@acme.example", decided_at=NOW, variables=variables,
    )  # fmt: skip


def everything(renderer: JinjaRenderer, t: DispatchTouch) -> RenderedMessage:
    return renderer.render(t.template_id, template_context(t))


@pytest.mark.parametrize("template_id", sorted(SHIPPED._templates))
@pytest.mark.parametrize("variables", [VARIABLES, {}], ids=["given", "none"])
def test_shipped_templates_render_as_with_every_variable(
    template_id: str, variables: dict[str, object]
) -> None:
    t = touch(template_id, **variables)
    assert SHIPPED.render_touch(t) == everything(SHIPPED, t)


def test_only_the_names_read_are_built() -> None:
    renderer = JinjaRenderer({
        "labels": Template("{{ contact.label }}", "{{ account.label }}", "<p>{{ body }}</p>"),
    })  # fmt: skip
    t = touch("labels", body="x", account={"domain": "acme.example"})
    expected = RenderedMessage("ana@acme.example", "acme.example", "<p>x</p>")
    assert renderer.render_touch(t) == expected
    assert renderer._names["labels"] == {"contact", "account", "body"}
    built = template_context(t, renderer._names["labels"])
    assert "rep" not in built and "evidence" not in built and built["touch_id"] == "t1"


def test_a_template_with_a_part_gets_every_name() -> None:
    renderer = JinjaRenderer({
        "part": Template("p", "{{ rep.name }}", "<p>{{ rep.name }}</p>"),
        "whole": Template("{{ subject }}", '{% include "part.text" %}', "<p>{{ subject }}</p>"),
    })  # fmt: skip
    t = touch("whole", subject="S", rep={"name": "Bo"})
    assert renderer.render_touch(t) == RenderedMessage("S", "Bo", "<p>S</p>")
    assert "rep" in renderer._names["whole"] and "colleagues" in renderer._names["whole"]


def test_defaults_are_fresh_per_touch() -> None:
    first = template_context(touch("generic"))
    first["evidence"].append("leaked")
    assert template_context(touch("generic"))["evidence"] == []
