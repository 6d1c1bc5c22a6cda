"""``%openai record`` and ``%openai replay`` in a real IPython shell: record on the emulator, replay."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from openai_artifacts_nb.cassette import Cassette
from tests.plugins.notebook import CellRun, run_cell, run_ok

SECRET_KEY = "sk-test-SECRETSECRET123"
ORGANIZATION = "org-SECRETORGANIZATION42"
PROJECT = "proj_SECRETPROJECT42"
CHART_AND_TABLE = """Plot the squares and save them as a table.
```python
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9])
plt.savefig("/mnt/data/squares.png")
with open("/mnt/data/squares.csv", "w") as handle:
    handle.write("x,y\\n1,1\\n2,4\\n3,9\\n")
print("made 2 files")
```
"""
FOLLOW_UP = "Read the upload.\n```python\nprint(open('/mnt/data/numbers.csv').read().split())\n```"
CELLS = [f"%%openai --out first\n{CHART_AND_TABLE}", f"%%openai --file numbers.csv --out second\n{FOLLOW_UP}"]


def _fresh_notebook(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Make ``folder/analysis.ipynb`` the notebook that runs (same name: the same relative links)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "analysis.ipynb").write_text("{}", encoding="utf-8")
    (folder / "numbers.csv").write_text("n\n1\n2\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("OPENAI_ARTIFACTS_NOTEBOOK", str(folder / "analysis.ipynb"))
    return folder


def _no_key_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


def _seen(ip: InteractiveShell, runs: list[CellRun]) -> dict[str, Any]:
    """What the cells showed: texts, files (link path and hash), logs, previews."""
    results = [ip.user_ns["first"], ip.user_ns["second"]]
    return {
        "texts": [result.text for result in results],
        "files": [[(a.relative_path, a.sha256) for a in result.artifacts] for result in results],
        "logs": [[run.logs for run in result.code_runs] for result in results],
        "ids": [(result.response_id, result.container_id) for result in results],
        "previews": [[html for html in run.mime("text/html") if "oai-table-preview" in html] for run in runs],
        "images": [run.mime("image/png") for run in runs],
    }


def _record(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, folder: Path) -> dict[str, Any]:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    monkeypatch.setenv("OPENAI_ORG_ID", ORGANIZATION)
    monkeypatch.setenv("OPENAI_PROJECT_ID", PROJECT)
    _fresh_notebook(monkeypatch, folder.parent / "recording")
    started = run_ok(ip, f"%openai record {folder}")
    assert started.result.message == f"Recording every API exchange of the following cells into {folder}."
    runs = [run_ok(ip, cell) for cell in CELLS]
    stopped = run_ok(ip, "%openai record stop")
    assert stopped.result.message == f"Recording stopped: the cassette is in {folder}."
    return _seen(ip, runs)


def test_record_then_replay_with_no_key_gives_the_same_cells(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cassette = tmp_path / "class.cassette"
    recorded = _record(ip, monkeypatch, cassette)
    assert len(recorded["files"][0]) == 2 and recorded["logs"][1] == ["['n', '1', '2']\n"]

    _no_key_no_network(monkeypatch)
    replay_dir = _fresh_notebook(monkeypatch, tmp_path / "student")
    notice = run_ok(ip, f"%openai replay {cassette} --speed 0").result.message
    assert notice.startswith(f"Replaying {cassette} at http://127.0.0.1:") and "no key" in notice
    runs = [run_ok(ip, cell) for cell in CELLS]
    replayed = _seen(ip, runs)
    assert replayed == recorded
    saved = sorted(
        p.name for p in (replay_dir / "analysis_artifacts").iterdir() if not p.name.startswith(".")
    )
    assert saved == ["squares.csv", "squares.png"]
    for relative, digest in replayed["files"][0]:
        assert hashlib.sha256((replay_dir / relative).read_bytes()).hexdigest() == digest
    status = run_ok(ip, "%openai status").result.message
    assert f"replaying {cassette}" in status


def test_the_cassette_holds_no_secret(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cassette = tmp_path / "class.cassette"
    _record(ip, monkeypatch, cassette)
    loaded = Cassette.load(cassette)
    methods = [(e["request"]["method"], e["response"]["kind"]) for e in loaded.exchanges]
    assert ("POST", "sse") in methods and ("GET", "file") in methods
    assert any(
        e["request"]["path"].endswith("/files") and e["request"]["method"] == "POST" for e in loaded.exchanges
    )
    every_byte = b"".join(path.read_bytes() for path in sorted(cassette.rglob("*")) if path.is_file())
    for secret in (SECRET_KEY, "SECRETSECRET", ORGANIZATION, PROJECT, "Authorization", "Bearer"):
        assert secret.encode() not in every_byte, secret
    for header in (b"authorization", b"openai-organization", b"openai-project", b"cookie"):
        assert header not in every_byte.lower(), header


def test_backend_environment_replays_and_a_new_prompt_is_one_line(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cassette = tmp_path / "class.cassette"
    recorded = _record(ip, monkeypatch, cassette)
    _no_key_no_network(monkeypatch)
    _fresh_notebook(monkeypatch, tmp_path / "student")
    monkeypatch.setenv("OPENAI_ARTIFACTS_BACKEND", f"replay:{cassette}")
    monkeypatch.setenv("OPENAI_ARTIFACTS_REPLAY_SPEED", "0")
    run_ok(ip, "%openai reset")
    run_ok(ip, CELLS[0])
    assert ip.user_ns["first"].text == recorded["texts"][0]
    missed = run_cell(ip, "%%openai\nSomething the instructor never asked.")
    assert missed.error is not None
    line = missed.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert line.startswith("UsageError: OpenAI API error 400: Replay: this prompt is not in the cassette:")
    assert 'expected prompt 2 of 2: "Read the upload.' in line
    assert '(this cell sent "Something the instructor never asked.")' in line
    assert "--fallback local" in line


def test_fallback_local_answers_what_the_cassette_lacks(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cassette = tmp_path / "class.cassette"
    recorded = _record(ip, monkeypatch, cassette)
    _no_key_no_network(monkeypatch)
    folder = _fresh_notebook(monkeypatch, tmp_path / "student")
    run_ok(ip, f"%openai replay {cassette} --speed 0 --fallback local")
    run_ok(ip, CELLS[0])
    extra = "%%openai --out extra\nMy own idea.\n```python\nopen('/mnt/data/mine.txt', 'w').write('own')\n```"
    run_ok(ip, extra)
    assert [a.filename for a in ip.user_ns["extra"].artifacts] == ["mine.txt"]
    assert (folder / "analysis_artifacts" / "mine.txt").read_text() == "own"
    run_ok(ip, CELLS[1])
    assert ip.user_ns["second"].text == recorded["texts"][1], "the recorded session carries on after"


def test_commands_that_cannot_work_are_one_line(ip: InteractiveShell, tmp_path: Path) -> None:
    assert run_ok(ip, "%openai record stop").result.message == "Nothing was being recorded."
    assert run_ok(ip, "%openai replay stop").result.message == "Nothing was being replayed."
    for line, expected in (
        ("%openai record", "needs a folder or stop"),
        (f"%openai replay {tmp_path}", "not a cassette"),
        (f"%openai replay {tmp_path} --speed fast", "--speed fast: not a number"),
        (f"%openai replay {tmp_path} --fallback cloud", "--fallback cloud: use local"),
    ):
        run = run_cell(ip, line)
        assert run.error is not None, line
        assert expected in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    (tmp_path / "notes.txt").write_text("keep")
    run = run_cell(ip, f"%openai record {tmp_path}")
    assert (
        "is not a cassette; choose another" in run.stderr and (tmp_path / "notes.txt").read_text() == "keep"
    )


def test_recording_starts_mid_conversation_without_resetting_it(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run_ok(ip, "%%openai --out before\n```python\nopen('/mnt/data/kept.txt', 'w').write('kept')\n```")
    run_ok(ip, f"%openai record {tmp_path / 'tape'}")
    run_ok(ip, "%%openai --out during\n```python\nprint(open('/mnt/data/kept.txt').read())\n```")
    run_ok(ip, "%openai record stop")
    before, during = ip.user_ns["before"], ip.user_ns["during"]
    assert during.container_id == before.container_id and during.code_runs[0].logs.strip() == "kept"
    [turn] = [e for e in Cassette.load(tmp_path / "tape").exchanges if e["request"]["path"] == "/responses"]
    assert turn["request"]["json"]["previous_response_id"] == before.response_id
    run_ok(ip, "%%openai --out after\n```python\nprint(2)\n```")
    assert (
        len(Cassette.load(tmp_path / "tape").exchanges)
        == json.loads((tmp_path / "tape" / "cassette.json").read_text())["exchanges"]
    ), "nothing is recorded after stop"
