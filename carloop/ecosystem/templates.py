"""Safe templates for scenes: a sandboxed Jinja subset, the way Home Assistant renders them.

Pure: the caller passes everything a template may read (``trigger``, ``repeat``, the run's
variables, ``states(entity_id, attribute)`` already cut to the scene's precision, ``now()`` from the
engine's injected clock). The sandbox refuses attribute access to internals and mutation; a
template longer than ``MAX_TEMPLATE`` or rendering more than ``MAX_OUTPUT`` characters is an error,
and so is anything Jinja raises: ``TemplateError`` carries a message for the run's trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEMPLATE = 1000
MAX_OUTPUT = 2000
FALSY = ("", "false", "0", "no", "off", "none")


class TemplateError(ValueError):
    """A template that cannot be rendered (syntax, unsafe access, too long)."""


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=jinja2.ChainableUndefined, autoescape=False)
    env.filters["float"] = _float
    env.filters["int"] = lambda v, default=0: int(_float(v, default))
    env.globals["float"] = _float
    return env


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def is_template(value: Any) -> bool:
    """Whether a string holds a template."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_syntax(template: str) -> str:
    """The template if Jinja can parse it (scenes are checked when saved); ValueError if not."""
    if len(template) > MAX_TEMPLATE:
        raise ValueError(f"a template may have at most {MAX_TEMPLATE} characters")
    try:
        _environment().parse(template)
    except jinja2.TemplateSyntaxError as err:
        raise ValueError(f"template syntax error: {err.message}") from err
    return template


def render(template: str, variables: Mapping[str, Any]) -> str:
    """The template rendered with ``variables``."""
    if len(template) > MAX_TEMPLATE:
        raise TemplateError(f"a template may have at most {MAX_TEMPLATE} characters")
    try:
        out = _environment().from_string(template).render(**variables)
    except jinja2.TemplateError as err:  # syntax errors, sandbox violations, undefined calls
        raise TemplateError(f"template error: {err}") from err
    except (TypeError, ValueError, ArithmeticError, LookupError) as err:
        raise TemplateError(f"template error: {err}") from err
    if len(out) > MAX_OUTPUT:
        raise TemplateError(f"a template may render at most {MAX_OUTPUT} characters")
    return out.strip()


def render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Strings with templates rendered (numbers come back as numbers), inside dicts and lists too."""
    if isinstance(value, Mapping):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables) for v in value]
    if not is_template(value):
        return value
    text = render(value, variables)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def truthy(template: str, variables: Mapping[str, Any]) -> bool:
    """Whether a condition template renders true (as Home Assistant reads ``value_template``)."""
    return render(template, variables).lower() not in FALSY
