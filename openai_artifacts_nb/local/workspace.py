"""The container folder on disk: what changed during a code call, and safe copies into it.

Code in a container sees its folder as ``/mnt/data``. Before each call the folder is snapshotted; files that
are new or changed afterwards become container files. Hidden names and ``__pycache__`` are not outputs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import BinaryIO

SANDBOX_ROOT = "/mnt/data"
COPY_CHUNK = 1024 * 1024

Snapshot = dict[str, tuple[int, int]]


def snapshot(folder: Path) -> Snapshot:
    """Return ``{relative POSIX path: (size, mtime_ns)}`` for every visible file under ``folder``."""
    found: Snapshot = {}
    for directory, subdirs, names in os.walk(folder):
        subdirs[:] = [d for d in subdirs if not d.startswith(".") and d != "__pycache__"]
        for name in names:
            if name.startswith("."):
                continue
            path = Path(directory) / name
            try:
                stat = path.stat()
            except OSError:
                continue
            found[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def changed_files(before: Snapshot, after: Snapshot) -> list[str]:
    """Return the relative paths new or modified between two snapshots, oldest modification first."""
    changed = [path for path, stat in after.items() if before.get(path) != stat]
    return sorted(changed, key=lambda path: (after[path][1], path))


def safe_filename(name: str) -> str:
    """Return the last component of an uploaded file's name, never empty, never escaping the folder."""
    base = PurePosixPath(name.replace("\\", "/")).name
    if base in {"", ".", ".."}:
        return "upload"
    return base


def copy_stream(source: BinaryIO, destination: Path) -> int:
    """Copy ``source`` to ``destination`` in chunks (never all in memory) and return the byte count."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as out:
        shutil.copyfileobj(source, out, COPY_CHUNK)
    return destination.stat().st_size
