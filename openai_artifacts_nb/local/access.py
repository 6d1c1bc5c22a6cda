"""Who may talk to the emulator: API keys as projects (:class:`KeyRing`) and the Host/Origin check.

A class server reads its keys from a file, one a line (``#`` comments and blank lines ignored), or writes
fresh ones (``--keys auto --students 30``). Each key is a project of its own; an unknown key gets upstream's
401 ``invalid_api_key``. Without keys any bearer token is accepted and everything is one project.

Every request, keyed or not, must name an allowed ``Host`` (the loopback names, the address the server is
bound to, the machine's own names when bound to all interfaces, and any ``--allow-host``), with the
server's port; an ``Origin``, when a browser sends one, must be such a host too. A web page elsewhere can
then not reach the emulator by DNS rebinding or a cross-site request.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
ALL_INTERFACES = frozenset({"0.0.0.0", "::", ""})


class KeyRing:
    """The API keys of a class server, each its own project."""

    def __init__(self, keys: Iterable[str]) -> None:
        """Give each distinct key, in order, a project named ``project-1``, ``project-2``, …."""
        self._projects: dict[str, str] = {}
        for key in keys:
            if key not in self._projects:
                self._projects[key] = f"project-{len(self._projects) + 1}"
        if not self._projects:
            raise ValueError("no API keys given")

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """Read one key a line from ``path`` (blank lines and ``#`` comments are skipped)."""
        lines = path.read_text(encoding="utf-8").splitlines()
        keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if any(any(c.isspace() for c in key) for key in keys):
            raise ValueError(f"{path}: a key may not contain spaces")
        return cls(keys)

    @classmethod
    def generate(cls, path: Path, *, count: int) -> KeyRing:
        """Write ``count`` fresh keys to ``path`` (mode 0600, one a line) and return them as a key ring."""
        if count < 1:
            raise ValueError("the number of students must be at least 1")
        keys = [f"sk-class-{secrets.token_urlsafe(18)}" for _ in range(count)]
        path.touch(mode=0o600)
        path.write_text("".join(key + "\n" for key in keys), encoding="utf-8")
        return cls(keys)

    def __len__(self) -> int:
        """The number of keys (projects)."""
        return len(self._projects)

    def project_of(self, key: str) -> str | None:
        """Return the project of ``key``, or None if it is not one of the keys."""
        found = None
        for known, project in self._projects.items():
            # Compare every key in constant time, so timing does not tell how much of a guess was right.
            if secrets.compare_digest(known.encode(), key.encode()):
                found = project
        return found


AUTO_KEYS_FILE = "class-keys.txt"


def load_keys(spec: str | None, *, students: int, folder: Path | None = None) -> KeyRing | None:
    """Return the key ring ``--keys`` asks for: None (no keys), a file's keys, or ``auto``'s fresh ones.

    ``auto`` writes :data:`AUTO_KEYS_FILE` in ``folder`` (default: the current folder) and never overwrites
    it: pass that file to ``--keys`` to keep the same keys.
    """
    if spec is None:
        return None
    if spec != "auto":
        return KeyRing.from_file(Path(spec))
    path = (folder or Path.cwd()) / AUTO_KEYS_FILE
    if path.exists():
        raise ValueError(f"{path} exists already; reuse it with --keys {path} or remove it")
    ring = KeyRing.generate(path, count=students)
    return ring


def mask_key(key: str) -> str:
    """Return ``key`` the way upstream echoes an incorrect one: its ends kept, the middle starred."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


def _split_host(value: str) -> tuple[str, int | None] | None:
    """Split a ``Host`` header (``name``, ``name:port``, ``[v6]:port``) into a lowercase name and port."""
    try:
        parts = urlsplit("//" + value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.hostname is None or parts.username is not None or parts.path:
        return None
    return parts.hostname.lower(), port


class HostCheck:
    """The names a request's ``Host`` (and ``Origin``) may use, for a server bound to ``host``."""

    def __init__(self, host: str, *, extra: Iterable[str] = ()) -> None:
        """Allow the loopback names, ``host`` itself, the machine's names if ``host`` is every interface."""
        allowed = set(LOOPBACK_HOSTS)
        allowed.add(host.strip("[]").lower())
        if host in ALL_INTERFACES:
            allowed |= machine_names()
        allowed |= {name.strip().strip("[]").lower() for name in extra if name.strip()}
        allowed -= ALL_INTERFACES
        self.allowed = frozenset(allowed)
        self.port: int | None = None

    def host_ok(self, value: str | None) -> bool:
        """Whether a ``Host`` header names an allowed host with this server's port."""
        if not value:
            return False
        split = _split_host(value)
        if split is None:
            return False
        name, port = split
        return name in self.allowed and (port or 80) == self.port

    def origin_ok(self, value: str | None) -> bool:
        """Whether an ``Origin`` header (absent is fine) is an allowed host with this server's port."""
        if value is None:
            return True
        try:
            parts = urlsplit(value.strip())
            port = parts.port
        except ValueError:
            return False
        if parts.scheme not in {"http", "https"} or parts.hostname is None:
            return False
        default = 443 if parts.scheme == "https" else 80
        return parts.hostname.lower() in self.allowed and (port or default) == self.port


def machine_names() -> set[str]:
    """Return this machine's host name, its fully qualified name, their addresses and every interface's."""
    import psutil

    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    for addresses in psutil.net_if_addrs().values():
        ips = [a.address for a in addresses if a.family in (socket.AF_INET, socket.AF_INET6)]
        names |= {ip.split("%")[0].lower() for ip in ips}
    for name in list(names):
        try:
            _, aliases, addresses = socket.gethostbyname_ex(name)
        except OSError:
            continue
        names |= {alias.lower() for alias in aliases} | set(addresses)
    return {name for name in names if name}
