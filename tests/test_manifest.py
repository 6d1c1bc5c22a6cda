"""Tests for openai_artifacts_nb.manifest: fields, merging on re-runs, concurrent writers, intact files."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from openai_artifacts_nb.manifest import MANIFEST_PATH, Manifest, ManifestEntry, utc_now


def _entry(path: str, data: bytes, **options: object) -> ManifestEntry:
    values: dict[str, object] = {
        "path": path,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "mime_type": "text/csv",
        "found_by": ["citation"],
        "source_id": "resp_1",
        "container_id": "cntr_1",
        "file_id": "cfile_" + path,
        "sandbox_path": "/mnt/data/" + path,
        "filename": path,
        "saved_at": utc_now(),
    }
    values.update(options)
    return ManifestEntry(**values)  # type: ignore[arg-type]


def test_writes_every_field(tmp_path: Path) -> None:
    Manifest(tmp_path).update([_entry("a.csv", b"1,2\n")])
    document = json.loads((tmp_path / MANIFEST_PATH).read_text())
    assert document["version"] == 1
    [item] = document["artifacts"]
    assert item == {
        "path": "a.csv",
        "sha256": hashlib.sha256(b"1,2\n").hexdigest(),
        "bytes": 4,
        "mime_type": "text/csv",
        "found_by": ["citation"],
        "source_id": "resp_1",
        "container_id": "cntr_1",
        "file_id": "cfile_a.csv",
        "sandbox_path": "/mnt/data/a.csv",
        "filename": "a.csv",
        "saved_at": item["saved_at"],
    }
    assert item["saved_at"].endswith("Z") and "T" in item["saved_at"]


def test_merges_with_what_is_there(tmp_path: Path) -> None:
    Manifest(tmp_path).update([_entry("a.csv", b"a")])
    Manifest(tmp_path).update([_entry("b.csv", b"b")])
    Manifest(tmp_path).update([_entry("a.csv", b"a", found_by=["container_listing"])])
    manifest = Manifest(tmp_path)
    assert sorted(entry.path for entry in manifest.entries.values()) == ["a.csv", "b.csv"]
    assert manifest.get(("cntr_1", "cfile_a.csv")).found_by == ["citation", "container_listing"]  # type: ignore[union-attr]


def test_inline_entries_are_keyed_by_content(tmp_path: Path) -> None:
    entry = _entry("image_1.png", b"png", container_id=None, file_id=None)
    assert entry.key == ("inline", hashlib.sha256(b"png").hexdigest())
    files_entry = _entry("x.csv", b"x", container_id=None, file_id="file-1")
    assert files_entry.key == ("files", "file-1")


def test_existing_file_checks_size_and_hash(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"abc")
    Manifest(tmp_path).update([_entry("a.csv", b"abc")])
    manifest = Manifest(tmp_path)
    key = ("cntr_1", "cfile_a.csv")
    found = manifest.existing_file(key)
    assert found is not None and found[1] == tmp_path / "a.csv"
    (tmp_path / "a.csv").write_bytes(b"abd")
    assert manifest.existing_file(key) is None
    (tmp_path / "a.csv").unlink()
    assert manifest.existing_file(key) is None
    assert manifest.existing_file(("cntr_1", "other")) is None


def test_unreadable_or_foreign_manifest_counts_as_empty(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_PATH).parent.mkdir()
    (tmp_path / MANIFEST_PATH).write_text("{ not json")
    assert Manifest(tmp_path).entries == {}
    (tmp_path / MANIFEST_PATH).write_text(
        json.dumps(
            {
                "artifacts": [
                    {"path": "x"},
                    3,
                    {"path": "y", "sha256": "0", "bytes": 1, "mime_type": "a/b", "future_field": 1},
                ]
            }
        )
    )
    [entry] = Manifest(tmp_path).entries.values()
    assert entry.path == "y"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    def writer(n: int) -> None:
        Manifest(tmp_path).update([_entry(f"f{n}.csv", str(n).encode())])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    paths = sorted(entry.path for entry in Manifest(tmp_path).entries.values())
    assert paths == sorted(f"f{n}.csv" for n in range(16))
    assert not list(tmp_path.glob("**/*.tmp"))
