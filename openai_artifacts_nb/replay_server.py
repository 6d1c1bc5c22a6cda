"""Serve a cassette over real HTTP: any OpenAI client replays a recorded session with no key and no network.

:class:`CassetteServer` runs a small Starlette app under uvicorn on a background thread (like the emulator's
``LocalServer``); ``openai-artifacts serve --replay PATH`` runs it in the foreground for other programs.

Matching (:class:`Matcher`) is forgiving where students are. A ``POST /responses`` (a prompt) takes the first
recorded prompt not yet replayed whose text is the same after whitespace and case are normalised, so cells
may be skipped; a cell run again gets its recorded reply again. Every other request matches by method, path
and query, preferring the exchanges recorded during the same turn, in order, so the container listings and
downloads of each turn come back as they were. Ids come from the cassette, so they are consistent across
cells. Timestamps (``*_at`` fields) are moved forward: those of turn *k* by the time between its recording and
its replay, so files made during a turn are still "made since the turn began" when the client asks.

A prompt the cassette does not hold gets one HTTP 400 with an OpenAI error body naming the recorded prompt
that was expected next and its position; with ``fallback="local"`` it is answered by an embedded emulator
instead (the conversation's recorded ids are dropped from what is forwarded). SSE events are sent at their
recorded pace divided by ``speed`` (``0``: no waits); file bodies stream from ``files/``.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import math
import re
import signal
import socket
import sys
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from openai_artifacts_nb.cassette import RESPONSE_HEADERS, Cassette, normalise_prompt, prompt_text

__all__ = ["CassetteServer", "Hit", "Matcher", "Miss", "TimeShift", "serve_replay_command"]

PROMPT = ("POST", "/responses")
FALLBACKS = ("none", "local")
_START_TIMEOUT = 30.0
_CHUNK = 64 * 1024
_SHOWN = 60
_FINAL_EVENTS = {"response.completed", "response.incomplete", "response.failed"}
_RECORDED_IDS = re.compile(r"\b(?:resp|cntr)_[A-Za-z0-9]+")


@dataclass(frozen=True)
class Hit:
    """The recorded exchange that answers a request."""

    index: int
    exchange: dict[str, Any]


@dataclass(frozen=True)
class Miss:
    """A request the cassette cannot answer: the status and the one-line message to send back."""

    status: int
    message: str


def _short(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"


def _is_prompt(exchange: dict[str, Any]) -> bool:
    request = exchange["request"]
    return (request["method"], request["path"]) == PROMPT


def _key(method: str, path: str, query: list[list[str]] | list[tuple[str, str]]) -> tuple[str, str, str]:
    return method.upper(), path, "&".join(sorted(f"{name}={value}" for name, value in query))


class Matcher:
    """Picks the recorded exchange for each request (thread-safe); keeps what was used and what missed."""

    def __init__(self, exchanges: list[dict[str, Any]]) -> None:
        """Index ``exchanges`` (in request order) by turn and by method, path and query."""
        self.exchanges = exchanges
        self.misses: list[str] = []
        self._used = [False] * len(exchanges)
        self._segment: list[int] = []
        self.prompts: list[int] = []
        self._by_key: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        turn = -1
        for index, exchange in enumerate(exchanges):
            request = exchange["request"]
            if _is_prompt(exchange):
                turn += 1
                self.prompts.append(index)
            else:
                self._by_key[_key(request["method"], request["path"], request.get("query") or [])].append(
                    index
                )
            self._segment.append(turn)
        self.turn = -1
        self._lock = threading.Lock()

    def prompt_of(self, index: int) -> str | None:
        """The recorded prompt text of exchange ``index`` (None: the cassette does not know it)."""
        return prompt_text(self.exchanges[index]["request"].get("json"))

    def match(
        self, method: str, path: str, query: list[tuple[str, str]], body: object, *, fallback: bool = False
    ) -> Hit | Miss:
        """Return the exchange answering this request, or a :class:`Miss` saying what was expected."""
        with self._lock:
            if (method.upper(), path) == PROMPT:
                result = self._match_prompt(body, fallback=fallback)
            else:
                result = self._match_other(_key(method, path, query))
            if isinstance(result, Miss):
                self.misses.append(result.message)
            else:
                self._used[result.index] = True
            return result

    def _match_prompt(self, body: object, *, fallback: bool) -> Hit | Miss:
        wanted = normalise_prompt(prompt_text(body))

        def fits(index: int) -> bool:
            recorded = normalise_prompt(self.prompt_of(index))
            return recorded is None or recorded == wanted

        chosen = next((i for i in self.prompts if not self._used[i] and fits(i)), None)
        if chosen is None:  # a cell run again: its recorded reply again
            chosen = next((i for i in reversed(self.prompts) if self._used[i] and fits(i)), None)
        if chosen is not None:
            self.turn = self._segment[chosen]
            return Hit(chosen, self.exchanges[chosen])
        waiting = [i for i in self.prompts if not self._used[i]]
        got = f'(this cell sent "{_short(prompt_text(body))}")'
        if waiting:
            position = self.prompts.index(waiting[0]) + 1
            shown = _short(self.prompt_of(waiting[0]))
            expected = f'expected prompt {position} of {len(self.prompts)}: "{shown}" {got}'
        else:
            expected = f"all {len(self.prompts)} recorded prompts were replayed {got}"
        hint = "" if fallback else "; replay with --fallback local to have the emulator answer it"
        return Miss(400, f"Replay: this prompt is not in the cassette: {expected}{hint}.")

    def _match_other(self, key: tuple[str, str, str]) -> Hit | Miss:
        candidates = self._by_key.get(key, [])
        if not candidates:
            shown = f"{key[0]} {key[1]}" + (f"?{key[2]}" if key[2] else "")
            return Miss(404, f"Replay: {shown} is not in the cassette.")
        here = [i for i in candidates if self._segment[i] == self.turn]
        earlier = [i for i in candidates if self._segment[i] < self.turn]
        later = [i for i in candidates if self._segment[i] > self.turn]
        chosen = next((i for i in here if not self._used[i]), None)
        if chosen is None:
            chosen = here[-1] if here else earlier[-1] if earlier else later[0]
        return Hit(chosen, self.exchanges[chosen])

    def status(self) -> dict[str, Any]:
        """What was replayed so far: each recorded prompt and whether it was used, and every miss."""
        with self._lock:
            return {
                "exchanges": len(self.exchanges),
                "used": sum(self._used),
                "prompts": [
                    {"position": n + 1, "prompt": _short(self.prompt_of(i)), "replayed": self._used[i]}
                    for n, i in enumerate(self.prompts)
                ],
                "misses": list(self.misses),
            }


class TimeShift:
    """Moves recorded unix timestamps to replay time, turn by turn, the same way for every cell."""

    def __init__(self, exchanges: list[dict[str, Any]], prompts: list[int]) -> None:
        """Turn *k* starts at the recorded send time of prompt *k*; before the first, at the first request."""
        self._starts = [math.floor(float(exchanges[i].get("at") or 0)) for i in prompts]
        first = min((float(e.get("at") or 0) for e in exchanges), default=0.0)
        self._first = math.floor(first)
        self._offsets: dict[int, int] = {}
        self._lock = threading.Lock()

    def turn_started(self, turn: int) -> None:
        """Turn ``turn`` is being replayed now: its timestamps move to now."""
        with self._lock:
            if 0 <= turn < len(self._starts):
                self._offsets[turn] = math.ceil(time.time()) - self._starts[turn]

    def _offset(self, stamp: float) -> int:
        turn = bisect.bisect_right(self._starts, stamp) - 1
        while turn >= 0:
            if turn in self._offsets:
                return self._offsets[turn]
            turn -= 1
        if -1 not in self._offsets:
            self._offsets[-1] = math.ceil(time.time()) - self._first
        return self._offsets[-1]

    def shift(self, value: Any) -> Any:
        """Return ``value`` (JSON) with every ``*_at`` unix timestamp moved forward."""
        with self._lock:
            return self._shift(value)

    def _shift(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._shift(item) for item in value]
        if not isinstance(value, dict):
            return value
        shifted: dict[str, Any] = {}
        for name, item in value.items():
            if (
                name.endswith("_at")
                and isinstance(item, (int, float))
                and not isinstance(item, bool)
                and item > 1e9
            ):
                moved = item + self._offset(item)
                shifted[name] = int(moved) if isinstance(item, int) else moved
            else:
                shifted[name] = self._shift(item)
        return shifted


def final_response(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``response`` of the last completed/incomplete/failed event of a recorded stream."""
    for event in reversed(events):
        data = event.get("data")
        if (
            isinstance(data, dict)
            and data.get("type") in _FINAL_EVENTS
            and isinstance(data.get("response"), dict)
        ):
            return dict(data["response"])
    return None


