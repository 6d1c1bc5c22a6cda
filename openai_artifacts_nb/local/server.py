"""Run the emulator: in-process on a background thread (:class:`LocalServer`) or standalone (``serve``).

``LocalServer`` binds its socket before the thread starts, so ``start()`` returns a base URL that already
accepts connections, and port 0 picks a free port. uvicorn runs with its own event loop in that thread
(uvicorn installs no signal handlers off the main thread). ``stop()`` ends the server, stops every kernel
and deletes the emulator's folder, so nothing outlives it.
"""

from __future__ import annotations

import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType

import uvicorn

from openai_artifacts_nb.local.app import build_app
from openai_artifacts_nb.local.faults import Faults
from openai_artifacts_nb.local.service import EmulatorService

_START_TIMEOUT = 30.0


class LocalServer:
    """The local OpenAI emulator, served over real HTTP on a background thread.

    ``with LocalServer() as server: client = OpenAI(base_url=server.base_url, api_key="any")``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_minutes: float = 20.0,
        exec_timeout: float = 120.0,
        request_delay: float = 0.0,
    ) -> None:
        """Configure (not start) a server; containers expire after ``idle_minutes`` (fractions allowed)."""
        if idle_minutes <= 0:
            raise ValueError("idle_minutes must be positive")
        self.host = host
        self.port = port
        self.idle_minutes = idle_minutes
        self._root = Path(tempfile.mkdtemp(prefix="openai-emulator-"))
        self.service = EmulatorService(
            self._root,
            idle_seconds=idle_minutes * 60.0,
            exec_timeout=exec_timeout,
            request_delay=request_delay,
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        # Runs once: on stop(), or when a forgotten server is garbage-collected or the interpreter exits.
        self._running: list[tuple[uvicorn.Server, threading.Thread]] = []
        self._finalizer = weakref.finalize(self, _shut_down, self.service, self._root, self._running)

    @property
    def faults(self) -> Faults:
        """The misbehaviour switches (see :mod:`openai_artifacts_nb.local.faults`)."""
        return self.service.faults

    @property
    def base_url(self) -> str:
        """The URL to give the SDK as ``base_url`` (``http://127.0.0.1:PORT/v1``); valid after ``start()``."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """The server's URL without ``/v1`` (for ``/_emulator`` control requests)."""
        return self.base_url.removesuffix("/v1")

    def start(self) -> str:
        """Start serving on a background thread and return :attr:`base_url`."""
        if self._stopped:
            raise RuntimeError("a stopped LocalServer cannot be restarted; create a new one")
        if self._server is not None:
            return self.base_url
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        self.port = listener.getsockname()[1]
        sweep_seconds = min(5.0, max(0.2, self.idle_minutes * 60.0 / 4))
        config = uvicorn.Config(
            build_app(self.service, sweep_seconds=sweep_seconds),
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [listener]},
            daemon=True,
            name=f"openai-emulator-{self.port}",
        )
        self._thread.start()
        self._running.append((server, self._thread))
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the local OpenAI emulator failed to start")
            time.sleep(0.01)
        return self.base_url

    def stop(self) -> None:
        """Stop serving, stop every kernel and delete the emulator's files (safe to call twice)."""
        self._stopped = True
        self._finalizer()

    def __enter__(self) -> LocalServer:
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


def _shut_down(
    service: EmulatorService, root: Path, running: list[tuple[uvicorn.Server, threading.Thread]]
) -> None:
    """Stop the HTTP server (if it was started), every kernel, and delete the emulator's folder."""
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)
    service.close()
    shutil.rmtree(root, ignore_errors=True)


def serve_command(*, host: str = "127.0.0.1", port: int = 8765, idle_minutes: float = 20.0) -> int:
    """Run the emulator in the foreground until Ctrl-C or SIGTERM (``openai-artifacts serve``); return 0."""
    server = LocalServer(host=host, port=port, idle_minutes=idle_minutes)
    try:
        base_url = server.start()
    except OSError as error:
        sys.stderr.write(f"openai-artifacts serve: cannot listen on {host}:{port}: {error.strerror}\n")
        server.stop()
        return 1
    sys.stdout.write(
        f"Local OpenAI emulator on {base_url}\n"
        f"  export OPENAI_BASE_URL={base_url} OPENAI_API_KEY=local\n"
        "Press Ctrl-C to stop.\n"
    )
    sys.stdout.flush()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sys.stderr.write("Stopping the emulator.\n")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    """Treat SIGTERM like Ctrl-C, so ``kill`` also stops the kernels and removes the emulator's files."""
    raise KeyboardInterrupt
