"""Finding the notebook: headless runs, VS Code, Jupyter Server, and the working directory otherwise."""

from __future__ import annotations

from pathlib import Path

from openai_artifacts_nb.notebook_path import NOTEBOOK_ENV, find_notebook


def _notebook(folder: Path, name: str = "analysis.ipynb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("{}")
    return path


def test_headless_runner_variable_wins(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "runs")
    vscode = _notebook(tmp_path / "other", "vscode.ipynb")
    location = find_notebook(
        namespace={"__vsc_ipynb_file__": str(vscode)},
        environ={NOTEBOOK_ENV: str(path), "JPY_SESSION_NAME": str(vscode)},
        cwd=tmp_path,
    )
    assert location.notebook == path.resolve()
    assert location.artifacts_dir == path.parent.resolve() / "analysis_artifacts"
    assert location.source == NOTEBOOK_ENV and location.found


def test_vscode_namespace_variable(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "proj", "Sales Report.ipynb")
    location = find_notebook(namespace={"__vsc_ipynb_file__": str(path)}, environ={}, cwd=tmp_path)
    assert location.notebook == path.resolve()
    assert location.artifacts_dir.name == "Sales Report_artifacts"
    assert "VS Code" in location.describe()


def test_jupyter_session_name_absolute(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "lab")
    location = find_notebook(environ={"JPY_SESSION_NAME": str(path)}, cwd=tmp_path)
    assert location.notebook == path.resolve() and location.source == "JPY_SESSION_NAME"


def test_jupyter_session_name_relative_to_the_server_root(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "deep" / "folder")
    location = find_notebook(environ={"JPY_SESSION_NAME": "deep/folder/analysis.ipynb"}, cwd=path.parent)
    assert location.notebook == path.resolve()


def test_a_session_name_for_a_missing_file_falls_back(tmp_path: Path) -> None:
    location = find_notebook(environ={"JPY_SESSION_NAME": str(tmp_path / "renamed.ipynb")}, cwd=tmp_path)
    assert not location.found


def test_nothing_known_uses_the_working_directory_and_says_so(tmp_path: Path) -> None:
    location = find_notebook(namespace={}, environ={}, cwd=tmp_path)
    assert location.notebook is None and not location.found
    assert location.folder == tmp_path.resolve()
    assert location.artifacts_dir == tmp_path.resolve() / "openai_artifacts"
    assert location.describe().startswith("Could not tell which notebook this is")


def test_a_console_session_name_is_ignored(tmp_path: Path) -> None:
    location = find_notebook(environ={"JPY_SESSION_NAME": "console-1"}, cwd=tmp_path)
    assert not location.found
