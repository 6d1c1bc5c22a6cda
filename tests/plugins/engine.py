"""Fixtures for the engine tests: a small real HTTP server that replays recorded replies and serves bytes.

``ReplayServer`` is a ``ThreadingHTTPServer`` on 127.0.0.1 with a route table: tests register JSON bodies,
byte payloads (optionally generated lazily, cut off midway or slowed down) and failures for the next N
requests. The official SDK talks to it through ``base_url``, exactly as it would to the API.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

RECORDED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "recorded"
if not RECORDED.is_dir():
    RECORDED = Path("/work/shared/reference/recorded")

TEST_API_KEY = "sk-test-SECRET-key-0123456789"


@dataclass
class Route:
    """What the server answers on one path."""

    status: int = 200
    body: bytes | None = None
    chunks: Callable[[], Iterator[bytes]] | None = None
    length: int | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    cut_times: int = 0
    delay: float = 0.0


@dataclass
class Failure:
    """The next ``times`` requests on a path answer ``status`` with an OpenAI error body."""

    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "The server had an error while processing your request."


def error_body(message: str, kind: str = "invalid_request_error") -> bytes:
    """An OpenAI error body."""
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}).encode()


class ReplayServer:
    """A real HTTP server replaying canned API answers; records every request it gets."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.failures: dict[str, Failure] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.targets: list[str] = []
        self.active = 0
        self.peak_active = 0
        self.delay = 0.0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                server._handle(self, "POST")

            def do_DELETE(self) -> None:
                server._handle(self, "DELETE")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- registering answers -------------------------------------------------------------------------

    def json(self, path: str, body: Any, *, method: str = "GET", status: int = 200) -> None:
        self.routes[(method, path)] = Route(status=status, body=json.dumps(body).encode())

    def bytes(self, path: str, data: bytes, **options: Any) -> None:
        self.routes[("GET", path)] = Route(body=data, content_type="application/octet-stream", **options)

    def stream(self, path: str, size: int, chunks: Callable[[], Iterator[bytes]], **options: Any) -> None:
        """Serve ``size`` bytes produced lazily by ``chunks()`` (never held whole in memory)."""
        self.routes[("GET", path)] = Route(
            chunks=chunks, length=size, content_type="application/octet-stream", **options
        )

    def events(self, path: str, events: Callable[[], Iterator[dict[str, Any]]]) -> None:
        """Answer ``POST path`` with the server-sent events ``events()`` yields, each sent as it comes."""

        def frames() -> Iterator[bytes]:
            for event in events():
                yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

        self.routes[("POST", path)] = Route(chunks=frames, content_type="text/event-stream")

    def fail(self, path: str, status: int, times: int, **options: Any) -> None:
        self.failures[path] = Failure(status, times, **options)

    def container_file(
        self,
        container_id: str,
        file_id: str,
        path: str,
        data: bytes,
        *,
        source: str = "assistant",
        created_at: int = 0,
        listed: bool = True,
        **options: Any,
    ) -> dict[str, Any]:
        """Serve a container file's metadata and content; returns its metadata (add it to a listing)."""
        entry = {
            "id": file_id,
            "object": "container.file",
            "created_at": created_at or int(time.time()),
            "bytes": len(data),
            "container_id": container_id,
            "path": path,
            "source": source,
        }
        self.json(f"/v1/containers/{container_id}/files/{file_id}", entry)
        self.bytes(f"/v1/containers/{container_id}/files/{file_id}/content", data, **options)
        if listed:
            listing = self.routes.get(("GET", f"/v1/containers/{container_id}/files"))
            entries = json.loads(listing.body or b"{}").get("data", []) if listing else []
            entries.append(entry)
            self.listing(container_id, entries)
        return entry

    def listing(self, container_id: str, entries: list[dict[str, Any]]) -> None:
        self.json(
            f"/v1/containers/{container_id}/files",
            {
                "object": "list",
                "data": entries,
                "first_id": entries[0]["id"] if entries else None,
                "last_id": entries[-1]["id"] if entries else None,
                "has_more": False,
            },
        )

    def container(self, container_id: str, *, status: str = "running") -> None:
        self.json(
            f"/v1/containers/{container_id}",
            {
                "id": container_id,
                "object": "container",
                "created_at": int(time.time()),
                "status": status,
                "name": "test",
                "expires_after": {"anchor": "last_active_at", "minutes": 20},
                "last_active_at": int(time.time()),
            },
        )

    def paths_requested(self, method: str = "GET") -> list[str]:
        return [path for verb, path, _ in self.requests if verb == method]

    # -- serving -------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(handler.path).path
        with self._lock:
            self.requests.append((method, path, dict(handler.headers.items())))
            self.targets.append(handler.path)
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
        try:
            self._answer(handler, method, path)
        finally:
            with self._lock:
                self.active -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, method: str, path: str) -> None:
        route = self.routes.get((method, path))
        delay = self.delay + (route.delay if route else 0.0)
        if delay:
            time.sleep(delay)
        with self._lock:
            failure = self.failures.get(path)
            if failure is not None and failure.times > 0:
                failure.times -= 1
            else:
                failure = None
        if failure is not None:
            self._send(handler, failure.status, error_body(failure.message, "server_error"), failure.headers)
            return
        if route is None:
            self._send(handler, 404, error_body(f"No such object: {path}"), {})
            return
        cut = None
        with self._lock:
            if route.cut_after is not None and route.cut_times > 0:
                route.cut_times -= 1
                cut = route.cut_after
        size = route.length if route.chunks is not None else len(route.body or b"")
        handler.send_response(route.status)
        handler.send_header("content-type", route.content_type)
        if size is None:  # a stream of unknown length (server-sent events): ends when the connection does
            handler.send_header("connection", "close")
            handler.close_connection = True
        else:
            handler.send_header("content-length", str(size))
        handler.send_header("x-request-id", "req_test")
        for name, value in route.headers.items():
            handler.send_header(name, value)
        if cut is not None:
            handler.send_header("connection", "close")
        handler.end_headers()
        sent = 0
        pieces: Iterator[bytes] = route.chunks() if route.chunks is not None else iter([route.body or b""])
        try:
            for piece in pieces:
                if cut is not None and sent + len(piece) > cut:
                    handler.wfile.write(piece[: cut - sent])
                    handler.wfile.flush()
                    handler.close_connection = True
                    return
                handler.wfile.write(piece)
                if route.length is None:
                    handler.wfile.flush()
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def replay_server() -> Iterator[ReplayServer]:
    """A started :class:`ReplayServer`, stopped after the test."""
    server = ReplayServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def replay_client(replay_server: ReplayServer) -> Any:
    """An ``openai.OpenAI`` client pointed at :func:`replay_server` (fast retries, a recognisable key)."""
    from openai import OpenAI

    return OpenAI(base_url=replay_server.base_url, api_key=TEST_API_KEY, max_retries=2, timeout=30)


@pytest.fixture
def recorded_json() -> dict[str, Any]:
    """The real non-streamed recording, as a dict."""
    return json.loads((RECORDED / "openai-code-interpreter-tool.1.json").read_text(encoding="utf-8"))


@pytest.fixture
def recorded_events() -> list[dict[str, Any]]:
    """The real streamed recording: one event dict per line."""
    text = (RECORDED / "openai-code-interpreter-tool.1.chunks.txt").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
