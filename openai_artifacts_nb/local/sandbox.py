"""Real Python for each container: one Jupyter kernel per container, started on first use.

Confined (bubblewrap, :mod:`~openai_artifacts_nb.local.confinement`), the container's folder really is
``/mnt/data`` for the kernel. Unconfined, the kernel runs in the container's folder, ``/mnt/data`` in the
submitted code is rewritten to that folder and the folder's real path in the output is written back as
``/mnt/data``, so code, paths in logs and tracebacks read as they do upstream either way.

Each call has limits: past its wall-clock time limit or its CPU-time limit the kernel is interrupted (and
restarted if it does not stop); a kernel whose processes hold more resident memory than the container's
``memory_limit`` is killed and restarted on the next call. Every such end is said in the call's logs and
in the ``openai_artifacts_nb.local`` log. Images the code displays (``plt.show()``, ``display(img)``) come
back as PNG bytes.
"""

from __future__ import annotations

import base64
import logging
import queue
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai_artifacts_nb.local.confinement import DEFAULT_MEMORY_LIMIT, Bubblewrap, memory_bytes
from openai_artifacts_nb.local.kernels import (
    KernelLauncher,
    KernelProcess,
    hand_over,
    tree_usage,
)
from openai_artifacts_nb.local.workspace import SANDBOX_ROOT

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_INTERRUPT_GRACE = 10.0
_WATCH_EVERY = 0.25
LOG = logging.getLogger("openai_artifacts_nb.local")


@dataclass
class CodeResult:
    """What one code call produced: the log text, displayed PNG images, and how it ended."""

    logs: str
    images: list[bytes] = field(default_factory=list)
    error: bool = False
    timed_out: bool = False


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


