"""Kernel processes: forked from the fork server, or spawned by jupyter_client where fork is unavailable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openai_artifacts_nb.local.kernels import KernelLauncher, kernel_environment
from openai_artifacts_nb.local.sandbox import KernelSandbox


def gone(pid: int) -> bool:
    """Whether ``pid`` no longer exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("use_fork_server", [True, False], ids=["forked", "spawned"])
def test_kernel_runs_in_its_folder_and_dies_on_kill(tmp_path: Path, use_fork_server: bool) -> None:
    launcher = KernelLauncher(tmp_path / "runtime", use_fork_server=use_fork_server)
    folder = tmp_path / "box"
    folder.mkdir()
    sandbox = KernelSandbox(folder, launcher=launcher)
    try:
        result = sandbox.run(
            "import os\nprint(os.getcwd())\nopen('/mnt/data/f.txt', 'w').write('x');", timeout=30
        )
        assert result.logs == "/mnt/data\n"
        assert (folder / "f.txt").read_text() == "x"
        pid = sandbox.pid
        assert pid is not None and not gone(pid)
    finally:
        sandbox.shutdown()
        launcher.close()
    assert gone(pid)
    assert sandbox.run("print(1)", timeout=5).logs == "The container is no longer running."


def test_a_dead_kernel_is_reported_and_replaced(tmp_path: Path) -> None:
    launcher = KernelLauncher(tmp_path / "runtime")
    sandbox = KernelSandbox(tmp_path, launcher=launcher)
    try:
        sandbox.run("x = 1", timeout=30)
        died = sandbox.run("import os\nos._exit(3)", timeout=30)
        assert died.error and "kernel died" in died.logs
        again = sandbox.run("print('x' in dir())", timeout=30)
        assert again.logs == "False\n"
        server_pid = launcher.server_pid
        assert server_pid is not None
    finally:
        sandbox.shutdown()
        launcher.close()
    assert gone(server_pid)


def test_kernel_environment_drops_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("AZURE_API_KEY", "secret")
    env = kernel_environment()
    assert "OPENAI_API_KEY" not in env and "AZURE_API_KEY" not in env
    assert env["MPLBACKEND"] == "module://matplotlib_inline.backend_inline"
