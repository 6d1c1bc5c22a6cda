"""Read what the emulator's "model" should do from a prompt.

Conventions (the emulator does not think, it follows these):

* Every fenced ```` ```python ```` (or ```` ```py ````) block runs as one ``code_interpreter_call``, in order.
* A fenced ```` ```reply ```` block, if present, is the exact text of the final message. Each ``sandbox:``
  link in it to a file the code wrote gets a citation, so tests can produce any link form they like.
* With no code and no reply block the reply is a short fixed sentence.

``input`` may be a string or a list of input items; the text of the last user message is the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_FENCE = re.compile(
    r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL
)
_CODE_LANGUAGES = {"python", "py", "python3"}


@dataclass
class Plan:
    """What a prompt asks for: code to run, in order, and optionally the exact reply text."""

    code_blocks: list[str] = field(default_factory=list)
    reply: str | None = None


def plan_from_text(text: str) -> Plan:
    """Return the code blocks and the reply block found in ``text``."""
    plan = Plan()
    for match in _FENCE.finditer(text):
        language, body = match.group(2).lower(), match.group(3)
        if language in _CODE_LANGUAGES:
            plan.code_blocks.append(body)
        elif language == "reply" and plan.reply is None:
            plan.reply = body[:-1] if body.endswith("\n") else body
    return plan


def content_text(content: Any) -> str:
    """Return the text of a message ``content``: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        texts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "\n".join(texts)
    return ""


def last_user_text(input_value: Any) -> str:
    """Return the prompt: ``input`` itself if a string, else the text of its last user message."""
    if isinstance(input_value, str):
        return input_value
    if not isinstance(input_value, list):
        return ""
    for item in reversed(input_value):
        if (
            isinstance(item, dict)
            and item.get("role", "user") == "user"
            and item.get("type", "message") == "message"
        ):
            return content_text(item.get("content"))
    return ""


def input_file_ids(input_value: Any) -> list[str]:
    """Return the ``file_id`` of every ``input_file`` part in ``input`` (copied into the container)."""
    found: list[str] = []
    if not isinstance(input_value, list):
        return found
    for item in input_value:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "input_file" and part.get("file_id"):
                    found.append(str(part["file_id"]))
    return found
