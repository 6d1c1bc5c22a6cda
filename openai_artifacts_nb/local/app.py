"""The Starlette application: every route under ``/v1`` plus ``/_emulator``, and the request gate.

:class:`RequestGate` wraps every request: it stamps ``x-request-id`` on each reply, refuses a ``Host`` or
``Origin`` that is not this server's (403, see :mod:`~openai_artifacts_nb.local.access`), asks for a bearer
token on ``/v1`` (without a key ring any token is accepted; with one an unknown key gets upstream's 401
``invalid_api_key``), tells the routes which project the key belongs to, and applies the delay and injected
failures of :mod:`~openai_artifacts_nb.local.faults`. A class server (with keys) offers no fault switches.
Unknown paths and unexpected errors still answer with the OpenAI error body, never an HTML page.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openai_artifacts_nb.local import (
    routes_assistants,
    routes_containers,
    routes_control,
    routes_conversations,
    routes_files,
    routes_responses,
)
from openai_artifacts_nb.local.access import HostCheck, KeyRing, mask_key
from openai_artifacts_nb.local.failures import ApiFailure
from openai_artifacts_nb.local.ids import new_id
from openai_artifacts_nb.local.service import DEFAULT_PROJECT, EmulatorService
from openai_artifacts_nb.local.wire import PROJECT_SCOPE_KEY, error_reply, retry_headers

_STATUS_ERRORS = {
    429: (
        "Rate limit reached for requests. Please try again in a moment.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


class RequestGate:
    """ASGI middleware: request ids, Host/Origin check, keys and projects, and the faults for ``/v1``."""

    def __init__(
        self,
        app: ASGIApp,
        service: EmulatorService,
        *,
        hosts: HostCheck | None = None,
        keys: KeyRing | None = None,
    ) -> None:
        """Wrap ``app``; faults come from ``service``; ``hosts`` and ``keys`` as the server was started."""
        self.app = app
        self.service = service
        self.hosts = hosts
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")

        async def send_with_id(message: Message) -> None:
            """Pass ``message`` on, adding ``x-request-id`` to the response headers."""
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        request = Request(scope)
        rejection = self._check_origin(request)
        path = str(scope["path"])
        if rejection is None and self.keys is not None and path.startswith("/_emulator/faults"):
            rejection = error_reply(ApiFailure(403, "A class server (with keys) has no fault switches."))
        if rejection is None and path.startswith("/v1/"):
            rejection = await self._gate(request)
        if rejection is not None:
            await rejection(scope, receive, send_with_id)
            return
        await self.app(scope, receive, send_with_id)

    def _check_origin(self, request: Request) -> Response | None:
        """Refuse a request for another host name (DNS rebinding) or from another site's page."""
        if self.hosts is None:
            return None
        host = request.headers.get("host")
        if not self.hosts.host_ok(host):
            return error_reply(
                ApiFailure(403, f"Host {host!r} is not served here (see --allow-host).", code="bad_host")
            )
        if not self.hosts.origin_ok(request.headers.get("origin")):
            return error_reply(
                ApiFailure(403, "Requests from other web pages are not accepted.", code="bad_origin")
            )
        return None

    async def _gate(self, request: Request) -> Response | None:
        faults = self.service.faults
        if faults.delay > 0:
            with faults.delaying():
                await asyncio.sleep(faults.delay)
        authorization = request.headers.get("authorization", "")
        key = authorization[7:].strip()
        if not authorization.lower().startswith("bearer ") or not key:
            return error_reply(
                ApiFailure(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an Authorization "
                    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                )
            )
        project = DEFAULT_PROJECT
        if self.keys is not None:
            found = self.keys.project_of(key)
            if found is None:
                return error_reply(
                    ApiFailure(
                        401,
                        f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
                        "https://platform.openai.com/account/api-keys.",
                        code="invalid_api_key",
                    )
                )
            project = found
        request.scope[PROJECT_SCOPE_KEY] = project
        failure = faults.take_failure()
        if failure is None:
            return None
        message, type_, code = _STATUS_ERRORS.get(
            failure.status, (f"Injected failure with status {failure.status}.", "invalid_request_error", None)
        )
        headers = {}
        if failure.retry_after is not None:
            headers.update(retry_headers(failure.retry_after))
        if failure.should_retry is not None:
            headers["x-should-retry"] = "true" if failure.should_retry else "false"
        return error_reply(ApiFailure(failure.status, message, type_=type_, code=code), headers=headers)


async def _api_failure(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiFailure)
    return error_reply(error)


async def _http_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    else:
        message = f"{error.detail} ({request.method} {request.url.path})"
    return error_reply(ApiFailure(error.status_code, message))


async def _unexpected(_request: Request, error: Exception) -> Response:
    return error_reply(ApiFailure(500, f"The emulator failed: {error!r}", type_="server_error"))


def build_app(
    service: EmulatorService,
    *,
    sweep_seconds: float,
    hosts: HostCheck | None = None,
    keys: KeyRing | None = None,
) -> ASGIApp:
    """Return the emulator's ASGI app; idle containers are expired every ``sweep_seconds``.

    ``hosts`` checks ``Host``/``Origin``; ``keys`` makes each key a project (and unknown keys 401).
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        """Run the idle-container sweep for as long as the app serves."""
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_sweep, service, sweep_seconds)
            yield
            tasks.cancel_scope.cancel()

    app = Starlette(
        routes=[
            *routes_responses.ROUTES,
            *routes_containers.ROUTES,
            *routes_files.ROUTES,
            *routes_assistants.ROUTES,
            *routes_control.ROUTES,
            *routes_conversations.ROUTES,
        ],
        exception_handlers={ApiFailure: _api_failure, HTTPException: _http_exception, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.service = service
    return RequestGate(app, service, hosts=hosts, keys=keys)


async def _sweep(service: EmulatorService, every: float) -> None:
    """Expire idle containers (and stop their kernels) even when nobody asks about them."""
    while True:
        await anyio.sleep(every)
        await anyio.to_thread.run_sync(service.expire_idle_containers)
