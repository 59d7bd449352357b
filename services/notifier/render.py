"""Templates by id, rendered in a Jinja2 sandbox (HTML autoescaped, undefined names refused)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from schemas.commands import DispatchTouch


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


class RenderError(Exception):
    """The template is unknown or cannot be rendered with the variables: a permanent failure."""


BUILTIN_TEMPLATES: Mapping[str, Template] = {
    "generic": Template(
        subject="{{ subject }}",
        text="{{ body }}",
        html="<p>{{ body }}</p>",
    ),
    "rep_reminder": Template(
        subject="{{ action | default('Follow up') }}: {{ contact_name | default(contact_id) }}",
        text="{{ reason | default('') }}\n\n{{ details | default('') }}",
        html="<p>{{ reason | default('') }}</p><p>{{ details | default('') }}</p>",
    ),
}


class JinjaRenderer:
    def __init__(self, templates: Mapping[str, Template] = BUILTIN_TEMPLATES) -> None:
        self._templates = templates
        self._text = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._html = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)

    def render_touch(self, touch: DispatchTouch) -> RenderedMessage:
        """Render with the touch's own fields available next to its variables."""
        context = {
            "touch_id": touch.touch_id,
            "contact_id": touch.contact_id,
            "account_id": touch.account_id,
            "stage": touch.stage,
            "to": touch.to,
        }
        return self.render(touch.template_id, context | touch.variables)

    def render(self, template_id: str, variables: Mapping[str, Any]) -> RenderedMessage:
        template = self._templates.get(template_id)
        if template is None:
            raise RenderError(f"unknown template {template_id!r}")
        try:
            return RenderedMessage(
                subject=" ".join(
                    self._text.from_string(template.subject).render(variables).split()
                ),
                text=self._text.from_string(template.text).render(variables),
                html=self._html.from_string(template.html).render(variables),
            )
        except TemplateError as exc:
            raise RenderError(f"template {template_id!r}: {exc}") from exc