class KernelSandbox:
    """One kernel bound to one container folder."""

    def __init__(
        self,
        folder: Path,
        *,
        launcher: KernelLauncher,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        cpu_seconds: float | None = None,
        label: str = "",
    ) -> None:
        """Prepare (but do not start) a kernel whose working directory is ``folder``.

        ``cpu_seconds`` limits the CPU time of one call (None: only the wall-clock ``timeout``);
        ``label`` names the container in log lines.
        """
        self.folder = folder
        self.memory_limit = memory_limit
        self.cpu_seconds = cpu_seconds
        self.label = label or folder.name
        self._launcher = launcher
        self._lock = threading.Lock()
        self._kernel: KernelProcess | None = None
        self._closed = False
        self._crashed = False

    @property
    def confined(self) -> bool:
        """Whether this sandbox's kernels run inside bubblewrap (``/mnt/data`` is then real)."""
        return self._launcher.confine is not None

    def start(self) -> None:
        """Start the kernel now (normally it starts on the first call)."""
        with self._lock:
            if self._kernel is None:
                self._kernel = self._launcher.launch(self.folder, memory_limit=self.memory_limit)

    def adopt(self, spare: KernelSandbox) -> None:
        """Take over the started kernel of ``spare`` and move it into this sandbox's folder.

        A confined kernel's ``/mnt/data`` is bound to the spare's folder for good, so the folders move
        instead: the container's files go into the spare's folder, which then takes the container's path
        (a bind mount follows its directory through a rename).
        """
        with self._lock:
            self._kernel, spare._kernel = spare._kernel, None
            if self._kernel is None:
                return
            if self.confined:
                for entry in self.folder.iterdir():
                    entry.rename(spare.folder / entry.name)
                self.folder.rmdir()
                spare.folder.rename(self.folder)
            else:
                self._execute(
                    f"import os as _os; _os.chdir({str(self.folder)!r}); del _os", 30.0, silent=True
                )

    def run(self, code: str, *, timeout: float) -> CodeResult:
        """Run ``code`` in the kernel (starting it if needed) and collect its output."""
        with self._lock:
            if self._closed:
                return CodeResult(logs="The container is no longer running.", error=True)
            if self._kernel is None or not self._kernel.is_alive():
                if self._kernel is not None or self._crashed:
                    LOG.warning("container %s: its Python kernel had stopped; starting a new one", self.label)
                self._discard()
                self._kernel = self._launcher.launch(self.folder, memory_limit=self.memory_limit)
                self._crashed = False
            if self.confined:
                uid = getattr(self._kernel, "uid", None)
                if uid is not None:
                    hand_over(self.folder, uid)
                return self._execute(code, timeout)
            return self._execute(code.replace(SANDBOX_ROOT, str(self.folder)), timeout)

    def _over_limit(self, kernel: KernelProcess, cpu_at_start: float) -> str | None:
        """Return why the running call must stop (CPU time or memory), or None."""
        cpu, rss = tree_usage(kernel.pid)
        if rss > memory_bytes(self.memory_limit):
            return "memory"
        if self.cpu_seconds is not None and cpu - cpu_at_start > self.cpu_seconds:
            return "cpu"
        return None

    def _execute(self, code: str, timeout: float, *, silent: bool = False) -> CodeResult:
        kernel = self._kernel
        assert kernel is not None
        client = kernel.client
        cpu_at_start = tree_usage(kernel.pid)[0]
        msg_id = client.execute(
            code, silent=silent, store_history=not silent, allow_stdin=False, stop_on_error=False
        )
        pieces: list[str] = []
        result = CodeResult(logs="")
        deadline = time.monotonic() + timeout
        stopped_for: str | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if result.timed_out or stopped_for == "cpu":
                    self._discard()
                    self._crashed = True
                    pieces.append("\nThe kernel did not stop after the interrupt and was restarted.")
                    LOG.warning("container %s: kernel ignored an interrupt and was killed", self.label)
                    break
                result.timed_out = True
                kernel.interrupt()
                deadline = time.monotonic() + _INTERRUPT_GRACE
                continue
            try:
                message = client.get_iopub_msg(timeout=min(remaining, _WATCH_EVERY))
            except queue.Empty:
                if not kernel.is_alive():
                    self._discard()
                    self._crashed = True
                    pieces.append("\nThe Python kernel died; the container's Python state was reset.")
                    LOG.warning("container %s: the Python kernel died; restarts on the next call", self.label)
                    result.error = True
                    break
                if stopped_for is None and not silent:
                    stopped_for = self._over_limit(kernel, cpu_at_start)
                    if stopped_for == "memory":
                        self._discard()
                        self._crashed = True
                        result.error = True
                        pieces.append(self._memory_note())
                        LOG.warning(
                            "container %s: killed at its memory limit (%s); restarts on the next call",
                            self.label,
                            self.memory_limit,
                        )
                        break
                    if stopped_for == "cpu":
                        kernel.interrupt()
                        deadline = time.monotonic() + _INTERRUPT_GRACE
                        LOG.warning("container %s: call interrupted at its CPU-time limit", self.label)
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                self._collect_reply(msg_id)
                break
            self._collect(kind, content, pieces, result)
        if result.timed_out:
            pieces.append(f"\nExecution timed out after {timeout:g} seconds and was interrupted.")
        elif stopped_for == "cpu":
            result.error = True
            pieces.append(f"\nExecution used more than {self.cpu_seconds:g} CPU-seconds and was interrupted.")
        if any("MemoryError" in piece for piece in pieces) and stopped_for != "memory":
            result.error = True
            pieces.append(
                f"\nThe code ran out of memory: this container's memory_limit is {self.memory_limit}."
            )
        result.logs = strip_ansi("".join(pieces)).replace(str(self.folder), SANDBOX_ROOT)
        return result

    def _memory_note(self) -> str:
        return (
            f"\nThe code used more memory than this container's memory_limit ({self.memory_limit}); "
            "its Python kernel was stopped and starts afresh on the next call (earlier variables are gone)."
        )

    @staticmethod
    def _collect(kind: str, content: dict[str, Any], pieces: list[str], result: CodeResult) -> None:
        if kind == "stream":
            pieces.append(str(content.get("text", "")))
        elif kind in {"execute_result", "display_data"}:
            data = content.get("data", {})
            if "image/png" in data:
                result.images.append(base64.b64decode(data["image/png"]))
            elif "text/plain" in data:
                if pieces and not pieces[-1].endswith("\n"):
                    pieces.append("\n")
                pieces.append(str(data["text/plain"]))
        elif kind == "error":
            result.error = True
            if pieces and not pieces[-1].endswith("\n"):
                pieces.append("\n")
            pieces.append("\n".join(content.get("traceback", [])))

    def _collect_reply(self, msg_id: str) -> None:
        """Read the shell reply of ``msg_id`` so replies never pile up on the channel."""
        assert self._kernel is not None
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                reply = self._kernel.client.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            if reply["parent_header"].get("msg_id") == msg_id:
                return

    def _discard(self) -> None:
        kernel, self._kernel = self._kernel, None
        if kernel is not None:
            kernel.kill()

    def shutdown(self) -> None:
        """Stop the kernel for good (waits for a running call to finish or time out)."""
        with self._lock:
            self._closed = True
            self._discard()

    @property
    def pid(self) -> int | None:
        """The kernel's process id while it runs (tests use it to prove nothing leaks)."""
        kernel = self._kernel
        return kernel.pid if kernel is not None else None


