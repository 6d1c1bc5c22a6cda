"""The two real recordings become cassettes and replay through the magic: same text, file and link."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from openai_artifacts_nb.cassette import Cassette
from openai_artifacts_nb.cassette_convert import convert_recorded, events_from_response, synthesize_file
from openai_artifacts_nb.cli import main
from openai_artifacts_nb.errors import ConfigurationError
from openai_artifacts_nb.links import markdown_url
from tests.plugins.engine import RECORDED
from tests.plugins.notebook import run_ok

STREAM = RECORDED / "openai-code-interpreter-tool.1.chunks.txt"
JSON = RECORDED / "openai-code-interpreter-tool.1.json"
CASES = {
    "stream": (STREAM, "cntr_68c2e6f380d881908a57a82d394434ff02f484f5344062e9", "roll2dice_sums_10000.csv"),
    "json": (JSON, "cntr_6903bf2c0470819090b2b1e63e0b66800c139a5d654a42ec", "two_dice_sums_10000.txt"),
}

pytestmark = pytest.mark.skipif(not STREAM.is_file(), reason=f"the recordings are not at {RECORDED}")


def _recorded_response(source: Path) -> dict[str, object]:
    if source.suffix == ".json":
        return dict(json.loads(source.read_text()))
    last = json.loads(source.read_text().splitlines()[-1])
    return dict(last["response"])


def _original_text(response: dict[str, object]) -> str:
    output = response["output"]
    assert isinstance(output, list)
    return str(output[-1]["content"][0]["text"])


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("flags", ["", "--no-stream"])
def test_a_converted_recording_replays_through_the_magic(
    case: str, flags: str, ip: InteractiveShell, notebook_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, container_id, name = CASES[case]
    folder = convert_recorded(source, notebook_dir / f"{case}.cassette")
    monkeypatch.delenv("OPENAI_BASE_URL")
    run_ok(ip, f"%openai replay {folder} --speed 0")
    run = run_ok(ip, f"%%openai {flags} --out result\nRoll two dice ten thousand times and save the sums.")
    result = ip.user_ns["result"]
    response = _recorded_response(source)
    [artifact] = result.artifacts
    assert (artifact.filename, artifact.container_id) == (name, container_id)
    assert artifact.relative_path == f"analysis_artifacts/{name}"
    assert artifact.path.read_bytes() == synthesize_file(name, artifact.file_id)
    assert result.text == _original_text(response).replace(
        f"sandbox:/mnt/data/{name}", markdown_url(artifact.relative_path)
    )
    assert result.response_id == response["id"] and result.container_id == container_id
    assert result.code_runs[0].logs.startswith(("(2, 12, 69868", "(10000, 70024)"))
    assert "sandbox:" not in run.all_text() and f"(analysis_artifacts/{name})" in run.all_text()


def test_the_converted_cassette_says_what_is_synthesized(tmp_path: Path) -> None:
    folder = convert_recorded(STREAM, tmp_path / "tape", prompt="Roll two dice")
    cassette = Cassette.load(folder)
    notes = " ".join(cassette.index["notes"])
    assert "synthesized" in notes and "pace is invented" in notes and "prompt was given" in notes
    [turn] = [e for e in cassette.exchanges if e["request"]["path"] == "/responses"]
    assert turn["request"]["json"]["input"] == "Roll two dice"
    assert len(turn["response"]["events"]) == len(STREAM.read_text().splitlines()) == 393
    [download] = [e for e in cassette.exchanges if e["request"]["path"].endswith("/content")]
    data = cassette.file_path(download["response"]["file"]["sha256"]).read_bytes()
    assert data.startswith(b"sum\n") and data.count(b"\n") == 10_001
    assert hashlib.sha256(data).hexdigest() == download["response"]["file"]["sha256"]
    assert (
        synthesize_file("x.csv", "seed")
        == synthesize_file("x.csv", "seed")
        != synthesize_file("x.csv", "other")
    )
    assert synthesize_file("chart.png", "seed").startswith(b"\x89PNG\r\n\x1a\n")


def test_events_from_a_response_end_with_the_response_itself() -> None:
    response = json.loads(JSON.read_text())
    events = events_from_response(response)
    kinds = [event["event"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert events[-1]["data"]["response"] == response
    text = "".join(e["data"]["delta"] for e in events if e["event"] == "response.output_text.delta")
    assert text == _original_text(response)
    assert [e["data"]["sequence_number"] for e in events] == list(range(len(events)))


def test_the_command_converts_and_a_bad_source_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cassette", "convert", str(JSON), str(tmp_path / "tape")]) == 0
    assert "Cassette written to" in capsys.readouterr().out
    assert len(Cassette.load(tmp_path / "tape").exchanges) == 5
    (tmp_path / "bad.chunks.txt").write_text("not json\n")
    assert main(["cassette", "convert", str(tmp_path / "bad.chunks.txt"), str(tmp_path / "t2")]) == 1
    assert "not JSON" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="never completes"):
        (tmp_path / "cut.chunks.txt").write_text(STREAM.read_text().splitlines()[0] + "\n")
        convert_recorded(tmp_path / "cut.chunks.txt", tmp_path / "t3")
