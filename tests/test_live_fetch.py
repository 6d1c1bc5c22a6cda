"""Files fetched while the reply streams: downloads start when an event names them, cancel cleanly.

The replay server records every request; the event streams here wait (bounded) for a request before
sending the next event, so each test asserts an ordering (this request arrived before that event was
sent), never a duration.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.errors import ApiError
from openai_artifacts_nb.fetching import fetch
from openai_artifacts_nb.live_fetch import LiveFetch
from openai_artifacts_nb.session import ConversationSession
from tests.plugins.engine import ReplayServer

CONTAINER = "cntr_live"


def _png(width: int = 8, height: int = 8) -> bytes:
    """A real (tiny, grey) PNG, so previews show it as an image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([128] * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png()
CSV = b"a,b\n1,2\n3,4\n"
TEXT = "Here is the chart: [chart](sandbox:/mnt/data/chart.png). Done."


def content_path(file_id: str) -> str:
    return f"/v1/containers/{CONTAINER}/files/{file_id}/content"


def wait_until(condition: Callable[[], bool], what: str, *, polls: int = 2000) -> None:
    """Wait (bounded) for ``condition``; fail the test if it never holds."""
    for _ in range(polls):
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


def serve_files(server: ReplayServer) -> None:
    server.container_file(CONTAINER, "cfile_chart", "/mnt/data/chart.png", PNG)
    server.container_file(CONTAINER, "cfile_table", "/mnt/data/table.csv", CSV)


def code_item(status: str) -> dict[str, Any]:
    return {
        "id": "ci_1",
        "type": "code_interpreter_call",
        "status": status,
        "code": "plot()",
        "container_id": CONTAINER,
        "outputs": [],
    }


def message_item(status: str, *, annotated: bool) -> dict[str, Any]:
    start = TEXT.index("[chart]")
    annotations = [citation(start, start + len("[chart](sandbox:/mnt/data/chart.png)"))] if annotated else []
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [{"type": "output_text", "text": TEXT if annotated else "", "annotations": annotations}],
    }


def citation(start: int, end: int) -> dict[str, Any]:
    return {
        "type": "container_file_citation",
        "container_id": CONTAINER,
        "file_id": "cfile_chart",
        "filename": "chart.png",
        "start_index": start,
        "end_index": end,
    }


def response(status: str, created_at: int, output: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "resp_live",
        "object": "response",
        "created_at": created_at,
        "status": status,
        "model": "gpt-4.1",
        "output": output,
        "error": {"code": "server_error", "message": "it broke"} if status == "failed" else None,
        "usage": None,
    }