class Sandboxes:
    """The kernels of every container, keyed by container id, plus one warm spare.

    Starting a kernel takes a moment, so one spare kernel (``memory_limit`` 1g) is kept started in the
    background; a new container with that limit adopts it and another spare starts behind it.
    """

    def __init__(
        self,
        root: Path,
        *,
        keep_spare: bool = True,
        use_fork_server: bool | None = None,
        confine: Bubblewrap | None = None,
        cpu_seconds: float | None = None,
    ) -> None:
        """Keep connection files and the spares' folders under ``root``; ``confine`` runs kernels in bwrap."""
        self._launcher = KernelLauncher(
            root / "runtime", use_fork_server=use_fork_server, confine=confine, visible_root=root.parent
        )
        self.cpu_seconds = cpu_seconds
        self._spare_dir = root / "spare"
        self._spare_dir.mkdir(parents=True, exist_ok=True)
        self._spare_count = 0
        self._lock = threading.Lock()
        self._kernels: dict[str, KernelSandbox] = {}
        self._closed = False
        self._keep_spare = keep_spare
        self._spares = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-spare-kernel")
        self._spare: Future[KernelSandbox] | None = None
        self._schedule_spare()

    @property
    def confined(self) -> bool:
        """Whether kernels run confined by bubblewrap."""
        return self._launcher.confine is not None

    def _start_spare(self) -> KernelSandbox:
        with self._lock:
            self._spare_count += 1
            folder = self._spare_dir / f"s{self._spare_count}"
        folder.mkdir()
        kernel = KernelSandbox(folder, launcher=self._launcher)
        kernel.start()
        return kernel

    def _schedule_spare(self) -> None:
        """Start a spare kernel in the background unless one exists (call with the lock held or in init)."""
        if self._keep_spare and self._spare is None and not self._closed:
            self._spare = self._spares.submit(self._start_spare)

    def _take_spare(self) -> Future[KernelSandbox] | None:
        """Return the spare if it is ready (and start the next); a spare still starting stays for later."""
        with self._lock:
            spare = self._spare
            if spare is None or not spare.done():
                return None
            self._spare = None
            self._schedule_spare()
        return spare

    def _kernel_for(self, container_id: str, folder: Path, memory_limit: str) -> KernelSandbox:
        def fresh() -> KernelSandbox:
            return KernelSandbox(
                folder,
                launcher=self._launcher,
                memory_limit=memory_limit,
                cpu_seconds=self.cpu_seconds,
                label=container_id,
            )

        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            kernel = self._kernels.get(container_id)
            if kernel is not None:
                return kernel
            kernel = fresh()
            self._kernels[container_id] = kernel
        spare = self._take_spare() if memory_limit == DEFAULT_MEMORY_LIMIT else None
        if spare is not None:
            try:
                kernel.adopt(spare.result())
            except Exception:  # a spare that failed to start is not used; the first call starts a kernel
                kernel.shutdown()
                kernel = fresh()
                with self._lock:
                    self._kernels[container_id] = kernel
        return kernel

    def run(
        self,
        container_id: str,
        folder: Path,
        code: str,
        *,
        timeout: float,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
    ) -> CodeResult:
        """Run ``code`` in the container's kernel, starting one in ``folder`` on first use."""
        try:
            kernel = self._kernel_for(container_id, folder, memory_limit)
        except RuntimeError as error:
            return CodeResult(logs=str(error), error=True)
        return kernel.run(code, timeout=timeout)

    def shutdown(self, container_id: str) -> None:
        """Stop the container's kernel, if it has one."""
        with self._lock:
            kernel = self._kernels.pop(container_id, None)
        if kernel is not None:
            kernel.shutdown()

    def shutdown_all(self) -> None:
        """Stop every kernel, the spare and the fork server; later calls are refused."""
        with self._lock:
            self._closed = True
            kernels = list(self._kernels.values())
            self._kernels.clear()
            spare, self._spare = self._spare, None
        for kernel in kernels:
            kernel.shutdown()
        self._spares.shutdown(wait=True, cancel_futures=True)
        if spare is not None and spare.done() and spare.exception() is None:
            spare.result().shutdown()
        self._launcher.close()

    def kernel_pids(self) -> list[int]:
        """Return the process ids of the kernels now running for containers (the spare not included)."""
        with self._lock:
            kernels = list(self._kernels.values())
        return [pid for pid in (k.pid for k in kernels) if pid is not None]

    def process_ids(self) -> list[int]:
        """Return every process the sandboxes run: container kernels, the spare and the fork server."""
        found = self.kernel_pids()
        for pid in (self.spare_pid(), self._launcher.server_pid):
            if pid is not None:
                found.append(pid)
        return found

    def spare_pid(self) -> int | None:
        """Return the process id of the warm spare kernel, if one is ready."""
        with self._lock:
            spare = self._spare
        if spare is None or not spare.done() or spare.exception() is not None:
            return None
        return spare.result().pid
