"""The replay server: matching by order and prompt, timestamps moved to now, served to the SDKs over HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import openai
import pytest

from openai_artifacts_nb.cassette import Cassette, CassetteWriter
from openai_artifacts_nb.recording import recording_http_client
from openai_artifacts_nb.replay_server import CassetteServer, Hit, Matcher, Miss, TimeShift

if TYPE_CHECKING:
    from openai_artifacts_nb.local import LocalServer

FIRST = "Make a table.\n```python\nopen('/mnt/data/t.csv', 'w').write('x,y\\n1,2\\n')\n```"
SECOND = "And another.\n```python\nopen('/mnt/data/u.txt', 'w').write('second turn')\n```"
TOOLS: Any = [{"type": "code_interpreter", "container": {"type": "auto"}}]


def _turn(client: openai.OpenAI, prompt: str, previous: str | None = None) -> tuple[Any, list[bytes]]:
    """One streamed turn plus its container's files, the way the magic does it."""
    extra: Any = {"previous_response_id": previous} if previous else {}
    with client.responses.create(model="gpt-4.1", input=prompt, tools=TOOLS, stream=True, **extra) as events:
        final = next(e for e in events if e.type == "response.completed").response
    container_id = final.output[0].container_id
    entries = client.containers.files.list(container_id, order="asc", limit=100).data
    return final, [
        client.containers.files.content.retrieve(e.id, container_id=container_id).read() for e in entries
    ]


