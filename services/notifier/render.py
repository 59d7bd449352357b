"""Templates by id, rendered in a Jinja2 sandbox (HTML autoescaped, undefined names refused).

The sandbox is immutable (a template cannot change its variables) and bounds ``*`` and ``**``
(``{{ 'x' * 10**10 }}`` or ``{{ 9**9**9 }}`` would otherwise exhaust the notifier's memory or
CPU). Any failure while rendering is a ``RenderError``: a permanent failure of that one touch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import FunctionLoader, StrictUndefined, TemplateError, meta, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from schemas.commands import DispatchTouch
from trellis.message_templates import (
    DEFAULT_TEMPLATES_DIR,
    VARIABLES,
    Template,
    account_label,
    contact_label,
    load_templates,
    part_source,
)


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


class RenderError(Exception):
    """The template is unknown or cannot be rendered with the variables: a permanent failure."""


MAX_REPEAT = 100_000  # characters or items a template may build with ``*``
MAX_POWER_BITS = 10_000  # size of an integer a template may build with ``**``


class BoundedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        ints = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and ints and right > 0:
            if max(abs(left), 2).bit_length() * right > MAX_POWER_BITS:
                raise SecurityError(f"power over {MAX_POWER_BITS} bits")
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * n > MAX_REPEAT:
                    raise SecurityError(f"repetition over {MAX_REPEAT} items")
        return super().call_binop(context, operator, left, right)


_DEFAULTS: Mapping[str, Any] = {
    "evidence": [], "talking_points": [], "colleagues": [], "late": False
}  # fmt: skip


def template_context(
    touch: DispatchTouch, names: Collection[str] = VARIABLES.keys()
) -> dict[str, Any]:
    """Every declared variable (see ``template_files.VARIABLES``) present, empty when unknown:
    a template that passed the check never fails a send over a missing name. ``names``: only
    these are built (the ones a template reads; building all of them cost more than the
    render)."""
    given = touch.variables
    context: dict[str, Any] = {}
    for name in names:
        attrs = VARIABLES.get(name)
        if attrs is None:
            continue
        value = given.get(name)
        if value is None:
            value = _DEFAULTS.get(name, "")
            value = list(value) if isinstance(value, list) else value
        if attrs:
            fields = value if isinstance(value, Mapping) else {}
            value = {a: fields.get(a) or "" for a in attrs}
        context[name] = value
    person = context.get("contact")
    if person is not None:
        person["name"] = person["name"] or f"{person['first_name']} {person['last_name']}".strip()
        person["first_name"] = person["first_name"] or "there"
        if touch.channel.value in ("email", "sms"):
            person["email" if touch.channel.value == "email" else "phone"] = touch.to
        person["label"] = person["label"] or contact_label(person["name"], person["email"])
    account = context.get("account")
    if account is not None:
        account["label"] = account["label"] or account_label(account["name"], account["domain"])
    return context | {
        "touch_id": touch.touch_id,
        "contact_id": touch.contact_id,
        "account_id": touch.account_id or "",
        "stage": touch.stage,
        "to": touch.to,
    }


class JinjaRenderer:
    def __init__(self, templates: Mapping[str, Template] | None = None) -> None:
        self._templates = (
            load_templates(DEFAULT_TEMPLATES_DIR) if templates is None else dict(templates)
        )
        # ``{% include "reminders/_story.text" %}``: one template's part shared by others
        parts = FunctionLoader(lambda name: part_source(self._templates, name))
        self._text = BoundedSandbox(undefined=StrictUndefined, autoescape=False, loader=parts)
        self._html = BoundedSandbox(undefined=StrictUndefined, autoescape=True, loader=parts)
        self._compiled: dict[str, tuple[JinjaTemplate, JinjaTemplate, JinjaTemplate]] = {}
        self._names: dict[str, Collection[str]] = {}

    def render_touch(self, touch: DispatchTouch) -> RenderedMessage:
        """Render with every declared variable the template reads present (see
        ``template_context``)."""
        template = self._templates.get(touch.template_id)
        if template is None:
            raise RenderError(f"unknown template {touch.template_id!r}")
        names = self._names.get(touch.template_id)
        if names is None:
            names = self._names[touch.template_id] = self._reads(template)
        return self.render(touch.template_id, template_context(touch, names))

    def _reads(self, template: Template) -> Collection[str]:
        """The top-level names ``template`` reads; every declared one if it includes a part
        (a part's names are not in the template's own source) or does not parse (``render``
        then says why)."""
        names: set[str] = set()
        try:
            for env, source in ((self._text, template.subject), (self._text, template.text),
                                (self._html, template.html)):  # fmt: skip
                tree = env.parse(source)
                if any(True for _ in tree.find_all((nodes.Include, nodes.Import,
                                                    nodes.FromImport, nodes.Extends))):  # fmt: skip
                    return VARIABLES.keys()
                names |= meta.find_undeclared_variables(tree)
        except TemplateError:
            return VARIABLES.keys()
        return frozenset(names)

    def _compile(
        self, template_id: str, template: Template
    ) -> tuple[JinjaTemplate, JinjaTemplate, JinjaTemplate]:
        """Each template is compiled once (compiling costs far more than rendering)."""
        compiled = self._compiled.get(template_id)
        if compiled is None:
            compiled = (
                self._text.from_string(template.subject),
                self._text.from_string(template.text),
                self._html.from_string(template.html),
            )
            for part in compiled:  # a plain dict: copying jinja's ChainMap per render cost
                part.globals = dict(part.globals)  # more than the render (11-21 us vs 4)
            self._compiled[template_id] = compiled
        return compiled

    def render(self, template_id: str, variables: Mapping[str, Any]) -> RenderedMessage:
        template = self._templates.get(template_id)
        if template is None:
            raise RenderError(f"unknown template {template_id!r}")
        try:
            subject, text, html = self._compile(template_id, template)
            return RenderedMessage(
                subject=" ".join(subject.render(variables).split()),
                text=text.render(variables),
                html=html.render(variables),
            )
        except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
            # e.g. ``{{ 1/0 }}``: raised from a template, not from our code; permanent for it
            raise RenderError(f"template {template_id!r}: {exc}") from exc
