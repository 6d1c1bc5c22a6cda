"""Fixtures for the magic and notebook tests: a real IPython shell with the extension, on the emulator.

``ip`` is ``InteractiveShell.instance()`` with history off and ``%load_ext openai_artifacts_nb`` done, pointed
at the session emulator through ``OPENAI_BASE_URL`` and told it runs ``analysis.ipynb`` in a fresh folder
(``notebook_dir``). After each test the extension is unloaded (stopping any emulator it started) and the
namespace reset. :func:`run_cell` runs a cell and captures everything it displayed and printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from openai_artifacts_nb.local import LocalServer


@dataclass
class CellRun:
    """What one cell did: its display outputs (bundles), stdout, stderr and error."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    error: BaseException | None = None
    result: Any = None

    def mime(self, mime_type: str) -> list[Any]:
        """Return every output's ``mime_type`` entry, in order."""
        return [bundle[mime_type] for bundle in self.outputs if mime_type in bundle]

    def all_text(self) -> str:
        """Everything the cell showed or printed, as one string."""
        parts = [str(value) for bundle in self.outputs for value in bundle.values()]
        return "\n".join([*parts, self.stdout, self.stderr])


def run_cell(shell: InteractiveShell, code: str) -> CellRun:
    """Run ``code`` in ``shell`` and capture its outputs (errors are returned, not raised)."""
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = shell.run_cell(code)
    run = CellRun(stdout=captured.stdout, stderr=captured.stderr, result=result.result)
    for output in captured.outputs:
        run.outputs.append(dict(output.data))
        run.metadata.append(dict(output.metadata or {}))
    run.error = result.error_in_exec or result.error_before_exec
    return run


def run_ok(shell: InteractiveShell, code: str) -> CellRun:
    """Run ``code`` and fail the test, showing its stderr, if it raised."""
    run = run_cell(shell, code)
    if run.error is not None:
        raise AssertionError(f"cell failed: {run.error!r}\n{run.stderr}")
    return run


@pytest.fixture
def notebook_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder with an empty ``analysis.ipynb`` that the magic is told it runs in (cwd too)."""
    notebook = tmp_path / "analysis.ipynb"
    notebook.write_text("{}", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_ARTIFACTS_NOTEBOOK", str(notebook))
    return tmp_path


@pytest.fixture
def ip(
    emulator: LocalServer, notebook_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    """A real IPython shell with ``%load_ext openai_artifacts_nb``, talking to the session emulator."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_ARTIFACTS_BACKEND", raising=False)
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "openai_artifacts_nb")
    try:
        yield shell
    finally:
        shell.run_line_magic("unload_ext", "openai_artifacts_nb")
        shell.magics_manager.registry.pop("OpenAIMagics", None)
        shell.config.pop("OpenAIMagics", None)
        shell.reset(new_session=False)
