"""The JSON bodies the API returns, built from the emulator's records (WIRE.md §3-§7 field by field)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from openai_artifacts_nb.local.state import Container, ContainerFile, StoredFile

T = TypeVar("T")


def error_body(
    message: str, *, type_: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """Return ``{"error": {...}}`` with every field the SPEC requires."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def container_json(container: Container) -> dict[str, Any]:
    """Return a ``container`` object."""
    return {
        "id": container.id,
        "object": "container",
        "created_at": container.created_at,
        "status": container.status,
        "expires_after": {"anchor": "last_active_at", "minutes": container.expires_minutes},
        "last_active_at": int(container.last_active_at),
        "memory_limit": container.memory_limit,
        "name": container.name,
    }


def container_file_json(record: ContainerFile) -> dict[str, Any]:
    """Return a ``container.file`` object."""
    return {
        "id": record.id,
        "object": "container.file",
        "created_at": record.created_at,
        "bytes": record.bytes,
        "container_id": record.container_id,
        "path": record.path,
        "source": record.source,
    }


def file_json(record: StoredFile) -> dict[str, Any]:
    """Return a Files ``file`` object (``expires_at`` only when set: the SPEC types it as a plain integer)."""
    body: dict[str, Any] = {
        "id": record.id,
        "object": "file",
        "bytes": record.bytes,
        "created_at": record.created_at,
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
    }
    if record.expires_at is not None:
        body["expires_at"] = record.expires_at
    return body


def deleted_json(object_id: str, kind: str) -> dict[str, Any]:
    """Return the ``{"id", "object", "deleted": true}`` body of a delete."""
    return {"id": object_id, "object": kind, "deleted": True}


def list_page(
    items: Sequence[T],
    *,
    to_json: Callable[[T], dict[str, Any]],
    sort_key: Callable[[T], Any],
    order: str = "desc",
    limit: int = 20,
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """Return one cursor page (``object: "list"``, ``data``, ``first_id``, ``last_id``, ``has_more``)."""
    ordered = sorted(items, key=sort_key, reverse=order != "asc")
    bodies = [to_json(item) for item in ordered]
    ids = [str(body["id"]) for body in bodies]
    start, stop = 0, len(bodies)
    if after is not None and after in ids:
        start = ids.index(after) + 1
    if before is not None and before in ids:
        stop = ids.index(before)
        start = max(start, stop - limit) if after is None else start
    window = bodies[start:stop]
    data = window[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(window) > limit,
    }


def usage_json(input_text: str, output_text: str) -> dict[str, Any]:
    """Return a ``usage`` object with deterministic counts (about four characters a token)."""
    input_tokens = max(1, len(input_text) // 4)
    output_tokens = max(1, len(output_text) // 4)
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def response_json(
    *,
    response_id: str,
    created_at: int,
    request: dict[str, Any],
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    completed_at: int | None = None,
    error: dict[str, Any] | None = None,
    tools: list[Any] | None = None,
    conversation_id: str | None = None,
) -> dict[str, Any]:
    """Return a ``response`` object echoing the request's settings, with every SPEC-required field.

    ``tools`` replaces the request's tools in the echo (upstream names the container a hosted shell chose).
    """
    if tools is None:
        tools = request.get("tools") or []
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": bool(request.get("background", False)),
        "billing": {"payer": "developer"},
        "completed_at": completed_at,
        "conversation": {"id": conversation_id} if conversation_id else None,
        "error": error,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "model": request.get("model") or "gpt-4.1",
        "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "prompt_cache_key": request.get("prompt_cache_key"),
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": request.get("safety_identifier"),
        "service_tier": "default",
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": tools,
        "top_logprobs": request.get("top_logprobs", 0),
        "top_p": request.get("top_p", 1.0),
        "truncation": request.get("truncation", "disabled"),
        "usage": usage,
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
    }


def code_call_json(
    *, item_id: str, container_id: str, code: str, status: str, outputs: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """Return a ``code_interpreter_call`` output item."""
    return {
        "id": item_id,
        "type": "code_interpreter_call",
        "status": status,
        "code": code,
        "container_id": container_id,
        "outputs": outputs,
    }


def output_text_json(text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """Return an ``output_text`` content part."""
    return {"type": "output_text", "annotations": annotations, "logprobs": [], "text": text}


def message_json(item_id: str, *, status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    """Return an assistant ``message`` output item."""
    return {"id": item_id, "type": "message", "status": status, "content": content, "role": "assistant"}


def container_citation_json(
    *, container_id: str, file_id: str, filename: str, start: int, end: int
) -> dict[str, Any]:
    """Return a ``container_file_citation`` annotation (zero-width image citations also carry ``index``)."""
    body: dict[str, Any] = {
        "type": "container_file_citation",
        "container_id": container_id,
        "end_index": end,
        "file_id": file_id,
        "filename": filename,
        "start_index": start,
    }
    if start == end == 0:
        body["index"] = None
    return body


def shell_call_json(
    *,
    item_id: str,
    call_id: str,
    container_id: str,
    commands: list[str],
    status: str,
    timeout_ms: int | None = None,
    max_output_length: int | None = None,
) -> dict[str, Any]:
    """Return a hosted ``shell_call`` output item (its environment names the container it ran in)."""
    return {
        "id": item_id,
        "type": "shell_call",
        "status": status,
        "action": {"commands": commands, "max_output_length": max_output_length, "timeout_ms": timeout_ms},
        "call_id": call_id,
        "environment": {"type": "container_reference", "container_id": container_id},
    }


def shell_output_json(
    *,
    item_id: str,
    call_id: str,
    status: str,
    output: list[dict[str, Any]],
    max_output_length: int | None = None,
) -> dict[str, Any]:
    """Return a ``shell_call_output`` output item."""
    return {
        "id": item_id,
        "type": "shell_call_output",
        "status": status,
        "call_id": call_id,
        "max_output_length": max_output_length,
        "output": output,
    }


def image_call_json(*, item_id: str, status: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return an ``image_generation_call`` output item; ``details`` adds ``result``, ``size`` and the rest.

    ``result`` is null until the image is done (the SPEC requires the field; the recorded stream omits it).
    """
    return {
        "id": item_id,
        "type": "image_generation_call",
        "status": status,
        "result": None,
        **(details or {}),
    }


def conversation_json(*, conversation_id: str, created_at: int, metadata: dict[str, Any]) -> dict[str, Any]:
    """Return a ``conversation`` object."""
    return {"id": conversation_id, "object": "conversation", "created_at": created_at, "metadata": metadata}
