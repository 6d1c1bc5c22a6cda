"""A fork server for kernels: import ipykernel and common libraries once, then fork a kernel per request.

Run as ``python -m openai_artifacts_nb.local.kernel_zygote`` by :mod:`~openai_artifacts_nb.local.kernels`.
Starting a fresh ipykernel costs most of a CPU-second in imports; a forked child of this process starts in a
few hundredths, which is what lets twenty containers start at once on a small machine.

Protocol, one JSON object per line: the parent writes ``{"connection_file", "cwd", "env"}`` on stdin and
reads ``{"pid": n}`` back on stdout. When stdin closes (the emulator stopped or died) every kernel forked
here is killed and the server exits. Each kernel also watches this process (``JPY_PARENT_PID``) and exits if
it disappears, so no kernel outlives the emulator.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import random
import select
import signal
import sys
from typing import Any

# Modules every kernel needs, imported before the first fork.
ESSENTIAL = ("ipykernel.kernelapp", "ipykernel.ipkernel", "IPython")
# Modules typical prompt code needs, imported one by one while no fork is asked for, so the first kernel is
# not kept waiting; kernels forked afterwards share them copy-on-write. Not matplotlib's inline backend: it
# must be imported after the kernel's shell exists to hook into it.
OPTIONAL = ("numpy", "matplotlib", "PIL.Image", "matplotlib.figure")


def _load(name: str) -> None:
    with contextlib.suppress(ImportError):
        importlib.import_module(name)


def _reap(_signum: int = 0, _frame: Any = None) -> None:
    """Collect exited kernels so they never linger as zombies."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_kernel(request: dict[str, Any], server_pid: int) -> None:
    """In the forked child: detach, take the container's folder and environment, run ipykernel."""
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    from ipykernel.kernelapp import IPKernelApp

    # parent_handle's default was read from the environment when ipykernel was imported here, before the
    # fork, so it is passed explicitly: the kernel then exits as soon as this server is gone.
    IPKernelApp.launch_instance(
        argv=[
            "-f",
            request["connection_file"],
            "--HistoryManager.enabled=False",
            f"--IPKernelApp.parent_handle={server_pid}",
        ]
    )


def _next_request(pending: list[str]) -> str:
    """Return the next request line ('' at end of input), preloading optional modules while waiting."""
    while pending and not select.select([sys.stdin], [], [], 0)[0]:
        _load(pending.pop(0))
    return sys.stdin.readline()


def main() -> int:
    """Serve fork requests on stdin until it closes."""
    for name in ESSENTIAL:
        _load(name)
    pending = list(OPTIONAL)
    server_pid = os.getpid()
    children: list[int] = []
    signal.signal(signal.SIGCHLD, _reap)
    while line := _next_request(pending):
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                _become_kernel(request, server_pid)
            finally:
                os._exit(0)
        children.append(pid)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap()
    return 0


if __name__ == "__main__":
    sys.exit(main())
