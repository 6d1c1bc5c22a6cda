"""``/v1/conversations``: create, retrieve, update, delete, and the items of a conversation.

A conversation holds items oldest first: those given at creation or added with ``POST …/items``, then the
input and output items of every response created with ``conversation=`` (see
:mod:`~openai_artifacts_nb.local.turns`). Item lists page like every other list (``limit``, ``order``
(``desc`` by default), ``after``); code outputs appear only with ``include=code_interpreter_call.outputs``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openai_artifacts_nb.local.failures import ApiFailure, missing_parameter
from openai_artifacts_nb.local.history import input_items
from openai_artifacts_nb.local.objects import conversation_json, deleted_json, list_page
from openai_artifacts_nb.local.state import StoredConversation
from openai_artifacts_nb.local.turns import INCLUDE_OUTPUTS, conversation_not_found, render_output
from openai_artifacts_nb.local.wire import include_params, json_reply, page_params, read_json, service_of

MAX_ITEMS_PER_CALL = 20


def _body(conversation: StoredConversation) -> dict[str, Any]:
    return conversation_json(
        conversation_id=conversation.id, created_at=conversation.created_at, metadata=conversation.metadata
    )


def _find(request: Request) -> StoredConversation:
    conversation_id = request.path_params["conversation_id"]
    conversation = service_of(request).state.find_conversation(conversation_id)
    if conversation is None:
        raise conversation_not_found(conversation_id, param="conversation_id")
    return conversation


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or len(metadata) > 16:
        raise ApiFailure(400, "Invalid 'metadata': expected at most 16 key-value pairs.", param="metadata")
    return metadata


def _items(body: dict[str, Any], *, required: bool) -> list[dict[str, Any]]:
    raw = body.get("items")
    if raw is None and not required:
        return []
    if raw is None:
        raise missing_parameter("items")
    if not isinstance(raw, list):
        raise ApiFailure(400, "Invalid 'items': expected an array of items.", param="items")
    if len(raw) > MAX_ITEMS_PER_CALL:
        raise ApiFailure(
            400,
            f"Invalid 'items': array too long. Expected an array with maximum length {MAX_ITEMS_PER_CALL}, "
            f"but got an array with length {len(raw)} instead.",
            param="items",
            code="array_above_max_length",
        )
    return input_items(raw)


def _item_list(items: list[dict[str, Any]], *, include_outputs: bool) -> dict[str, Any]:
    """Return a one-page list of ``items`` in the order given."""
    shown = render_output(items, include_outputs=include_outputs)
    return {
        "object": "list",
        "data": shown,
        "first_id": shown[0]["id"] if shown else None,
        "last_id": shown[-1]["id"] if shown else None,
        "has_more": False,
    }


async def create_conversation(request: Request) -> Response:
    """``POST /v1/conversations``: a new conversation, optionally with first items and metadata."""
    body = await read_json(request)
    conversation = service_of(request).state.create_conversation(
        metadata=_metadata(body), items=_items(body, required=False)
    )
    return json_reply(_body(conversation))


async def retrieve_conversation(request: Request) -> Response:
    """``GET /v1/conversations/{conversation_id}``."""
    return json_reply(_body(_find(request)))


async def update_conversation(request: Request) -> Response:
    """``POST /v1/conversations/{conversation_id}``: replace the metadata."""
    conversation = _find(request)
    body = await read_json(request)
    if "metadata" not in body:
        raise missing_parameter("metadata")
    conversation.metadata = _metadata(body)
    return json_reply(_body(conversation))


async def delete_conversation(request: Request) -> Response:
    """``DELETE /v1/conversations/{conversation_id}`` (its items go with it)."""
    conversation = _find(request)
    service_of(request).state.delete_conversation(conversation.id)
    return json_reply(deleted_json(conversation.id, "conversation.deleted"))


async def list_items(request: Request) -> Response:
    """``GET /v1/conversations/{conversation_id}/items``: one page of items (newest first by default)."""
    conversation = _find(request)
    page = page_params(request, default_limit=20)
    page.pop("before", None)
    numbered = list(enumerate(service_of(request).state.conversation_items(conversation)))
    include_outputs = INCLUDE_OUTPUTS in include_params(request)
    body = list_page(
        numbered,
        to_json=lambda pair: render_output([pair[1]], include_outputs=include_outputs)[0],
        sort_key=lambda pair: pair[0],
        **page,
    )
    return json_reply(body)


async def create_items(request: Request) -> Response:
    """``POST /v1/conversations/{conversation_id}/items``: append up to 20 items; returns them."""
    conversation = _find(request)
    items = _items(await read_json(request), required=True)
    service_of(request).state.add_conversation_items(conversation, items)
    return json_reply(_item_list(items, include_outputs=INCLUDE_OUTPUTS in include_params(request)))


def _find_item(request: Request, conversation: StoredConversation) -> dict[str, Any]:
    item_id = request.path_params["item_id"]
    for item in service_of(request).state.conversation_items(conversation):
        if item.get("id") == item_id:
            return item
    raise ApiFailure(404, f"Item with id '{item_id}' not found.", param="item_id")


async def retrieve_item(request: Request) -> Response:
    """``GET /v1/conversations/{conversation_id}/items/{item_id}``."""
    item = _find_item(request, _find(request))
    include_outputs = INCLUDE_OUTPUTS in include_params(request)
    return json_reply(render_output([item], include_outputs=include_outputs)[0])


async def delete_item(request: Request) -> Response:
    """``DELETE /v1/conversations/{conversation_id}/items/{item_id}``: returns the conversation."""
    conversation = _find(request)
    item = _find_item(request, conversation)
    service_of(request).state.remove_conversation_item(conversation, str(item["id"]))
    return json_reply(_body(conversation))


ROUTES = [
    Route("/v1/conversations", create_conversation, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", retrieve_conversation, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", update_conversation, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", delete_conversation, methods=["DELETE"]),
    Route("/v1/conversations/{conversation_id}/items", list_items, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}/items", create_items, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}/items/{item_id}", retrieve_item, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}/items/{item_id}", delete_item, methods=["DELETE"]),
]
