"""``/v1/assistants`` and ``/v1/threads``: the legacy Assistants v2 path (filled in below)."""

from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
