"""Confining a container's kernel with bubblewrap: what it sees, what it may use, the command that does it.

Each confined kernel runs in its own ``bwrap`` sandbox that starts from an empty root and adds only:

- the interpreter and its libraries read-only (``/usr``, the Python installation, the virtualenv);
- the container's folder, writable, at ``/mnt/data`` (also the working directory);
- a private ``/tmp`` (the kernel's home), ``/proc`` of its own process namespace and a minimal ``/dev``;
- one folder of its own for the kernel's IPC sockets (the emulator speaks ZMQ to it over unix sockets,
  since the sandbox has no network at all, not even the host's loopback).

Run as root, one confined fork server holds the emulator's folder and may mount; each kernel it forks takes
mount and network namespaces of its own, binds only its container at ``/mnt/data``, detaches the rest, gets a
private ``/tmp`` and a ``/proc`` that shows only its own processes, then drops to a user id of its own
(:data:`FIRST_UID` upward), which clears every capability (see ``kernel_zygote._enter_jail``). Kernels so
start in hundredths of a second and share the preloaded libraries. Without root, each kernel gets a bwrap
of its own (``--unshare-user``) and a short preamble sets its limits before ipykernel starts.

Limits either way: ``RLIMIT_AS`` (the container's ``memory_limit`` plus :data:`ADDRESS_SPACE_HEADROOM` for
the interpreter's own mappings; the emulator also watches the kernel's resident memory against the exact
limit), ``RLIMIT_NPROC`` (enforced because the kernel's uid is its own; without root, counted on top of
what the user already runs), no core files, ``no_new_privs``. A distinct uid also keeps every other
container's folder (mode 0700, owned by its own uid) closed even to a process that escaped its mounts.

:func:`find_bwrap` says whether confinement is possible here; :func:`probe` proves it works (user namespaces
can be switched off).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MEMORY_LIMITS = {"1g": 1 << 30, "4g": 4 << 30, "16g": 16 << 30, "64g": 64 << 30}
DEFAULT_MEMORY_LIMIT = "1g"
ADDRESS_SPACE_HEADROOM = 1 << 30
PROCESS_LIMIT = 256
FIRST_UID = 2_000_000
SANDBOX_DATA = "/mnt/data"
SANDBOX_RUNTIME = "/run/kernel"
SANDBOX_HOME = "/tmp"
ZYGOTE_ROOT = "/emulator"

# Runs inside the sandbox before ipykernel: limits, no privilege regain, then the kernel's own uid.
# argv: memory bytes, process limit, uid (-1: keep), connection file.
PREAMBLE = """\
import ctypes, os, resource, sys
memory, processes, uid, connection = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) != 0:
    raise SystemExit("cannot set no_new_privs")
if uid >= 0:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
del ctypes, os, resource, memory, processes, uid
sys.argv = ["ipykernel", "-f", connection, "--HistoryManager.enabled=False"]
from ipykernel.kernelapp import launch_new_instance
launch_new_instance()
"""


def memory_bytes(memory_limit: str) -> int:
    """Return the bytes of an API ``memory_limit`` (``"1g"`` … ``"64g"``); unknown values mean 1g."""
    return MEMORY_LIMITS.get(memory_limit, MEMORY_LIMITS[DEFAULT_MEMORY_LIMIT])


def find_bwrap() -> str | None:
    """Return the path of ``bwrap`` (Linux only), or None."""
    if sys.platform != "linux":
        return None
    return shutil.which("bwrap")


def _python_roots() -> list[Path]:
    """Return the folders the interpreter and its installed packages live in (to bind read-only)."""
    roots: list[Path] = []
    for candidate in (sys.base_prefix, sys.prefix, Path(sys.executable).resolve().parent.parent):
        path = Path(candidate).resolve()
        if path == Path("/usr") or any(path == r or path.is_relative_to(r) for r in roots):
            continue
        roots = [r for r in roots if not r.is_relative_to(path)]
        roots.append(path)
    return roots


@dataclass(frozen=True)
class KernelJail:
    """Where one confined kernel's pieces are on the host, and the limits it runs under."""

    data_dir: Path
    runtime_dir: Path
    connection_file: str
    memory_limit: str
    uid: int | None
    mpl_cache: Path | None = None