def _one_line(value: object) -> str:
    return " ".join(str(value).splitlines())


def _sse_frame(event: dict[str, Any]) -> bytes:
    """One SSE frame; a name or id with a line break (a hand-edited cassette) cannot add frames of its own."""
    lines = []
    if "event" in event:
        lines.append(f"event: {_one_line(event['event'])}")
    if "id" in event:
        lines.append(f"id: {_one_line(event['id'])}")
    data = event["raw"] if "raw" in event else json.dumps(event.get("data"), separators=(",", ":"))
    lines += [f"data: {part}" for part in str(data).split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


class ReplayApp:
    """The ASGI side: matches each request, then answers from the cassette or the fallback emulator."""

    def __init__(self, cassette: Cassette, *, speed: float = 1.0, fallback: str = "none") -> None:
        """Serve ``cassette`` at ``speed`` times the recorded pace; ``fallback="local"`` answers misses."""
        if speed < 0 or not math.isfinite(speed):
            raise ValueError("speed must be 0 (no waits) or positive")
        if fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {', '.join(FALLBACKS)}")
        self.cassette = cassette
        self.speed = speed
        self.fallback = fallback
        self.matcher = Matcher(cassette.exchanges)
        self.clock = TimeShift(cassette.exchanges, self.matcher.prompts)
        self.recorded_ids = set(
            _RECORDED_IDS.findall(json.dumps([e["response"] for e in cassette.exchanges]))
        )
        self._local: Any = None
        self._local_lock = threading.Lock()

    def build(self) -> Any:
        """The Starlette application."""
        from starlette.applications import Starlette
        from starlette.routing import Route

        methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
        return Starlette(
            routes=[
                Route("/_replay/status", self._status, methods=["GET"]),
                Route("/{path:path}", self._handle, methods=methods),
            ]
        )

    async def _status(self, _request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse(self.matcher.status())

    async def _handle(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        path = request.url.path
        if not path.startswith("/v1/"):
            return JSONResponse(_error(f"Replay: {path} is not an API path (they start with /v1/)."), 404)
        relative = path[len("/v1") :]
        raw = await request.body()
        body: Any = None
        if "json" in request.headers.get("content-type", ""):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        found = self.matcher.match(
            request.method,
            relative,
            list(request.query_params.multi_items()),
            body,
            fallback=self.fallback == "local",
        )
        if isinstance(found, Miss):
            if self.fallback == "local":
                return await self._forward(request, relative, raw, body)
            return JSONResponse(_error(found.message), found.status)
        if found.index in self.matcher.prompts:
            self.clock.turn_started(self.matcher.prompts.index(found.index))
        return await self._answer(found.exchange, body)

    async def _answer(self, exchange: dict[str, Any], body: Any) -> Any:
        from starlette.responses import JSONResponse, Response, StreamingResponse

        recorded = exchange["response"]
        status = int(recorded.get("status", 200))
        headers = {
            name: _one_line(value)
            for name, value in (recorded.get("headers") or {}).items()
            if name.lower() in RESPONSE_HEADERS
        }
        kind = recorded.get("kind", "empty")
        if self.speed > 0 and recorded.get("elapsed"):
            await asyncio.sleep(float(recorded["elapsed"]) / self.speed)
        wants_stream = isinstance(body, dict) and bool(body.get("stream"))
        if kind == "sse" and isinstance(body, dict) and not wants_stream:
            final = final_response(recorded.get("events") or [])
            if final is not None:
                return JSONResponse(self.clock.shift(final), status)
        if (
            kind == "json"
            and wants_stream
            and _is_prompt(exchange)
            and isinstance(recorded.get("json"), dict)
        ):
            from openai_artifacts_nb.cassette_convert import events_from_response

            kind, recorded = "sse", {**recorded, "events": events_from_response(recorded["json"])}
            headers["content-type"] = "text/event-stream; charset=utf-8"
        if kind == "json":
            return JSONResponse(
                self.clock.shift(recorded.get("json")), status, headers=_without_type(headers)
            )
        if kind == "text":
            return Response(str(recorded.get("text", "")), status, headers=headers)
        if kind == "sse":
            waited = float(recorded.get("elapsed") or 0.0)  # the headers' delay, already slept above
            events = self._events(recorded.get("events") or [], start=waited)
            return StreamingResponse(events, status, headers=headers)
        if kind == "file":
            reference = recorded["file"]
            path = self.cassette.file_path(str(reference["sha256"]))
            headers["content-length"] = str(path.stat().st_size)
            if recorded.get("content_encoding"):
                headers["content-encoding"] = str(recorded["content_encoding"])
            return StreamingResponse(_file_chunks(path), status, headers=headers)
        return Response(b"", status, headers=headers)

    async def _events(self, events: list[dict[str, Any]], *, start: float = 0.0) -> AsyncIterator[bytes]:
        previous = start
        for event in events:
            at = float(event.get("t") or 0.0)
            if self.speed > 0 and at > previous:
                await asyncio.sleep((at - previous) / self.speed)
            previous = max(previous, at)
            shifted = {**event, "data": self.clock.shift(event["data"])} if "data" in event else event
            yield _sse_frame(shifted)

    async def _forward(self, request: Any, relative: str, raw: bytes, body: Any) -> Any:
        import anyio
        import httpx2
        from starlette.background import BackgroundTask
        from starlette.responses import StreamingResponse

        base_url = await anyio.to_thread.run_sync(self._local_base_url)
        if (request.method.upper(), relative) == PROMPT and isinstance(body, dict):
            raw = json.dumps(self._for_emulator(body)).encode()
        headers = {
            name: value
            for name, value in request.headers.items()
            if name in {"content-type", "authorization", "accept", "openai-beta"}
        }
        client = httpx2.AsyncClient(timeout=None)
        upstream = await client.send(
            client.build_request(
                request.method,
                base_url + relative,
                params=list(request.query_params.multi_items()),
                headers=headers,
                content=raw,
            ),
            stream=True,
        )

        async def close() -> None:
            await upstream.aclose()
            await client.aclose()

        kept = {
            k: v for k, v in upstream.headers.items() if k.lower() in {"content-type", "content-disposition"}
        }
        return StreamingResponse(
            upstream.aiter_bytes(), upstream.status_code, headers=kept, background=BackgroundTask(close)
        )

    def _for_emulator(self, body: dict[str, Any]) -> dict[str, Any]:
        """The prompt without the recorded conversation and container, which the emulator does not know."""
        forwarded = dict(body)
        if str(forwarded.get("previous_response_id")) in self.recorded_ids:
            forwarded.pop("previous_response_id")
        tools = []
        for tool in forwarded.get("tools") or []:
            recorded = isinstance(tool, dict) and str(tool.get("container")) in self.recorded_ids
            tools.append({**tool, "container": {"type": "auto"}} if recorded else tool)
        if tools:
            forwarded["tools"] = tools
        return forwarded

    def _local_base_url(self) -> str:
        with self._local_lock:
            if self._local is None:
                from openai_artifacts_nb.local import LocalServer

                server = LocalServer()
                server.start()
                self._local = server
            return str(self._local.base_url)

    def close(self) -> None:
        """Stop the fallback emulator, if one was started."""
        with self._local_lock:
            local, self._local = self._local, None
        if local is not None:
            local.stop()


def _error(message: str) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": None,
            "code": "not_in_cassette",
        }
    }


def _without_type(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "content-type"}


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


class CassetteServer:
    """A cassette served over real HTTP on a background thread.

    ``with CassetteServer("workshop.cassette", speed=0) as server: OpenAI(base_url=server.base_url, ...)``.
    """

    def __init__(
        self,
        cassette: str | Path | Cassette,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        fallback: str = "none",
    ) -> None:
        """Configure (not start) a server for ``cassette`` (a folder or a loaded :class:`Cassette`)."""
        loaded = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        self.app = ReplayApp(loaded, speed=speed, fallback=fallback)
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def matcher(self) -> Matcher:
        """What was matched and missed so far."""
        return self.app.matcher

    @property
    def base_url(self) -> str:
        """The URL to give an SDK as ``base_url`` (``http://127.0.0.1:PORT/v1``); valid after ``start()``."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> str:
        """Start serving on a background thread and return :attr:`base_url`."""
        import uvicorn

        if self._server is not None:
            return self.base_url
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        self.port = listener.getsockname()[1]
        config = uvicorn.Config(
            self.app.build(),
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=2,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, daemon=True, name=f"openai-replay-{self.port}"
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the replay server failed to start")
            time.sleep(0.01)
        return self.base_url

    def stop(self) -> None:
        """Stop serving, and the fallback emulator if one ran (safe to call twice)."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=10)
        self._thread = None
        self.app.close()

    def __enter__(self) -> CassetteServer:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()


def serve_replay_command(
    cassette: str, *, host: str = "127.0.0.1", port: int = 8765, speed: float = 1.0, fallback: str = "none"
) -> int:
    """``openai-artifacts serve --replay PATH``: serve a cassette until Ctrl-C or SIGTERM; return 0."""
    server = CassetteServer(cassette, host=host, port=port, speed=speed, fallback=fallback)
    try:
        base_url = server.start()
    except OSError as error:
        sys.stderr.write(f"openai-artifacts serve: cannot listen on {host}:{port}: {error.strerror}\n")
        return 1
    prompts = len(server.matcher.prompts)
    sys.stdout.write(
        f"Replaying {cassette} ({prompts} prompt{'s' if prompts != 1 else ''}) on {base_url}\n"
        f"  export OPENAI_BASE_URL={base_url} OPENAI_API_KEY=replay\n"
        "Press Ctrl-C to stop.\n"
    )
    sys.stdout.flush()

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sys.stderr.write("Stopping the replay server.\n")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    return 0
