"""Tests for openai_artifacts_nb.fetching: ``fetch`` and ``openai-artifacts fetch`` end to end.

The first half runs against the small replay server (exact control over every byte and status); the second
half against the local emulator, which runs real code and can be told to misbehave like the service.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.cli import fetch_command
from openai_artifacts_nb.errors import (
    ApiError,
    ConfigurationError,
    ContainerExpiredError,
    FileMissingError,
    ReplyError,
)
from openai_artifacts_nb.fetching import FetchResult, fetch
from openai_artifacts_nb.manifest import MANIFEST_PATH, TOOL_DIR
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
    assert sorted(p.name for p in out.iterdir()) == [TOOL_DIR, "chart.png", "sales 2024 (final).csv"]
    assert result.manifest_path == out.resolve() / MANIFEST_PATH


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


def test_rerun_after_the_container_is_gone_is_still_ok(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any, two_files: dict[str, bytes]
) -> None:
    target = "sandbox:/mnt/data/sales 2024 (final).csv"
    reply = _reply(f"[d]({target})", [("cfile_csv", target)])
    first = fetch(reply, out_dir=tmp_path, client=replay_client, turn_started_at=1_760_000_000)
    assert first.ok and len(first.artifacts) == 2
    replay_server.routes.clear()  # the container and its files are gone now: everything answers 404
    again = fetch(reply, out_dir=tmp_path, client=replay_client, turn_started_at=1_760_000_000)
    assert again.ok, [f.message for f in again.failures]
    assert [a.file_id for a in again.artifacts] == ["cfile_csv", "cfile_png"]
    assert [a.found_by for a in again.artifacts] == [("citation",), ("container_listing",)]
    assert len(again.skipped) == 2
    assert again.text == first.text
    elsewhere = fetch(reply, out_dir=tmp_path / "new", client=replay_client)
    assert [type(f.error).__name__ for f in elsewhere.failures] == [
        "ContainerExpiredError",
        "ContainerExpiredError",
    ]


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


def test_engine_imports_neither_ipython_nor_ipywidgets() -> None:
    import subprocess
    import sys

    code = (
        "import sys, openai_artifacts_nb.fetching, openai_artifacts_nb.collect, openai_artifacts_nb.links;"
        "print(sorted(m for m in ('IPython', 'ipywidgets', 'pandas') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_output_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ConfigurationError, match=r"cannot use .* as the output folder"):
        fetch(
            {"id": "resp_x", "object": "response", "created_at": 1, "output": []}, out_dir=tmp_path / "taken"
        )


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
    assert (out / TOOL_DIR / "resp_f.md").read_text() == (
        "[d](../sales%202024%20%28final%29.csv) "
        "x (*⚠ gone.txt could not be saved: the file no longer exists*)\n"
    )
    assert (out / "sales 2024 (final).csv").read_bytes() == two_files["cfile_csv"]
    assert (out / "chart.png").read_bytes() == two_files["cfile_png"]
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(
        "openai-artifacts: gone.txt (cfile_gone) no longer exists in container cntr_f"
    )
    assert errors[1].startswith("openai-artifacts: cntr_nope was not found")  # the id once
    assert "sales 2024 (final).csv\t" in captured.out
    assert TEST_API_KEY not in captured.out + captured.err


def test_the_cli_dispatches_to_fetch_command(
    tmp_path: Path,
    replay_server: ReplayServer,
    two_files: dict[str, bytes],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from openai_artifacts_nb.cli import main

    assert main(["fetch", "cntr_f", "--out", str(tmp_path), "--base-url", replay_server.base_url]) == 0
    assert (tmp_path / "chart.png").read_bytes() == two_files["cfile_png"]
    assert "chart.png\t" in capsys.readouterr().out


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
        "sales 2024 (final).csv",
    ]
    assert not (tmp_path / "cntr_f.md").exists() and not (tmp_path / TOOL_DIR / "cntr_f.md").exists()


# ---------------------------------------------------------------------------------------------------------
# Against the local emulator: real code, real files, and each misbehaviour it can be told to show.

TOOLS: Any = [{"type": "code_interpreter", "container": {"type": "auto"}}]
INCLUDE: Any = ["code_interpreter_call.outputs"]
MAKE_FILES = (
    "import matplotlib.pyplot as plt\n"
    "plt.plot([1, 2, 3], [1, 4, 9])\n"
    "plt.savefig('/mnt/data/plot.png')\n"
    "plt.show()\n"
    "open('/mnt/data/résumé 1.csv', 'w').write('a,b\\n1,2\\n')\n"
    "open('/mnt/data/notes', 'w').write('plain words, no extension')\n"
)


def _prompt(code: str, reply: str | None = None) -> str:
    text = f"Make some files.\n\n```python\n{code}```\n"
    return text + (f"\n```reply\n{reply}\n```\n" if reply is not None else "")


def _run(client: Any, code: str = MAKE_FILES, reply: str | None = None, **options: Any) -> Any:
    """Run ``code`` on the emulator; when it shows a figure, insist on getting the image output.

    Under heavy load the emulator has been seen to drop a displayed figure's image output; these tests are
    about what ``fetch`` does with one, so they ask again (at most twice) rather than test a different reply.
    """
    for _ in range(3):
        response = client.responses.create(
            model="gpt-4.1", input=_prompt(code, reply), tools=TOOLS, include=INCLUDE, **options
        )
        images = [o for o in response.output[0].outputs or [] if o.type == "image"]
        if "plt.show()" not in code or images:
            return response
    raise AssertionError("the emulator returned no image output for plt.show() three times")


def _container_bytes(client: Any, container_id: str) -> dict[str, bytes]:
    return {
        entry.path.rsplit("/", 1)[-1]: client.containers.files.content.retrieve(
            entry.id, container_id=container_id
        ).read()
        for entry in client.containers.files.list(container_id)
    }


def _assert_all_saved(result: FetchResult, client: Any, container_id: str) -> dict[str, Any]:
    assert result.ok, [f.message for f in result.failures]
    in_container = _container_bytes(client, container_id)
    saved = {a.sandbox_path.rsplit("/", 1)[-1] if a.sandbox_path else a.filename: a for a in result.artifacts}
    assert set(in_container) <= set(saved) | {name for name in in_container if name.startswith("cfile_")}
    for name, data in in_container.items():
        matching = [a for a in result.artifacts if a.path.read_bytes() == data]
        assert matching, f"{name} was not saved"
    by_name = {a.filename: a for a in result.artifacts}
    assert by_name["plot.png"].mime_type == "image/png"
    assert by_name["résumé 1.csv"].mime_type == "text/csv"
    assert by_name["notes.txt"].mime_type == "text/plain"
    assert "sandbox:" not in result.text
    return by_name


def test_emulator_reply_object(tmp_path: Path, client: Any) -> None:
    started = time.time()
    response = _run(client)
    container_id = response.output[0].container_id
    result = fetch(
        response, out_dir=tmp_path / "art", client=client, link_base=tmp_path, turn_started_at=started
    )
    by_name = _assert_all_saved(result, client, container_id)
    shown = [a for a in result.artifacts if "image_output" in a.found_by]
    assert (
        len(shown) == 1 and "image_citation" in shown[0].found_by and shown[0].filename.startswith("cfile_")
    )
    assert "[plot.png](art/plot.png)" in result.text
    assert "(art/r%C3%A9sum%C3%A9%201.csv)" in result.text
    assert by_name["notes.txt"].found_by == ("citation",)
    assert len(result.artifacts) == 4


def test_emulator_streamed_events_and_stream_helper(tmp_path: Path, client: Any) -> None:
    events = list(
        client.responses.create(
            model="m", input=_prompt(MAKE_FILES), tools=TOOLS, include=INCLUDE, stream=True
        )
    )
    container_id = next(
        e.item.container_id
        for e in events
        if getattr(e, "item", None) is not None and e.item.type == "code_interpreter_call"
    )
    result = fetch(events, out_dir=tmp_path / "a", client=client)
    _assert_all_saved(result, client, container_id)
    with client.responses.stream(
        model="m", input=_prompt(MAKE_FILES), tools=TOOLS, include=INCLUDE
    ) as stream:
        final = stream.get_final_response()
    result = fetch(final, out_dir=tmp_path / "b", client=client)
    _assert_all_saved(result, client, final.output[0].container_id)


def test_emulator_without_annotations_uses_the_listing(tmp_path: Path, client: Any, emulator: Any) -> None:
    emulator.faults.annotations = False
    started = time.time()
    response = _run(client)
    assert all(
        not part.annotations for item in response.output if item.type == "message" for part in item.content
    )
    result = fetch(response, out_dir=tmp_path, client=client, turn_started_at=started)
    by_name = _assert_all_saved(result, client, response.output[0].container_id)
    assert by_name["plot.png"].found_by == ("container_listing",)
    assert "[plot.png](plot.png)" in result.text


@pytest.mark.parametrize("style", ["double_slash", "triple_slash", "short", "percent", "none"])
def test_emulator_link_styles(tmp_path: Path, client: Any, emulator: Any, style: str) -> None:
    emulator.faults.link_style = style
    response = _run(client)
    assert (style == "none") or "sandbox:" in response.output_text
    result = fetch(response, out_dir=tmp_path, client=client)
    _assert_all_saved(result, client, response.output[0].container_id)
    if style != "none":
        assert "(plot.png)" in result.text and "(r%C3%A9sum%C3%A9%201.csv)" in result.text


def test_emulator_exact_reply_with_every_link_form(tmp_path: Path, client: Any) -> None:
    reply = (
        "Chart: ![chart](sandbox://mnt/data/plot.png)\n"
        "Data: sandbox:/mnt/data/r%C3%A9sum%C3%A9%201.csv, notes <sandbox:/notes> "
        "and `sandbox:/mnt/data/plot.png`.\n"
        '<a href="sandbox:/mnt/data/notes">html</a> and [missing](sandbox:/mnt/data/never.txt)'
    )
    response = _run(client, reply=reply)
    result = fetch(response, out_dir=tmp_path, client=client)
    assert result.text == (
        "Chart: ![chart](plot.png)\n"
        "Data: [résumé 1.csv](r%C3%A9sum%C3%A9%201.csv), notes [notes.txt](notes.txt) and `plot.png`.\n"
        '<a href="notes.txt">html</a> and missing (*⚠ never.txt was not among the files this reply produced*)'
    )


def test_emulator_slow_requests_are_downloaded_in_parallel(
    tmp_path: Path, client: Any, emulator: Any
) -> None:
    code = "for i in range(10):\n    open(f'/mnt/data/part{i}.txt', 'w').write(str(i) * 1000)\n"
    response = _run(client, code)
    emulator.faults.delay = 0.4
    result = fetch(response, out_dir=tmp_path, client=client, max_workers=10)
    assert result.ok and sorted(a.filename for a in result.artifacts) == [f"part{i}.txt" for i in range(10)]
    assert all(a.path.read_text() == a.filename[4] * 1000 for a in result.artifacts)
    # One listing plus ten downloads: the downloads wait out their delay together, ten at once.
    assert emulator.faults.delayed == 11
    assert emulator.faults.peak_delayed >= 10


def test_emulator_listing_runs_alongside_the_downloads(tmp_path: Path, client: Any, emulator: Any) -> None:
    import openai

    code = "for i in range(12):\n    open(f'/mnt/data/part{i:02d}.txt', 'w').write(str(i) * 5000)\n"
    response = _run(client, code)
    requests: list[tuple[str, str]] = []
    logged = openai.OpenAI(
        base_url=emulator.base_url,
        api_key="sk-test-emulator",
        http_client=openai.DefaultHttpxClient(
            event_hooks={"request": [lambda request: requests.append((request.method, request.url.path))]}
        ),
    )
    emulator.faults.delay = 1.0
    with logged:  # closes its dozen connections
        result = fetch(response, out_dir=tmp_path, client=logged)
    names = [f"part{i:02d}.txt" for i in range(12)]
    assert result.ok and [a.filename for a in result.artifacts] == names  # the reply's order, always
    assert all(a.path.read_text() == str(int(a.filename[4:6])) * 5000 for a in result.artifacts)
    # One listing and one download per file, nothing else (no retrieve of each file's metadata) ...
    assert sorted(path.rsplit("/", 1)[-1] for _, path in requests) == sorted(["files"] + ["content"] * 12)
    # ... all in flight at once: the listing beside the twelve downloads, not before them.
    assert emulator.faults.peak_delayed == 13


@pytest.mark.parametrize("status", [429, 500])
def test_emulator_transient_errors_are_retried(
    tmp_path: Path, client: Any, emulator: Any, status: int
) -> None:
    response = _run(client)
    emulator.faults.fail_next(2, status=status)
    result = fetch(response, out_dir=tmp_path, client=client)
    _assert_all_saved(result, client, response.output[0].container_id)


def test_emulator_persistent_errors_lose_nothing(tmp_path: Path, client: Any, emulator: Any) -> None:
    response = _run(client)
    emulator.faults.fail_next(40, status=500, should_retry=False)
    broken = fetch(response, out_dir=tmp_path, client=client)
    # Only the image output, whose bytes came inside the reply, could be saved.
    assert not broken.ok and [a.found_by for a in broken.artifacts] == [("image_output",)]
    assert all("500" in failure.message for failure in broken.failures)
    assert "sandbox:" not in broken.text and "could not be saved" in broken.text
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "image_1.png",
    ]
    emulator.faults.reset()
    fixed = fetch(response, out_dir=tmp_path, client=client)
    _assert_all_saved(fixed, client, response.output[0].container_id)
    # The image saved from the reply is the displayed image's container file too: still one file.
    assert len(fixed.artifacts) == 4
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["image_1.png", "plot.png"]
    [shown] = [a for a in fixed.artifacts if a.filename == "image_1.png"]
    assert shown.file_id is not None and set(shown.found_by) == {"image_citation", "image_output"}


def test_emulator_cut_off_downloads(tmp_path: Path, client: Any, emulator: Any) -> None:
    response = _run(client)
    emulator.faults.truncate_downloads(2, fraction=0.5)
    result = fetch(response, out_dir=tmp_path / "once", client=client, max_workers=1)
    _assert_all_saved(result, client, response.output[0].container_id)

    emulator.faults.truncate_downloads(100, fraction=0.3)
    result = fetch(response, out_dir=tmp_path / "always", client=client)
    assert not result.ok
    assert all("could not be downloaded after 3 attempts" in f.message for f in result.failures)
    saved = sorted(p.name for p in (tmp_path / "always").iterdir() if not p.name.startswith("."))
    assert saved == ["image_1.png"]  # the image output came inside the reply
    assert not list((tmp_path / "always").glob(".*.part"))


def test_emulator_expired_container(tmp_path: Path, client: Any, emulator: Any) -> None:
    response = _run(client)
    container_id = response.output[0].container_id
    assert emulator.faults.expire_container(container_id) == [container_id]
    result = fetch(response, out_dir=tmp_path, client=client)
    # The displayed image survives: its bytes came inside the reply as an image output.
    assert [a.found_by for a in result.artifacts] == [("image_output",)]
    cited = {
        a.file_id for item in response.output if item.type == "message" for a in item.content[0].annotations
    }
    assert {failure.file_id for failure in result.failures} == cited
    for failure in result.failures:
        assert isinstance(failure.error, ContainerExpiredError)
        assert container_id in failure.message and failure.file_id in failure.message
    assert "sandbox:" not in result.text
    expired = f"its container {container_id.replace('_', chr(92) + '_')} expired"
    # An expired container lists nothing, so a link the reply did not cite cannot be matched to a file.
    assert result.text.count(expired) + result.text.count("was not among the files") == 3


def test_emulator_container_expiring_mid_conversation(tmp_path: Path, client: Any, emulator: Any) -> None:
    first = _run(client, "open('/mnt/data/first.txt', 'w').write('one')\n")
    saved = fetch(first, out_dir=tmp_path, client=client)
    assert [a.filename for a in saved.artifacts] == ["first.txt"]
    emulator.faults.expire_after_responses(1)
    second = _run(client, "open('/mnt/data/second.txt', 'w').write('two')\n", previous_response_id=first.id)
    result = fetch(second, out_dir=tmp_path, client=client)
    [failure] = result.failures
    assert isinstance(failure.error, ContainerExpiredError) and failure.filename == "second.txt"
    assert (tmp_path / "first.txt").read_text() == "one"
    assert not (tmp_path / "second.txt").exists()


def test_emulator_turn_started_at_keeps_earlier_files_out(tmp_path: Path, client: Any, emulator: Any) -> None:
    emulator.faults.annotations = False
    first = _run(client, "open('/mnt/data/early.txt', 'w').write('1')\n")
    state = emulator.service.state
    real_clock = state.clock
    # The emulator's clock jumps two seconds ahead (its times are whole seconds): no sleeping.
    state.clock = lambda: real_clock() + 2
    try:
        started = time.time() + 1
        second = _run(client, "open('/mnt/data/late.txt', 'w').write('2')\n", previous_response_id=first.id)
    finally:
        state.clock = real_clock
    result = fetch(second, out_dir=tmp_path, client=client, turn_started_at=started)
    assert [(a.filename, a.found_by) for a in result.artifacts] == [("late.txt", ("container_listing",))]


def test_emulator_ids_and_cli(
    tmp_path: Path, client: Any, emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    response = _run(client)
    container_id = response.output[0].container_id
    by_id = fetch(response.id, out_dir=tmp_path / "resp", client=client)
    _assert_all_saved(by_id, client, container_id)
    whole = fetch(container_id, out_dir=tmp_path / "cntr", client=client)
    assert sorted(a.filename for a in whole.artifacts if not a.filename.startswith("cfile_")) == [
        "notes.txt",
        "plot.png",
        "résumé 1.csv",
    ]
    assert all(a.found_by == ("container",) for a in whole.artifacts)
    upload = client.files.create(file=("upload.json", b'{"k": 1}'), purpose="user_data")
    [single] = fetch(upload.id, out_dir=tmp_path / "file", client=client).artifacts
    assert (single.filename, single.mime_type, single.path.read_bytes()) == (
        "upload.json",
        "application/json",
        b'{"k": 1}',
    )

    status = fetch_command([response.id, container_id], out=str(tmp_path / "cli"), base_url=emulator.base_url)
    assert status == 0, capsys.readouterr().err
    markdown = (tmp_path / "cli" / TOOL_DIR / f"{response.id}.md").read_text()
    assert "sandbox:" not in markdown and "(../plot.png)" in markdown
    assert len(json.loads((tmp_path / "cli" / MANIFEST_PATH).read_text())["artifacts"]) == 4


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_emulator_assistants_thread(tmp_path: Path, client: Any) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(
        thread.id,
        role="user",
        content=_prompt(
            "import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\nplt.show()\n"
            "open('/mnt/data/squares.csv', 'w').write('x,y\\n1,1\\n')\n"
        ),
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"
    result = fetch(thread.id, out_dir=tmp_path, client=client)
    assert result.ok and result.source_kind == "thread"
    kinds = sorted((a.mime_type, a.found_by) for a in result.artifacts)
    assert kinds == [("image/png", ("image_file",)), ("text/csv", ("file_path",))]
    [csv] = [a for a in result.artifacts if a.mime_type == "text/csv"]
    assert (csv.filename, csv.path.read_bytes()) == ("squares.csv", b"x,y\n1,1\n")
    assert "sandbox:" not in result.text and "(squares.csv)" in result.text
    messages = list(client.beta.threads.messages.list(thread.id))
    assert [a.filename for a in fetch(messages, out_dir=tmp_path, client=client).artifacts] == [
        a.filename for a in result.artifacts
    ]
