"""Find the notebook a kernel runs, so artifacts can be saved beside it as ``<notebook name>_artifacts/``.

Where the answer comes from, first match wins:

1. ``OPENAI_ARTIFACTS_NOTEBOOK``: set by ``openai-artifacts run`` (or any headless runner).
2. ``__vsc_ipynb_file__`` in the user namespace: set by VS Code.
3. ``JPY_SESSION_NAME``: set by Jupyter Server for JupyterLab and Notebook 7 (an absolute path, or a path
   relative to the server root; the kernel starts in the notebook's folder, so the file name is enough).
4. Otherwise the working directory, and :attr:`NotebookLocation.found` is ``False`` so the magic can say so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["NOTEBOOK_ENV", "NotebookLocation", "artifacts_folder", "find_notebook"]

#: The variable a headless runner sets to the notebook's path.
NOTEBOOK_ENV = "OPENAI_ARTIFACTS_NOTEBOOK"

#: The folder used when no notebook can be found.
FALLBACK_FOLDER = "openai_artifacts"


def artifacts_folder(notebook: Path) -> Path:
    """Where a notebook's files go: ``<notebook name>_artifacts/`` beside it."""
    return notebook.parent / f"{notebook.stem}_artifacts"


@dataclass(frozen=True)
class NotebookLocation:
    """Where the notebook is (if known), where its artifacts go and where links are relative to."""

    notebook: Path | None
    folder: Path
    source: str

    @property
    def found(self) -> bool:
        """Whether the notebook itself was found (else the working directory is used)."""
        return self.notebook is not None

    @property
    def artifacts_dir(self) -> Path:
        """``<folder>/<notebook name>_artifacts``, or ``<cwd>/openai_artifacts`` when not found."""
        if self.notebook is None:
            return self.folder / FALLBACK_FOLDER
        return self.folder / artifacts_folder(self.notebook).name

    def describe(self) -> str:
        """One line saying where files go and how that was decided."""
        if self.notebook is None:
            return (
                f"Could not tell which notebook this is, so files go to {self.artifacts_dir} "
                "(set %config OpenAIMagics.artifacts_dir to choose)."
            )
        return f"Notebook {self.notebook.name} (from {self.source}); files go to {self.artifacts_dir}."


def find_notebook(
    *,
    namespace: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> NotebookLocation:
    """Return where the running notebook is; see the module docstring for the order of the checks."""
    environ = os.environ if environ is None else environ
    namespace = namespace or {}
    cwd = (cwd or Path.cwd()).resolve()

    headless = environ.get(NOTEBOOK_ENV, "").strip()
    if headless:
        path = _existing(headless, cwd)
        if path is not None:
            return NotebookLocation(path, path.parent, NOTEBOOK_ENV)

    vscode = namespace.get("__vsc_ipynb_file__")
    if isinstance(vscode, str | os.PathLike) and str(vscode):
        path = Path(vscode).expanduser()
        if path.suffix == ".ipynb":
            path = path.resolve()
            return NotebookLocation(path, path.parent, "VS Code")

    session = environ.get("JPY_SESSION_NAME", "").strip()
    if session.endswith(".ipynb"):
        path = _existing(session, cwd)
        if path is None:
            # The server gave a path relative to its root; the kernel runs in the notebook's folder.
            candidate = cwd / Path(session).name
            path = candidate if candidate.is_file() else None
        if path is not None:
            return NotebookLocation(path, path.parent, "JPY_SESSION_NAME")

    return NotebookLocation(None, cwd, "working directory")


def _existing(value: str, cwd: Path) -> Path | None:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = cwd / path
    return path.resolve() if path.is_file() else None
