"""Issue 9, the output folder: one that cannot hold files is found before anything is paid for, a manifest
that cannot be written is one failure line with no temporary file left, and a killed run's ``.part`` files
are swept on the next run into the folder.

"Full" is a real full file system: a 64 KiB tmpfs (mounting needs root, as in CI; skipped elsewhere).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.errors import ConfigurationError
from openai_artifacts_nb.fetching import fetch
from openai_artifacts_nb.manifest import MANIFEST_PATH, TOOL_DIR
from openai_artifacts_nb.naming import check_output_folder, part_path
from openai_artifacts_nb.session import ConversationSession
from tests.plugins.engine import ReplayServer

CONTAINER = "cntr_o"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted at a fresh folder (skipped where mounting is refused)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the file system is full; return it."""
    filler = folder / "filler.bin"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as handle:
        while True:
            handle.write(b"\0" * 4096)
    return filler


def _reply() -> dict[str, Any]:
    target = "sandbox:/mnt/data/a.txt"
    text = f"[a]({target})"
    note = {
        "type": "container_file_citation",
        "container_id": CONTAINER,
        "file_id": "cfile_a",
        "filename": "a.txt",
        "start_index": text.index(target),
        "end_index": text.index(target) + len(target),
    }
    content = {"type": "output_text", "text": text, "annotations": [note]}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [content]}
    return {"id": "resp_o", "object": "response", "created_at": 1, "output": [message]}


@pytest.mark.parametrize("layout", ["file in its place", "parent is a file", "read-only /sys"])
def test_a_folder_that_cannot_hold_files_is_one_line(tmp_path: Path, layout: str) -> None:
    (tmp_path / "taken").write_text("x")
    target = {
        "file in its place": tmp_path / "taken",
        "parent is a file": tmp_path / "taken" / "out",
        "read-only /sys": Path("/sys/openai-artifacts-test"),
    }[layout]
    with pytest.raises(ConfigurationError) as raised:
        check_output_folder(target)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"cannot use {str(target)!r} as the output folder: ")
    assert (tmp_path / "taken").read_text() == "x"
    assert not list(tmp_path.glob("**/.openai-artifacts-probe*"))


def test_a_full_disk_is_found_before_downloading(
    small_disk: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    replay_server.container_file(CONTAINER, "cfile_a", "/mnt/data/a.txt", b"A" * 100, listed=False)
    _fill(small_disk)
    with pytest.raises(ConfigurationError, match="No space left on device"):
        fetch(_reply(), out_dir=small_disk, client=replay_client)
    assert replay_server.paths_requested() == []
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler.bin"]


def test_a_full_disk_stops_the_turn_before_the_prompt_is_sent(
    small_disk: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    _fill(small_disk)
    for out_dir in (small_disk, small_disk / "not" / "made" / "yet"):
        with pytest.raises(ConfigurationError, match="No space left on device"):
            ConversationSession().run("make a file", client=replay_client, model="gpt-test", out_dir=out_dir)
    assert replay_server.requests == []
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler.bin"], "nothing made, no probe left"


def test_a_folder_that_is_a_file_stops_the_turn_before_the_prompt_is_sent(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    (tmp_path / "taken").write_text("x")
    for out_dir in (tmp_path / "taken", tmp_path / "taken" / "below"):
        with pytest.raises(ConfigurationError, match="as the output folder"):
            ConversationSession().run("hi", client=replay_client, model="gpt-test", out_dir=out_dir)
    assert replay_server.requests == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_manifest_the_disk_refuses_is_one_failure_line_and_leaves_no_temporary_file(
    small_disk: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    data = b"A" * 1000
    replay_server.container_file(CONTAINER, "cfile_a", "/mnt/data/a.txt", data, listed=False)
    filled: list[Path] = []

    def fill_once_downloaded(_name: str, done: int, total: int | None) -> None:
        if total is not None and done == total and not filled:
            filled.append(_fill(small_disk))

    result = fetch(_reply(), out_dir=small_disk, client=replay_client, progress=fill_once_downloaded)
    assert filled, "the disk was filled after the download"
    assert [a.filename for a in result.artifacts] == ["a.txt"]
    assert (small_disk / "a.txt").read_bytes() == data
    [failure] = result.failures
    assert failure.filename == "(manifest)" and "No space left on device" in failure.message
    assert "\n" not in failure.message
    assert not (small_disk / MANIFEST_PATH).exists()
    leftovers = [p.name for p in (small_disk / TOOL_DIR).iterdir()]
    assert not [name for name in leftovers if name.endswith(".tmp")], leftovers
    assert not list(small_disk.glob(".*.part"))


def test_stale_parts_of_a_killed_process_are_swept(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    replay_server.container_file(CONTAINER, "cfile_a", "/mnt/data/a.txt", b"A", listed=False)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".a.txt.{dead.pid}-0123456789ab.part"
    old_style = tmp_path / ".b.txt.0123456789ab.part"
    for path in (stale, old_style):
        path.write_bytes(b"half")
    os.utime(old_style, (1, 1))
    live = part_path(tmp_path, "c.txt")  # this process's: a download still under way
    live.write_bytes(b"mine")
    unrelated = tmp_path / ".notes.part.txt"
    unrelated.write_bytes(b"keep")
    result = fetch(_reply(), out_dir=tmp_path, client=replay_client)
    assert result.ok
    assert not stale.exists() and not old_style.exists()
    assert live.read_bytes() == b"mine" and unrelated.read_bytes() == b"keep"
