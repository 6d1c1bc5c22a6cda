"""Kernel processes: start, interrupt, kill; each is a Jupyter kernel spoken to through jupyter_client.

Confined kernels (:mod:`~openai_artifacts_nb.local.confinement`) each start fresh inside their own
bubblewrap sandbox. Unconfined, on Linux kernels are forked from a warm fork server
(:mod:`~openai_artifacts_nb.local.kernel_zygote`), so starting one costs a few hundredths of a CPU-second
instead of most of a second; elsewhere each kernel is a fresh ``ipykernel`` process started by
``jupyter_client``'s ``KernelManager``. Either way the emulator talks to it with a ``BlockingKernelClient``
over IPC sockets (no TCP ports to race for, and the only way into a sandbox without a network), and the
kernel runs with the parent's environment minus anything that could carry an API key (confined: with a
fresh minimal environment).

Every kernel process sits in a session of its own, so the interrupts of the notebook or terminal that
embeds the emulator never reach it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Protocol

import psutil
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from openai_artifacts_nb.local.confinement import (
    FIRST_UID,
    SANDBOX_DATA,
    SANDBOX_RUNTIME,
    Bubblewrap,
    KernelJail,
    build_mpl_cache,
    sandbox_environment,
)

KERNEL_NAME = "openai-artifacts-emulator"
_READY_TIMEOUT = 60.0
_READY_RETRY = 0.5
_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def kernel_environment() -> dict[str, str]:
    """Return the parent's environment minus API keys, with matplotlib's inline backend selected."""
    env = {k: v for k, v in os.environ.items() if "OPENAI" not in k.upper() and "API_KEY" not in k.upper()}
    env["MPLBACKEND"] = _INLINE_BACKEND
    env.pop("JPY_PARENT_PID", None)
    return env


class KernelProcess(Protocol):
    """A running kernel: a client to talk to it, and the process controls the sandbox needs."""

    client: BlockingKernelClient

    @property
    def pid(self) -> int | None:
        """The kernel's process id."""

    def is_alive(self) -> bool:
        """Whether the kernel process still runs."""

    def interrupt(self) -> None:
        """Send the kernel an interrupt (``KeyboardInterrupt`` in the running code)."""

    def kill(self) -> None:
        """Stop the kernel now and clean up its files."""


def tree_usage(pid: int | None) -> tuple[float, int]:
    """Return (CPU seconds, resident bytes) of process ``pid`` and all its descendants ((0, 0) if gone)."""
    if pid is None:
        return 0.0, 0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0
    cpu, rss = 0.0, 0
    for process in processes:
        try:
            times = process.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            rss += process.memory_info().rss
        except psutil.Error:
            continue
    return cpu, rss


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _await_message(
    receive: Callable[..., Any], msg_id: str, *, until: float, alive: Callable[[], bool]
) -> bool:
    """Wait for a message answering ``msg_id``: False on timeout; raise if the kernel died."""
    while time.monotonic() < until:
        try:
            message = receive(timeout=0.2)
        except queue.Empty:
            if not alive():
                raise RuntimeError("the kernel died while starting") from None
            continue
        if message["parent_header"].get("msg_id") == msg_id:
            return True
    return False


def _ready_client(connection_file: Path, *, alive: Callable[[], bool]) -> BlockingKernelClient:
    """Connect to a starting kernel and return once it answers on the shell channel and publishes on IOPub.

    jupyter_client's own ``wait_for_ready`` calls a kernel dead when its heartbeat has not started within
    a second, which a loaded machine easily exceeds; this watches the process itself instead.
    """
    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    client.start_channels()
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        msg_id = client.kernel_info()
        # A request sent before the kernel's sockets exist can be lost (and IOPub joins late), so ask
        # again soon rather than waiting long for an answer that will never come.
        until = min(deadline, time.monotonic() + _READY_RETRY)
        replied = _await_message(client.get_shell_msg, msg_id, until=until, alive=alive)
        if replied and _await_message(client.get_iopub_msg, msg_id, until=until, alive=alive):
            while True:
                try:
                    client.get_iopub_msg(timeout=0.05)
                except queue.Empty:
                    return client
    client.stop_channels()
    raise RuntimeError("the kernel did not become ready in time")


