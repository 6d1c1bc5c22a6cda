"""Safe file names for hostile input, and a folder that never overwrites a different file.

The model chooses the names of the files it makes, so every name is treated as hostile: :func:`safe_filename`
keeps only a plain, portable base name. :class:`ArtifactFolder` then moves a finished download into the output
folder under that name, numbering it ``name (1).ext`` when a different file already holds the name, and
reusing the existing file when the bytes are the same (so re-running adds nothing).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import threading
import unicodedata
from pathlib import Path, PurePosixPath

__all__ = [
    "MAX_NAME_BYTES",
    "ArtifactFolder",
    "check_output_folder",
    "numbered_name",
    "part_path",
    "safe_filename",
    "sha256_of_file",
    "split_extension",
    "sweep_stale_parts",
]

#: Most file systems cap a name at 255 bytes; leave room for `` (999)`` and temporary suffixes.
MAX_NAME_BYTES = 200

_FALLBACK_NAME = "file"
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{n}" for n in "123456789¹²³"}
    | {f"LPT{n}" for n in "123456789¹²³"}
)
# Characters that Windows, macOS or Markdown-unfriendly shells refuse in a name; replaced, not dropped,
# so two names differing only there stay distinguishable.
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_EXTENSION = re.compile(r"^(?P<stem>.+?)(?P<ext>(\.[A-Za-z0-9]{1,12}){1,2})$")
_NUMBERED = re.compile(r"^(?P<stem>.*) \((?P<n>\d+)\)$")


def split_extension(name: str) -> tuple[str, str]:
    """Split ``name`` into stem and extension; ``.tar.gz``-style double extensions stay together."""
    match = _EXTENSION.match(name)
    if match is None or match.group("stem").endswith("."):
        return name, ""
    stem, ext = match.group("stem"), match.group("ext")
    # Only keep a double extension when the inner part looks like a real one (``data.tar.gz``),
    # not a version or a sentence (``report.v2.csv`` -> ``report.v2`` + ``.csv``).
    parts = ext.split(".")[1:]
    if len(parts) == 2 and parts[0].lower() not in {"tar", "nii", "ps", "svg"}:
        return stem + "." + parts[0], "." + parts[1]
    return stem, ext


def _truncate_utf8(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def safe_filename(
    name: str | None, *, fallback: str = _FALLBACK_NAME, max_bytes: int = MAX_NAME_BYTES
) -> str:
    """Return a plain, portable base name for ``name``.

    Directory parts, traversal, absolute paths, drive letters, control and format characters, characters
    Windows forbids, leading and trailing dots and spaces and reserved device names (``CON``, ``NUL.txt``)
    are removed or replaced; Unicode is NFC-normalised and the name is cut to ``max_bytes`` UTF-8 bytes,
    keeping its extension. An empty result becomes ``fallback``.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/")
    text = text.rsplit("/", 1)[-1]
    text = "".join(
        " " if char in "\t\n\r" else char
        for char in text
        if unicodedata.category(char) not in {"Cc", "Cf", "Cs", "Co", "Cn"} or char in "\t\n\r"
    )
    text = _FORBIDDEN.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip(" .")
    if not text:
        text = fallback
    stem, ext = split_extension(text)
    if stem.split(".", 1)[0].strip().upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    if len((stem + ext).encode("utf-8")) > max_bytes:
        ext = _truncate_utf8(ext, max_bytes // 4)
        stem = _truncate_utf8(stem, max_bytes - len(ext.encode("utf-8"))).rstrip(" .") or fallback
    result = unicodedata.normalize("NFC", stem + ext)
    return result if result not in {".", ".."} else fallback


def numbered_name(name: str, number: int) -> str:
    """Return ``name`` with `` (number)`` before its extension: ``plot.png`` -> ``plot (2).png``."""
    if number <= 0:
        return name
    stem, ext = split_extension(name)
    match = _NUMBERED.match(stem)
    if match is not None:
        stem = match.group("stem")
    return f"{stem} ({number}){ext}"


def sha256_of_file(path: Path, *, chunk_size: int = 1 << 20) -> str:
    """Return the hex SHA-256 of the file at ``path``, read in chunks (never whole into memory)."""
    digest = hashlib.sha256()
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(path, flags), "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def part_path(directory: Path, hint: str) -> Path:
    """Return a fresh path in ``directory`` for a download in progress: ``.<safe hint>.<pid>-<random>.part``.

    Hidden and with its own suffix, so a half-written file is never taken for a saved one; the process id
    lets a later run tell a killed process's leftovers (:func:`sweep_stale_parts`) from live downloads.
    """
    import secrets

    stem = _truncate_utf8(safe_filename(hint), 60)
    return directory / f".{stem}.{os.getpid()}-{secrets.token_hex(6)}.part"


_PART = re.compile(r"^\..*\.(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.part$")
#: A ``.part`` file untouched this long is a leftover whatever its process id says (ids are reused).
STALE_PART_SECONDS = 24 * 3600


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process, or we cannot tell: leave its file alone
    return True


def sweep_stale_parts(directory: Path, *, max_age: float = STALE_PART_SECONDS) -> list[Path]:
    """Remove the ``.part`` files a killed process left in ``directory``; return what was removed.

    A ``.part`` whose process is gone, or that nobody has written for ``max_age`` seconds, is stale; those of
    live processes (this one included) are left alone. Symlinks are never followed (``unlink`` removes the
    link itself).
    """
    import time

    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _PART.match(entry.name)
        if match is None:
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid = match.group("pid")
        if age < max_age and ((pid is None and age < 3600) or (pid is not None and _alive(int(pid)))):
            continue
        with contextlib.suppress(OSError):
            Path(entry.path).unlink()
            removed.append(Path(entry.path))
    return removed


def check_output_folder(directory: str | os.PathLike[str], *, create: bool = True) -> Path:
    """Prove ``directory`` can hold files (creating it unless ``create`` is false); return it resolved.

    A probe file is created, written, flushed to disk (``fsync``) and removed, so a read-only, full or
    forbidden folder (or a file where the folder should be) is found before anything is paid for. Without
    ``create`` a missing folder is not made: the probe goes in its nearest existing parent, which must be a
    folder (a turn that fails then leaves nothing behind). Raises
    :class:`~openai_artifacts_nb.errors.ConfigurationError` (one line); no probe is left behind.
    """
    import secrets

    from openai_artifacts_nb.errors import ConfigurationError

    path = Path(directory).expanduser()
    where = path
    if not create:
        while not os.path.lexists(where) and where.parent != where:
            where = where.parent
    probe = where / f".openai-artifacts-probe.{os.getpid()}-{secrets.token_hex(6)}"
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not where.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{where} is not a folder")
        descriptor = os.open(
            probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
        try:
            os.write(descriptor, b"\0" * 4096)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigurationError(f"cannot use {os.fspath(path)!r} as the output folder: {reason}") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return path.resolve()


class ArtifactFolder:
    """The output folder: places finished downloads under safe, unique names.

    Placing is atomic (a hard link or an exclusive rename from a temporary file in the same folder), so no
    reader ever sees a half-written file under a final name, and two different files never overwrite each
    other, even when several threads place files at once.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        """Use ``directory`` (created if missing) as the output folder."""
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def temporary_path(self, hint: str) -> Path:
        """Return a fresh, unused path for an in-progress download (a hidden ``.part`` file)."""
        return part_path(self.directory, hint)

    def contains(self, path: Path) -> bool:
        """Return whether ``path`` lies inside this folder (after resolving links)."""
        try:
            path.resolve().relative_to(self.directory)
        except ValueError:
            return False
        return True

    def place(
        self, temporary: Path, name: str, sha256: str, *, max_candidates: int = 10_000
    ) -> tuple[Path, bool]:
        """Move ``temporary`` into the folder under ``name`` (made safe) or ``name (n)``.

        Returns the final path and whether an existing file with the same bytes was reused (``temporary``
        is then deleted). Raises ``FileExistsError`` when no free name is found within ``max_candidates``.
        """
        base = safe_filename(name)
        size = temporary.stat().st_size
        with self._lock:
            for number in range(max_candidates):
                candidate = self.directory / numbered_name(base, number)
                try:
                    info = candidate.lstat()
                except FileNotFoundError:
                    info = None
                if info is not None:
                    # Only a regular file of ours is reused, never a symlink (whatever it points at); hash it
                    # only when its size could match: a big file is read once, at most.
                    same_size = stat.S_ISREG(info.st_mode) and info.st_size == size
                    if same_size and sha256_of_file(candidate) == sha256:
                        temporary.unlink(missing_ok=True)
                        return candidate, True
                    continue
                if self._claim(temporary, candidate):
                    return candidate, False
        temporary.unlink(missing_ok=True)
        raise FileExistsError(f"no free name for {base!r} in {self.directory}")

    @staticmethod
    def _claim(temporary: Path, candidate: Path) -> bool:
        """Give ``temporary`` the name ``candidate`` unless something else took it first."""
        try:
            os.link(temporary, candidate)
        except FileExistsError:
            return False
        except OSError:
            # No hard links here (some network or FAT file systems): the in-process lock still guards us.
            if os.path.lexists(candidate):
                return False
            temporary.replace(candidate)
            return True
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        return True

    def relative_name(self, path: Path) -> str:
        """Return ``path`` relative to this folder, POSIX style."""
        return PurePosixPath(path.resolve().relative_to(self.directory)).as_posix()
