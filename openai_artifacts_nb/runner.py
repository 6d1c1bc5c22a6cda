"""Run a notebook headless with the extension: ``openai-artifacts run`` and ``openai-artifacts demo``.

:func:`execute_notebook` runs every cell in a real kernel (nbclient), with the kernel told which notebook it
runs (``OPENAI_ARTIFACTS_NOTEBOOK``) so artifacts land beside it in ``<name>_artifacts/``, and with
``OPENAI_ARTIFACTS_BACKEND=local`` when asked, so the magic uses its embedded emulator: no key, no network.
The executed notebook is written (by default ``<name>.executed.ipynb`` beside the original, even when a cell
failed, so the failure can be read). The commands print where everything went.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai_artifacts_nb.client import BACKEND_ENV
from openai_artifacts_nb.errors import ConfigurationError
from openai_artifacts_nb.notebook_path import NOTEBOOK_ENV, artifacts_folder

__all__ = ["RunReport", "demo_command", "execute_notebook", "run_command"]


@dataclass(frozen=True)
class RunReport:
    """Where a headless run wrote things, and the first error if a cell failed."""

    notebook: Path
    executed: Path
    artifacts_dir: Path
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every cell ran."""
        return self.error is None

    def artifact_files(self) -> list[Path]:
        """The files saved beside the notebook (the tool's own folder, with the manifest, excluded)."""
        if not self.artifacts_dir.is_dir():
            return []
        return sorted(
            path
            for path in self.artifacts_dir.rglob("*")
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(self.artifacts_dir).parts)
        )


def execute_notebook(
    notebook: str | os.PathLike[str],
    *,
    local: bool = False,
    output: str | os.PathLike[str] | None = None,
    timeout: float = 600.0,
    kernel_name: str | None = None,
    record: str | os.PathLike[str] | None = None,
    replay: str | os.PathLike[str] | None = None,
    speed: float | None = None,
    fallback: str | None = None,
) -> RunReport:
    """Execute ``notebook`` in a fresh kernel and write the executed copy; return a :class:`RunReport`.

    ``record`` records every API exchange into that cassette folder; ``replay`` replays one instead of
    calling any API (``speed`` times the recorded pace, ``fallback="local"`` for prompts it lacks).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(notebook).expanduser().resolve()
    if not path.is_file():
        raise ConfigurationError(f"{notebook}: no such notebook.")
    executed = (
        Path(output).expanduser().resolve() if output else path.with_name(f"{path.stem}.executed.ipynb")
    )
    document = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    env = dict(os.environ)
    env[NOTEBOOK_ENV] = str(path)
    if local:
        env[BACKEND_ENV] = "local"
    from openai_artifacts_nb.tape_deck import replay_environment

    env.update(replay_environment(record=record, replay=replay, speed=speed, fallback=fallback, local=local))
    options: dict[str, Any] = {"timeout": timeout, "resources": {"metadata": {"path": str(path.parent)}}}
    if kernel_name:
        options["kernel_name"] = kernel_name
    error = None
    with tempfile.TemporaryDirectory(prefix="openai-artifacts-kernel-") as runtime:
        client = NotebookClient(document, kernel_manager_class=_ipc_kernel_manager(Path(runtime)), **options)
        try:
            client.execute(env=env)
        except CellExecutionError as failure:
            error = _one_line(failure)
        except Exception as failure:  # a kernel that died or timed out: still write what ran
            error = f"{type(failure).__name__}: {failure}".splitlines()[0]
    if record and (Path(record).expanduser() / "cassette.json").is_file():
        from openai_artifacts_nb.cassette import CassetteWriter

        CassetteWriter.finalize(Path(record).expanduser().resolve())  # the kernel may have exited unclosed
    executed.parent.mkdir(parents=True, exist_ok=True)
    from openai_artifacts_nb.saved_notebooks import strip_live_widgets

    strip_live_widgets(document)  # no kernel will serve the buttons: keep their download links only
    nbformat.write(document, executed)  # type: ignore[no-untyped-call]
    return RunReport(path, executed, artifacts_folder(path), error)


def _ipc_kernel_manager(runtime: Path) -> type[Any]:
    """A kernel manager class that talks to its kernel over Unix sockets in a private runtime folder.

    Over TCP, ipykernel warns on every start that the traffic is not encrypted; a headless run's kernel is
    on this machine, so IPC needs no port and gives no such warning.
    """
    from jupyter_client.manager import KernelManager
    from traitlets import default

    class IpcKernelManager(KernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("connection_file")
        def _connection_file_default(self) -> str:
            return str(runtime / "kernel.json")

        @default("ip")
        def _ip_default(self) -> str:
            return str(runtime / "kernel-ipc")

    return IpcKernelManager


def _one_line(failure: Exception) -> str:
    name = getattr(failure, "ename", "") or type(failure).__name__
    value = getattr(failure, "evalue", "") or str(failure)
    lines = [line for line in str(value).splitlines() if line.strip()]
    return f"{name}: {lines[0] if lines else ''}".strip()


def run_command(
    notebook: str,
    *,
    local: bool = False,
    output: str | None = None,
    timeout: float = 600.0,
    **replay: Any,
) -> int:
    """``openai-artifacts run``: execute ``notebook``, print where things went, return the exit status.

    ``replay`` holds ``record``, ``replay``, ``speed`` and ``fallback`` (see :func:`execute_notebook`).
    """
    report = execute_notebook(notebook, local=local, output=output, timeout=timeout, **replay)
    _describe(report)
    return 0 if report.ok else 1


def demo_command() -> int:
    """``openai-artifacts demo``: run ``notebooks/quickstart.ipynb`` on the embedded emulator."""
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        quickstart = root / "notebooks" / "quickstart.ipynb"
        if quickstart.is_file():
            sys.stdout.write(f"Running {_shown(quickstart)} on the local emulator (no key, no network)...\n")
            status = run_command(str(quickstart), local=True)
            executed = quickstart.with_name(f"{quickstart.stem}.executed.ipynb")
            sys.stdout.write(
                f"Open it in JupyterLab: .venv/bin/jupyter lab {_shown(executed)}\n"
                "(or run the quickstart itself there: its first cell starts the local emulator).\n"
            )
            return status
    raise ConfigurationError("notebooks/quickstart.ipynb not found: run the demo from the project folder.")


def _describe(report: RunReport) -> None:
    files = report.artifact_files()
    sys.stdout.write(f"Executed notebook: {_shown(report.executed)}\n")
    sys.stdout.write(
        f"Artifacts: {_shown(report.artifacts_dir)}/ ({len(files)} file{'s' if len(files) != 1 else ''})\n"
    )
    for path in files:
        sys.stdout.write(f"  {_shown(path)}\n")
    if report.error:
        sys.stderr.write(f"openai-artifacts: a cell failed: {report.error}\n")


def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
