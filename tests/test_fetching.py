"""Tests for openai_artifacts_nb.fetching: ``fetch`` and ``openai-artifacts fetch`` end to end.

The first half runs against the small replay server (exact control over every byte and status); the second
half against the local emulator, which runs real code and can be told to misbehave like the service.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.errors import ApiError, ContainerExpiredError, FileMissingError, ReplyError
from openai_artifacts_nb.fetching import FetchResult, fetch, fetch_command
from openai_artifacts_nb.manifest import MANIFEST_NAME
from tests.plugins.engine import TEST_API_KEY, ReplayServer


def _png(color: str = "red") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _reply(
    text: str, cites: list[tuple[str, str]], *, container: str = "cntr_f", extra: list[Any] | None = None
) -> dict[str, Any]:
    """A Responses reply whose text cites (file id, sandbox target) pairs by span."""
    annotations = []
    for file_id, target in cites:
        start = text.index(target)
        annotations.append(
            {
                "type": "container_file_citation",
                "container_id": container,
                "file_id": file_id,
                "filename": target.rsplit("/", 1)[-1],
                "start_index": start,
                "end_index": start + len(target),
            }
        )
    call = {
        "id": "ci_1",
        "type": "code_interpreter_call",
        "status": "completed",
        "code": "",
        "container_id": container,
        "outputs": extra or [],
    }
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}],
    }
    return {"id": "resp_f", "object": "response", "created_at": 1_760_000_000, "output": [call, message]}


def _content_requests(server: ReplayServer) -> int:
    return sum(1 for path in server.paths_requested() if path.endswith("/content"))


@pytest.fixture
def two_files(replay_server: ReplayServer) -> dict[str, bytes]:
    """A container with a cited CSV and an uncited, assistant-made PNG created during the turn."""
    replay_server.container("cntr_f")
    files = {"cfile_csv": b"month,revenue\n1,10\n2,12\n", "cfile_png": _png()}
    replay_server.container_file(
        "cntr_f",
        "cfile_csv",
        "/mnt/data/sales 2024 (final).csv",
        files["cfile_csv"],
        created_at=1_760_000_003,
    )
    replay_server.container_file(
        "cntr_f", "cfile_png", "/mnt/data/chart", files["cfile_png"], created_at=1_760_000_004
    )
    return files


def test_fetch_saves_cited_and_listed_files_and_rewrites_links(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any, two_files: dict[str, bytes]
) -> None:
    target = "sandbox:/mnt/data/sales 2024 (final).csv"
    reply = _reply(f"Here: [the data]({target}) and a chart.", [("cfile_csv", target)])
    progress: list[tuple[str, int, int | None]] = []
    lock = threading.Lock()

    def on_progress(name: str, done: int, total: int | None) -> None:
        with lock:
            progress.append((name, done, total))

    notebook = tmp_path / "notebook"
    out = notebook / "work_artifacts"
    result = fetch(
        reply,
        out_dir=out,
        client=replay_client,
        link_base=notebook,
        turn_started_at=1_760_000_000.5,
        progress=on_progress,
    )
    assert isinstance(result, FetchResult) and result.ok
    csv, png = result.artifacts
    assert (csv.filename, csv.mime_type, csv.found_by) == (
        "sales 2024 (final).csv",
        "text/csv",
        ("citation",),
    )
    assert csv.path.read_bytes() == two_files["cfile_csv"]
    assert csv.relative_path == "work_artifacts/sales 2024 (final).csv"
    assert (png.filename, png.mime_type, png.found_by) == ("chart.png", "image/png", ("container_listing",))
    assert png.path.read_bytes() == two_files["cfile_png"]
    assert result.text == "Here: [the data](work_artifacts/sales%202024%20%28final%29.csv) and a chart."
    assert (result.out_dir, result.source_id) == (out.resolve(), "resp_f")
    assert {name for name, _, _ in progress} == {"sales 2024 (final).csv", "chart"}
    assert ("chart", len(two_files["cfile_png"]), len(two_files["cfile_png"])) in progress

    manifest = json.loads(result.manifest_path.read_text())
    by_path = {entry["path"]: entry for entry in manifest["artifacts"]}
    assert set(by_path) == {"sales 2024 (final).csv", "chart.png"}
    entry = by_path["chart.png"]
    assert entry["found_by"] == ["container_listing"]
    assert (entry["source_id"], entry["container_id"], entry["file_id"]) == ("resp_f", "cntr_f", "cfile_png")
    assert (entry["sandbox_path"], entry["bytes"], entry["mime_type"]) == (
        "/mnt/data/chart",
        len(two_files["cfile_png"]),
        "image/png",
    )
    assert len(entry["sha256"]) == 64 and entry["saved_at"]
    assert sorted(p.name for p in out.iterdir()) == [
        ".manifest.json.lock",
        "chart.png",
        MANIFEST_NAME,
        "sales 2024 (final).csv",
    ]


def test_rerun_adds_nothing_and_downloads_nothing(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any, two_files: dict[str, bytes]
) -> None:
    target = "sandbox:/mnt/data/sales 2024 (final).csv"
    reply = _reply(f"[d]({target})", [("cfile_csv", target)])
    first = fetch(reply, out_dir=tmp_path, client=replay_client, turn_started_at=1_760_000_000)
    downloads = _content_requests(replay_server)
    manifest = first.manifest_path.read_text()
    second = fetch(json.dumps(reply), out_dir=tmp_path, client=replay_client, turn_started_at=1_760_000_000)
    assert _content_requests(replay_server) == downloads
    assert [a.path for a in second.artifacts] == [a.path for a in first.artifacts]
    assert len(second.skipped) == 2
    assert second.text == first.text
    assert second.manifest_path.read_text() == manifest
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "chart.png",
        MANIFEST_NAME,
        "sales 2024 (final).csv",
    ]


def test_changed_file_on_disk_is_downloaded_again_without_overwriting(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any, two_files: dict[str, bytes]
) -> None:
    target = "sandbox:/mnt/data/sales 2024 (final).csv"
    reply = _reply(f"[d]({target})", [("cfile_csv", target)])
    fetch(reply, out_dir=tmp_path, client=replay_client)
    (tmp_path / "sales 2024 (final).csv").write_text("my own edits")
    again = fetch(reply, out_dir=tmp_path, client=replay_client)
    assert (tmp_path / "sales 2024 (final).csv").read_text() == "my own edits"
    [csv] = [a for a in again.artifacts if a.file_id == "cfile_csv"]
    assert csv.filename == "sales 2024 (final) (1).csv"
    assert csv.path.read_bytes() == two_files["cfile_csv"]
    assert again.text == "[d](sales%202024%20%28final%29%20%281%29.csv)"


def test_two_files_with_one_name_both_saved_and_each_link_finds_its_own(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    replay_server.container("cntr_f")
    replay_server.container_file("cntr_f", "cfile_1", "/mnt/data/a/out.txt", b"first")
    replay_server.container_file("cntr_f", "cfile_2", "/mnt/data/b/out.txt", b"second")
    text = "[1](sandbox:/mnt/data/a/out.txt) [2](sandbox:/mnt/data/b/out.txt)"
    reply = _reply(
        text, [("cfile_1", "sandbox:/mnt/data/a/out.txt"), ("cfile_2", "sandbox:/mnt/data/b/out.txt")]
    )
    result = fetch(reply, out_dir=tmp_path, client=replay_client)
    assert [(a.filename, a.path.read_bytes()) for a in result.artifacts] == [
        ("out.txt", b"first"),
        ("out (1).txt", b"second"),
    ]
    assert result.text == "[1](out.txt) [2](out%20%281%29.txt)"


def test_hostile_names_stay_inside(tmp_path: Path, replay_server: ReplayServer, replay_client: Any) -> None:
    replay_server.container("cntr_f")
    for n, hostile in enumerate(["../../../etc/evil.sh", "/abs/CON", "..", "a\x00b\u202e.txt"]):
        replay_server.container_file(
            "cntr_f", f"cfile_{n}", hostile, f"x{n}".encode(), created_at=1_760_000_001
        )
    result = fetch("cntr_f", out_dir=tmp_path / "out", client=replay_client)
    assert result.ok
    names = sorted(a.filename for a in result.artifacts)
    assert names == ["_CON.txt", "ab.txt", "evil.sh", "file.txt"]
    for artifact in result.artifacts:
        assert artifact.path.parent == (tmp_path / "out").resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failures_leave_markers_and_the_rest_is_saved(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any, two_files: dict[str, bytes]
) -> None:
    good = "sandbox:/mnt/data/sales 2024 (final).csv"
    gone = "sandbox:/mnt/data/gone.csv"
    reply = _reply(f"[ok]({good}) and [lost]({gone})", [("cfile_csv", good), ("cfile_gone", gone)])
    result = fetch(reply, out_dir=tmp_path, client=replay_client, turn_started_at=1_760_000_000)
    assert not result.ok
    assert [a.file_id for a in result.artifacts] == ["cfile_csv", "cfile_png"]
    [failure] = result.failures
    assert isinstance(failure.error, FileMissingError)
    assert (failure.filename, failure.container_id, failure.file_id) == ("gone.csv", "cntr_f", "cfile_gone")
    assert "\n" not in failure.message and "cntr_f" in failure.message and "cfile_gone" in failure.message
    assert result.text == (
        "[ok](sales%202024%20%28final%29.csv) and lost "
        "(*⚠ gone.csv could not be saved: the file no longer exists*)"
    )
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))
    assert not (tmp_path / "gone.csv").exists()


def test_expired_container(tmp_path: Path, replay_server: ReplayServer, replay_client: Any) -> None:
    replay_server.container("cntr_f", status="expired")
    target = "sandbox:/mnt/data/plot.png"
    reply = _reply(f"![plot]({target})", [("cfile_p", target)])
    result = fetch(reply, out_dir=tmp_path, client=replay_client)
    assert result.artifacts == []
    kinds = sorted(type(f.error).__name__ for f in result.failures)
    assert kinds == ["ContainerExpiredError", "ContainerExpiredError"]  # the file, and the listing
    [file_failure] = [f for f in result.failures if f.file_id == "cfile_p"]
    assert isinstance(file_failure.error, ContainerExpiredError)
    assert "cntr_f" in file_failure.message and "expired" in file_failure.message
    assert result.text == "*⚠ plot.png could not be saved: its container cntr\\_f expired*"


def test_image_output_equal_to_a_cited_image_is_one_file(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    png = _png("green")
    replay_server.container("cntr_f")
    replay_server.container_file(
        "cntr_f", "cfile_img", "/mnt/data/cfile_img.png", png, created_at=1_760_000_001
    )
    image_output = {"type": "image", "url": "data:image/png;base64," + base64.b64encode(png).decode()}
    other_output = {
        "type": "image",
        "url": "data:image/png;base64," + base64.b64encode(_png("blue")).decode(),
    }
    reply = _reply("Two charts.", [], extra=[image_output, other_output])
    reply["output"][1]["content"][0]["annotations"] = [
        {
            "type": "container_file_citation",
            "container_id": "cntr_f",
            "file_id": "cfile_img",
            "filename": "cfile_img.png",
            "start_index": 0,
            "end_index": 0,
            "index": None,
        }
    ]
    result = fetch(reply, out_dir=tmp_path, client=replay_client)
    assert result.ok
    cited, inline = result.artifacts
    assert (cited.filename, cited.found_by) == ("cfile_img.png", ("image_citation", "image_output"))
    assert (inline.filename, inline.found_by, inline.container_id) == (
        "image_2.png",
        ("image_output",),
        "cntr_f",
    )
    assert inline.path.read_bytes() == _png("blue")
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["cfile_img.png", "image_2.png"]


def test_inline_only_reply_needs_no_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    output = {"type": "image", "url": "data:image/png;base64," + base64.b64encode(_png()).decode()}
    reply = {
        "id": "resp_i",
        "object": "response",
        "created_at": 1,
        "output": [{"type": "code_interpreter_call", "container_id": None, "outputs": [output]}],
    }
    result = fetch(reply, out_dir=tmp_path)
    [artifact] = result.artifacts
    assert (artifact.filename, artifact.mime_type, artifact.found_by) == (
        "image_1.png",
        "image/png",
        ("image_output",),
    )
    assert result.text == ""


def test_by_file_id_and_thread_id(tmp_path: Path, replay_server: ReplayServer, replay_client: Any) -> None:
    replay_server.json(
        "/v1/files/file-1",
        {
            "id": "file-1",
            "object": "file",
            "bytes": 4,
            "created_at": 1,
            "filename": "/mnt/data/rows.csv",
            "purpose": "assistants_output",
            "status": "processed",
        },
    )
    replay_server.bytes("/v1/files/file-1/content", b"a,b\n")
    result = fetch("file-1", out_dir=tmp_path, client=replay_client)
    [artifact] = result.artifacts
    assert (artifact.filename, artifact.found_by, artifact.file_id, artifact.container_id) == (
        "rows.csv",
        ("file",),
        "file-1",
        None,
    )
    assert result.source_kind == "file" and result.text == ""


def test_bad_sources(tmp_path: Path, replay_client: Any) -> None:
    with pytest.raises(ReplyError):
        fetch("what is this", out_dir=tmp_path, client=replay_client)
    with pytest.raises(ApiError, match="resp_missing was not found") as info:
        fetch("resp_missing", out_dir=tmp_path, client=replay_client)
    assert info.value.status == 404
    assert TEST_API_KEY not in str(info.value)


def test_fetch_command(
    tmp_path: Path,
    replay_server: ReplayServer,
    two_files: dict[str, bytes],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    target = "sandbox:/mnt/data/sales 2024 (final).csv"
    reply = _reply(
        f"[d]({target}) [x](sandbox:/mnt/data/gone.txt)",
        [("cfile_csv", target), ("cfile_gone", "sandbox:/mnt/data/gone.txt")],
    )
    replay_server.json("/v1/responses/resp_f", reply)
    out = tmp_path / "out"
    status = fetch_command(["resp_f", "cntr_nope"], out=str(out), base_url=replay_server.base_url)
    captured = capsys.readouterr()
    assert status == 1
    assert (out / "resp_f.md").read_text() == (
        "[d](sales%202024%20%28final%29.csv) x (*⚠ gone.txt could not be saved: the file no longer exists*)\n"
    )
    assert (out / "sales 2024 (final).csv").read_bytes() == two_files["cfile_csv"]
    assert (out / "chart.png").read_bytes() == two_files["cfile_png"]
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(
        "openai-artifacts: gone.txt (cfile_gone) no longer exists in container cntr_f"
    )
    assert errors[1].startswith("openai-artifacts: cntr_nope: cntr_nope was not found")
    assert "sales 2024 (final).csv\t" in captured.out
    assert TEST_API_KEY not in captured.out + captured.err


def test_fetch_command_success_is_zero(
    tmp_path: Path,
    replay_server: ReplayServer,
    two_files: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert fetch_command(["cntr_f"], out=str(tmp_path), base_url=replay_server.base_url) == 0
    assert capsys.readouterr().err == ""
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "chart.png",
        MANIFEST_NAME,
        "sales 2024 (final).csv",
    ]
    assert not (tmp_path / "cntr_f.md").exists()
