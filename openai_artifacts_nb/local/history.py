"""The items a turn is given: ``input`` as stored items, and the containers earlier tool calls name.

Upstream keeps a response's ``input`` as items with ids (``GET /v1/responses/{id}/input_items``) and adds them
to a conversation. :func:`input_items` does the same: a string becomes one user message, a message without
an id gets a ``msg_`` id, string content becomes an ``input_text`` (or, for the assistant, ``output_text``)
part, and other items (tool calls sent back as history) are kept as they are.

:func:`container_ids` finds the containers named by ``code_interpreter_call`` and ``shell_call`` items, in
order, so ``{"type": "auto"}`` can reuse the latest one, as upstream does for the model's context.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from openai_artifacts_nb.local.ids import new_id

_INPUT_ROLES = {"user", "system", "developer"}


def _message_item(item: dict[str, Any]) -> dict[str, Any]:
    role = str(item.get("role") or "user")
    content = item.get("content")
    part_type = "input_text" if role in _INPUT_ROLES else "output_text"
    if isinstance(content, str):
        parts: list[Any] = [{"type": part_type, "text": content}]
    elif isinstance(content, list):
        parts = [copy.deepcopy(part) for part in content if isinstance(part, dict)]
    else:
        parts = []
    for part in parts:
        if part.get("type") == "output_text":
            part.setdefault("annotations", [])
            part.setdefault("logprobs", [])
    return {
        "id": str(item.get("id") or new_id("msg")),
        "type": "message",
        "status": str(item.get("status") or "completed"),
        "role": role,
        "content": parts,
    }


def input_items(input_value: Any) -> list[dict[str, Any]]:
    """Return ``input`` as the items upstream stores for it (messages given ids; references dropped)."""
    if isinstance(input_value, str):
        return [_message_item({"role": "user", "content": input_value})]
    if not isinstance(input_value, list):
        return []
    items = []
    for item in input_value:
        if not isinstance(item, dict) or item.get("type") == "item_reference":
            continue
        if item.get("type", "message") == "message" and "role" in item:
            items.append(_message_item(item))
        else:
            items.append(copy.deepcopy(item))
    return items


def container_ids(items: Iterable[Any]) -> list[str]:
    """Return the container ids that the tool-call items among ``items`` name, oldest first."""
    found: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "code_interpreter_call" and item.get("container_id"):
            found.append(str(item["container_id"]))
        elif item.get("type") == "shell_call":
            environment = item.get("environment")
            if isinstance(environment, dict) and environment.get("container_id"):
                found.append(str(environment["container_id"]))
    return found
