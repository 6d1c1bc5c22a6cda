"""Server-sent events for streamed responses: ``event:``/``data:`` frames, sequence numbers from 0."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def frame(event: dict[str, Any], sequence_number: int) -> bytes:
    """Return one SSE frame for ``event`` (its ``type`` first, then ``sequence_number``, then the rest)."""
    body = {"type": event["type"], "sequence_number": sequence_number}
    body.update((key, value) for key, value in event.items() if key != "type")
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def stream(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Yield the SSE frames of ``events``, numbering them from 0."""
    for number, event in enumerate(events):
        yield frame(event, number)
