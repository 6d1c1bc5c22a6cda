"""``manifest.json``: what was saved in an output folder, where it came from, and how it was found.

One entry per saved artifact, keyed by (container id or ``files``, file id), or by SHA-256 for bytes that
came inline. Re-runs and concurrent writers merge into the file instead of replacing it: the manifest is
re-read under a lock file, merged, written to a temporary file and renamed over the old one, so it is never
seen half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["MANIFEST_NAME", "Manifest", "ManifestEntry"]

MANIFEST_NAME = "manifest.json"
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
    """The manifest of one output folder."""

    def __init__(self, directory: Path | str) -> None:
        """Read the manifest in ``directory`` (an absent or unreadable one counts as empty)."""
        self.path = Path(directory) / MANIFEST_NAME
        self.entries: dict[tuple[str, str], ManifestEntry] = {}
        self._load_into(self.entries)

    def _load_into(self, entries: dict[tuple[str, str], ManifestEntry]) -> None:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        for data in document.get("artifacts", []) if isinstance(document, dict) else []:
            if isinstance(data, dict) and data.get("path") and data.get("sha256"):
                try:
                    entry = ManifestEntry.from_dict(data)
                except TypeError:
                    continue
                entries[entry.key] = entry

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

        Intact means present with the recorded size and SHA-256, so a re-run can skip the download.
        """
        from openai_artifacts_nb.naming import sha256_of_file

        entry = self.entries.get(key)
        if entry is None:
            return None
        path = self.path.parent / entry.path
        try:
            if not path.is_file() or path.stat().st_size != entry.bytes:
                return None
        except OSError:
            return None
        return (entry, path) if sha256_of_file(path) == entry.sha256 else None

    def update(self, new_entries: Iterable[ManifestEntry]) -> None:
        """Merge ``new_entries`` into the manifest on disk and write it atomically.

        Entries for the same artifact are replaced, keeping the earlier ``found_by`` ways too, and the
        ``source_id`` of the first save: the response that made a file stays its source when a later one
        refers to it again."""
        with _locked(self.path):
            merged: dict[tuple[str, str], ManifestEntry] = {}
            self._load_into(merged)
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
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            temporary.replace(self.path)
            self.entries = merged
