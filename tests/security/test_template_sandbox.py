"""Templates cannot reach Python internals or exhaust the notifier, and variables are data,
never template code.

Templates are edited by marketing ops (files, not code review); variables come from event data
(names, titles, free text a prospect typed). The notifier renders in Jinja2's
``SandboxedEnvironment`` with ``StrictUndefined``: every escape below must end in a
``RenderError`` (a permanent failure of that one touch), never in output from the inside.
Found here and fixed in ``render.py``: a template could mutate its variables, allocate without
bound (``'x' * 10**10``) and raise plain ``ZeroDivisionError``/``TypeError`` out of the renderer
(retried as a batch failure instead of failing that touch).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.commands import Channel, DispatchTouch
from services.notifier.render import JinjaRenderer, RenderError
from trellis.message_templates import Template

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__ }}",
    "{{ contact.__class__.__init__.__globals__ }}",
    "{{ contact.items.__self__.__class__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ config }}{{ request }}",
    "{{ ''|attr('__class__') }}",
    "{{ (''|attr('\\x5f\\x5fclass\\x5f\\x5f')).__mro__ }}",
    "{{ '{0.__class__.__mro__}'.format(contact) }}",
    "{{ '%s'|format(contact.__class__) }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ evidence.append.__self__.__class__ }}",
    "{{ range.__call__ }}{{ range(10**9)|list }}",
    "{% set x = contact.update({'name': 'owned'}) %}{{ contact.name }}",
    "{{ stage.__len__() }}",
    "{{ __import__('os') }}",
    "{{ get_flashed_messages.__globals__ }}",
    # resource exhaustion and runtime errors: bounded, and a RenderError, not a crash
    "{{ ('x' * 10**10)|length }}",
    "{{ ([0] * 10**9)|length }}",
    "{{ (2**(10**6))|string }}",
    "{{ 1/0 }}",
    "{{ 1 + 'a' }}",
]


def _touch(**variables: object) -> DispatchTouch:
    return DispatchTouch(
        touch_id="t-1",
        contact_id="c-1",
        channel=Channel.EMAIL,
        template_id="evil",
        stage="engaged",
        to="ana@acme.test",
        variables=variables,
        decided_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
    )


def _renderer(source: str) -> JinjaRenderer:
    return JinjaRenderer({"evil": Template(subject="s", text=source, html=f"<p>{source}</p>")})


@pytest.mark.parametrize("source", ESCAPES)
def test_a_template_cannot_reach_python_internals(source: str) -> None:
    with pytest.raises(RenderError):
        _renderer(source).render_touch(_touch(contact={"first_name": "Ana"}))


@pytest.mark.parametrize(
    "value", ["{{ ''.__class__.__mro__ }}", "{% for x in range(3) %}x{% endfor %}", "{{ 7*7 }}"]
)
def test_variables_are_rendered_as_data_never_evaluated(value: str) -> None:
    rendered = _renderer("Hi {{ contact.first_name }}").render_touch(
        _touch(contact={"first_name": value})
    )
    assert rendered.text == f"Hi {value}"
    assert "49" not in rendered.text


def test_html_part_escapes_variables_so_event_data_cannot_inject_markup() -> None:
    payload = "<script>alert(1)</script><a href='javascript:x'>"
    rendered = _renderer("{{ contact.first_name }}").render_touch(
        _touch(contact={"first_name": payload})
    )
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert rendered.text == payload  # the plain-text part is not HTML: unchanged


def test_ordinary_arithmetic_and_repetition_still_work() -> None:
    rendered = _renderer("{{ 3 * 4 }} {{ 2**10 }} {{ '-' * 20 }}").render_touch(_touch())
    assert rendered.text == "12 1024 " + "-" * 20


def test_the_shipped_templates_render_under_the_same_sandbox() -> None:
    renderer = JinjaRenderer()
    rendered = renderer.render_touch(
        _touch(subject="Hello", body="{{ 7*7 }}").model_copy(update={"template_id": "generic"})
    )
    assert "{{ 7*7 }}" in rendered.text
