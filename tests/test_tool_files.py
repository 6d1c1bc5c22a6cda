"""Issue 9, the tool's own files: a model file can never clobber or poison them, and symlinks are never
followed or taken for a saved file.

The tool keeps its files in ``<folder>/.openai-artifacts/`` (``MANIFEST_PATH``), a name the model cannot
give a file; a manifest that does not parse is kept aside; the manifest of an earlier version is migrated.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.cli import fetch_command
from openai_artifacts_nb.fetching import fetch
from openai_artifacts_nb.manifest import MANIFEST_NAME, MANIFEST_PATH, TOOL_DIR, Manifest
from openai_artifacts_nb.naming import safe_filename
from tests.plugins.engine import ReplayServer

CONTAINER = "cntr_t"


def _poison(path: str) -> bytes:
    """Bytes shaped exactly like our manifest, claiming a file outside the folder."""
    entry = {"path": path, "sha256": "0" * 64, "bytes": 1, "mime_type": "text/plain", "file_id": "cfile_x"}
    return json.dumps({"version": 1, "artifacts": [entry]}).encode()


def _reply(names: dict[str, str]) -> dict[str, Any]:
    text = " ".join(f"[{name}](sandbox:/mnt/data/{name})" for name in names.values())
    annotations = []
    for file_id, name in names.items():
        start = text.index(f"sandbox:/mnt/data/{name}")
        annotations.append(
            {
                "type": "container_file_citation",
                "container_id": CONTAINER,
                "file_id": file_id,
                "filename": name,
                "start_index": start,
                "end_index": start + len(f"sandbox:/mnt/data/{name}"),
            }
        )
    content = {"type": "output_text", "text": text, "annotations": annotations}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [content]}
    return {"id": "resp_tool", "object": "response", "created_at": 1, "output": [message]}


def _serve(server: ReplayServer, files: dict[str, tuple[str, bytes]]) -> dict[str, str]:
    for file_id, (name, data) in files.items():
        server.container_file(CONTAINER, file_id, f"/mnt/data/{name}", data, listed=False)
    return {file_id: name for file_id, (name, _) in files.items()}


def test_the_model_cannot_name_the_tool_folder() -> None:
    for name in (TOOL_DIR, f"{TOOL_DIR}/{MANIFEST_NAME}", f"../{TOOL_DIR}", f" .{TOOL_DIR[1:]}"):
        assert not safe_filename(name).startswith(".")


def test_model_files_named_like_tool_files_keep_their_bytes(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    poison = _poison("../../outside.txt")
    files = {
        "cfile_m": (MANIFEST_NAME, poison),
        "cfile_md": ("resp_tool.md", b"# the model's own notes\n"),
        "cfile_d": ("data.csv", b"a,b\n1,2\n"),
    }
    names = _serve(replay_server, files)
    replay_server.json("/v1/responses/resp_tool", _reply(names))
    first = fetch(_reply(names), out_dir=tmp_path, client=replay_client)
    assert first.ok
    for file_id, (name, data) in files.items():
        assert (tmp_path / name).read_bytes() == data, file_id
    manifest = json.loads((tmp_path / MANIFEST_PATH).read_text())
    assert sorted(entry["path"] for entry in manifest["artifacts"]) == sorted(
        name for name, _ in files.values()
    )

    # Again, and through the CLI (which writes the reply's text as <id>.md in the tool's folder).
    assert fetch_command(["resp_tool"], out=str(tmp_path), base_url=replay_server.base_url) == 0
    for name, data in files.values():
        assert (tmp_path / name).read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(
        name for name, _ in files.values()
    )
    text = (tmp_path / TOOL_DIR / "resp_tool.md").read_text()
    assert "(../data.csv)" in text and "(../manifest.json)" in text
    assert not (tmp_path.parent / "outside.txt").exists()
    assert all(entry.path != "../../outside.txt" for entry in Manifest(tmp_path).entries.values())


def test_a_symlink_with_the_same_bytes_is_never_taken_for_the_saved_file(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    data = b"same bytes\n"
    names = _serve(replay_server, {"cfile_s": ("report.txt", data)})
    outside = tmp_path / "elsewhere.txt"
    outside.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.txt").symlink_to(outside)
    result = fetch(_reply(names), out_dir=out, client=replay_client)
    [saved] = result.artifacts
    assert saved.filename == "report (1).txt" and not saved.path.is_symlink()
    assert saved.path.read_bytes() == data
    assert (out / "report.txt").readlink() == outside and outside.read_bytes() == data
    # A manifest entry pointing at the symlink is not "intact" either: the next run keeps the real file.
    again = fetch(_reply(names), out_dir=out, client=replay_client)
    assert [a.filename for a in again.artifacts] == ["report (1).txt"]


def test_a_dangling_symlink_is_not_written_through(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    names = _serve(replay_server, {"cfile_s": ("x.txt", b"payload")})
    target = tmp_path / "target-never-written.txt"
    out = tmp_path / "out"
    out.mkdir()
    (out / "x.txt").symlink_to(target)
    [saved] = fetch(_reply(names), out_dir=out, client=replay_client).artifacts
    assert saved.filename == "x (1).txt" and saved.path.read_bytes() == b"payload"
    assert not target.exists()


def test_a_corrupt_manifest_is_kept_aside_with_a_note(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    names = _serve(replay_server, {"cfile_a": ("a.txt", b"A")})
    (tmp_path / TOOL_DIR).mkdir()
    broken = b'{"version": 1, "artifacts": [ truncated'
    (tmp_path / MANIFEST_PATH).write_bytes(broken)
    result = fetch(_reply(names), out_dir=tmp_path, client=replay_client)
    assert result.ok and len(result.notes) == 1 and "kept aside" in result.notes[0]
    [aside] = (tmp_path / TOOL_DIR).glob("manifest.corrupt-*.json")
    assert aside.read_bytes() == broken and aside.name in result.notes[0]
    assert [entry.path for entry in Manifest(tmp_path).entries.values()] == ["a.txt"]
    assert not list(tmp_path.glob("**/*.tmp"))


def test_an_earlier_versions_manifest_is_read_once_and_moved_in(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    data = b"kept from before"
    names = _serve(replay_server, {"cfile_a": ("a.txt", data)})
    (tmp_path / "a.txt").write_bytes(data)
    old = {
        "version": 1,
        "artifacts": [
            {
                "path": "a.txt",
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "mime_type": "text/plain",
                "container_id": CONTAINER,
                "file_id": "cfile_a",
                "saved_at": "2025-01-01T00:00:00Z",
            }
        ],
    }
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(old))
    before = len(replay_server.requests)
    result = fetch(_reply(names), out_dir=tmp_path, client=replay_client)
    assert [a.filename for a in result.skipped] == ["a.txt"]
    assert replay_server.requests[before:] == []
    assert not (tmp_path / MANIFEST_NAME).exists()
    assert json.loads((tmp_path / TOOL_DIR / "manifest.v0.json").read_text()) == old
    [entry] = Manifest(tmp_path).entries.values()
    assert (entry.path, entry.saved_at) == ("a.txt", "2025-01-01T00:00:00Z")


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/hostname", f"{TOOL_DIR}/manifest.json", ""])
def test_manifest_entries_outside_the_folder_are_never_reused(tmp_path: Path, path: str) -> None:
    (tmp_path / TOOL_DIR).mkdir()
    target = tmp_path / MANIFEST_PATH
    entry = {
        "path": path,
        "sha256": "0" * 64,
        "bytes": 1,
        "mime_type": "a/b",
        "file_id": "f",
        "container_id": "c",
    }
    target.write_text(json.dumps({"version": 1, "artifacts": [entry]}))
    assert Manifest(tmp_path).existing_file(("c", "f")) is None
