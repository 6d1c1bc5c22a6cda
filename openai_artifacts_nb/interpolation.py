"""``{name}`` in a prompt filled from the user's namespace: the magic's variable expansion, without ``eval``.

``{name}``, ``{name.attr}`` and ``{name[0]}`` / ``{name['key']}`` (chained) are looked up step by step:
attributes with ``getattr``, subscripts with a literal key (or a variable's value); nothing is evaluated.
Fenced code blocks are left untouched (the code the model runs has its own braces), ``{{`` and ``}}`` are
literal braces, and an unknown name raises :class:`KeyError` naming it, never a silent blank.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["interpolate"]

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\[\]{}\n]*\])*)\}")
_STEP = re.compile(r"\.([A-Za-z_]\w*)|\[([^\[\]{}\n]*)\]")
_ROOT = re.compile(r"[A-Za-z_]\w*")


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace each ``{name…}`` placeholder outside fenced code with its value from ``namespace``."""
    pieces: list[str] = []
    position = 0
    for fence in _FENCE.finditer(text):
        pieces.append(_fill_prose(text[position : fence.start()], namespace))
        pieces.append(fence.group(0))
        position = fence.end()
    pieces.append(_fill_prose(text[position:], namespace))
    return "".join(pieces)


def _fill_prose(text: str, namespace: Mapping[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in {"{{", "}}"}:
            return token[0]
        return str(_look_up(match.group(1), namespace))

    return _PLACEHOLDER.sub(replace, text)


def _look_up(expression: str, namespace: Mapping[str, Any]) -> Any:
    root = _ROOT.match(expression)
    if root is None or root.group(0) not in namespace:
        raise KeyError(expression)
    value = namespace[root.group(0)]
    for step in _STEP.finditer(expression, root.end()):
        attribute, subscript = step.group(1), step.group(2)
        value = getattr(value, attribute) if attribute is not None else value[_key(subscript, namespace)]
    return value


def _key(text: str, namespace: Mapping[str, Any]) -> Any:
    """A subscript: a Python literal (``0``, ``'a'``, ``-1``), else the value of a variable of that name."""
    stripped = text.strip()
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        if stripped in namespace:
            return namespace[stripped]
        raise KeyError(stripped) from None