@pytest.fixture(scope="module")
def recorded(emulator: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A two-turn session recorded from the emulator, with what the SDK saw."""
    writer = CassetteWriter(tmp_path_factory.mktemp("replay") / "tape")
    client = openai.OpenAI(
        base_url=emulator.base_url, api_key="any", http_client=recording_http_client(writer)
    )
    with client:
        first, first_files = _turn(client, FIRST)
        second, second_files = _turn(client, SECOND, first.id)
    yield {
        "folder": writer.close(),
        "first": first,
        "second": second,
        "first_files": first_files,
        "second_files": second_files,
    }


def _exchange(method: str, path: str, *, prompt: str | None = None, at: float = 0.0) -> dict[str, Any]:
    body = None if prompt is None else {"input": prompt}
    return {
        "seq": 0,
        "at": at,
        "request": {"method": method, "path": path, "query": [], "json": body},
        "response": {"status": 200, "kind": "json", "json": {"path": path, "prompt": prompt}},
    }


def test_prompts_match_by_text_in_order_skipping_and_rerunning() -> None:
    exchanges = [
        _exchange("POST", "/responses", prompt="One"),
        _exchange("POST", "/responses", prompt="Two"),
        _exchange("POST", "/responses", prompt="one"),
    ]
    matcher = Matcher(exchanges)

    def index(prompt: str) -> int | str:
        found = matcher.match("POST", "/responses", [], {"input": prompt})
        return found.index if isinstance(found, Hit) else found.message

    assert index("  TWO\n") == 1, "a skipped cell: the next one still matches, whitespace and case aside"
    assert index("one") == 0 and index("One") == 2, "the same prompt twice: recorded order"
    assert index("one") == 2, "run again: the last recorded reply again"
    missed = matcher.match("POST", "/responses", [], {"input": "Three"})
    assert isinstance(missed, Miss) and missed.status == 400
    assert missed.message == (
        "Replay: this prompt is not in the cassette: all 3 recorded prompts were replayed "
        '(this cell sent "Three"); '
        "replay with --fallback local to have the emulator answer it."
    )
    assert matcher.status()["misses"] == [missed.message]


def test_a_miss_names_the_expected_prompt_and_its_position() -> None:
    matcher = Matcher([_exchange("POST", "/responses", prompt=f"Prompt {n}") for n in (1, 2, 3)])
    assert isinstance(matcher.match("POST", "/responses", [], {"input": "Prompt 1"}), Hit)
    missed = matcher.match("POST", "/responses", [], {"input": "Something new " * 10}, fallback=True)
    assert isinstance(missed, Miss)
    assert 'expected prompt 2 of 3: "Prompt 2"' in missed.message
    assert "Something new Something new" in missed.message and "…" in missed.message
    assert "--fallback" not in missed.message


def test_unknown_prompts_in_a_cassette_match_any_prompt_by_order() -> None:
    matcher = Matcher([_exchange("POST", "/responses"), _exchange("POST", "/responses")])
    found = [matcher.match("POST", "/responses", [], {"input": text}) for text in ("a", "b", "c")]
    assert [f.index for f in found if isinstance(f, Hit)] == [0, 1, 1]


def test_other_requests_match_within_their_turn_in_order() -> None:
    listing = "/containers/c/files"
    exchanges = [
        _exchange("POST", "/responses", prompt="one"),
        _exchange("GET", listing),
        _exchange("POST", "/responses", prompt="two"),
        _exchange("GET", listing),
        _exchange("GET", listing),
    ]
    matcher = Matcher(exchanges)

    def get() -> int:
        found = matcher.match("GET", listing, [], None)
        assert isinstance(found, Hit)
        return found.index

    matcher.match("POST", "/responses", [], {"input": "two"})
    assert [get(), get(), get()] == [3, 4, 4], "turn two's own listings, then the last one again"
    matcher.match("POST", "/responses", [], {"input": "one"})
    assert get() == 1
    missed = matcher.match("GET", "/containers/other/files", [("limit", "100")], None)
    assert isinstance(missed, Miss) and missed.status == 404
    assert missed.message == "Replay: GET /containers/other/files?limit=100 is not in the cassette."


def test_timestamps_move_turn_by_turn_and_stay_consistent() -> None:
    base = 1_700_000_000
    exchanges = [
        _exchange("POST", "/responses", prompt="a", at=base + 0.4),
        _exchange("POST", "/responses", at=base + 4000.0),
    ]
    clock = TimeShift(exchanges, [0, 1])
    before = int(time.time())
    clock.turn_started(0)
    recorded = {
        "created_at": base + 3,
        "items": [{"completed_at": base + 10.5}],
        "count": base,
        "flag_at": True,
    }
    moved = clock.shift(recorded)
    assert moved["created_at"] - (base + 3) == moved["items"][0]["completed_at"] - (base + 10.5)
    assert moved["created_at"] >= before + 3 and isinstance(moved["created_at"], int)
    assert (moved["count"], moved["flag_at"]) == (base, True), "only *_at numbers are timestamps"
    assert clock.shift({"created_at": base + 3}) == {"created_at": moved["created_at"]}, "the same every time"
    later = clock.shift({"created_at": base + 4001})["created_at"]
    assert later - (base + 4001) == moved["created_at"] - (base + 3), (
        "a turn not replayed yet: the last offset"
    )
    assert clock.shift({"created_at": 1003}) == {"created_at": 1003}, "not a plausible unix time"


def test_the_sdk_replays_a_recorded_session(recorded: dict[str, Any]) -> None:
    started = int(time.time())
    with (
        CassetteServer(recorded["folder"], speed=0) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-no-key-needed") as client,
    ):
        first, first_files = _turn(client, FIRST)
        second, second_files = _turn(client, SECOND, first.id)
        status = httpx2.get(server.base_url.removesuffix("/v1") + "/_replay/status").json()
    assert (first.id, second.id) == (recorded["first"].id, recorded["second"].id)
    assert (
        first.output_text == recorded["first"].output_text
        and second.output[0].container_id == first.output[0].container_id
    )
    assert first_files == recorded["first_files"] == [b"x,y\n1,2\n"]
    assert second_files == recorded["second_files"]
    assert b"second turn" in second_files
    assert first.created_at >= started, "recorded timestamps are moved to replay time"
    assert [p["replayed"] for p in status["prompts"]] == [True, True] and status["misses"] == []


def test_a_non_streamed_request_gets_the_recorded_streams_final_response(recorded: dict[str, Any]) -> None:
    with (
        CassetteServer(recorded["folder"], speed=0) as server,
        openai.OpenAI(base_url=server.base_url, api_key="x") as client,
    ):
        response = client.responses.create(model="gpt-4.1", input=FIRST, tools=TOOLS)
    assert response.id == recorded["first"].id and response.output_text == recorded["first"].output_text


def test_recorded_pace_and_speed_give_the_same_events(recorded: dict[str, Any]) -> None:
    def events(speed: float) -> list[str]:
        with (
            CassetteServer(recorded["folder"], speed=speed) as server,
            openai.OpenAI(base_url=server.base_url, api_key="x") as client,
            client.responses.create(model="m", input=FIRST, tools=TOOLS, stream=True) as stream,
        ):
            return [event.type for event in stream]

    assert events(1000.0) == events(0) and events(0)[-1] == "response.completed"


def test_an_unknown_prompt_is_one_openai_error(recorded: dict[str, Any]) -> None:
    with (
        CassetteServer(recorded["folder"], speed=0) as server,
        openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client.responses.create(model="m", input="What is new?", stream=True)
    body: Any = caught.value.body
    assert body["code"] == "not_in_cassette"
    assert f'expected prompt 1 of 2: "{FIRST.splitlines()[0]}' in body["message"]


def test_fallback_local_answers_an_unknown_prompt_with_the_emulator(recorded: dict[str, Any]) -> None:
    new = "Something new.\n```python\nopen('/mnt/data/new.txt', 'w').write('from the emulator')\n```"
    with (
        CassetteServer(recorded["folder"], speed=0, fallback="local") as server,
        openai.OpenAI(base_url=server.base_url, api_key="x") as client,
    ):
        first, _ = _turn(client, FIRST)
        answered, files = _turn(client, new, first.id)
        second, _ = _turn(client, SECOND, answered.id)
    assert answered.id not in {recorded["first"].id, recorded["second"].id}
    assert files == [b"from the emulator"]
    assert answered.output[0].container_id != first.output[0].container_id, (
        "a container of the emulator's own"
    )
    assert second.id == recorded["second"].id, "the next recorded prompt still replays"


@pytest.fixture
def served(recorded: dict[str, Any]) -> Iterator[str]:
    """``openai-artifacts serve --replay`` in a subprocess; yields its base URL, then stops it (SIGTERM)."""
    command = [sys.executable, "-m", "openai_artifacts_nb", "serve", "--replay", str(recorded["folder"])]
    process = subprocess.Popen(
        [*command, "--port", "0", "--speed", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith(f"Replaying {recorded['folder']} (2 prompts) on http://127.0.0.1:"), banner
        yield banner.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=20)
    assert process.returncode == 0 and "Stopping the replay server." in errors


def test_serve_replay_serves_a_cassette_to_another_process(served: str, recorded: dict[str, Any]) -> None:
    with openai.OpenAI(base_url=served, api_key="x") as client:
        first, files = _turn(client, FIRST)
    assert first.id == recorded["first"].id and files == recorded["first_files"]


def test_serve_replay_serves_the_node_sdk(served: str, recorded: dict[str, Any]) -> None:
    node = shutil.which("node")
    sdk = Path(os.environ.get("OPENAI_NODE_SDK", "/tmp/openai-node-sdk")) / "node_modules" / "openai"
    if not node or not sdk.is_dir():
        pytest.skip(
            "needs node and the openai npm package (npm install --prefix /tmp/openai-node-sdk openai)"
        )
    script = (
        f"const OpenAI = require({json.dumps(str(sdk))});"
        f"const c = new OpenAI({{baseURL: {json.dumps(served)}, apiKey: 'x'}});"
        f"c.responses.create({{model: 'm', input: {json.dumps(FIRST)}}})"
        ".then(r => console.log(r.id + ' ' + r.output_text.length));"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == [recorded["first"].id, str(len(recorded["first"].output_text))]


def test_file_bytes_come_from_the_cassette(recorded: dict[str, Any]) -> None:
    cassette = Cassette.load(recorded["folder"])
    references = [e["response"]["file"] for e in cassette.exchanges if e["response"]["kind"] == "file"]
    digests = {
        hashlib.sha256(data).hexdigest() for data in recorded["first_files"] + recorded["second_files"]
    }
    assert {reference["sha256"] for reference in references} == digests
    assert {path.name for path in (cassette.folder / "files").iterdir()} == digests


def test_a_hand_edited_cassette_cannot_inject_frames_or_headers(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "tape")
    events = [
        {
            "t": 0,
            "event": 'response.created\n\ndata: {"injected": true}',
            "data": {"type": "response.created"},
        },
        {"t": 0, "event": "done", "raw": "line one\nline two"},
    ]
    writer.add(
        {
            "seq": writer.next_seq(),
            "at": 1_700_000_000,
            "request": {"method": "POST", "path": "/responses", "query": [], "json": None},
            "response": {
                "status": 200,
                "kind": "sse",
                "headers": {
                    "content-type": "text/event-stream",
                    "x-evil": "a",
                    "content-disposition": "a\r\nb: c",
                },
                "events": events,
            },
        }
    )
    with CassetteServer(writer.close(), speed=0) as server:
        reply = httpx2.post(server.base_url + "/responses", json={"input": "x", "stream": True})
    frames = [frame for frame in reply.text.split("\n\n") if frame]
    assert len(frames) == 2
    assert frames[0].splitlines() == [
        'event: response.created  data: {"injected": true}',
        'data: {"type":"response.created"}',
    ], "the name stays one line of its frame"
    assert frames[1] == "event: done\ndata: line one\ndata: line two"
    assert "x-evil" not in reply.headers and reply.headers["content-disposition"] == "a b: c"
