"""Read what the emulator's "model" should do from a prompt.

Conventions (the emulator does not think, it follows these):

* Every fenced ```` ```python ```` (or ```` ```py ````) block runs as one ``code_interpreter_call``, in order.
* Every fenced ```` ```bash ```` (or ```` ```sh ````, ```` ```shell ````) block runs as one hosted
  ``shell_call`` (its whole body is one command, run by bash in the container's ``/mnt/data``), when the
  request has a ``shell`` tool with a container environment. ``timeout_ms=N`` and ``max_output_length=N``
  after the language become the call's ``action`` limits (```` ```bash timeout_ms=500 ````).
* Every fenced ```` ```image ```` block is an image prompt: it becomes one ``image_generation_call`` with a
  deterministic PNG, when the request has an ``image_generation`` tool.
* Blocks of all three kinds run in the order they appear.
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
    r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+-]*)([^\n]*)\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL
)
_OPTION = re.compile(r"\b(timeout_ms|max_output_length)=(\d{1,9})\b")
_KINDS = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "bash": "shell",
    "sh": "shell",
    "shell": "shell",
    "image": "image",
}


@dataclass(frozen=True)
class Step:
    """One tool call the prompt asks for: ``kind`` is ``python``, ``shell`` or ``image``."""

    kind: str
    body: str
    options: dict[str, int] = field(default_factory=dict)


@dataclass
class Plan:
    """What a prompt asks for: tool calls in order, and optionally the exact reply text."""

    steps: list[Step] = field(default_factory=list)
    reply: str | None = None

    @property
    def code_blocks(self) -> list[str]:
        """The python blocks alone, in order (all the Assistants API runs)."""
        return self.bodies("python")

    def bodies(self, kind: str) -> list[str]:
        """The bodies of the steps of one ``kind``, in order."""
        return [step.body for step in self.steps if step.kind == kind]


def plan_from_text(text: str) -> Plan:
    """Return the tool steps and the reply block found in ``text``."""
    plan = Plan()
    for match in _FENCE.finditer(text):
        language, info, body = match.group(2).lower(), match.group(3), match.group(4)
        kind = _KINDS.get(language)
        if kind == "image":
            body = body.strip()
        elif kind == "shell":
            body = body[:-1] if body.endswith("\n") else body
        if kind == "python" or (kind is not None and body):
            options = {name: int(value) for name, value in _OPTION.findall(info)} if kind == "shell" else {}
            plan.steps.append(Step(kind, body, options))
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
