"""``/v1/responses``: create (JSON or SSE), retrieve with ``include[]``, delete, and the input items."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from openai_artifacts_nb.local import sse
from openai_artifacts_nb.local.failures import ApiFailure
from openai_artifacts_nb.local.objects import deleted_json, list_page
from openai_artifacts_nb.local.turns import INCLUDE_OUTPUTS, ResponseTurn, render_output
from openai_artifacts_nb.local.wire import include_params, json_reply, page_params, read_json, service_of


def _response_not_found(response_id: str) -> ApiFailure:
    return ApiFailure(404, f"Response with id '{response_id}' not found.", param="response_id")


async def create_response(request: Request) -> Response:
    """``POST /v1/responses``: run the prompt's code; stream events when ``stream`` is true."""
    body = await read_json(request)
    turn = await run_in_threadpool(ResponseTurn, service_of(request), body)
    if body.get("stream"):
        return StreamingResponse(
            sse.stream(turn.events()),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )
    return json_reply(await run_in_threadpool(turn.run_to_end))


async def retrieve_response(request: Request) -> Response:
    """``GET /v1/responses/{response_id}``: a stored response; code outputs only if ``include[]`` asks."""
    response_id = request.path_params["response_id"]
    stored = service_of(request).state.find_response(response_id)
    if stored is None:
        raise _response_not_found(response_id)
    include_outputs = INCLUDE_OUTPUTS in include_params(request)
    return json_reply(
        dict(stored.body, output=render_output(stored.body["output"], include_outputs=include_outputs))
    )


async def delete_response(request: Request) -> Response:
    """``DELETE /v1/responses/{response_id}``."""
    response_id = request.path_params["response_id"]
    if not service_of(request).state.delete_response(response_id):
        raise _response_not_found(response_id)
    return json_reply(deleted_json(response_id, "response"))


async def list_input_items(request: Request) -> Response:
    """``GET /v1/responses/{response_id}/input_items``: the items of its ``input``, paged (newest first)."""
    response_id = request.path_params["response_id"]
    stored = service_of(request).state.find_response(response_id)
    if stored is None:
        raise _response_not_found(response_id)
    page = page_params(request, default_limit=20)
    include_outputs = INCLUDE_OUTPUTS in include_params(request)
    body = list_page(
        list(enumerate(stored.input_items)),
        to_json=lambda pair: render_output([pair[1]], include_outputs=include_outputs)[0],
        sort_key=lambda pair: pair[0],
        **page,
    )
    return json_reply(body)


ROUTES = [
    Route("/v1/responses", create_response, methods=["POST"]),
    Route("/v1/responses/{response_id}", retrieve_response, methods=["GET"]),
    Route("/v1/responses/{response_id}", delete_response, methods=["DELETE"]),
    Route("/v1/responses/{response_id}/input_items", list_input_items, methods=["GET"]),
]
