"""The recording transport, under the official SDK against the emulator: every exchange, no secret."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import openai

from openai_artifacts_nb.cassette import Cassette, CassetteWriter
from openai_artifacts_nb.recording import recording_http_client

if TYPE_CHECKING:
    from openai_artifacts_nb.local import LocalServer

SECRET_KEY = "sk-test-SECRETSECRET123"
ORGANIZATION = "org-SECRETORG0123456789"
PROJECT = "proj_SECRETPROJECT0123456789"
MAKE_FILE = "Write a file.\n```python\nopen('/mnt/data/data.bin', 'wb').write(bytes(range(256)) * 400)\n```"


def _record(emulator: LocalServer, folder: Path) -> tuple[Cassette, bytes, str]:
    writer = CassetteWriter(folder)
    client = openai.OpenAI(
        base_url=emulator.base_url,
        api_key=SECRET_KEY,
        organization=ORGANIZATION,
        project=PROJECT,
        http_client=recording_http_client(writer),
    )
    with client:
        tools: list[dict[str, object]] = [{"type": "code_interpreter", "container": {"type": "auto"}}]
        with client.responses.create(
            model="gpt-4.1",
            input=MAKE_FILE,
            tools=tools,
            stream=True,  # type: ignore[arg-type]
        ) as events:
            final = next(event for event in events if event.type == "response.completed").response
        container_id = final.output[0].container_id  # type: ignore[union-attr]
        [entry] = client.containers.files.list(container_id).data
        data = client.containers.files.content.retrieve(entry.id, container_id=container_id).read()
    return Cassette.load(writer.close()), data, final.id


def test_every_exchange_is_recorded_with_its_body(emulator: LocalServer, tmp_path: Path) -> None:
    cassette, data, response_id = _record(emulator, tmp_path / "tape")
    kinds = [
        (e["request"]["method"], e["request"]["path"].split("/")[1], e["response"]["kind"])
        for e in cassette.exchanges
    ]
    assert kinds == [
        ("POST", "responses", "sse"),
        ("GET", "containers", "json"),
        ("GET", "containers", "file"),
    ]
    turn, listing, content = cassette.exchanges
    assert turn["request"]["json"]["input"] == MAKE_FILE and turn["request"]["json"]["stream"] is True
    events = turn["response"]["events"]
    assert events[0]["event"] == "response.created" and events[-1]["event"] == "response.completed"
    assert [e["data"]["sequence_number"] for e in events] == list(range(len(events)))
    offsets = [e["t"] for e in events]
    assert offsets == sorted(offsets) and all(t >= 0 for t in offsets)
    assert events[-1]["data"]["response"]["id"] == response_id
    assert listing["request"]["path"].endswith("/files") and listing["response"]["json"]["data"][0][
        "bytes"
    ] == len(data)
    reference = content["response"]["file"]
    assert reference == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": 256 * 400}
    assert cassette.file_path(reference["sha256"]).read_bytes() == data
    assert [e["seq"] for e in cassette.exchanges] == [0, 1, 2]
    assert all(isinstance(e["at"], float) for e in cassette.exchanges)


def test_no_secret_is_in_any_byte_of_the_cassette(emulator: LocalServer, tmp_path: Path) -> None:
    cassette, _, _ = _record(emulator, tmp_path / "tape")
    files = [path for path in cassette.folder.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"cassette.json", "exchanges.jsonl"}
    for path in files:
        data = path.read_bytes()
        for secret in (
            SECRET_KEY,
            ORGANIZATION,
            PROJECT,
            "SECRET",
            "Authorization",
            "authorization",
            "Bearer",
        ):
            assert secret.encode() not in data, f"{secret} in {path.name}"
        for header in (b"openai-organization", b"openai-project", b"cookie", b"x-stainless"):
            assert header not in data.lower(), f"{header!r} in {path.name}"
    for exchange in cassette.exchanges:
        assert set(exchange["request"]["headers"]) <= {"content-type", "accept", "openai-beta"}
        assert set(exchange["response"]["headers"]) <= {
            "content-type",
            "content-disposition",
            "openai-version",
        }


def test_a_stream_closed_early_is_recorded_as_incomplete(emulator: LocalServer, tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "tape")
    client = openai.OpenAI(
        base_url=emulator.base_url, api_key="any", http_client=recording_http_client(writer)
    )
    with client, client.responses.create(model="gpt-4.1", input="hello", stream=True) as events:
        first = next(iter(events))
    [exchange] = Cassette.load(writer.close()).exchanges
    assert first.type == "response.created"
    recorded = exchange["response"]
    assert recorded["kind"] == "sse" and recorded.get("complete") is False
    assert recorded["events"][0]["event"] == "response.created"
    assert "response.completed" not in json.dumps(recorded["events"])


def test_a_downloaded_json_file_keeps_its_exact_bytes(emulator: LocalServer, tmp_path: Path) -> None:
    odd = b'{ "b" :1,\n  "a":  [1,2] }\n'
    writer = CassetteWriter(tmp_path / "tape")
    client = openai.OpenAI(
        base_url=emulator.base_url, api_key="any", http_client=recording_http_client(writer)
    )
    code = f"Save JSON.\n```python\nopen('/mnt/data/odd.json', 'wb').write({odd!r})\n```"
    with client:
        response = client.responses.create(
            model="gpt-4.1", input=code, tools=[{"type": "code_interpreter", "container": {"type": "auto"}}]
        )
        container_id = response.output[0].container_id  # type: ignore[union-attr]
        [entry] = client.containers.files.list(container_id).data
        data = client.containers.files.content.retrieve(entry.id, container_id=container_id).read()
    download = Cassette.load(writer.close()).exchanges[-1]["response"]
    assert data == odd and download["kind"] == "file"
    assert (tmp_path / "tape" / "files" / download["file"]["sha256"]).read_bytes() == odd
