"""A fork server for kernels: import ipykernel and common libraries once, then fork a kernel per request.

Run as ``python -m openai_artifacts_nb.local.kernel_zygote`` by :mod:`~openai_artifacts_nb.local.kernels`.
Starting a fresh ipykernel costs most of a CPU-second in imports; a forked child of this process starts in a
few hundredths, which is what lets twenty containers start at once on a small machine.

Protocol, one JSON object per line: the parent writes ``{"connection_file", "cwd", "env"}`` on stdin and
reads ``{"pid": n}`` back on stdout. A request may add ``"jail"`` (see :func:`_enter_jail`): the server then
runs inside a bubblewrap sandbox of its own, and each child narrows it to one container before the kernel
starts (its own mount and network namespaces, only its folder at ``/mnt/data``, a private ``/tmp``, the
limits, its own uid). This file imports nothing of its package, so the sandbox can run it by path.
 When stdin closes (the emulator stopped or died) every kernel forked
here is killed and the server exits. Each kernel also watches this process (``JPY_PARENT_PID``) and exits if
it disappears, so no kernel outlives the emulator.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import random
import select
import signal
import sys
from pathlib import Path
from typing import Any

# Modules every kernel needs, imported before the first fork.
ESSENTIAL = ("ipykernel.kernelapp", "ipykernel.ipkernel", "IPython")
# Modules typical prompt code needs, imported one by one while no fork is asked for, so the first kernel is
# not kept waiting; kernels forked afterwards share them copy-on-write. Not matplotlib's inline backend: it
# must be imported after the kernel's shell exists to hook into it.
OPTIONAL = ("numpy", "matplotlib", "PIL.Image", "matplotlib.figure", "pandas")

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWIPC = 0x08000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE, _MS_BIND = 2, 4, 8, 16384, 1 << 18, 4096
_MNT_DETACH = 2
_PR_SET_NO_NEW_PRIVS = 38


def _call(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _enter_jail(jail: dict[str, Any]) -> None:
    """In a forked child: keep only this container's folder, drop network, IPC and privileges, set limits.

    ``jail``: ``data`` and ``runtime`` (its folders as this server sees them), ``hide`` (the mounts holding
    every container, detached here), ``uid`` (-1: keep), ``memory`` (bytes of address space), ``processes``.
    """
    import resource

    libc = ctypes.CDLL(None, use_errno=True)
    _call(libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC), "unshare")
    _call(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "private mounts")
    _call(libc.mount(jail["data"].encode(), b"/mnt/data", None, _MS_BIND | _MS_REC, None), "bind /mnt/data")
    _call(libc.mount(jail["runtime"].encode(), b"/run/kernel", None, _MS_BIND, None), "bind /run/kernel")
    for hidden in jail["hide"]:
        _call(libc.umount2(hidden.encode(), _MNT_DETACH), f"detach {hidden}")
    flags = _MS_NOSUID | _MS_NODEV
    cache = Path(os.environ.get("MPLCONFIGDIR") or "/nonexistent")
    # matplotlib's font list survives into the fresh /tmp, so the kernel need not rebuild it
    kept = {entry.name: entry.read_bytes() for entry in cache.iterdir()} if cache.is_dir() else {}
    for tmp in (b"/tmp", b"/dev/shm"):
        _call(libc.mount(b"tmpfs", tmp, b"tmpfs", flags, b"mode=1777"), "private tmp")
    if kept:
        cache.mkdir(parents=True, exist_ok=True)
        cache.chmod(0o1777)
        for name, data in kept.items():
            (cache / name).write_bytes(data)
    # Only this kernel's own processes in /proc: the others run as other users and stay invisible.
    _call(libc.mount(b"proc", b"/proc", b"proc", flags | _MS_NOEXEC, b"hidepid=2"), "private /proc")
    memory, processes, uid = int(jail["memory"]), int(jail["processes"]), int(jail["uid"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _call(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if uid >= 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)


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
    if request.get("jail"):
        _enter_jail(request["jail"])
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
