"""Build a cassette from a recorded reply that is not one: a streamed chunk log or a ``Response`` JSON.

``openai-artifacts cassette convert SOURCE OUT`` reads ``SOURCE`` (a ``.chunks.txt`` of one SSE ``data:``
JSON object per line, or a ``.json`` ``Response``, like the real captures in ``shared/reference/recorded/``)
and writes a cassette that replays that reply: the turn itself, then for each container the reply used its
listing, its retrieve and, for every cited file, its metadata and content. Such captures hold neither the
prompt nor the cited files' bytes, so the prompt is left out (the turn then matches any prompt, by order)
unless ``prompt=`` gives it, the file bytes are synthesized deterministically from the file's name and id,
and the stream's pace (one event per 20 ms) is invented; ``cassette.json`` says all this in its ``notes``.
"""

from __future__ import annotations

import json
import os
import random
import struct
import zlib
from pathlib import Path
from typing import Any

from openai_artifacts_nb.cassette import CassetteWriter
from openai_artifacts_nb.errors import ConfigurationError

__all__ = ["convert_command", "convert_recorded", "events_from_response", "synthesize_file"]

EVENT_GAP = 0.02
_TEXT_PIECE = 16


def events_from_response(response: dict[str, Any], *, gap: float = EVENT_GAP) -> list[dict[str, Any]]:
    """Stream events (cassette form, paced ``gap`` apart) that a streamed request for ``response`` would get.

    The items are announced and finished in order, the message text comes in small deltas, and the last
    event carries ``response`` itself, so a streaming client ends with exactly the recorded object.
    """
    frames: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        frames.append({"type": kind, "sequence_number": len(frames), **fields})

    started = {**response, "status": "in_progress", "output": [], "usage": None}
    emit("response.created", response=started)
    emit("response.in_progress", response=started)
    for index, item in enumerate(response.get("output") or []):
        emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress"})
        if item.get("type") == "message":
            for part_index, part in enumerate(item.get("content") or []):
                text = str(part.get("text", "")) if part.get("type") == "output_text" else ""
                for start in range(0, len(text), _TEXT_PIECE):
                    emit(
                        "response.output_text.delta",
                        item_id=item.get("id"),
                        output_index=index,
                        content_index=part_index,
                        delta=text[start : start + _TEXT_PIECE],
                        logprobs=[],
                    )
        emit("response.output_item.done", output_index=index, item=item)
    emit(
        "response.completed" if response.get("status", "completed") == "completed" else "response.incomplete",
        response=response,
    )
    return [{"t": round(gap * n, 3), "event": f["type"], "data": f} for n, f in enumerate(frames)]


def synthesize_file(name: str, seed: str) -> bytes:
    """Deterministic stand-in bytes for a file the capture cites but lacks, shaped by its extension."""
    rng = random.Random(seed)
    suffix = Path(name).suffix.lower()
    sums = [rng.randint(1, 6) + rng.randint(1, 6) for _ in range(10_000)]
    if suffix == ".csv":
        return ("sum\n" + "".join(f"{s}\n" for s in sums)).encode()
    if suffix == ".png":
        return _png(rng)
    if suffix in {".txt", ".md", ".log", ""}:
        return ("".join(f"{s}\n" for s in sums) + f"TOTAL: {sum(sums)}\n").encode()
    return f"Stand-in for {name}: the recording does not hold this file's bytes.\n".encode()


def _png(rng: random.Random, size: int = 8) -> bytes:
    rows = b"".join(b"\x00" + bytes(rng.randrange(256) for _ in range(size * 3)) for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _read(source: Path) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """The final ``Response`` and, for a chunk log, its events in cassette form."""
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"{source}: cannot read ({error.strerror}).") from None
    try:
        if source.suffix == ".json":
            response = json.loads(text)
            if not isinstance(response, dict) or response.get("object") != "response":
                raise ConfigurationError(f"{source}: not a Response object.")
            return response, None
        frames = [
            json.loads(line.removeprefix("data:").strip()) for line in text.splitlines() if line.strip()
        ]
    except ValueError as error:
        raise ConfigurationError(f"{source}: not JSON ({error}).") from None
    events = [
        {"t": round(EVENT_GAP * n, 3), "event": frame.get("type"), "data": frame}
        for n, frame in enumerate(frames)
    ]
    for frame in reversed(frames):
        if frame.get("type") in {"response.completed", "response.incomplete"}:
            return dict(frame["response"]), events
    raise ConfigurationError(f"{source}: the stream never completes (no response.completed event).")


