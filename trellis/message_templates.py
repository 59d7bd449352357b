"""Message templates as files, and the check that makes a missing variable a config error.

Marketing ops edit one file per template id: ``<dir>/<group>/<name>.txt`` is template
``group/name``. A file has a ``subject:`` line, then a ``--- text`` section (plain-text part,
also the SMS body) and a ``--- html`` section (autoescaped HTML part)::

    subject: {{ contact.first_name }}, how teams like {{ account.name }} ...
    --- text
    Hi {{ contact.first_name }}, ...
    --- html
    <p>Hi {{ contact.first_name }}, ...</p>

Every name a template may use is declared in ``VARIABLES`` and always present when rendering
(empty when unknown), so ``template_problems`` can refuse an undeclared name when the playbook is
checked — a typo fails ``trellis playbook check``, never a send.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "services/notifier/templates"
"""The templates the notifier ships (a path, not an import: the orchestrator checks them too)."""

PERSON = ("first_name", "last_name", "name", "email", "phone", "title", "role")
VARIABLES: Mapping[str, tuple[str, ...]] = {
    "contact": (*PERSON, "label", "local_time"),
    "account": (
        "name",
        "domain",
        "industry",
        "region",
        "label",
        "stage",
        "score",
        "coverage",
        "owners",
    ),
    "rep": ("name", "email", "slack_id", "timezone"),
    "stage": (),
    "touch_id": (),
    "contact_id": (),
    "account_id": (),
    "to": (),
    # one-off sends (the ``generic`` template)
    "subject": (),
    "body": (),
    # rep reminders: why, what happened, what to say, where to click
    "reason": (),
    "evidence": (),
    "talking_points": (),
    "reminder_id": (),
    "ack_url": (),
    "snooze_url": (),
    "contact_url": (),
    "account_url": (),
    "call_at": (),
    "call_minutes": (),
    # the reminder's story (services/orchestrator/domain/reminder_story.py)
    "happened": (),
    "late": (),
    "next_step": (),
    "colleagues": (),
}
"""Top-level names and, for objects, the attributes templates may read. ``label``: the name to
show (never an internal id), see ``contact_label`` and ``account_label``."""

NO_CONTACT_NAME = "a contact without a name"
NO_ACCOUNT_NAME = "an account without a name"


def contact_label(name: object, email: object) -> str:
    """What a person is called in a message: their name, else their email, never an id."""
    for value in (name, email):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return NO_CONTACT_NAME


def account_label(name: object, domain: object) -> str:
    """What an account is called in a message: its name, else its domain, never an id."""
    for value in (name, domain):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return NO_ACCOUNT_NAME


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str


class TemplateFileError(ValueError):
    """A template file that cannot be read as subject / text / html."""


def parse_template(source: str, origin: str = "<template>") -> Template:
    head, sep, rest = source.partition("\n--- text\n")
    if not sep or not head.startswith("subject:"):
        raise TemplateFileError(f"{origin}: expected a 'subject:' line, then '--- text'")
    text, sep, html = rest.partition("\n--- html\n")
    if not sep:
        raise TemplateFileError(f"{origin}: missing the '--- html' section")
    return Template(
        subject=head.removeprefix("subject:").strip(), text=text.strip("\n"), html=html.strip()
    )


def load_templates(directory: Path) -> dict[str, Template]:
    """Every ``*.txt`` under ``directory`` by its id (relative path without the suffix)."""
    if not directory.is_dir():
        raise TemplateFileError(f"{directory}: no such template directory")
    return {
        path.relative_to(directory).with_suffix("").as_posix(): parse_template(
            path.read_text(encoding="utf-8"), str(path)
        )
        for path in sorted(directory.rglob("*.txt"))
    }


def _attribute_reads(ast: nodes.Template) -> Iterator[tuple[str, str]]:
    for node in ast.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            yield node.node.name, node.attr


def part_source(templates: Mapping[str, Template], name: str) -> str | None:
    """The source an ``{% include "<id>.text" %}`` (or ``.html``, ``.subject``) names."""
    template_id, _, part = name.rpartition(".")
    found = templates.get(template_id)
    if found is None or part not in ("subject", "text", "html"):
        return None
    source: str = getattr(found, part)
    return source


def template_problems(
    template_id: str, template: Template, known: Collection[str] | None = None
) -> list[str]:
    """Syntax errors, undeclared names and unknown attributes, each naming the part; with
    ``known`` (the template ids), an include of a part that does not exist."""
    env = SandboxedEnvironment()
    problems: list[str] = []
    parts = {"subject": template.subject, "text": template.text, "html": template.html}
    for part, source in parts.items():
        try:
            ast = env.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(f"{template_id} ({part}, line {exc.lineno}): {exc.message}")
            continue
        for included in meta.find_referenced_templates(ast):
            target, _, what = (included or "").rpartition(".")
            if known is not None and (target not in known or what not in ("text", "html")):
                problems.append(f"{template_id} ({part}): no template part {included!r}")
        for name in sorted(meta.find_undeclared_variables(ast) - VARIABLES.keys()):
            problems.append(f"{template_id} ({part}): unknown variable {name!r}")
        for name, attr in sorted(set(_attribute_reads(ast))):
            if name in VARIABLES and VARIABLES[name] and attr not in VARIABLES[name]:
                known = ", ".join(VARIABLES[name])
                problems.append(f"{template_id} ({part}): {name}.{attr} is not one of {known}")
    return problems