class ForkedKernel:
    """A kernel forked by the fork server."""

    def __init__(self, pid: int, client: BlockingKernelClient, files: list[Path]) -> None:
        """Wrap the forked kernel ``pid``, reached by ``client``; ``files`` are removed when it stops."""
        self._pid: int | None = pid
        self.client = client
        self._files = files

    @property
    def pid(self) -> int | None:
        """The kernel's process id (None once killed)."""
        return self._pid

    def is_alive(self) -> bool:
        """Whether the process still exists (the fork server reaps it as soon as it exits)."""
        return self._pid is not None and _pid_alive(self._pid)

    def interrupt(self) -> None:
        """Send SIGINT, which ipykernel turns into ``KeyboardInterrupt``."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL the kernel, wait until it is gone, and delete its connection files."""
        self.client.stop_channels()
        pid, self._pid = self._pid, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.01)
        for path in self._files:
            path.unlink(missing_ok=True)


class JailedKernel(ForkedKernel):
    """A kernel forked by the confined fork server, narrowed to one container and running as ``uid``."""

    def __init__(
        self,
        pid: int | None,
        client: BlockingKernelClient,
        files: list[Path],
        jail_dir: Path,
        uid: int | None,
    ) -> None:
        """Wrap the kernel's host ``pid``; ``jail_dir`` (its sockets) is removed when it stops."""
        super().__init__(pid or 0, client, files)
        self._pid = pid
        self.uid = uid
        self._jail_dir = jail_dir

    def kill(self) -> None:
        """Kill the kernel and remove its socket folder."""
        super().kill()
        shutil.rmtree(self._jail_dir, ignore_errors=True)


class SpawnedKernel:
    """A kernel started as its own process by ``jupyter_client``'s ``KernelManager``."""

    def __init__(self, manager: KernelManager, client: BlockingKernelClient) -> None:
        """Wrap a started ``manager`` and its ready ``client``."""
        self.manager = manager
        self.client = client

    @property
    def pid(self) -> int | None:
        """The kernel's process id."""
        process = getattr(getattr(self.manager, "provisioner", None), "process", None)
        pid = getattr(process, "pid", None)
        return pid if isinstance(pid, int) else None

    def is_alive(self) -> bool:
        """Whether the kernel process still runs."""
        return bool(self.manager.is_alive())

    def interrupt(self) -> None:
        """Interrupt the kernel."""
        self.manager.interrupt_kernel()

    def kill(self) -> None:
        """Stop the kernel now."""
        self.client.stop_channels()
        try:
            self.manager.shutdown_kernel(now=True)
        except Exception:  # a dead kernel may fail to shut down; it is gone either way
            self.manager.cleanup_resources()


class ConfinedKernel:
    """A kernel inside its own bubblewrap sandbox (``bwrap`` → its pid-namespace init → python)."""

    def __init__(
        self, process: subprocess.Popen[bytes], client: BlockingKernelClient, jail_dir: Path, uid: int | None
    ) -> None:
        """Wrap the ``bwrap`` ``process``, the kernel's ``client``, its sockets' folder and its own uid."""
        self.uid = uid
        self._process: subprocess.Popen[bytes] | None = process
        self.client = client
        self._jail_dir = jail_dir
        self._kernel_pid: int | None = None

    @property
    def pid(self) -> int | None:
        """The host process id of the kernel's Python (inside the sandbox it is pid 2)."""
        if self._kernel_pid is None and self._process is not None:
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(self._process.pid).children(recursive=True):
                    if child.name().startswith("python"):
                        self._kernel_pid = child.pid
                        break
        return self._kernel_pid

    def is_alive(self) -> bool:
        """Whether the sandbox and the kernel in it still run."""
        if self._process is None or self._process.poll() is not None:
            return False
        pid = self.pid
        return pid is not None and _pid_alive(pid)

    def interrupt(self) -> None:
        """Send SIGINT to the kernel's Python, which ipykernel turns into ``KeyboardInterrupt``."""
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)

    def kill(self) -> None:
        """Kill the sandbox (its pid namespace takes every process in it along) and remove its sockets."""
        self.client.stop_channels()
        process, self._process = self._process, None
        if process is not None:
            try:
                inside = psutil.Process(process.pid).children(recursive=True)
            except psutil.Error:
                inside = []
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            for child in inside:
                with contextlib.suppress(psutil.Error):
                    child.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            psutil.wait_procs(inside, timeout=10)
        shutil.rmtree(self._jail_dir, ignore_errors=True)