def _cited(response: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Every container the reply used, with the files its text cites (file id to file name)."""
    containers: dict[str, dict[str, str]] = {}
    for item in response.get("output") or []:
        if item.get("type") == "code_interpreter_call" and item.get("container_id"):
            containers.setdefault(str(item["container_id"]), {})
        for part in item.get("content") or []:
            for note in part.get("annotations") or []:
                if note.get("type") == "container_file_citation":
                    files = containers.setdefault(str(note["container_id"]), {})
                    files[str(note["file_id"])] = str(note.get("filename") or note["file_id"])
    return containers


def convert_recorded(
    source: str | os.PathLike[str], out: str | os.PathLike[str], *, prompt: str | None = None
) -> Path:
    """Write a cassette in ``out`` that replays the recorded reply in ``source``; return the folder."""
    path = Path(source).expanduser()
    response, events = _read(path)
    created = int(response.get("created_at") or 0)
    notes = [
        f"converted from {path.name} by openai-artifacts cassette convert",
        "the cited files' bytes are synthesized (the recording does not hold them)",
        "the prompt is not recorded: the turn matches any prompt, by order"
        if prompt is None
        else "the prompt was given to the converter",
    ]
    if events is not None:
        notes.append(f"the stream's pace is invented: one event every {EVENT_GAP} s")
    writer = CassetteWriter(out, notes=notes)
    request: dict[str, Any] = {
        "model": response.get("model"),
        "tools": response.get("tools") or [{"type": "code_interpreter", "container": {"type": "auto"}}],
        "stream": events is not None,
    }
    if prompt is not None:
        request["input"] = prompt
    turn: dict[str, Any] = (
        {"kind": "sse", "headers": {"content-type": "text/event-stream; charset=utf-8"}, "events": events}
        if events is not None
        else {"kind": "json", "headers": {"content-type": "application/json"}, "json": response}
    )
    _add(writer, created, "POST", "/responses", {"status": 200, **turn}, body=request)
    for container_id, files in _cited(response).items():
        listing = []
        for offset, (file_id, name) in enumerate(files.items(), start=5):
            data = synthesize_file(name, file_id)
            sink = writer.file_sink()
            sink.write(data)
            entry = {
                "id": file_id,
                "object": "container.file",
                "created_at": created + offset,
                "bytes": len(data),
                "container_id": container_id,
                "path": f"/mnt/data/{name}",
                "source": "assistant",
            }
            listing.append(entry)
            base = f"/containers/{container_id}/files/{file_id}"
            _add(writer, created + 10, "GET", base, _json(entry))
            content = {"sha256": sink.finish(), "bytes": len(data)}
            _add(
                writer,
                created + 10,
                "GET",
                base + "/content",
                {
                    "status": 200,
                    "kind": "file",
                    "headers": {"content-type": "application/octet-stream"},
                    "file": content,
                },
            )
        page: dict[str, Any] = {"object": "list", "data": listing, "has_more": False}
        page["first_id"] = listing[0]["id"] if listing else None
        page["last_id"] = listing[-1]["id"] if listing else None
        query = [["order", "asc"], ["limit", "100"]]
        _add(writer, created + 10, "GET", f"/containers/{container_id}/files", _json(page), query=query)
        container = {
            "id": container_id,
            "object": "container",
            "created_at": created,
            "status": "running",
            "expires_after": {"anchor": "last_active_at", "minutes": 20},
            "last_active_at": created + 10,
            "name": "openai-artifacts",
        }
        _add(writer, created + 10, "GET", f"/containers/{container_id}", _json(container))
    return writer.close()


def _json(body: dict[str, Any]) -> dict[str, Any]:
    return {"status": 200, "kind": "json", "headers": {"content-type": "application/json"}, "json": body}


def _add(
    writer: CassetteWriter,
    at: float,
    method: str,
    path: str,
    response: dict[str, Any],
    *,
    body: Any = None,
    query: list[list[str]] | None = None,
) -> None:
    writer.add(
        {
            "seq": writer.next_seq(),
            "at": at,
            "request": {
                "method": method,
                "path": path,
                "query": query or [],
                "headers": {"content-type": "application/json"} if body is not None else {},
                "json": body,
            },
            "response": {"elapsed": 0.0, **response},
        }
    )


def convert_command(source: str, out: str, *, prompt: str | None = None) -> int:
    """``openai-artifacts cassette convert SOURCE OUT``: write the cassette, say where; return 0."""
    import sys

    folder = convert_recorded(source, out, prompt=prompt)
    sys.stdout.write(f"Cassette written to {folder} (file bytes synthesized: see its cassette.json).\n")
    return 0
