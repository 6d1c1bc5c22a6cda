"""``openai-artifacts run --record / --replay`` in a subprocess, and the workshop kit's cassette."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from openai_artifacts_nb.cassette import Cassette
from openai_artifacts_nb.cli import main

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WORKSHOP_FILES = {"summary_by_group.csv", "hours_vs_score.png", "grades.xlsx", "grades.json"}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_API_KEY", "OPENAI_BASE_URL"))}
    env.pop("OPENAI_ARTIFACTS_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-m", "openai_artifacts_nb", *args],
        cwd=cwd,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _notebook(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cells = [
        "%load_ext openai_artifacts_nb",
        "%%openai\nA table.\n```python\nopen('/mnt/data/t.csv', 'w').write('a,b\\n1,2\\n')\n```",
        "%%openai\nA picture.\n```python\nimport matplotlib\nmatplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\nplt.plot([3, 1, 2])\nplt.savefig('/mnt/data/p.png')\n```",
    ]
    document = new_notebook(cells=[new_code_cell(source) for source in cells])
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "lesson.ipynb"
    nbformat.write(document, path)
    return path


def _saved(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".")
    }


def _markdown(executed: Path) -> list[str]:
    """The reply outputs' HTML (the replies are rendered from Markdown to sanitized HTML)."""
    document = json.loads(executed.read_text(encoding="utf-8"))
    return [
        "".join(output["data"]["text/html"])
        for cell in document["cells"]
        for output in cell.get("outputs", [])
        if "oai-reply" in "".join(output.get("data", {}).get("text/html", ""))
    ]


def test_run_records_and_replays_a_notebook(tmp_path: Path) -> None:
    cassette = tmp_path / "lesson.cassette"
    instructor = _notebook(tmp_path / "instructor")
    recorded = _cli("run", str(instructor), "--local", "--record", str(cassette), cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    index = json.loads((cassette / "cassette.json").read_text())
    assert index["exchanges"] == len(Cassette.load(cassette).exchanges) >= 6 and index["files"] == 2

    student = _notebook(tmp_path / "student")
    replayed = _cli("run", str(student), "--replay", str(cassette), "--speed", "0", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    originals = _saved(instructor.parent / "lesson_artifacts")
    assert _saved(student.parent / "lesson_artifacts") == originals and set(originals) == {"t.csv", "p.png"}
    assert set(originals.values()) == {path.name for path in (cassette / "files").iterdir()}
    assert _markdown(student.with_name("lesson.executed.ipynb")) == _markdown(
        instructor.with_name("lesson.executed.ipynb")
    )


def test_the_workshop_replays_from_its_cassette(tmp_path: Path) -> None:
    shutil.copy(NOTEBOOKS / "workshop.ipynb", tmp_path)
    shutil.copytree(NOTEBOOKS / "data", tmp_path / "data")
    cassette = NOTEBOOKS / "workshop.cassette"
    result = _cli("run", "workshop.ipynb", "--replay", str(cassette), "--speed", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    saved = _saved(tmp_path / "workshop_artifacts")
    assert set(saved) == WORKSHOP_FILES
    assert set(saved.values()) == {path.name for path in (cassette / "files").iterdir()}, (
        "the same bytes as recorded; if the workshop's prompts changed, record it again (README)"
    )
    size = sum(path.stat().st_size for path in cassette.rglob("*") if path.is_file())
    assert size < 1024 * 1024, size


def test_replay_flags_that_do_not_fit_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = _notebook(tmp_path)
    assert main(["run", str(notebook), "--local", "--replay", str(NOTEBOOKS / "workshop.cassette")]) == 1
    assert "--replay and --local exclude each other" in capsys.readouterr().err
    assert main(["run", str(notebook), "--speed", "2"]) == 1
    assert "--speed and --fallback go with --replay" in capsys.readouterr().err
    assert main(["run", str(notebook), "--replay", str(tmp_path)]) == 1
    assert "not a cassette" in capsys.readouterr().err
