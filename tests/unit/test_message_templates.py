"""Message templates: every shipped one renders for its channel, and a typo fails the check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from schemas.commands import Channel, DispatchTouch
from services.notifier.render import JinjaRenderer, RenderError
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.cli import template_problems_of
from trellis.message_templates import (
    DEFAULT_TEMPLATES_DIR,
    Template,
    TemplateFileError,
    load_templates,
    parse_template,
    template_problems,
)

SHIPPED = load_templates(DEFAULT_TEMPLATES_DIR)
PLAYBOOK = Path("services/orchestrator/default_playbook.yaml")


def touch(template_id: str, channel: Channel = Channel.EMAIL, **variables: object) -> DispatchTouch:
    return DispatchTouch(
        touch_id="t1", contact_id="c1", account_id="a1", channel=channel,
        template_id=template_id, stage="engaged", to="ana@acme.example",
        variables=variables, decided_at=datetime(2026, 11, 18, 12, tzinfo=UTC),
    )  # fmt: skip


def channel_of(template_id: str) -> Channel:
    if template_id.startswith("reminders/"):
        return Channel.REP_CALL_REMINDER
    return Channel.SMS if template_id.endswith("_sms") else Channel.EMAIL


@pytest.mark.parametrize("template_id", sorted(SHIPPED))
def test_every_shipped_template_passes_the_check_and_renders_with_nothing_known(
    template_id: str,
) -> None:
    assert template_problems(template_id, SHIPPED[template_id]) == []
    message = JinjaRenderer().render_touch(touch(template_id, channel_of(template_id)))
    if template_id != "generic":  # the one-off template is all variables
        assert message.subject.strip() and message.text.strip() and message.html.strip()
    assert "None" not in message.subject + message.text  # empty, never a Python repr


def test_known_people_are_named_and_html_is_escaped_but_text_is_not() -> None:
    message = JinjaRenderer().render_touch(
        touch(
            "onboarding/kickoff",
            contact={"first_name": "<Ana>"},
            account={"name": "Acme & Co"},
            rep={"name": "Bo Rep", "email": "bo@vendor.example"},
        )
    )
    assert message.subject == "Welcome aboard, <Ana>: your kickoff"
    assert "Hi <Ana>," in message.text and "Bo Rep will guide Acme & Co" in message.text
    assert "Hi &lt;Ana&gt;," in message.html and "Acme &amp; Co" in message.html


def test_a_reminder_lists_its_evidence_talking_points_and_links() -> None:
    message = JinjaRenderer().render_touch(
        touch(
            "reminders/demo_requested",
            Channel.REP_CALL_REMINDER,
            reason="demo_requested",
            evidence=["ev-1 demo.requested"],
            talking_points=["Book a slot"],
            ack_url="https://ops.example/ack?t=x",
        )
    )
    for needle in ("ev-1 demo.requested", "Book a slot", "Acknowledge: https://ops.example/ack"):
        assert needle in message.text
    assert 'href="https://ops.example/ack?t=x"' in message.html


@pytest.mark.parametrize(
    ("subject", "text", "problem"),
    [
        ("Hi {{ contact.firstname }}", "x", "contact.firstname is not one of"),
        ("Hi", "{{ compnay }}", "(text): unknown variable 'compnay'"),
        ("Hi {{ contact.first_name", "x", "(subject, line 1)"),
    ],
)
def test_undeclared_names_and_syntax_errors_are_problems(
    subject: str, text: str, problem: str
) -> None:
    problems = template_problems("mql/x", Template(subject, text, "<p></p>"))
    assert len(problems) == 1 and problem in problems[0] and problems[0].startswith("mql/x")


def test_locals_and_loop_variables_are_not_mistaken_for_missing_ones() -> None:
    source = (
        "{% set n = 1 %}{% for p in talking_points %}{{ p }}{{ loop.index }}{% endfor %}{{ n }}"
    )
    assert template_problems("ok", Template("s", source, "h")) == []


@pytest.mark.parametrize(
    "source",
    [
        "no subject line\n--- text\nx\n--- html\ny",
        "subject: s\n--- html\ny",
        "subject: s\n--- text\nx",
    ],
)
def test_a_file_without_its_three_parts_is_refused(source: str) -> None:
    with pytest.raises(TemplateFileError, match=r"bad\.txt"):
        parse_template(source, "bad.txt")


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__.__init__.__globals__ }}",
        "{{ stage.format.__globals__ }}",
    ],
)
def test_a_template_cannot_reach_python_internals(attack: str) -> None:
    renderer = JinjaRenderer({"evil": Template("s", attack, "h")})
    with pytest.raises(RenderError):
        renderer.render_touch(touch("evil"))


def test_the_default_plan_and_every_reminder_rule_have_templates() -> None:
    assert template_problems_of(default_nurture(), SHIPPED) == []
    missing = {k: v for k, v in SHIPPED.items() if k != "onboarding/kickoff"}
    assert template_problems_of(default_nurture(), missing) == [
        "onboarding-kickoff/kickoff: template 'onboarding/kickoff' not found"
    ]


def _copy_templates(target: Path) -> None:
    for path in DEFAULT_TEMPLATES_DIR.rglob("*.txt"):
        dest = target / path.relative_to(DEFAULT_TEMPLATES_DIR)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(path.read_text())


def test_playbook_check_fails_on_a_template_typo_and_passes_on_the_shipped_ones(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["playbook", "check", str(PLAYBOOK)])
    assert ok.exit_code == 0, ok.output
    assert f"{len(SHIPPED)} templates ok" in ok.output
    _copy_templates(tmp_path)
    kickoff = tmp_path / "onboarding" / "kickoff.txt"
    kickoff.write_text(kickoff.read_text().replace("contact.first_name", "contact.frist_name", 1))
    bad = runner.invoke(app, ["playbook", "check", str(PLAYBOOK), "--templates", str(tmp_path)])
    assert bad.exit_code == 1
    assert "onboarding/kickoff (subject): contact.frist_name is not one of" in bad.output
