"""Run the emulator: in-process on a background thread (:class:`LocalServer`) or standalone (``serve``).

``LocalServer`` binds its socket before the thread starts, so ``start()`` returns a base URL that already
accepts connections, and port 0 picks a free port. uvicorn runs with its own event loop in that thread
(uvicorn installs no signal handlers off the main thread). ``stop()`` ends the server, stops every kernel
and deletes the emulator's folder, so nothing outlives it.

Confinement: by default (``confine=None``) every container's kernel runs in a bubblewrap sandbox when
``bwrap`` works here, and unconfined (with a warning in the log) when it does not; ``confine=True``
insists, ``confine=False`` never confines. :attr:`LocalServer.confinement` says which it is.
``serve_command`` refuses to listen beyond loopback without both keys and confinement.
"""

from __future__ import annotations

import ipaddress
import logging
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

from openai_artifacts_nb.local.access import HostCheck, KeyRing
from openai_artifacts_nb.local.app import build_app
from openai_artifacts_nb.local.confinement import Bubblewrap, find_bwrap, probe
from openai_artifacts_nb.local.faults import Faults
from openai_artifacts_nb.local.service import EmulatorService

_START_TIMEOUT = 30.0
LOG = logging.getLogger("openai_artifacts_nb.local")


def choose_confinement(confine: bool | None) -> tuple[Bubblewrap | None, str]:
    """Return the sandbox to use (or None) and a one-line description of the choice.

    ``None`` means "bubblewrap if it works here"; ``True`` raises :class:`RuntimeError` when it does not.
    """
    if confine is False:
        return None, "none (confinement switched off): container code runs as this user, unconfined"
    problem = probe()
    bwrap = find_bwrap()
    if problem is None and bwrap is not None:
        return Bubblewrap(bwrap), f"bubblewrap ({bwrap}): each container's code runs confined"
    if confine:
        raise RuntimeError(f"confinement is required but unavailable: {problem}")
    LOG.warning("container code runs UNCONFINED: %s (install bubblewrap to confine it)", problem)
    return None, f"none ({problem}): container code runs as this user, unconfined"


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
        confine: bool | None = None,
        keys: KeyRing | None = None,
        allow_hosts: tuple[str, ...] = (),
        cpu_seconds: float | None = None,
    ) -> None:
        """Configure (not start) a server; containers expire after ``idle_minutes`` (fractions allowed).

        ``confine`` as the module says; ``keys`` makes each key its own project; ``allow_hosts`` adds host
        names a ``Host`` header may use; ``cpu_seconds`` limits the CPU time of one code call.
        """
        if idle_minutes <= 0:
            raise ValueError("idle_minutes must be positive")
        self.host = host
        self.port = port
        self.idle_minutes = idle_minutes
        self.keys = keys
        self.hosts = HostCheck(host, extra=allow_hosts)
        sandbox, self.confinement = choose_confinement(confine)
        self.confined = sandbox is not None
        self._root = Path(tempfile.mkdtemp(prefix="openai-emulator-"))
        self.service = EmulatorService(
            self._root,
            idle_seconds=idle_minutes * 60.0,
            exec_timeout=exec_timeout,
            request_delay=request_delay,
            confine=sandbox,
            cpu_seconds=cpu_seconds,
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
        host = "127.0.0.1" if self.host in {"0.0.0.0", ""} else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/v1"

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
        self.hosts.port = self.port
        sweep_seconds = min(5.0, max(0.2, self.idle_minutes * 60.0 / 4))
        config = uvicorn.Config(
            build_app(self.service, sweep_seconds=sweep_seconds, hosts=self.hosts, keys=self.keys),
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


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def serve_command(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    idle_minutes: float = 20.0,
    keys: KeyRing | None = None,
    allow_hosts: tuple[str, ...] = (),
    confine: bool | None = None,
    cpu_seconds: float | None = None,
) -> int:
    """Run the emulator in the foreground until Ctrl-C or SIGTERM (``openai-artifacts serve``); return 0.

    Beyond loopback it needs ``keys`` (each its own project) and working confinement, else it refuses (1).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("openai_artifacts_nb.local").setLevel(logging.INFO)
    if not _is_loopback(host):
        if keys is None:
            sys.stderr.write(
                f"openai-artifacts serve: --host {host} serves other machines; give each student a key "
                "with --keys FILE (or --keys auto --students N)\n"
            )
            return 1
        if confine is False or probe() is not None:
            sys.stderr.write(
                f"openai-artifacts serve: refusing --host {host}: container code could not be confined "
                f"({probe() or 'switched off'}); install bubblewrap (apt-get install bubblewrap)\n"
            )
            return 1
        confine = True
    try:
        server = LocalServer(
            host=host,
            port=port,
            idle_minutes=idle_minutes,
            confine=confine,
            keys=keys,
            allow_hosts=allow_hosts,
            cpu_seconds=cpu_seconds,
        )
    except RuntimeError as error:
        sys.stderr.write(f"openai-artifacts serve: {error}\n")
        return 1
    try:
        base_url = server.start()
    except OSError as error:
        sys.stderr.write(f"openai-artifacts serve: cannot listen on {host}:{port}: {error.strerror}\n")
        server.stop()
        return 1
    listening = f"http://{host}:{server.port}/v1" if not _is_loopback(host) else base_url
    projects = f"{len(keys)} keys, each its own project" if keys is not None else "any key, one project"
    sys.stdout.write(
        f"Local OpenAI emulator on {listening}\n"
        f"  sandbox: {server.confinement}\n"
        f"  keys: {projects}\n"
        f"  hosts: {', '.join(sorted(server.hosts.allowed))}\n"
        f"  export OPENAI_BASE_URL={base_url} OPENAI_API_KEY={'<your key>' if keys else 'local'}\n"
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
