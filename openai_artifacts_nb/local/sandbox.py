"""Real Python for each container: one Jupyter kernel per container, started on first use.

The kernel runs in the container's folder. ``/mnt/data`` in the submitted code is rewritten to that folder
and the folder's real path in the output is written back as ``/mnt/data``, so code, paths in logs and
tracebacks read as they do upstream. Each call has a time limit: past it the kernel is interrupted and the
log says so. Images the code displays (``plt.show()``, ``display(img)``) come back as PNG bytes.
"""

from __future__ import annotations

import base64
import queue
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai_artifacts_nb.local.kernels import KernelLauncher, KernelProcess
from openai_artifacts_nb.local.workspace import SANDBOX_ROOT

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_INTERRUPT_GRACE = 10.0


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

    def __init__(self, folder: Path, *, launcher: KernelLauncher) -> None:
        """Prepare (but do not start) a kernel whose working directory is ``folder``."""
        self.folder = folder
        self._launcher = launcher
        self._lock = threading.Lock()
        self._kernel: KernelProcess | None = None
        self._closed = False

    def start(self) -> None:
        """Start the kernel now (normally it starts on the first call)."""
        with self._lock:
            if self._kernel is None:
                self._kernel = self._launcher.launch(self.folder)

    def adopt(self, spare: KernelSandbox) -> None:
        """Take over the started kernel of ``spare`` and move it into this sandbox's folder."""
        with self._lock:
            self._kernel, spare._kernel = spare._kernel, None
            if self._kernel is not None:
                self._execute(
                    f"import os as _os; _os.chdir({str(self.folder)!r}); del _os", 30.0, silent=True
                )

    def run(self, code: str, *, timeout: float) -> CodeResult:
        """Run ``code`` in the kernel (starting it if needed) and collect its output."""
        with self._lock:
            if self._closed:
                return CodeResult(logs="The container is no longer running.", error=True)
            if self._kernel is None or not self._kernel.is_alive():
                self._discard()
                self._kernel = self._launcher.launch(self.folder)
            return self._execute(code.replace(SANDBOX_ROOT, str(self.folder)), timeout)

    def _execute(self, code: str, timeout: float, *, silent: bool = False) -> CodeResult:
        kernel = self._kernel
        assert kernel is not None
        client = kernel.client
        msg_id = client.execute(
            code, silent=silent, store_history=not silent, allow_stdin=False, stop_on_error=False
        )
        pieces: list[str] = []
        result = CodeResult(logs="")
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if result.timed_out:
                    self._discard()
                    pieces.append("\nThe kernel did not stop after the interrupt and was restarted.")
                    break
                result.timed_out = True
                kernel.interrupt()
                deadline = time.monotonic() + _INTERRUPT_GRACE
                continue
            try:
                message = client.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not kernel.is_alive():
                    self._discard()
                    pieces.append("\nThe Python kernel died; the container's Python state was reset.")
                    result.error = True
                    break
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
        result.logs = strip_ansi("".join(pieces)).replace(str(self.folder), SANDBOX_ROOT)
        return result

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

    Starting a kernel takes a moment, so one spare kernel is kept started in the background; a new container
    adopts it (moving it into its folder) and another spare starts behind it.
    """

    def __init__(self, root: Path, *, keep_spare: bool = True, use_fork_server: bool | None = None) -> None:
        """Keep connection files and the spare's folder under ``root``."""
        self._launcher = KernelLauncher(root / "runtime", use_fork_server=use_fork_server)
        self._spare_dir = root / "spare"
        self._spare_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._kernels: dict[str, KernelSandbox] = {}
        self._closed = False
        self._keep_spare = keep_spare
        self._spares = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-spare-kernel")
        self._spare: Future[KernelSandbox] | None = None
        self._schedule_spare()

    def _start_spare(self) -> KernelSandbox:
        kernel = KernelSandbox(self._spare_dir, launcher=self._launcher)
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

    def _kernel_for(self, container_id: str, folder: Path) -> KernelSandbox:
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            kernel = self._kernels.get(container_id)
            if kernel is not None:
                return kernel
            kernel = KernelSandbox(folder, launcher=self._launcher)
            self._kernels[container_id] = kernel
        spare = self._take_spare()
        if spare is not None:
            try:
                kernel.adopt(spare.result())
            except Exception:  # a spare that failed to start is not used; the first call starts a kernel
                kernel.shutdown()
                kernel = KernelSandbox(folder, launcher=self._launcher)
                with self._lock:
                    self._kernels[container_id] = kernel
        return kernel

    def run(self, container_id: str, folder: Path, code: str, *, timeout: float) -> CodeResult:
        """Run ``code`` in the container's kernel, starting one in ``folder`` on first use."""
        try:
            kernel = self._kernel_for(container_id, folder)
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