class KernelLauncher:
    """Starts kernels in a given folder: confined by bubblewrap, forked from a fork server, or spawned.

    With ``confine`` (a :class:`~openai_artifacts_nb.local.confinement.Bubblewrap`) every kernel gets its
    own sandbox; otherwise kernels are forked from a fork server on Linux and spawned elsewhere.
    """

    def __init__(
        self,
        runtime_dir: Path,
        *,
        use_fork_server: bool | None = None,
        confine: Bubblewrap | None = None,
        visible_root: Path | None = None,
    ) -> None:
        """Keep connection files under ``runtime_dir``; ``use_fork_server`` defaults to "on Linux".

        Confined as root, kernels fork from a fork server inside bubblewrap that sees ``visible_root``
        (the emulator's folder, holding ``runtime_dir`` and every container folder; default: the parent of
        ``runtime_dir``'s parent); a folder outside it gets a bwrap of its own.
        """
        self._runtime_dir = runtime_dir
        self._visible_root = (visible_root or runtime_dir.parent.parent).resolve()
        self._runtime_dir.mkdir(parents=True, exist_ok=True)
        self._use_fork_server = sys.platform == "linux" if use_fork_server is None else use_fork_server
        self._lock = threading.Lock()
        self._counter = 0
        self._server: subprocess.Popen[str] | None = None
        self._spec_manager: KernelSpecManager | None = None
        self.confine = confine
        # Kernels' own uids: a random block per launcher, so two emulators on one machine never share one.
        self._uid_base = FIRST_UID + secrets.randbelow(20_000) * 100_000
        self._mpl_cache: Path | None = None
        self._mpl_ready = threading.Event()
        # bwrap's --die-with-parent fires when the *thread* that started it ends, so every sandbox is started
        # from this one long-lived thread rather than from short-lived request threads.
        self._spawner = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-sandbox-spawner")
            if confine is not None
            else None
        )

    def _connection_file(self) -> tuple[Path, str]:
        with self._lock:
            self._counter += 1
            number = self._counter
        # IPC socket paths must stay short (about 100 bytes), hence the terse names.
        return self._runtime_dir / f"k{number}.json", str(self._runtime_dir / f"k{number}")

    def _next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def launch(self, folder: Path, *, memory_limit: str = "1g") -> KernelProcess:
        """Start a kernel whose working directory is ``folder`` and return it once it answers."""
        if self.confine is not None:
            inside = folder.resolve().is_relative_to(self._visible_root)
            if self.confine.forks and self._use_fork_server and inside:
                return self._confined_fork(folder, memory_limit)
            return self._confined(folder, memory_limit)
        if self._use_fork_server:
            return self._fork(folder)
        return self._spawn(folder)

    def _matplotlib_cache(self) -> Path | None:
        """Build matplotlib's font list once (the first confined kernel waits for it)."""
        with self._lock:
            if not self._mpl_ready.is_set():
                self._mpl_cache = build_mpl_cache(self._runtime_dir / "matplotlib")
                self._mpl_ready.set()
        return self._mpl_cache

    def _jail_dir(self, folder: Path) -> tuple[Path, int | None, Path]:
        """Make a kernel's socket folder; return it, the kernel's uid (root only) and its connection file."""
        assert self.confine is not None
        number = self._next_number()
        jail_dir = self._runtime_dir / f"c{number}"
        jail_dir.mkdir(mode=0o700)
        uid = self._uid_base + number if self.confine.as_root else None
        if uid is not None:
            hand_over(folder, uid)
            os.chown(jail_dir, uid, uid)
        connection_file = jail_dir / "host.json"
        _, info = write_connection_file(str(connection_file), transport="ipc", ip=str(jail_dir / "k"))
        inside = dict(info, ip=f"{SANDBOX_RUNTIME}/k")
        (jail_dir / "kernel.json").write_text(json.dumps(inside), encoding="utf-8")
        return jail_dir, uid, connection_file

    def _confined_fork(self, folder: Path, memory_limit: str) -> JailedKernel:
        assert self.confine is not None
        mpl_cache = self._matplotlib_cache()
        jail_dir, uid, connection_file = self._jail_dir(folder)
        jail = KernelJail(
            data_dir=folder.resolve(),
            runtime_dir=jail_dir.resolve(),
            connection_file=f"{SANDBOX_RUNTIME}/kernel.json",
            memory_limit=memory_limit,
            uid=uid,
        )
        request = {
            "connection_file": jail.connection_file,
            "cwd": SANDBOX_DATA,
            "env": sandbox_environment(python=self.confine.python),
            "jail": self.confine.jail(jail, emulator_root=self._visible_root),
        }
        with self._lock:
            server = self._fork_server(mpl_cache=mpl_cache)
            stdin, stdout = _pipes(server)
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            reply = stdout.readline()
        if not reply:
            raise RuntimeError("the confined kernel fork server stopped")
        pid = _host_pid(server.pid, int(json.loads(reply)["pid"]))
        kernel = JailedKernel(pid, BlockingKernelClient(), [], jail_dir, uid)
        if pid is None:
            kernel.kill()
            raise RuntimeError("the confined kernel exited at once")
        try:
            kernel.client = _ready_client(connection_file, alive=lambda: _pid_alive(pid))
        except RuntimeError:
            kernel.kill()
            raise
        return kernel

    def _confined(self, folder: Path, memory_limit: str) -> ConfinedKernel:
        assert self.confine is not None and self._spawner is not None
        jail_dir, uid, connection_file = self._jail_dir(folder)
        jail = KernelJail(
            data_dir=folder,
            runtime_dir=jail_dir,
            connection_file=f"{SANDBOX_RUNTIME}/kernel.json",
            memory_limit=memory_limit,
            uid=uid,
            mpl_cache=self._matplotlib_cache(),
        )
        argv = self.confine.argv(jail)
        process = self._spawner.submit(
            subprocess.Popen,
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ).result()
        kernel = ConfinedKernel(process, BlockingKernelClient(), jail_dir, uid)
        try:
            kernel.client = _ready_client(connection_file, alive=lambda: process.poll() is None)
        except RuntimeError:
            kernel.kill()
            raise
        return kernel

    def _fork(self, folder: Path) -> ForkedKernel:
        connection_file, ipc_base = self._connection_file()
        _, info = write_connection_file(str(connection_file), transport="ipc", ip=ipc_base)
        ports = [
            info["shell_port"],
            info["iopub_port"],
            info["stdin_port"],
            info["control_port"],
            info["hb_port"],
        ]
        files = [connection_file, *(Path(f"{ipc_base}-{port}") for port in ports)]
        request = {"connection_file": str(connection_file), "cwd": str(folder), "env": kernel_environment()}
        with self._lock:
            stdin, stdout = _pipes(self._fork_server())
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            reply = stdout.readline()
        if not reply:
            raise RuntimeError("the kernel fork server stopped")
        pid = int(json.loads(reply)["pid"])
        try:
            client = _ready_client(connection_file, alive=lambda: _pid_alive(pid))
        except RuntimeError:
            ForkedKernel(pid, BlockingKernelClient(), files).kill()
            raise
        return ForkedKernel(pid, client, files)

    def _fork_server(self, *, mpl_cache: Path | None = None) -> subprocess.Popen[str]:
        """Return the running fork server, starting it on first use (call with the lock held)."""
        if self.confine is not None and (self._server is None or self._server.poll() is not None):
            assert self._spawner is not None
            argv = self.confine.fork_server_argv(
                emulator_root=self._visible_root,
                zygote=Path(kernel_zygote_file()),
                mpl_cache=mpl_cache,
            )
            self._server = self._spawner.submit(
                subprocess.Popen,
                argv,
                start_new_session=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            ).result()
        if self._server is None or self._server.poll() is not None:
            # A session of its own: the notebook's interrupts (Lab's Interrupt, Ctrl-C in a terminal) go to
            # the notebook kernel's process group and must never reach the emulator's kernels.
            self._server = subprocess.Popen(
                [sys.executable, "-m", "openai_artifacts_nb.local.kernel_zygote"],
                start_new_session=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=kernel_environment(),
                cwd=str(self._runtime_dir),
            )
        return self._server

    def _spawn(self, folder: Path) -> SpawnedKernel:
        if self._spec_manager is None:
            self._spec_manager = _write_kernel_spec(self._runtime_dir / "kernels")
        manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=self._spec_manager)
        connection_file, ipc_base = self._connection_file()
        manager.connection_file = str(connection_file)
        manager.transport = "ipc"
        manager.ip = ipc_base
        manager.start_kernel(
            cwd=str(folder), env=kernel_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            client = _ready_client(connection_file, alive=manager.is_alive)
        except RuntimeError:
            manager.shutdown_kernel(now=True)
            raise
        return SpawnedKernel(manager, client)

    @property
    def server_pid(self) -> int | None:
        """The fork server's process id while it runs."""
        server = self._server
        return server.pid if server is not None and server.poll() is None else None

    def close(self) -> None:
        """Stop the fork server (it kills any kernel it forked that is still running)."""
        if self._spawner is not None:
            self._spawner.shutdown(wait=False)
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        if server.stdin is not None:
            with contextlib.suppress(OSError):
                server.stdin.close()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()


def kernel_zygote_file() -> str:
    """Return the path of the fork server's source file (the confined fork server runs it by path)."""
    from openai_artifacts_nb.local import kernel_zygote

    return str(kernel_zygote.__file__)


def _host_pid(server_pid: int, inner_pid: int) -> int | None:
    """Return the host pid of the fork server's child known inside its pid namespace as ``inner_pid``."""
    try:
        children = psutil.Process(server_pid).children(recursive=True)
    except psutil.Error:
        return None
    for child in children:
        try:
            status = Path(f"/proc/{child.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:") and line.split()[-1] == str(inner_pid):
                return int(child.pid)
    return None


def hand_over(folder: Path, uid: int) -> None:
    """Make ``folder`` and everything in it belong to ``uid`` (a confined kernel's own user), top mode 0700.

    Files the emulator writes (uploads) are owned by the emulator's user; the kernel must be able to change
    them as upstream code can.
    """
    os.chown(folder, uid, uid)
    folder.chmod(0o700)
    for directory, subdirs, names in os.walk(folder):
        for name in [*subdirs, *names]:
            path = Path(directory, name)
            with contextlib.suppress(FileNotFoundError):
                if os.lstat(path).st_uid != uid:
                    os.lchown(path, uid, uid)


def _pipes(server: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    assert server.stdin is not None and server.stdout is not None
    return server.stdin, server.stdout


def _write_kernel_spec(folder: Path) -> KernelSpecManager:
    """Write a kernel spec that runs ipykernel with this interpreter, and return a manager that finds it.

    A private spec keeps a user's own ``python3`` kernel (which may lack ipykernel) out of the picture.
    """
    spec_dir = folder / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec: dict[str, Any] = {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--HistoryManager.enabled=False",
        ],
        "display_name": "OpenAI emulator sandbox",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)
