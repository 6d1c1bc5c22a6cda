"""The emulator and the clients the cases talk to it with: its own process, a request log, code to run.

The emulator runs in a process of its own because a real API server shares neither the client's CPU time nor
its GIL; in-process, serving the downloads would slow the client that is being measured.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.harness import ROOT, BenchError, Settings, child_env

EMULATOR_PROCESS = """
import sys
from openai_artifacts_nb.local import LocalServer
server = LocalServer(request_delay=float(sys.argv[1]))
print(server.start(), flush=True)
sys.stdin.read()
server.stop()
"""


@dataclass(frozen=True)
class RunningEmulator:
    """A serving emulator: what a client needs to reach it."""

    base_url: str


@contextlib.contextmanager
def emulator(settings: Settings, *, request_delay: float = 0.0) -> Iterator[RunningEmulator]:
    """Start ``LocalServer(request_delay=...)`` in its own process and stop it afterwards.

    With ``settings.emulator_url`` set, use that running emulator instead: its delay is set through its
    ``/_emulator/faults`` control endpoint for the case and switched off again afterwards.
    """
    if settings.emulator_url:
        _set_delay(settings.emulator_url, request_delay)
        try:
            yield RunningEmulator(settings.emulator_url)
        finally:
            _set_delay(settings.emulator_url, 0.0)
        return
    try:
        import openai_artifacts_nb.local  # noqa: F401
    except ImportError as error:
        raise BenchError(f"the emulator is not available yet: {error}") from error
    process = subprocess.Popen(
        [sys.executable, "-c", EMULATOR_PROCESS, str(request_delay)],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        base_url = process.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise BenchError(f"the emulator did not start (exit status {process.poll()})")
        yield RunningEmulator(base_url)
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _set_delay(base_url: str, seconds: float) -> None:
    """Set a running emulator's per-request delay through its control endpoint (not part of the API)."""
    import httpx2

    root = base_url.rstrip("/").removesuffix("/v1")
    reply = httpx2.post(f"{root}/_emulator/faults", json={"delay": seconds}, timeout=10)
    if reply.status_code != 200:
        raise BenchError(f"could not set the emulator's delay: {reply.status_code} {reply.text[:200]}")


def python_block(code: str) -> str:
    """A prompt for the emulator's model: it runs the fenced Python block as a code-interpreter call."""
    return f"Run this.\n\n```python\n{code.strip()}\n```\n"


def make_openai_client(base_url: str) -> Any:
    """An ``openai.OpenAI`` client for the emulator at ``base_url``, built the way the package builds it."""
    from openai_artifacts_nb.client import make_client

    return make_client(base_url=base_url)


def run_code(client: Any, code: str, *, timeout: float = 600.0) -> Any:
    """Have the emulator's model run ``code`` in a fresh container and return the finished ``Response``."""
    response = client.responses.create(
        model="gpt-4.1",
        input=python_block(code),
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        include=["code_interpreter_call.outputs"],
        timeout=timeout,
    )
    if response.status != "completed":
        raise BenchError(f"the emulator's reply did not complete: {response.status}")
    return response


def container_of(response: Any) -> str:
    """The container id of the reply's first code-interpreter call."""
    for item in response.output:
        if item.type == "code_interpreter_call":
            return str(item.container_id)
    raise BenchError("the reply ran no code, so it has no container")


@dataclass
class RequestLog:
    """Every request a client made, as (method, path, sent, answered) in ``time.perf_counter`` seconds.

    Used to explain a miss: how many requests, and how many were ever in flight at once.
    """

    sent: dict[int, tuple[str, str, float]] = field(default_factory=dict)
    done: list[tuple[str, str, float, float]] = field(default_factory=list)

    def on_request(self, request: Any) -> None:
        """httpx request hook."""
        self.sent[id(request)] = (request.method, request.url.path, time.perf_counter())

    def on_response(self, response: Any) -> None:
        """httpx response hook (runs when the headers arrive)."""
        method, path, started = self.sent.pop(id(response.request), ("?", "?", time.perf_counter()))
        self.done.append((method, path, started, time.perf_counter()))

    def clear(self) -> None:
        """Forget everything logged so far."""
        self.sent.clear()
        self.done.clear()

    def most_in_flight(self) -> int:
        """The largest number of requests waiting for their answer at the same moment."""
        edges = sorted([(s, 1) for _, _, s, _ in self.done] + [(e, -1) for _, _, _, e in self.done])
        level = peak = 0
        for _, step in edges:
            level += step
            peak = max(peak, level)
        return peak

    def summary(self) -> str:
        """For example ``21 requests (1 GET …/files, 20 GET …/content), at most 8 in flight``."""
        kinds: dict[str, int] = {}
        for method, path, _, _ in self.done:
            kind = f"{method} …/{path.rstrip('/').rsplit('/', 1)[-1]}"
            if kind.rsplit("/", maxsplit=1)[-1].startswith(("cfile_", "cntr_", "resp_", "file-")):
                kind = f"{method} …/{{id}}"
            kinds[kind] = kinds.get(kind, 0) + 1
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        return f"{len(self.done)} requests ({parts}), at most {self.most_in_flight()} in flight"


def logged_openai_client(base_url: str) -> tuple[Any, RequestLog]:
    """An ``openai.OpenAI`` client for ``base_url`` whose every request is recorded in the returned log."""
    import openai

    from openai_artifacts_nb.client import PLACEHOLDER_API_KEY

    log = RequestLog()
    http_client = openai.DefaultHttpxClient(
        event_hooks={"request": [log.on_request], "response": [log.on_response]}
    )
    return openai.OpenAI(api_key=PLACEHOLDER_API_KEY, base_url=base_url, http_client=http_client), log
