"""``/_emulator/…``: steer a running emulator from another process (a notebook kernel, a browser test).

``GET /_emulator/faults`` shows the fault switches, ``POST`` sets them (JSON body, names as in
:mod:`openai_artifacts_nb.local.faults`), ``DELETE`` resets them. ``GET /_emulator/health`` answers
``{"ok": true}`` with the number of kernels running. These routes need no key and are never faulted.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openai_artifacts_nb.local.failures import ApiFailure
from openai_artifacts_nb.local.wire import json_reply, read_json, service_of


async def show_faults(request: Request) -> Response:
    """``GET /_emulator/faults``."""
    return json_reply(service_of(request).faults.describe())


async def set_faults(request: Request) -> Response:
    """``POST /_emulator/faults``: apply the switches in the body."""
    body = await read_json(request)
    try:
        applied = service_of(request).faults.apply(body)
    except (TypeError, ValueError) as error:
        raise ApiFailure(400, f"Invalid fault settings: {error}") from error
    return json_reply(applied)


async def reset_faults(request: Request) -> Response:
    """``DELETE /_emulator/faults``: every fault off."""
    faults = service_of(request).faults
    faults.reset()
    return json_reply(faults.describe())


async def health(request: Request) -> Response:
    """``GET /_emulator/health``."""
    return json_reply({"ok": True, "kernels": len(service_of(request).sandboxes.kernel_pids())})


ROUTES = [
    Route("/_emulator/faults", show_faults, methods=["GET"]),
    Route("/_emulator/faults", set_faults, methods=["POST"]),
    Route("/_emulator/faults", reset_faults, methods=["DELETE"]),
    Route("/_emulator/health", health, methods=["GET"]),
]