class Bubblewrap:
    """Builds the ``bwrap`` command line of a confined kernel."""

    def __init__(self, bwrap: str) -> None:
        """Use the ``bwrap`` binary at ``bwrap``."""
        self.bwrap = bwrap
        self.as_root = os.geteuid() == 0
        self._roots = _python_roots()
        # Each kernel gets a fresh tmpfs at /tmp, so an interpreter or venv that lives under /tmp on the host
        # (a CI checkout, say) is seen at /opt/python-N instead; a venv found from its executable's path
        # works from anywhere.
        self._mounts = [
            (root, Path(f"/opt/python-{index}") if root.is_relative_to(SANDBOX_HOME) else root)
            for index, root in enumerate(self._roots)
        ]
        self.python = str(self._inside(Path(sys.executable)))

    def _inside(self, path: Path) -> Path:
        """Where ``path`` (under one of the interpreter's folders) is seen inside the sandbox."""
        for root, target in self._mounts:
            if path.is_relative_to(root):
                return target / path.relative_to(root)
        return path

    @property
    def forks(self) -> bool:
        """Whether kernels are forked from one confined fork server (needs root), else one bwrap each."""
        return self.as_root

    def _system(self, *, mpl_cache: Path | None, caps: list[str]) -> list[str]:
        """The part every sandbox shares: namespaces, the read-only system, /proc, /dev, a private /tmp."""
        args = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net"]
        args += ["--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
        if self.as_root:
            for cap in caps:
                args += ["--cap-add", cap]
        else:
            args += ["--unshare-user"]
        args += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/" + name)
            if path.is_symlink():
                args += ["--symlink", str(path.readlink()), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        # The private /tmp and /dev come before the interpreter's binds: an interpreter or venv that lives
        # under /tmp (a CI checkout, say) must be bound on top of the tmpfs, not hidden beneath it.
        args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm"]
        args += ["--perms", "1777", "--tmpfs", SANDBOX_HOME]
        parents = {str(p) for _, target in self._mounts for p in target.parents if p != Path("/")}
        parents |= {"/mnt", "/run", "/opt"}
        parents.discard(SANDBOX_HOME)  # the tmpfs above, world-writable as a /tmp must be
        for parent in sorted(parents, key=lambda p: p.count("/")):
            # bwrap would make these 0700 (root-only); the kernel's own uid must pass through them.
            args += ["--perms", "0755", "--dir", parent]
        for root, target in self._mounts:
            args += ["--ro-bind", str(root), str(target)]
        for name in ("/etc/fonts", "/etc/localtime", "/etc/mime.types", "/etc/ld.so.cache"):
            if Path(name).exists():
                args += ["--ro-bind", name, name]
        if mpl_cache is not None and mpl_cache.is_dir():
            args += ["--perms", "1777", "--dir", f"{SANDBOX_HOME}/matplotlib"]
            for cached in sorted(mpl_cache.glob("*.json")):
                args += ["--ro-bind", str(cached), f"{SANDBOX_HOME}/matplotlib/{cached.name}"]
        args += ["--clearenv"]
        for key, value in sandbox_environment(python=self.python).items():
            args += ["--setenv", key, value]
        return args

    def argv(self, jail: KernelJail) -> list[str]:
        """Return the command that starts one kernel confined as ``jail`` describes (a bwrap of its own)."""
        # As root there is no user namespace: the preamble drops to the kernel's own real uid.
        args = self._system(mpl_cache=jail.mpl_cache, caps=["CAP_SETUID", "CAP_SETGID"])
        args += ["--bind", str(jail.data_dir), SANDBOX_DATA, "--bind", str(jail.runtime_dir), SANDBOX_RUNTIME]
        args += ["--chdir", SANDBOX_DATA]
        memory = memory_bytes(jail.memory_limit) + ADDRESS_SPACE_HEADROOM
        processes = PROCESS_LIMIT if jail.uid is not None else _user_tasks() + PROCESS_LIMIT
        uid = -1 if jail.uid is None else jail.uid
        args += [self.python, "-c", PREAMBLE, str(memory), str(processes), str(uid), jail.connection_file]
        return args

    def fork_server_argv(self, *, emulator_root: Path, zygote: Path, mpl_cache: Path | None) -> list[str]:
        """Return the command of the confined fork server (root only).

        It sees the emulator's whole folder at :data:`ZYGOTE_ROOT` and may mount (``CAP_SYS_ADMIN``) and
        change user: each forked child narrows the view to its container, detaches that folder, and drops
        to its own uid, which clears every capability, before the kernel starts.
        """
        args = self._system(mpl_cache=mpl_cache, caps=["CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID"])
        args += ["--perms", "0755", "--dir", SANDBOX_DATA, "--perms", "0755", "--dir", SANDBOX_RUNTIME]
        args += ["--bind", str(emulator_root), ZYGOTE_ROOT]
        args += ["--ro-bind", str(zygote), "/opt/kernel_zygote.py", "--chdir", "/"]
        args += [self.python, "/opt/kernel_zygote.py"]
        return args

    def jail(self, jail: KernelJail, *, emulator_root: Path) -> dict[str, object]:
        """Return the fork server's ``jail`` request for ``jail`` (paths as the fork server sees them)."""

        def inside(path: Path) -> str:
            return f"{ZYGOTE_ROOT}/{path.relative_to(emulator_root).as_posix()}"

        return {
            "data": inside(jail.data_dir),
            "runtime": inside(jail.runtime_dir),
            "hide": [ZYGOTE_ROOT],
            "uid": -1 if jail.uid is None else jail.uid,
            "memory": memory_bytes(jail.memory_limit) + ADDRESS_SPACE_HEADROOM,
            "processes": PROCESS_LIMIT,
        }


def sandbox_environment(*, python: str | None = None) -> dict[str, str]:
    """Return the whole environment of a confined kernel (nothing of the host's is passed on).

    ``python`` is the interpreter's path as the sandbox sees it (its folder leads ``PATH``).
    """
    return {
        "PATH": f"{Path(python or sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": SANDBOX_HOME,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": f"{SANDBOX_HOME}/matplotlib",
        "JUPYTER_RUNTIME_DIR": f"{SANDBOX_HOME}/jupyter",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


def _user_tasks() -> int:
    """Return how many tasks (threads) this user runs now: RLIMIT_NPROC counts all of them, everywhere."""
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count


def build_mpl_cache(folder: Path) -> Path | None:
    """Build matplotlib's font list once into ``folder`` (each sandbox reads it instead of rebuilding it)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**sandbox_environment(), "MPLCONFIGDIR": str(folder), "MPLBACKEND": "agg"}
    try:
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    folder.chmod(0o755)
    return folder


@functools.lru_cache(maxsize=1)
def probe() -> str | None:
    """Return None if a confined process can start here, else why not (checked once per process)."""
    bwrap = find_bwrap()
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed" if sys.platform == "linux" else "not on Linux"
    wrap = Bubblewrap(bwrap)
    args = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-net"]
    args += ["--unshare-user"] if not wrap.as_root else []
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "bin"):
        path = Path("/" + name)
        if path.is_symlink():
            args += ["--symlink", str(path.readlink()), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for root in _python_roots():
        args += ["--ro-bind", str(root), str(root)]
    args += ["--proc", "/proc", "--dev", "/dev", sys.executable, "-c", "print('ok')"]
    try:
        done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        return f"bwrap could not run: {error}"
    if done.returncode != 0 or done.stdout.strip() != "ok":
        return f"bwrap could not start a sandbox: {done.stderr.strip()[:300]}"
    return None
