"""Real Python for each container: one Jupyter kernel per container, started on first use.

The kernel runs in the container's folder. ``/mnt/data`` in the submitted code is rewritten to that folder
and the folder's real path in the output is written back as ``/mnt/data``, so code, paths in logs and
tracebacks read as they do upstream. Each call has a time limit: past it the kernel is interrupted and the
log says so. Images the code displays (``plt.show()``, ``display(img)``) come back as PNG bytes.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from openai_artifacts_nb.local.workspace import SANDBOX_ROOT

KERNEL_NAME = "openai-artifacts-emulator"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_START_TIMEOUT = 60.0
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


def write_kernel_spec(folder: Path) -> KernelSpecManager:
    """Write a kernel spec that runs ipykernel with this interpreter, and return a manager that finds it.

    A private spec keeps a user's own ``python3`` kernel (which may lack ipykernel) out of the picture.
    """
    spec_dir = folder / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
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
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)


def _kernel_environment() -> dict[str, str]:
    """Return the parent's environment minus anything that could carry an API key into prompt code."""
    return {k: v for k, v in os.environ.items() if "OPENAI" not in k.upper() and "API_KEY" not in k.upper()}


class KernelSandbox:
    """One kernel bound to one container folder."""

    def __init__(self, folder: Path, *, spec_manager: KernelSpecManager, runtime_dir: Path) -> None:
        """Prepare (but do not start) a kernel whose working directory is ``folder``."""
        self.folder = folder
        self._spec_manager = spec_manager
        self._runtime_dir = runtime_dir
        self._lock = threading.Lock()
        self._manager: KernelManager | None = None
        self._client: Any = None
        self._closed = False

    def _start(self) -> None:
        manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=self._spec_manager)
        manager.connection_file = str(
            self._runtime_dir / f"kernel-{self.folder.name}-{time.monotonic_ns()}.json"
        )
        manager.start_kernel(
            cwd=str(self.folder),
            env=_kernel_environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=_START_TIMEOUT)
        except RuntimeError:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
            raise
        self._manager, self._client = manager, client

    def run(self, code: str, *, timeout: float) -> CodeResult:
        """Run ``code`` in the kernel (starting it if needed) and collect its output."""
        with self._lock:
            if self._closed:
                return CodeResult(logs="The container is no longer running.", error=True)
            if self._manager is None or not self._manager.is_alive():
                self._discard()
                self._start()
            return self._execute(code.replace(SANDBOX_ROOT, str(self.folder)), timeout)

    def _execute(self, code: str, timeout: float) -> CodeResult:
        manager, client = self._manager, self._client
        assert manager is not None
        msg_id = client.execute(code, store_history=True, allow_stdin=False, stop_on_error=False)
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
                manager.interrupt_kernel()
                deadline = time.monotonic() + _INTERRUPT_GRACE
                continue
            try:
                message = client.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not manager.is_alive():
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
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                reply = self._client.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            if reply["parent_header"].get("msg_id") == msg_id:
                return

    def _discard(self) -> None:
        manager, client = self._manager, self._client
        self._manager = self._client = None
        if client is not None:
            client.stop_channels()
        if manager is not None:
            try:
                manager.shutdown_kernel(now=True)
            except Exception:  # a dead kernel may fail to shut down; it is gone either way
                manager.cleanup_resources()

    def shutdown(self) -> None:
        """Stop the kernel for good (waits for a running call to finish or time out)."""
        with self._lock:
            self._closed = True
            self._discard()

    @property
    def pid(self) -> int | None:
        """The kernel's process id while it runs (tests use it to prove nothing leaks)."""
        manager = self._manager
        provisioner = getattr(manager, "provisioner", None) if manager is not None else None
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)


class Sandboxes:
    """The kernels of every container, keyed by container id."""

    def __init__(self, root: Path) -> None:
        """Keep kernel specs and connection files under ``root``."""
        self._spec_manager = write_kernel_spec(root / "kernels")
        self._runtime_dir = root / "runtime"
        self._runtime_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._kernels: dict[str, KernelSandbox] = {}
        self._closed = False

    def run(self, container_id: str, folder: Path, code: str, *, timeout: float) -> CodeResult:
        """Run ``code`` in the container's kernel, starting one in ``folder`` on first use."""
        with self._lock:
            if self._closed:
                return CodeResult(logs="The server is shutting down.", error=True)
            kernel = self._kernels.get(container_id)
            if kernel is None:
                kernel = KernelSandbox(folder, spec_manager=self._spec_manager, runtime_dir=self._runtime_dir)
                self._kernels[container_id] = kernel
        return kernel.run(code, timeout=timeout)

    def shutdown(self, container_id: str) -> None:
        """Stop the container's kernel, if it has one."""
        with self._lock:
            kernel = self._kernels.pop(container_id, None)
        if kernel is not None:
            kernel.shutdown()

    def shutdown_all(self) -> None:
        """Stop every kernel; later calls are refused."""
        with self._lock:
            self._closed = True
            kernels = list(self._kernels.values())
            self._kernels.clear()
        for kernel in kernels:
            kernel.shutdown()

    def kernel_pids(self) -> list[int]:
        """Return the process ids of the kernels now running."""
        with self._lock:
            kernels = list(self._kernels.values())
        return [pid for pid in (k.pid for k in kernels) if pid is not None]
