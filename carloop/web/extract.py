"""Babel extraction for Python sources: ``_()`` calls, plus the message of every domain error raised.

A domain error's message is shown to buyers and staff (problem+json ``detail``, the error page), so
it is a msgid like any template string. Raise sites write plain English, often as an f-string:
``NotFound(f"No order {number}.")``. This extractor turns such a message into the msgid
``"No order %(number)s."`` (each ``{expression}`` becomes a named placeholder called after the
expression's last name), so ``babel.cfg`` and the test suite find every one, and
``carloop.web.i18n.translate_message`` can translate the rendered English text back through the
catalogs at display time.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Iterator
from typing import IO, Any

from babel.messages.extract import extract_python

ERROR_CLASSES = frozenset(
    {
        "DomainError",
        "NotFound",
        "Conflict",
        "InvalidTransition",
        "PolicyViolation",
        "InvalidConfiguration",
        "CapacityExhausted",
        "PaymentFailed",
        "AuthenticationFailed",
        "PermissionDenied",
        "RateLimited",
        "Unavailable",
        "MessageNotSent",
    }
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _placeholder_name(expr: ast.expr) -> str:
    """A readable name for an f-string's ``{expression}``: its last attribute or variable name."""
    names = _IDENT.findall(ast.unparse(expr))
    keep = [n for n in names if n not in {"len", "str", "int", "round", "join", "lower", "upper", "strip"}]
    return (keep or names or ["value"])[-1]


def template(node: ast.expr, constants: dict[str, str] | None = None) -> list[str]:
    """The msgid(s) an error message expression stands for; empty when it cannot be known statically."""
    constants = constants or {}
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value.replace("%", "%%")] if "%(" not in node.value else [node.value]
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        used: dict[str, int] = {}
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value).replace("%", "%%"))
            elif isinstance(value, ast.FormattedValue):
                name = _placeholder_name(value.value)
                used[name] = used.get(name, 0) + 1
                parts.append(f"%({name if used[name] == 1 else f'{name}{used[name]}'})s")
        return ["".join(parts)]
    if isinstance(node, ast.Name) and node.id in constants:
        return _constant_msgid(constants[node.id])
    if isinstance(node, ast.Attribute) and node.attr in constants:  # rules.FULL: another module's constant
        return _constant_msgid(constants[node.attr])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # TEMPLATE % {"name": value}
        return template(node.left, constants)
    if isinstance(node, ast.IfExp):
        return template(node.body, constants) + template(node.orelse, constants)
    return []


def _constant_msgid(value: str) -> list[str]:
    """A module constant as a msgid: a ``%(name)s`` template stays one, other text has ``%`` doubled."""
    return [value] if "%(" in value else [value.replace("%", "%%")]


def constants_of(source: str) -> dict[str, str]:
    """The module-level string constants of ``source`` (``FULL = "That slot is fully booked..."``)."""
    return _constants(ast.parse(source))


def _constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = stmt.value.value
    return found


def error_call_name(node: ast.Call) -> str | None:
    """The error class a call constructs, if it is one of carloop's domain errors."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name if name in ERROR_CLASSES else None


def error_messages(source: str, known: dict[str, str] | None = None) -> Iterator[tuple[int, str | None]]:
    """(line, msgid) for each domain error constructed in ``source``; msgid None when not static.

    ``known`` adds other modules' constants, so ``raise CapacityExhausted(rules.FULL)`` resolves.
    """
    tree = ast.parse(source)
    constants = {**(known or {}), **_constants(tree)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and error_call_name(node) and node.args:
            found = template(node.args[0], constants)
            if not found:
                yield node.lineno, None
            for msgid in found:
                yield node.lineno, msgid


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str | None, Any, list[str]]]:
    """Babel's Python extraction, plus every domain error message as a msgid (see the module docstring)."""
    source = fileobj.read()
    found = extract_python(io.BytesIO(source), keywords, comment_tags, options)  # type: ignore[arg-type]
    for lineno, funcname, message, comments in found:
        yield lineno, funcname, message, list(comments)  # type: ignore[misc, arg-type]
    text = source.decode(options.get("encoding", "utf-8"))
    for lineno, msgid in error_messages(text):
        if msgid:
            yield lineno, None, msgid, ["domain error message"]
