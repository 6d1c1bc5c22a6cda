"""``openai-artifacts run`` and ``demo``: headless runs in a real kernel, artifacts beside the notebook."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from openai_artifacts_nb.cli import main
from openai_artifacts_nb.errors import ConfigurationError
from openai_artifacts_nb.runner import execute_notebook, run_command

pytestmark = pytest.mark.slow


def _notebook(folder: Path, *cells: str) -> Path:
    path = folder / "tiny.ipynb"
    document = new_notebook(cells=[new_code_cell(source) for source in cells])
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(document, path)
    return path


def test_run_local_saves_beside_the_notebook_and_prints_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    path = _notebook(
        tmp_path,
        "%load_ext openai_artifacts_nb",
        "%%openai\n```python\nopen('/mnt/data/hello.txt', 'w').write('hello from the sandbox')\n```",
    )
    assert main(["run", str(path), "--local", "--timeout", "120"]) == 0
    saved = tmp_path / "tiny_artifacts" / "hello.txt"
    assert saved.read_text() == "hello from the sandbox"
    executed = tmp_path / "tiny.executed.ipynb"
    text = executed.read_text(encoding="utf-8")
    assert "tiny_artifacts/hello.txt" in text and "sandbox:" not in text
    out = capsys.readouterr().out
    assert "tiny.executed.ipynb" in out and "tiny_artifacts" in out and "hello.txt" in out


def test_a_failing_cell_gives_one_line_and_still_writes_the_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_ARTIFACTS_BACKEND", raising=False)
    path = _notebook(tmp_path, "%load_ext openai_artifacts_nb", "%%openai\nhello")
    output = tmp_path / "out" / "done.ipynb"
    assert run_command(str(path), output=str(output), timeout=120) == 1
    err = capsys.readouterr().err
    assert "a cell failed: UsageError: No OpenAI API key" in err
    assert len(err.strip().splitlines()) == 1
    assert output.is_file()


def test_missing_notebook_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such notebook"):
        execute_notebook(tmp_path / "nowhere.ipynb")


def test_demo_runs_the_quickstart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import shutil

    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    (tmp_path / "notebooks").mkdir()
    shutil.copy(notebooks / "quickstart.ipynb", tmp_path / "notebooks")
    shutil.copytree(notebooks / "data", tmp_path / "notebooks" / "data")
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    assert (tmp_path / "notebooks" / "quickstart_artifacts" / "revenue.png").is_file()
    executed = tmp_path / "notebooks" / "quickstart.executed.ipynb"
    captured = capfd.readouterr()  # file descriptors: the kernel's own stderr is caught too
    assert "without encryption" not in captured.err and "WARNING" not in captured.err
    assert captured.out.splitlines()[-2:] == [
        "Open it in JupyterLab: .venv/bin/jupyter lab notebooks/quickstart.executed.ipynb",
        "(or run the quickstart itself there: its first cell starts the local emulator).",
    ]
    text = executed.read_text(encoding="utf-8")
    # No kernel serves the buttons of a saved run: only their download links are kept.
    assert "application/vnd.jupyter.widget-view+json" not in text
    assert "oai-artifact-link" in text
    assert not list(tmp_path.glob("**/kernel-ipc*")), "the kernel's sockets are not left behind"
