"""Markdown that cannot carry live markup: raw HTML outside code is made inert, code is fenced safely.

The fence and code-span patterns are public so that the streaming view splits text exactly where
:func:`escape_markdown_html` would.
"""

from __future__ import annotations

import re

__all__ = ["FENCE", "INLINE_CODE", "code_fence", "escape_markdown_html"]

FENCE = re.compile(r"(^|\n)(```|~~~)[^\n]*\n.*?(\n\2[^\n]*(?=\n|$)|$)", re.DOTALL)
INLINE_CODE = re.compile(r"(`+)[^`].*?\1", re.DOTALL)


def escape_markdown_html(text: str) -> str:
    """Return Markdown with raw HTML outside code made inert, so a reply can never inject live markup.

    Code blocks and code spans are left alone (they are shown literally anyway).
    """
    pieces: list[str] = []
    position = 0
    for fence in FENCE.finditer(text):
        pieces.append(_escape_outside_inline_code(text[position : fence.start()]))
        pieces.append(fence.group(0))
        position = fence.end()
    pieces.append(_escape_outside_inline_code(text[position:]))
    return "".join(pieces)


def _escape_outside_inline_code(text: str) -> str:
    pieces: list[str] = []
    position = 0
    for span in INLINE_CODE.finditer(text):
        pieces.append(text[position : span.start()].replace("<", "&lt;"))
        pieces.append(span.group(0))
        position = span.end()
    pieces.append(text[position:].replace("<", "&lt;"))
    return "".join(pieces)


def code_fence(code: str, language: str = "") -> str:
    """Return ``code`` in a fence longer than any backtick run inside it, so it cannot close early."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{code.rstrip()}\n{ticks}"
