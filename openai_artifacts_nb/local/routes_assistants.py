"""``/v1/assistants`` and ``/v1/threads``: the legacy Assistants v2 endpoints the SDK's polling helpers use.

Covered: assistants create/retrieve, threads create/retrieve, messages create/list, runs create/retrieve
(``runs.create_and_poll`` works: replies carry ``openai-poll-after-ms``). Streaming runs are refused with 400.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openai_artifacts_nb.local.assistants import (
    RunExecutor,
    assistant_json,
    content_parts,
    message_json,
    run_json,
    thread_json,
)
from openai_artifacts_nb.local.failures import ApiFailure, missing_parameter, not_found
from openai_artifacts_nb.local.ids import new_id
from openai_artifacts_nb.local.objects import list_page
from openai_artifacts_nb.local.state import Record
from openai_artifacts_nb.local.wire import json_reply, page_params, read_json, service_of

POLL_AFTER_MS = "25"


def _thread(request: Request) -> Record:
    thread_id = request.path_params["thread_id"]
    record = service_of(request).state.threads.get(thread_id)
    if record is None:
        raise not_found("thread", thread_id, param="thread_id")
    return record


def _add_message(request: Request, thread_id: str, body: dict[str, object]) -> Record:
    state = service_of(request).state
    role = body.get("role")
    if role not in {"user", "assistant"}:
        raise missing_parameter("role") if role is None else ApiFailure(400, "Invalid 'role'.", param="role")
    if "content" not in body:
        raise missing_parameter("content")
    attachments = body.get("attachments")
    metadata = body.get("metadata")
    message = message_json(
        thread_id=thread_id,
        role=str(role),
        content=content_parts(body["content"]),
        created_at=state.now(),
        attachments=list(attachments) if isinstance(attachments, list) else None,
        metadata=dict(metadata) if isinstance(metadata, dict) else None,
    )
    return state.add_message(thread_id, message)


async def create_assistant(request: Request) -> Response:
    """``POST /v1/assistants``."""
    state = service_of(request).state
    body = await read_json(request)
    if not body.get("model"):
        raise missing_parameter("model")
    record = state.add_record(state.assistants, assistant_json(new_id("asst"), body, created_at=state.now()))
    return json_reply(record.body)


async def retrieve_assistant(request: Request) -> Response:
    """``GET /v1/assistants/{assistant_id}``."""
    assistant_id = request.path_params["assistant_id"]
    record = service_of(request).state.assistants.get(assistant_id)
    if record is None:
        raise not_found("assistant", assistant_id, param="assistant_id")
    return json_reply(record.body)


async def create_thread(request: Request) -> Response:
    """``POST /v1/threads`` (optionally with initial ``messages``)."""
    state = service_of(request).state
    body = await read_json(request)
    record = state.add_record(state.threads, thread_json(new_id("thread"), body, created_at=state.now()))
    for message in body.get("messages") or []:
        _add_message(request, record.id, dict(message))
    return json_reply(record.body)


async def retrieve_thread(request: Request) -> Response:
    """``GET /v1/threads/{thread_id}``."""
    return json_reply(_thread(request).body)


async def create_message(request: Request) -> Response:
    """``POST /v1/threads/{thread_id}/messages``."""
    thread = _thread(request)
    return json_reply(_add_message(request, thread.id, await read_json(request)).body)


async def list_messages(request: Request) -> Response:
    """``GET /v1/threads/{thread_id}/messages`` (cursor pagination with ``after``/``before``, ``run_id``)."""
    params = page_params(request, default_limit=20)
    thread = _thread(request)
    messages = service_of(request).state.thread_messages(thread.id)
    run_id = request.query_params.get("run_id")
    if run_id:
        messages = [m for m in messages if m.body.get("run_id") == run_id]
    page = list_page(
        messages, to_json=lambda m: m.body, sort_key=lambda m: (m.body["created_at"], m.ordinal), **params
    )
    return json_reply(page)


async def create_run(request: Request) -> Response:
    """``POST /v1/threads/{thread_id}/runs``: queue the run and carry it out in the background."""
    service = service_of(request)
    thread = _thread(request)
    body = await read_json(request)
    if body.get("stream"):
        raise ApiFailure(
            400, "The local emulator does not stream Assistants runs; poll the run instead.", param="stream"
        )
    assistant_id = body.get("assistant_id")
    if not assistant_id:
        raise missing_parameter("assistant_id")
    assistant = service.state.assistants.get(str(assistant_id))
    if assistant is None:
        raise not_found("assistant", str(assistant_id), param="assistant_id")
    for message in body.get("additional_messages") or []:
        _add_message(request, thread.id, dict(message))
    run = service.state.add_record(
        service.state.runs,
        run_json(thread_id=thread.id, assistant=assistant.body, body=body, created_at=service.state.now()),
    )
    snapshot = dict(run.body)
    RunExecutor(service).start(run)
    return json_reply(snapshot, headers={"openai-poll-after-ms": POLL_AFTER_MS})


async def retrieve_run(request: Request) -> Response:
    """``GET /v1/threads/{thread_id}/runs/{run_id}``."""
    thread = _thread(request)
    run_id = request.path_params["run_id"]
    run = service_of(request).state.runs.get(run_id)
    if run is None or run.body["thread_id"] != thread.id:
        raise not_found("run", run_id, param="run_id")
    return json_reply(run.body, headers={"openai-poll-after-ms": POLL_AFTER_MS})


ROUTES = [
    Route("/v1/assistants", create_assistant, methods=["POST"]),
    Route("/v1/assistants/{assistant_id}", retrieve_assistant, methods=["GET"]),
    Route("/v1/threads", create_thread, methods=["POST"]),
    Route("/v1/threads/{thread_id}", retrieve_thread, methods=["GET"]),
    Route("/v1/threads/{thread_id}/messages", create_message, methods=["POST"]),
    Route("/v1/threads/{thread_id}/messages", list_messages, methods=["GET"]),
    Route("/v1/threads/{thread_id}/runs", create_run, methods=["POST"]),
    Route("/v1/threads/{thread_id}/runs/{run_id}", retrieve_run, methods=["GET"]),
]
