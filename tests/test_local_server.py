"""Running the emulator: the in-process LocalServer and the standalone ``openai-artifacts serve``."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from openai_artifacts_nb.local import LocalServer
from tests.plugins.emulator import require_bwrap


def alive(pid: int) -> bool:
    """Whether a process with ``pid`` still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("confine", "processes"),
    # Confined as root, kernels fork from a confined fork server; otherwise each has a bwrap of its own.
    [(False, 4), (True, 4 if os.geteuid() == 0 else 3)],
    ids=["unconfined: two kernels, the spare, the fork server", "confined: the same (as root)"],
)
def test_context_manager_serves_and_stop_leaves_no_kernel_behind(confine: bool, processes: int) -> None:
    if confine:
        require_bwrap()
    with LocalServer(idle_minutes=5, confine=confine) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.start() == server.base_url
        client = openai.OpenAI(base_url=server.base_url, api_key="k")
        tools = [{"type": "code_interpreter", "container": {"type": "auto"}}]
        for _ in range(2):
            client.responses.create(model="m", input="```python\nx = 1\n```", tools=tools)
        deadline = time.monotonic() + 30
        while server.service.sandboxes.spare_pid() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = server.service.sandboxes.process_ids()
        assert len(pids) == processes
        assert all(alive(pid) for pid in pids)
    assert not [pid for pid in pids if alive(pid)]
    server.stop()
    with pytest.raises(RuntimeError, match="cannot be restarted"):
        server.start()


def test_a_forgotten_server_stops_when_collected() -> None:
    server = LocalServer()
    client = openai.OpenAI(base_url=server.start(), api_key="k")
    client.responses.create(
        model="m",
        input="```python\nx = 1\n```",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
    )
    pids = server.service.sandboxes.process_ids()
    assert pids
    del server
    gc.collect()
    assert not [pid for pid in pids if alive(pid)]
    with pytest.raises(openai.APIConnectionError):
        client.with_options(max_retries=0, timeout=5).containers.list()


def test_base_url_needs_start_and_bad_settings_are_refused() -> None:
    server = LocalServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url
    server.stop()
    with pytest.raises(ValueError, match="idle_minutes"):
        LocalServer(idle_minutes=0)


def test_health_endpoint_counts_kernels(emulator: LocalServer) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{emulator.root_url}/_emulator/health", timeout=10) as reply:
        body = json.loads(reply.read())
    assert body["ok"] is True and isinstance(body["kernels"], int)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_command_runs_until_interrupted(stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "openai_artifacts_nb", "serve", "--port", "0", "--idle-minutes", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Local OpenAI emulator on http://127.0.0.1:")
        base_url = first.rsplit(" ", 1)[-1].strip()
        client = openai.OpenAI(base_url=base_url, api_key="k")
        assert client.containers.create(name="cli").status == "running"
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
        assert process.stderr is not None and "Stopping the emulator." in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def serve(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start ``openai-artifacts serve`` with ``args`` in ``cwd``."""
    return subprocess.Popen(
        [sys.executable, "-m", "openai_artifacts_nb", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def test_serve_beyond_loopback_needs_keys_and_confinement(tmp_path: Path) -> None:
    no_keys = serve("--host", "0.0.0.0", cwd=tmp_path)
    _, complaint = no_keys.communicate(timeout=60)
    assert no_keys.returncode == 1 and "--keys FILE (or --keys auto --students N)" in complaint
    unconfined = serve(
        "--host", "0.0.0.0", "--keys", "auto", "--students", "2", "--sandbox", "none", cwd=tmp_path
    )
    _, refusal = unconfined.communicate(timeout=60)
    assert unconfined.returncode == 1
    assert "refusing --host 0.0.0.0: container code could not be confined (switched off)" in refusal


def test_serve_a_class_with_generated_keys(tmp_path: Path) -> None:
    require_bwrap()
    process = serve("--host", "0.0.0.0", "--keys", "auto", "--students", "2", cwd=tmp_path)
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(4)]
        assert banner[0].startswith("Local OpenAI emulator on http://0.0.0.0:")
        assert banner[1].startswith("  sandbox: bubblewrap (")
        assert banner[2] == "  keys: 2 keys, each its own project\n"
        port = banner[0].rsplit(":", 1)[-1].split("/")[0]
        keys = (tmp_path / "class-keys.txt").read_text().split()
        assert len(keys) == 2
        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=keys[0], max_retries=0) as student:
            assert student.containers.create(name="lab 1").status == "running"
        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=keys[1], max_retries=0) as other:
            assert [c.name for c in other.containers.list()] == []
        with (
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-guess", max_retries=0) as guess,
            pytest.raises(openai.AuthenticationError),
        ):
            guess.containers.list()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_without_bwrap_local_use_warns_and_strict_use_refuses(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from openai_artifacts_nb.local import server as server_module

    monkeypatch.setattr(server_module, "probe", lambda: "bubblewrap (bwrap) is not installed")
    with caplog.at_level("WARNING", logger="openai_artifacts_nb.local"):
        sandbox, said = server_module.choose_confinement(None)
    assert sandbox is None
    assert said == "none (bubblewrap (bwrap) is not installed): container code runs as this user, unconfined"
    assert [r.getMessage() for r in caplog.records] == [
        "container code runs UNCONFINED: bubblewrap (bwrap) is not installed "
        "(install bubblewrap to confine it)"
    ]
    with pytest.raises(RuntimeError, match="confinement is required but unavailable"):
        server_module.choose_confinement(True)
    assert server_module.choose_confinement(False)[0] is None
