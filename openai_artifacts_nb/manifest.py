"""``.openai-artifacts/manifest.json``: what was saved in an output folder, from where, and how it was found.

One entry per saved artifact, keyed by (container id or ``files``, file id), or by SHA-256 for bytes that
came inline. Re-runs and concurrent writers merge into the file instead of replacing it: the manifest is
re-read under a lock file, merged, written to a temporary file and renamed over the old one, so it is never
seen half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["MANIFEST_NAME", "MANIFEST_PATH", "TOOL_DIR", "Manifest", "ManifestEntry", "write_atomically"]

#: The tool's own folder inside an output folder: every file the tool writes for itself lives here. The
#: model can never name a file like it (:func:`~openai_artifacts_nb.naming.safe_filename` drops leading dots).
TOOL_DIR = ".openai-artifacts"
MANIFEST_NAME = "manifest.json"
#: Where the manifest is, relative to the output folder.
MANIFEST_PATH = f"{TOOL_DIR}/{MANIFEST_NAME}"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ManifestEntry:
    """One saved artifact.

    ``path`` is the saved file's POSIX path relative to the output folder; ``found_by`` lists how the
    reference was found; ``source_id`` is the response, thread, container or file id fetched;
    ``saved_at`` is an ISO 8601 UTC time.
    """

    path: str
    sha256: str
    bytes: int
    mime_type: str
    found_by: list[str] = field(default_factory=list)
    source_id: str | None = None
    container_id: str | None = None
    file_id: str | None = None
    sandbox_path: str | None = None
    filename: str | None = None
    saved_at: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """Identity of the artifact: (container or ``files``, file id), or (``inline``, sha256)."""
        if self.file_id:
            return (self.container_id or "files", self.file_id)
        return ("inline", self.sha256)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestEntry:
        """Build an entry from its JSON form, ignoring unknown keys (written by a newer version)."""
        known = {item.name for item in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["found_by"] = list(values.get("found_by") or [])
        return cls(**values)


def utc_now() -> str:
    """Return the current time as ISO 8601 UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` + ``.lock`` (no-op where ``fcntl`` is missing, i.e. Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock_path = path.with_name(f".{path.name}.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class Manifest:
    """The manifest of one output folder, kept in its tool folder (``<folder>/.openai-artifacts/``).

    The tool's own files live there, out of the artifacts' namespace: a file the model names
    ``manifest.json`` is an artifact like any other and can never clobber or poison the manifest. A
    manifest left at the folder's top level by an earlier version is read once and moved in. A manifest
    that does not parse is kept aside (``manifest.corrupt-<time>.json``) and said so in :attr:`notes`, never
    silently overwritten.
    """

    def __init__(self, directory: Path | str) -> None:
        """Read the manifest of ``directory`` (an absent one counts as empty)."""
        self.directory = Path(directory)
        self.path = self.directory / TOOL_DIR / MANIFEST_NAME
        self.entries: dict[tuple[str, str], ManifestEntry] = {}
        #: One line per thing worth telling about the manifest itself (a corrupt one kept aside).
        self.notes: list[str] = []
        self._legacy: bytes | None = None
        self._load_into(self.entries)
        self._legacy_entries: dict[tuple[str, str], ManifestEntry] = (
            dict(self.entries) if self._legacy is not None else {}
        )

    def _read(self, path: Path) -> tuple[bytes | None, dict[str, Any] | None]:
        """The bytes at ``path`` (``None`` if absent) and its document if it is a manifest of ours."""
        try:
            if path.is_symlink() or not path.is_file():
                return (b"" if path.is_symlink() else None), None
            raw = path.read_bytes()
        except OSError:
            return None, None
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return raw, None
        ours = isinstance(document, dict) and isinstance(document.get("artifacts"), list)
        return raw, document if ours else None

    def _load_into(self, entries: dict[tuple[str, str], ManifestEntry], *, legacy: bool = True) -> bool:
        """Add the entries on disk to ``entries``; return False when the manifest there does not parse.

        The top-level manifest of an earlier version is read only when ``legacy`` (when the manifest is
        first opened, before any file of this run is placed: a model's ``manifest.json`` placed later is
        never taken for one).
        """
        raw, document = self._read(self.path)
        if raw is None:
            if not legacy:
                return True
            legacy_raw, old = self._read(self.directory / MANIFEST_NAME)
            if old is None or old.get("version") != _FORMAT_VERSION:
                return True
            self._legacy, document = legacy_raw, old
        if document is None:
            return False
        for data in document["artifacts"]:
            if (
                isinstance(data, dict)
                and isinstance(data.get("path"), str)
                and isinstance(data.get("sha256"), str)
            ):
                try:
                    entry = ManifestEntry.from_dict(data)
                except (TypeError, ValueError):
                    continue
                entries[entry.key] = entry
        return True

    def get(self, key: tuple[str, str]) -> ManifestEntry | None:
        """Return the entry for an artifact key, if one was saved before."""
        return self.entries.get(key)

    def known_files(self, *, container_id: str, source_id: str | None) -> list[ManifestEntry]:
        """The entries of files an earlier run saved from ``container_id`` while fetching ``source_id``."""
        return [
            entry
            for entry in self.entries.values()
            if entry.container_id == container_id and entry.file_id and entry.source_id == source_id
        ]

    def existing_file(self, key: tuple[str, str]) -> tuple[ManifestEntry, Path] | None:
        """Return the entry and its file when the artifact was saved before and the file is still intact.

        Intact means a regular file (never a symlink) inside the folder, with the recorded size and SHA-256,
        so a re-run can skip the download.
        """
        import stat

        from openai_artifacts_nb.naming import sha256_of_file

        entry = self.entries.get(key)
        if entry is None:
            return None
        relative = PurePosixPath(entry.path)
        if (
            relative.is_absolute()
            or not relative.parts
            or ".." in relative.parts
            or relative.parts[0] == TOOL_DIR
        ):
            return None
        path = self.directory.joinpath(*relative.parts)
        try:
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode) or info.st_size != entry.bytes:
                return None
            return (entry, path) if sha256_of_file(path) == entry.sha256 else None
        except OSError:
            return None

    def update(self, new_entries: Iterable[ManifestEntry]) -> None:
        """Merge ``new_entries`` into the manifest on disk and write it atomically.

        Entries for the same artifact are replaced, keeping the earlier ``found_by`` ways too, and the
        ``source_id`` of the first save: the response that made a file stays its source when a later one
        refers to it again. Raises ``OSError`` when it cannot be written (a full or read-only disk); no
        temporary file is left.
        """
        if self.path.parent.is_symlink():
            raise OSError(f"{self.path.parent} is a symlink, not the tool's own folder")
        self.path.parent.mkdir(exist_ok=True)
        with _locked(self.path):
            merged: dict[tuple[str, str], ManifestEntry] = {}
            if not self._load_into(merged, legacy=False):
                self._keep_aside()
            elif self._legacy is not None and not self.path.exists():
                merged.update(self._legacy_entries)
            for new in new_entries:
                previous = merged.get(new.key)
                if previous is not None:
                    ways = previous.found_by + [way for way in new.found_by if way not in previous.found_by]
                    source = previous.source_id or new.source_id
                    new = ManifestEntry(**{**asdict(new), "found_by": ways, "source_id": source})  # noqa: PLW2901
                merged[new.key] = new
            document = {
                "version": _FORMAT_VERSION,
                "artifacts": [asdict(entry) for entry in sorted(merged.values(), key=lambda item: item.path)],
            }
            text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
            write_atomically(self.path, text.encode("utf-8"))
            self.entries = merged
            self._retire_legacy()

    def _keep_aside(self) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"manifest.corrupt-{stamp}-{os.getpid()}.json")
        self.path.replace(aside)
        self.notes.append(
            f"the manifest {self.path} did not parse; it was kept aside as {aside.name} and a new one started"
        )

    def _retire_legacy(self) -> None:
        """Move a top-level manifest of an earlier version into the tool folder, once it has been merged."""
        if self._legacy is None:
            return
        legacy = self.directory / MANIFEST_NAME
        with contextlib.suppress(OSError):
            if not legacy.is_symlink() and legacy.read_bytes() == self._legacy:
                legacy.replace(self.path.with_name("manifest.v0.json"))
        self._legacy = None


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, replaced in one step.

    Never follows a symlink at ``path`` (the rename replaces the link itself) and, on any error (a full or
    read-only disk), removes the temporary file before the ``OSError`` propagates.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with temporary.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
