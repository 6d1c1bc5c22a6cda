"""The two real recorded OpenAI replies, served by a small test server: the cited file saved, the link fixed.

The recordings cite files that do not exist here, so the test server serves its own bytes under the cited
container and file ids; the official SDK fetches them through it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.fetching import fetch
from openai_artifacts_nb.links import markdown_url
from openai_artifacts_nb.manifest import MANIFEST_PATH
from tests.plugins.engine import RECORDED, ReplayServer, Route

JSON_REPLY = {
    "container": "cntr_6903bf2c0470819090b2b1e63e0b66800c139a5d654a42ec",
    "file": "cfile_6903bf45e3288191af3d56e6d23c3a4d",
    "name": "two_dice_sums_10000.txt",
    "mime": "text/plain",
}
STREAM_REPLY = {
    "container": "cntr_68c2e6f380d881908a57a82d394434ff02f484f5344062e9",
    "file": "cfile_68c2e7084ab48191a67824aa1f4c90f1",
    "name": "roll2dice_sums_10000.csv",
    "mime": "text/csv",
}


def _dice_bytes(csv: bool) -> bytes:
    sums = [(n * 7) % 11 + 2 for n in range(10_000)]
    if csv:
        return ("trial,sum\n" + "".join(f"{i + 1},{s}\n" for i, s in enumerate(sums))).encode()
    return ("".join(f"{s}\n" for s in sums) + f"TOTAL: {sum(sums)}\n").encode()


def _serve_cited_file(server: ReplayServer, reply: dict[str, str], data: bytes, created_at: int) -> None:
    server.container(reply["container"])
    server.container_file(
        reply["container"], reply["file"], f"/mnt/data/{reply['name']}", data, created_at=created_at + 5
    )


def _check(result: Any, out: Path, reply: dict[str, str], data: bytes, original_text: str) -> None:
    assert result.ok, result.failures
    [artifact] = result.artifacts
    assert artifact.path == out.resolve() / reply["name"]
    assert artifact.path.read_bytes() == data
    assert (artifact.container_id, artifact.file_id) == (reply["container"], reply["file"])
    assert artifact.mime_type == reply["mime"]
    assert artifact.sandbox_path == f"/mnt/data/{reply['name']}"
    assert "citation" in artifact.found_by
    assert "sandbox:" not in result.text
    expected = original_text.replace(
        f"sandbox:/mnt/data/{reply['name']}", markdown_url(artifact.relative_path)
    )
    assert result.text == expected
    manifest = json.loads((out / MANIFEST_PATH).read_text())
    [entry] = manifest["artifacts"]
    assert (entry["path"], entry["file_id"], entry["bytes"]) == (reply["name"], reply["file"], len(data))


def test_recorded_json_reply_by_id(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any, recorded_json: dict[str, Any]
) -> None:
    data = _dice_bytes(csv=False)
    _serve_cited_file(replay_server, JSON_REPLY, data, recorded_json["created_at"])
    replay_server.json(f"/v1/responses/{recorded_json['id']}", recorded_json)
    notebook_dir = tmp_path / "nb"
    out = notebook_dir / "analysis_artifacts"
    result = fetch(recorded_json["id"], out_dir=out, client=replay_client, link_base=notebook_dir)
    original = recorded_json["output"][-1]["content"][0]["text"]
    _check(result, out, JSON_REPLY, data, original)
    assert result.artifacts[0].relative_path == "analysis_artifacts/two_dice_sums_10000.txt"
    assert "[Download the file](analysis_artifacts/two_dice_sums_10000.txt)" in result.text
    assert result.source_id == recorded_json["id"]


@pytest.mark.parametrize("shape", ["dicts", "jsonl", "sdk-events"])
def test_recorded_stream(
    tmp_path: Path,
    replay_server: ReplayServer,
    replay_client: Any,
    recorded_events: list[dict[str, Any]],
    shape: str,
) -> None:
    created = recorded_events[0]["response"]["created_at"]
    data = _dice_bytes(csv=True)
    _serve_cited_file(replay_server, STREAM_REPLY, data, created)
    lines = (RECORDED / "openai-code-interpreter-tool.1.chunks.txt").read_text(encoding="utf-8")
    source: Any = recorded_events
    if shape == "jsonl":
        source = lines
    elif shape == "sdk-events":
        sse = "".join(f"data: {line}\n\n" for line in lines.splitlines() if line.strip())
        replay_server.routes[("POST", "/v1/responses")] = Route(
            body=sse.encode(), content_type="text/event-stream"
        )
        source = list(replay_client.responses.create(model="gpt-5-nano", input="dice", stream=True))
    out = tmp_path / "out"
    result = fetch(source, out_dir=out, client=replay_client, turn_started_at=created)
    original = recorded_events[-1]["response"]["output"][-1]["content"][0]["text"]
    _check(result, out, STREAM_REPLY, data, original)
    assert (
        "[Download the CSV](roll2dice_sums_10000.csv)" in result.text
        or "(roll2dice_sums_10000.csv)" in result.text
    )
