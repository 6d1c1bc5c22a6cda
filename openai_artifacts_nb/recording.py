"""Record every API exchange at the HTTP layer: a transport that tees each response into a cassette.

The SDK's client gets an ``httpx2.Client`` whose transport wraps the real one
(:func:`recording_http_client`), so every request the SDK makes (the streamed turn, container checks,
uploads, listings and each parallel download) passes through :class:`RecordingTransport`. Each response
body is copied to the cassette as the SDK reads it: SSE events with the seconds since the request was
sent, JSON bodies parsed, anything else (file downloads) written straight to ``files/`` and hashed on the
way, never held whole in memory. The format is described in :mod:`openai_artifacts_nb.cassette`.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx2

from openai_artifacts_nb.cassette import (
    REQUEST_HEADERS,
    RESPONSE_HEADERS,
    CassetteWriter,
    FileSink,
    bearer_token,
    now,
    scrub_headers,
    scrub_query,
)

if TYPE_CHECKING:
    from openai_artifacts_nb.cassette import Cassette  # noqa: F401

__all__ = ["RecordingTransport", "recording_http_client"]

_JSON_LIMIT = 8 * 1024 * 1024  # a bigger "JSON" body is stored as a file, not parsed in memory


def recording_http_client(writer: CassetteWriter, *, inner: httpx2.BaseTransport | None = None) -> Any:
    """An ``openai.DefaultHttpxClient`` (the SDK's timeouts, limits) whose transport records to ``writer``."""
    import openai

    transport = RecordingTransport(
        writer, inner=inner or httpx2.HTTPTransport(limits=openai.DEFAULT_CONNECTION_LIMITS)
    )
    return openai.DefaultHttpxClient(transport=transport)


class RecordingTransport(httpx2.BaseTransport):
    """Sends each request through ``inner`` and records the exchange to ``writer`` as the body is read."""

    def __init__(self, writer: CassetteWriter, *, inner: httpx2.BaseTransport) -> None:
        """Wrap ``inner``; the cassette is ``writer``."""
        self.writer = writer
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send ``request``; return its response with a body that records itself while it is read."""
        seq = self.writer.next_seq(bearer_token(request.headers.get("authorization")))
        # Bodies are recorded as the client will read them, so ask for them unencoded.
        request.headers["Accept-Encoding"] = "identity"
        sent_at, started = now(), time.monotonic()
        recorded_request = _request_json(request, self.writer.base_path)
        response = self.inner.handle_request(request)
        download = recorded_request["path"].endswith("/content")
        body = _BodyRecorder(self.writer, response.headers, started, download=download)
        exchange = {
            "seq": seq,
            "at": sent_at,
            "request": recorded_request,
            "response": {
                "status": response.status_code,
                "headers": scrub_headers(response.headers.multi_items(), RESPONSE_HEADERS),
                "elapsed": round(time.monotonic() - started, 3),
            },
        }
        stream = _TeeStream(response.stream, body, lambda recorded: self._finish(exchange, recorded))
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
            request=request,
        )

    def _finish(self, exchange: dict[str, Any], recorded: dict[str, Any]) -> None:
        exchange["response"].update(recorded)
        self.writer.add(exchange)

    def close(self) -> None:
        """Close the wrapped transport (the cassette stays open: it belongs to whoever started recording)."""
        self.inner.close()


def _request_json(request: httpx2.Request, base_path: str) -> dict[str, Any]:
    path = request.url.path
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        path = path[len(base_path) :] or "/"
    elif base_path and base_path + "/" in path:  # a proxy's prefix before /v1 (``/openai/v1/...``)
        path = path[path.index(base_path + "/") + len(base_path) :]
    body: Any = None
    if "json" in request.headers.get("content-type", ""):
        try:
            body = json.loads(request.content)
        except (httpx2.RequestNotRead, ValueError):
            body = None
    return {
        "method": request.method,
        "path": path,
        "query": scrub_query(request.url.params.multi_items()),
        "headers": scrub_headers(request.headers.multi_items(), REQUEST_HEADERS),
        "json": body,
    }


class _TeeStream(httpx2.SyncByteStream):
    """The response body, passed on unchanged and fed to the recorder; the exchange is written on close."""

    def __init__(self, inner: Any, recorder: _BodyRecorder, done: Any) -> None:
        self._inner = inner
        self._recorder = recorder
        self._done = done
        self._finished = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._recorder.feed(chunk)
            yield chunk
        self._recorder.complete = True

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if not self._finished:
                self._finished = True
                self._done(self._recorder.finish())


class _BodyRecorder:
    """Turns the bytes of one response body into its cassette form: SSE events, JSON or a stored file."""

    def __init__(
        self, writer: CassetteWriter, headers: httpx2.Headers, started: float, *, download: bool = False
    ) -> None:
        self._writer = writer
        self._started = started
        content_type = headers.get("content-type", "").lower()
        encoding = headers.get("content-encoding", "identity").lower()
        self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding in {"gzip", "deflate"} else None
        self._raw_encoding = encoding if encoding not in {"identity", "gzip", "deflate"} else None
        self.kind = (
            "sse" if "text/event-stream" in content_type else "json" if "json" in content_type else "file"
        )
        if self._raw_encoding or download:
            # A download keeps its exact bytes, even a .json file; an encoding we cannot undo is stored as
            # sent and replayed with its header.
            self.kind = "file"
        self.complete = False
        self._buffer = bytearray()
        self._events: list[dict[str, Any]] = []
        self._pending: dict[str, Any] = {}
        self._sink: FileSink | None = None

    def feed(self, chunk: bytes) -> None:
        if self._decoder is not None:
            chunk = self._decoder.decompress(chunk)
        if self.kind == "sse":
            self._feed_sse(chunk)
        elif self.kind == "json" and len(self._buffer) + len(chunk) <= _JSON_LIMIT:
            self._buffer += chunk
        else:
            if self._sink is None:
                self.kind = "file"
                self._sink = self._writer.file_sink()
                self._sink.write(bytes(self._buffer))
                self._buffer.clear()
            self._sink.write(chunk)

    def _feed_sse(self, chunk: bytes) -> None:
        self._buffer += chunk
        *lines, rest = bytes(self._buffer).split(b"\n")
        self._buffer = bytearray(rest)
        for line in lines:
            self._sse_line(line.rstrip(b"\r").decode("utf-8", errors="replace"))

    def _sse_line(self, line: str) -> None:
        if not line:
            if "data" in self._pending:
                self._events.append(self._event(self._pending))
            self._pending = {}
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._pending["data"] = f"{self._pending['data']}\n{value}" if "data" in self._pending else value
        elif name in {"event", "id", "retry"}:
            self._pending[name] = value

    def _event(self, fields: dict[str, Any]) -> dict[str, Any]:
        event: dict[str, Any] = {"t": round(time.monotonic() - self._started, 3)}
        if "event" in fields:
            event["event"] = fields["event"]
        if "id" in fields:
            event["id"] = fields["id"]
        try:
            event["data"] = json.loads(fields["data"])
        except ValueError:
            event["raw"] = fields["data"]
        return event

    def finish(self) -> dict[str, Any]:
        recorded: dict[str, Any] = {"kind": self.kind}
        if not self.complete:
            recorded["complete"] = False
        if self._raw_encoding:
            recorded["content_encoding"] = self._raw_encoding
        if self.kind == "sse":
            if self._buffer:
                self._sse_line(bytes(self._buffer).decode("utf-8", errors="replace"))
            self._sse_line("")
            recorded["events"] = self._events
        elif self.kind == "json":
            try:
                recorded["json"] = json.loads(bytes(self._buffer)) if self._buffer else None
            except ValueError:
                recorded["kind"] = "text"
                recorded["text"] = bytes(self._buffer).decode("utf-8", errors="replace")
            if not self._buffer:
                recorded = {**recorded, "kind": "empty"}
                recorded.pop("json", None)
        elif self._sink is None and not self._buffer:
            recorded["kind"] = "empty"
        else:
            sink = self._sink or self._writer.file_sink()
            if self._sink is None:
                sink.write(bytes(self._buffer))
            recorded["file"] = {"sha256": sink.finish(), "bytes": sink.size}
        return recorded
