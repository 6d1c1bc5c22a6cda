"""Issue 9, stalled downloads: a body that goes silent mid-way is given up after ``stall_timeout`` seconds
of silence, once (never retried), in one line; every other file is saved."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openai_artifacts_nb.download import STALL_TIMEOUT, Downloader, StalledError
from openai_artifacts_nb.fetching import fetch
from openai_artifacts_nb.manifest import Manifest
from openai_artifacts_nb.reply import ArtifactRef
from tests.plugins.engine import ReplayServer

CONTAINER = "cntr_s"


def _stalling(release: threading.Event, head: bytes) -> Any:
    def chunks() -> Iterator[bytes]:
        yield head
        release.wait(30)  # silence, until the test ends
        yield b"never read"

    return chunks


def _reply(names: list[str]) -> dict[str, Any]:
    text = " ".join(f"[{name}](sandbox:/mnt/data/{name})" for name in names)
    notes = []
    for number, name in enumerate(names):
        target = f"sandbox:/mnt/data/{name}"
        start = text.index(target)
        notes.append(
            {
                "type": "container_file_citation",
                "container_id": CONTAINER,
                "file_id": f"cfile_{number}",
                "filename": name,
                "start_index": start,
                "end_index": start + len(target),
            }
        )
    content = {"type": "output_text", "text": text, "annotations": notes}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [content]}
    return {"id": "resp_s", "object": "response", "created_at": 1, "output": [message]}


def test_the_default_is_sixty_seconds_of_silence() -> None:
    assert STALL_TIMEOUT == 60.0
    assert Downloader(None).stall_timeout == 60.0


def test_a_stalled_body_is_one_line_and_the_rest_is_saved(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    release = threading.Event()
    stalled_path = f"/v1/containers/{CONTAINER}/files/cfile_0/content"
    try:
        replay_server.container_file(CONTAINER, "cfile_0", "/mnt/data/big.bin", b"", listed=False)
        replay_server.stream(stalled_path, 10_000, _stalling(release, b"x" * 1000))
        replay_server.container_file(CONTAINER, "cfile_1", "/mnt/data/ok.csv", b"a,b\n", listed=False)
        result = fetch(
            _reply(["big.bin", "ok.csv"]), out_dir=tmp_path, client=replay_client, stall_timeout=0.5
        )
    finally:
        release.set()
    [failure] = result.failures
    assert isinstance(failure.error, StalledError)
    assert "stalled: no data for 0.5 s" in failure.message and "\n" not in failure.message
    assert failure.message.startswith("big.bin (cfile_0")
    assert [a.filename for a in result.artifacts] == ["ok.csv"]
    assert (tmp_path / "ok.csv").read_bytes() == b"a,b\n"
    assert [e.path for e in Manifest(tmp_path).entries.values()] == ["ok.csv"]
    assert not list(tmp_path.glob(".*.part"))
    assert replay_server.paths_requested().count(stalled_path) == 1
    assert "stalled" in result.text and "sandbox:" not in result.text


def test_a_server_silent_before_the_headers_is_a_stall_too(
    tmp_path: Path, replay_server: ReplayServer
) -> None:
    from openai import OpenAI

    replay_server.container_file(CONTAINER, "cfile_0", "/mnt/data/slow.txt", b"late", listed=False, delay=3)
    client = OpenAI(base_url=replay_server.base_url, api_key="sk-test-x", max_retries=0)
    ref = ArtifactRef(store="container", container_id=CONTAINER, file_id="cfile_0", filename="slow.txt")
    outcome = Downloader(client, stall_timeout=0.3).download_one(ref, lambda hint: tmp_path / f".{hint}.part")
    assert isinstance(outcome, StalledError) and "stalled: no data for 0.3 s" in str(outcome)
    assert not list(tmp_path.iterdir())


def test_the_emulators_stall_fault(tmp_path: Path, client: Any, emulator: Any) -> None:
    code = (
        "open('/mnt/data/first.txt', 'w').write('one' * 1000)\n"
        "open('/mnt/data/second.txt', 'w').write('two' * 1000)\n"
    )
    response = client.responses.create(
        model="gpt-4.1",
        input=f"```python\n{code}```",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        include=["code_interpreter_call.outputs"],
    )
    emulator.faults.stall_downloads(1, after=100)
    result = fetch(response, out_dir=tmp_path, client=client, max_workers=1, stall_timeout=1)
    [failure] = result.failures
    assert isinstance(failure.error, StalledError) and "stalled: no data for 1 s" in failure.message
    [saved] = result.artifacts
    assert saved.path.read_bytes() in (b"one" * 1000, b"two" * 1000)
    assert {saved.filename, failure.filename} == {"first.txt", "second.txt"}
    assert emulator.faults.describe()["pending_stalls"] == 0
    assert not list(tmp_path.glob(".*.part"))