def turn_events(
    *, before_end: Callable[[], Iterator[dict[str, Any]]] | None = None, end: str = "completed"
) -> Iterator[dict[str, Any]]:
    """One turn: code runs, then the text with its citation; ``before_end`` runs before the last event."""
    created = int(time.time()) - 5
    yield {"type": "response.created", "response": response("in_progress", created, [])}
    yield {"type": "response.output_item.added", "output_index": 0, "item": code_item("in_progress")}
    yield {"type": "response.output_item.done", "output_index": 0, "item": code_item("completed")}
    yield {
        "type": "response.output_item.added",
        "output_index": 1,
        "item": message_item("in_progress", annotated=False),
    }
    start = TEXT.index("[chart]")
    yield {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": TEXT}
    yield {
        "type": "response.output_text.annotation.added",
        "output_index": 1,
        "content_index": 0,
        "annotation_index": 0,
        "annotation": citation(start, start + len("[chart](sandbox:/mnt/data/chart.png)")),
    }
    if before_end is not None:
        yield from before_end()
    yield {"type": "response.output_text.done", "output_index": 1, "content_index": 0, "text": TEXT}
    final_output = [code_item("completed"), message_item("completed", annotated=True)]
    yield {"type": "response.output_item.done", "output_index": 1, "item": final_output[1]}
    yield {"type": f"response.{end}", "response": response(end, created, final_output)}


def test_files_download_before_the_reply_completes(
    replay_server: ReplayServer, replay_client: Any, tmp_path: Path
) -> None:
    serve_files(replay_server)
    both = {content_path("cfile_chart"), content_path("cfile_table")}
    before_completed: list[str] = []

    def wait_for_downloads() -> Iterator[dict[str, Any]]:
        wait_until(lambda: both <= set(replay_server.paths_requested()), "both downloads started")
        before_completed.extend(replay_server.paths_requested())
        yield from ()

    result = fetch(turn_events(before_end=wait_for_downloads), out_dir=tmp_path / "out", client=replay_client)

    # The cited file on its citation, the uncited one from the listing the code run's end started.
    assert both <= set(before_completed)
    assert [a.filename for a in result.artifacts] == ["chart.png", "table.csv"]
    assert [a.found_by for a in result.artifacts] == [("citation",), ("container_listing",)]
    assert (tmp_path / "out" / "chart.png").read_bytes() == PNG
    assert (tmp_path / "out" / "table.csv").read_bytes() == CSV
    assert result.artifacts[0].sha256 == hashlib.sha256(PNG).hexdigest()
    assert "(chart.png)" in result.text and "sandbox:" not in result.text
    requested = replay_server.paths_requested()
    assert all(requested.count(path) == 1 for path in both), "each file downloaded once"
    assert not list((tmp_path / "out").glob(".*.part"))


def test_a_live_iterator_saves_what_the_same_events_in_a_list_save(
    replay_server: ReplayServer, replay_client: Any, tmp_path: Path
) -> None:
    serve_files(replay_server)
    events = list(turn_events())
    live = fetch(iter(events), out_dir=tmp_path / "live", client=replay_client)
    collected = fetch(events, out_dir=tmp_path / "list", client=replay_client)

    def described(result: Any) -> list[tuple[Any, ...]]:
        return [(a.filename, a.sha256, a.found_by, a.mime_type, a.file_id) for a in result.artifacts]

    assert described(live) == described(collected)
    assert live.text == collected.text
    again = fetch(iter(events), out_dir=tmp_path / "live", client=replay_client)
    assert [a.filename for a in again.skipped] == ["chart.png", "table.csv"], "a re-run reuses the files"


def test_an_interrupt_stops_the_downloads_and_leaves_no_temporary_file(
    replay_server: ReplayServer, replay_client: Any, tmp_path: Path
) -> None:
    interrupted = threading.Event()
    piece = b"x" * (1 << 20)

    def slow_body() -> Iterator[bytes]:
        yield piece
        interrupted.wait(10)
        for _ in range(7):
            yield piece

    replay_server.container_file(CONTAINER, "cfile_chart", "/mnt/data/chart.png", b"")
    replay_server.stream(content_path("cfile_chart"), 8 * len(piece), slow_body)

    def interrupt() -> Iterator[dict[str, Any]]:
        wait_until(lambda: content_path("cfile_chart") in replay_server.paths_requested(), "the download")
        interrupted.set()
        raise KeyboardInterrupt
        yield  # a generator

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        fetch(turn_events(before_end=interrupt), out_dir=out, client=replay_client)
    assert not out.exists(), "the folder made for this turn's temporary files is gone again"
    assert replay_server.paths_requested().count(content_path("cfile_chart")) == 1, "not retried"


def test_a_failed_reply_cancels_the_session_turn(
    replay_server: ReplayServer, replay_client: Any, tmp_path: Path
) -> None:
    serve_files(replay_server)

    def wait_for_download() -> Iterator[dict[str, Any]]:
        wait_until(lambda: content_path("cfile_chart") in replay_server.paths_requested(), "the download")
        yield from ()

    replay_server.events("/v1/responses", lambda: turn_events(before_end=wait_for_download, end="failed"))
    out = tmp_path / "out"
    with pytest.raises(ApiError, match="failed"):
        ConversationSession().run("plot", client=replay_client, model="gpt-4.1", out_dir=out)
    assert not out.exists() or not any(out.iterdir()), "no file and no temporary file is left"


def test_a_session_shows_each_file_before_the_reply_completes(
    replay_server: ReplayServer, replay_client: Any, tmp_path: Path
) -> None:
    serve_files(replay_server)
    order: list[str] = []
    shown = threading.Event()

    def keep_writing() -> Iterator[dict[str, Any]]:
        # The model goes on writing until the files are shown (bounded); each delta is a chance to show.
        for _ in range(2000):
            if shown.is_set():
                return
            yield {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": ""}
            time.sleep(0.005)

    def on_file(artifact: Any) -> None:
        order.append(f"file {artifact.filename} {Path(artifact.path).suffix}")
        if len([entry for entry in order if entry.startswith("file")]) == 2:
            shown.set()

    def on_event(event: Any) -> None:
        if event.type == "response.completed":
            order.append("completed")

    replay_server.events("/v1/responses", lambda: turn_events(before_end=keep_writing))
    result = ConversationSession().run(
        "plot",
        client=replay_client,
        model="gpt-4.1",
        out_dir=tmp_path / "out",
        on_event=on_event,
        on_file=on_file,
    )
    assert sorted(order[:2]) == ["file chart.png .part", "file table.csv .part"]
    assert order[2:] == ["completed"]
    assert [a.filename for a in result.artifacts] == ["chart.png", "table.csv"]
    assert [Path(a.path).parent for a in result.artifacts] == [(tmp_path / "out").resolve()] * 2
    assert not list((tmp_path / "out").glob(".*.part"))


def test_nothing_starts_before_an_event_names_a_file(tmp_path: Path) -> None:
    live = LiveFetch(out_dir=tmp_path / "out")
    live.feed({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "hi"})
    assert live.started == [] and live.listed == []
    assert not (tmp_path / "out").exists()
    live.cancel()
