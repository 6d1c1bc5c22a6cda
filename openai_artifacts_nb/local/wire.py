"""HTTP plumbing shared by the routes: JSON and error replies, request bodies, list parameters, downloads.

Downloads stream from disk in 1 MiB chunks, so a 1 GiB file never sits in memory. When the
``truncate_downloads`` fault is armed, a download announces the full ``Content-Length``, sends only part of
the bytes and ends the response early: the server then drops the connection, as a broken upstream
transfer does. With ``stall_downloads`` it sends part of the bytes and then nothing, keeping the connection
open until the client gives up, as a stalled upstream transfer does.
"""

from __future__ import annotations

import json
import math
import mimetypes
from pathlib import Path
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from openai_artifacts_nb.local.failures import ApiFailure
from openai_artifacts_nb.local.service import EmulatorService

CHUNK = 1024 * 1024
PROJECT_SCOPE_KEY = "openai_artifacts_nb.project"


def service_of(request: Request) -> EmulatorService:
    """Return the emulator service as the caller's project sees it (the gate put the project in the scope)."""
    service: EmulatorService = request.app.state.service
    project = request.scope.get(PROJECT_SCOPE_KEY)
    return service if project is None else service.for_project(str(project))


def json_reply(
    body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Return ``body`` as compact JSON."""
    return JSONResponse(body, status_code=status, headers=headers)


def error_reply(failure: ApiFailure, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """Return the JSON error reply for ``failure``."""
    return JSONResponse(failure.body(), status_code=failure.status, headers=headers)


async def read_json(request: Request) -> dict[str, Any]:
    """Return the JSON object in the request body, or raise a 400 the way upstream words it."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise ApiFailure(400, f"We could not parse the JSON body of your request. ({error})") from error
    if not isinstance(body, dict):
        raise ApiFailure(400, "The request body must be a JSON object.")
    return body


def page_params(request: Request, *, default_limit: int) -> dict[str, Any]:
    """Return ``limit``, ``order``, ``after`` and ``before`` from the query, checked."""
    query = request.query_params
    try:
        limit = int(query.get("limit", default_limit))
    except ValueError as error:
        raise ApiFailure(400, "Invalid 'limit': expected an integer.", param="limit") from error
    if not 1 <= limit <= max(default_limit, 100):
        raise ApiFailure(400, f"Invalid 'limit': {limit} is out of range.", param="limit")
    order = query.get("order", "desc")
    if order not in {"asc", "desc"}:
        raise ApiFailure(400, f"Invalid 'order': {order!r}. Expected 'asc' or 'desc'.", param="order")
    return {"limit": limit, "order": order, "after": query.get("after"), "before": query.get("before")}


def retry_headers(seconds: float) -> dict[str, str]:
    """Return ``retry-after`` in whole seconds (at least 1, as the SPEC types it), ``retry-after-ms`` exact.

    The SDK prefers ``retry-after-ms``, so a short injected delay still retries quickly.
    """
    return {"retry-after": str(max(1, math.ceil(seconds))), "retry-after-ms": f"{seconds * 1000:g}"}


def include_params(request: Request) -> list[str]:
    """Return the ``include[]`` query values (the SDK sends arrays with brackets)."""
    return request.query_params.getlist("include[]") + request.query_params.getlist("include")


class FileDownload(Response):
    """A file streamed from disk in chunks, optionally cut off early (the ``truncate_downloads`` fault)."""

    def __init__(
        self, path: Path, *, filename: str, stop_fraction: float | None = None, stall_after: int | None = None
    ) -> None:
        """Serve ``path``; with ``stop_fraction``, send only that share of it and drop the connection; with
        ``stall_after``, send that many bytes and then nothing until the client disconnects."""
        self.path = path
        self.size = path.stat().st_size
        self.stop_after = None if stop_fraction is None else int(self.size * stop_fraction)
        self.stall_after = stall_after
        if stall_after is not None:
            self.stop_after = min(stall_after, self.size)
        media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        super().__init__(content=None, media_type=media_type)
        self.headers["content-length"] = str(self.size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the headers, then the bytes chunk by chunk."""
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        budget = self.size if self.stop_after is None else self.stop_after
        async with await anyio.open_file(self.path, "rb") as source:
            while budget > 0:
                chunk = await source.read(min(CHUNK, budget))
                if not chunk:
                    break
                budget -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if self.stall_after is not None:
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        if self.stop_after is not None:
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
