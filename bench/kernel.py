"""A real Jupyter kernel for a case to run code in, the way a notebook does (displays go over ZMQ)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.harness import BenchError, child_env


class KernelSession:
    """A started ``python3`` kernel and its blocking client; :meth:`run` returns what the code printed."""

    def __init__(self, manager: Any, client: Any) -> None:
        """Wrap a started kernel ``manager`` and its connected blocking ``client``."""
        self.manager = manager
        self.client = client
        self.display_messages = 0

    def run(self, code: str, *, timeout: float = 600.0) -> str:
        """Execute ``code``; return its stdout, raise :class:`BenchError` on an exception in the kernel."""
        stdout: list[str] = []
        errors: list[str] = []

        def hook(message: dict[str, Any]) -> None:
            kind, content = message["msg_type"], message["content"]
            if kind == "stream" and content.get("name") == "stdout":
                stdout.append(content["text"])
            elif kind in {"display_data", "update_display_data"}:
                self.display_messages += 1
            elif kind == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")

        reply = self.client.execute_interactive(code, output_hook=hook, timeout=timeout, store_history=False)
        if errors or reply["content"]["status"] != "ok":
            raise BenchError(f"the kernel raised {errors[0] if errors else reply['content'].get('ename')}")
        return "".join(stdout)

    def run_json(self, code: str, *, timeout: float = 600.0) -> Any:
        """Execute ``code`` and parse the last line it printed as JSON."""
        lines = self.run(code, timeout=timeout).strip().splitlines()
        if not lines:
            raise BenchError("the kernel printed nothing")
        return json.loads(lines[-1])


@contextmanager
def kernel(*, env: dict[str, str] | None = None) -> Iterator[KernelSession]:
    """Start a ``python3`` kernel in this environment (plus ``env``), and shut it down afterwards."""
    from jupyter_client.manager import start_new_kernel

    kernel_env = child_env()
    kernel_env.update(env or {})
    manager, client = start_new_kernel(kernel_name="python3", env=kernel_env, cwd=str(Path.cwd()))
    try:
        yield KernelSession(manager, client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
