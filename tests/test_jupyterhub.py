"""A class on a real JupyterHub: two students, one shared ``openai-artifacts serve --keys`` emulator.

The hub (``jupyterhub`` from PyPI, ``configurable-http-proxy`` from npm) runs on 127.0.0.1 with
``examples/jupyterhub/jupyterhub_config.py`` loaded as is: the emulator is its managed service and
``c.Spawner.environment`` gives each student's server their own key. On top the test adds only what a test
needs: free ports, a temporary database, the dummy authenticator and the simple local process spawner.

Each student logs in through the hub's login form, starts their server, uploads ``notebooks/workshop.ipynb``
(unchanged: its ``%openai local`` yields to the hub's ``OPENAI_ARTIFACTS_BACKEND=openai``) and runs every
code cell in a kernel of *their* single-user server, over its REST API and kernel websocket, exactly as
JupyterLab would. Without ``configurable-http-proxy`` the hub test is skipped, except in CI (``CI=true``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from openai_artifacts_nb.manifest import MANIFEST_PATH
from tests.plugins.notebook import run_ok

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "jupyterhub" / "jupyterhub_config.py"
WORKSHOP = ROOT / "notebooks" / "workshop.ipynb"
STUDENTS = ("oai-student1", "oai-student2")
PASSWORD = "class-password"
BIN = Path(sys.executable).parent


def test_hub_backend_pin_makes_openai_local_use_the_class_server(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``OPENAI_ARTIFACTS_BACKEND=openai`` (the hub sets it) keeps ``%openai local`` on OPENAI_BASE_URL."""
    from openai_artifacts_nb.magic import OpenAIMagics

    monkeypatch.setenv("OPENAI_ARTIFACTS_BACKEND", "openai")
    notice = ip.run_line_magic("openai", "local")
    assert "OPENAI_ARTIFACTS_BACKEND=openai" in str(notice) and os.environ["OPENAI_BASE_URL"] in str(notice)
    run_ok(ip, "%%openai --out result\n```python\nprint('on the class server')\n```")
    magics = next(m for m in ip.magics_manager.registry.values() if isinstance(m, OpenAIMagics))
    assert magics.local_server is None, "no embedded emulator was started"
    assert ip.user_ns["result"].code_runs[0].logs.strip() == "on the class server"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Hub:
    """A running hub: its public URL, an admin token, the class folder and the emulator's URL."""

    url: str
    admin_token: str
    class_dir: Path
    emulator_url: str
    log: Path
    homes: Path

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        import requests

        headers = {"Authorization": f"token {token or self.admin_token}"}
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def keys(self) -> dict[str, str]:
        lines = (self.class_dir / "class-keys.txt").read_text(encoding="utf-8").split()
        return dict(zip(STUDENTS, lines, strict=False))


def _wait(what: str, check: Any, log: Path, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen in {timeout:.0f} s; hub log:\n{log.read_text()[-6000:]}")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """Start JupyterHub with the example config (plus test-only settings) and stop it afterwards."""
    if shutil.which("configurable-http-proxy") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("configurable-http-proxy is missing (npm install -g configurable-http-proxy)")
        pytest.skip("configurable-http-proxy is not installed (npm install -g configurable-http-proxy)")
    pytest.importorskip("jupyterhub")
    hub_port, api_port, proxy_port, emulator_port = _free_ports(4)
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    token = uuid.uuid4().hex
    (tmp_path / "jupyterhub_config.py").write_text(
        f"""
import os

c = get_config()  # noqa: F821
load_subconfig({str(EXAMPLE_CONFIG)!r})  # noqa: F821
c.JupyterHub.bind_url = "http://127.0.0.1:{hub_port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.ConfigurableHTTPProxy.pid_file = {str(tmp_path / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{tmp_path / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(tmp_path / "cookie_secret")!r}
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(tmp_path / "homes" / "{username}")!r}
c.Spawner.cmd = [{str(BIN / "jupyterhub-singleuser")!r}]
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 90
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {token!r}}})
c.JupyterHub.load_roles = [
    {{"name": "test-admin", "scopes": ["admin:users", "admin:servers", "tokens"], "services": ["test-admin"]}}
]
""",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "OPENAI_CLASS_DIR": str(class_dir),
        "OPENAI_CLASS_PORT": str(emulator_port),
        "OPENAI_CLASS_STUDENTS": " ".join(STUDENTS),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ARTIFACTS_BACKEND", "JUPYTERHUB_API_TOKEN"):
        env.pop(name, None)
    log = tmp_path / "hub.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(tmp_path / "jupyterhub_config.py")],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{hub_port}"
    running = Hub(url, token, class_dir, f"http://127.0.0.1:{emulator_port}/v1", log, tmp_path / "homes")

    def answering() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the hub exited ({process.returncode}):\n{log.read_text()[-6000:]}")
        return bool(running.api("GET", "/hub/api/").status_code == 200)

    try:
        _wait("the hub answering", answering, log)
        _wait("the emulator service answering", lambda: _health(running.emulator_url), log)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
        stopped = not _health(running.emulator_url)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)  # anything the hub left behind in its session
    assert stopped, "the hub stops its emulator service when it stops"


def _health(base_url: str) -> bool:
    import requests

    try:
        return requests.get(base_url.removesuffix("/v1") + "/_emulator/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _log_in(hub: Hub, name: str) -> str:
    """Log ``name`` in through the hub's login form (as a browser does) and return a token of theirs."""
    import re

    import requests

    browser = requests.Session()
    form = browser.get(hub.url + "/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
    assert xsrf is not None, form.text[:2000]
    login = browser.post(
        hub.url + "/hub/login",
        data={"username": name, "password": PASSWORD, "_xsrf": xsrf.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert login.status_code == 302, (login.status_code, login.text[:2000])
    assert any(cookie.name.startswith("jupyterhub") for cookie in browser.cookies), "no hub cookie"
    wrong = requests.post(
        hub.url + "/hub/login",
        data={"username": name, "password": "wrong", "_xsrf": xsrf.group(1)},
        cookies={"_xsrf": browser.cookies.get("_xsrf") or ""},
        allow_redirects=False,
        timeout=30,
    )
    assert wrong.status_code != 302, "a wrong password must not log in"
    made = hub.api("POST", f"/hub/api/users/{name}/tokens", json={"note": "test", "expires_in": 3600})
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def _start_server(hub: Hub, name: str) -> None:
    started = hub.api("POST", f"/hub/api/users/{name}/server")
    assert started.status_code in (201, 202), started.text
    _wait(
        f"{name}'s server ready",
        lambda: hub.api("GET", f"/hub/api/users/{name}").json()["servers"].get("", {}).get("ready"),
        hub.log,
        timeout=120,
    )


def _upload(hub: Hub, name: str, token: str, path: str, model: dict[str, Any]) -> None:
    put = hub.api("PUT", f"/user/{name}/api/contents/{path}", token=token, json=model)
    assert put.status_code in (200, 201), put.text


def _run_notebook(hub: Hub, name: str, token: str, notebook: dict[str, Any]) -> list[dict[str, Any]]:
    """Run each code cell in a kernel of ``name``'s server, as JupyterLab would; return their outputs."""
    import websocket

    session = hub.api(
        "POST",
        f"/user/{name}/api/sessions",
        token=token,
        json={
            "path": "workshop.ipynb",
            "name": "workshop.ipynb",
            "type": "notebook",
            "kernel": {"name": "python3"},
        },
    )
    assert session.status_code == 201, session.text
    kernel_id = session.json()["kernel"]["id"]
    client_session = uuid.uuid4().hex
    ws = websocket.create_connection(
        hub.url.replace("http", "ws", 1) + f"/user/{name}/api/kernels/{kernel_id}/channels"
        f"?session_id={client_session}",
        header=[f"Authorization: token {token}"],
        timeout=240,
    )
    results: list[dict[str, Any]] = []
    try:
        for cell in notebook["cells"]:
            if cell["cell_type"] != "code":
                continue
            results.append(_execute(ws, "".join(cell["source"]), client_session))
            assert results[-1]["status"] == "ok", (name, cell["source"], results[-1])
    finally:
        ws.close()
        hub.api("DELETE", f"/user/{name}/api/sessions/{session.json()['id']}", token=token)
    return results


def _execute(ws: Any, code: str, client_session: str) -> dict[str, Any]:
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "username": "test",
                    "session": client_session,
                    "msg_type": "execute_request",
                    "version": "5.3",
                    "date": "2026-01-01T00:00:00Z",
                },
                "parent_header": {},
                "metadata": {},
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": True,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    outputs: list[dict[str, Any]] = []
    status, idle = None, False
    while status is None or not idle:
        message = json.loads(ws.recv())
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = message["msg_type"]
        if message["channel"] == "shell" and kind == "execute_reply":
            status = message["content"]["status"]
        elif kind == "status" and message["content"]["execution_state"] == "idle":
            idle = True
        elif kind in {"stream", "display_data", "execute_result", "error"}:
            outputs.append({"output_type": kind, **message["content"]})
    return {"status": status, "outputs": outputs}


def _text(result: dict[str, Any]) -> str:
    parts = []
    for output in result["outputs"]:
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
        parts.extend(output.get("traceback", []))
    return "\n".join(parts)


WORKSHOP_FILES = {"summary_by_group.csv", "hours_vs_score.png", "grades.xlsx", "grades.json"}
#: Run after the workshop in the same kernel: what the hub's environment gave it (the key only hashed).
ENV_CELL = """
import hashlib, os
print(os.environ["OPENAI_BASE_URL"], hashlib.sha256(os.environ["OPENAI_API_KEY"].encode()).hexdigest())
print(os.environ["OPENAI_ARTIFACTS_BACKEND"], os.getcwd())
"""


def _student(hub: Hub, name: str, token: str, notebook: dict[str, Any], scores: str) -> list[dict[str, Any]]:
    """Upload the workshop and its data set into ``name``'s home through their server, then run it there."""
    _upload(hub, name, token, "workshop.ipynb", {"type": "notebook", "format": "json", "content": notebook})
    _upload(hub, name, token, "data", {"type": "directory"})
    _upload(hub, name, token, "data/scores.csv", {"type": "file", "format": "text", "content": scores})
    cells = [*notebook["cells"], {"cell_type": "code", "source": ENV_CELL}]
    return _run_notebook(hub, name, token, {**notebook, "cells": cells})


@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.timeout(420)
def test_two_students_run_the_workshop_on_a_real_jupyterhub(hub: Hub) -> None:
    """Each student's files land beside their notebook; neither sees the other's containers or files."""
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    import openai

    notebook = json.loads(WORKSHOP.read_text(encoding="utf-8"))
    assert "%openai local" in "".join(notebook["cells"][1]["source"]), "the workshop runs unchanged"
    scores = (WORKSHOP.parent / "data" / "scores.csv").read_text(encoding="utf-8")
    tokens = {name: _log_in(hub, name) for name in STUDENTS}
    for name in STUDENTS:
        _start_server(hub, name)
    keys = hub.keys()
    assert len(set(keys.values())) == 2 and all(key.startswith("sk-class-") for key in keys.values())

    # The whole class at once: both students' workshops run side by side on the one emulator.
    with ThreadPoolExecutor(len(STUDENTS)) as pool:
        runs = dict(
            zip(
                STUDENTS,
                pool.map(lambda n: _student(hub, n, tokens[n], notebook, scores), STUDENTS),
                strict=True,
            )
        )

    clients = {name: openai.OpenAI(base_url=hub.emulator_url, api_key=keys[name]) for name in STUDENTS}
    containers = {name: {c.id for c in clients[name].containers.list()} for name in STUDENTS}
    manifests = {}
    for name in STUDENTS:
        home = hub.homes / name
        results = runs[name]
        assert f"using {hub.emulator_url}, not the local emulator" in _text(results[0])
        env_lines = results[-1]["outputs"][0]["text"].split("\n")
        assert env_lines[0] == f"{hub.emulator_url} {hashlib.sha256(keys[name].encode()).hexdigest()}"
        assert env_lines[1] == f"openai {home}", "the kernel runs beside the notebook, in the student's home"
        folder = home / "workshop_artifacts"
        assert {p.name for p in folder.iterdir() if not p.name.startswith(".")} == WORKSHOP_FILES
        manifest = json.loads((folder / MANIFEST_PATH).read_text(encoding="utf-8"))
        manifests[name] = manifest
        assert {entry["path"] for entry in manifest["artifacts"]} == WORKSHOP_FILES
        for entry in manifest["artifacts"]:
            data = (folder / entry["path"]).read_bytes()
            assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
            # The student's own key fetches the same bytes from the class emulator.
            fetched = clients[name].containers.files.content.retrieve(
                entry["file_id"], container_id=entry["container_id"]
            )
            assert fetched.read() == data
        assert {entry["container_id"] for entry in manifest["artifacts"]} <= containers[name]
        # Their server lists the folder too (the contents API, as JupyterLab's file browser shows it).
        listing = hub.api("GET", f"/user/{name}/api/contents/workshop_artifacts", token=tokens[name]).json()
        # The tool's own folder (the manifest) is hidden, as dot-folders are in the file browser.
        assert {item["name"] for item in listing["content"]} == WORKSHOP_FILES

    first, second = STUDENTS
    assert containers[first] and containers[second] and not containers[first] & containers[second]
    for name, other in ((first, second), (second, first)):
        for entry in manifests[other]["artifacts"]:
            with pytest.raises(openai.NotFoundError):
                clients[name].containers.retrieve(entry["container_id"])
            with pytest.raises(openai.NotFoundError):
                clients[name].containers.files.list(entry["container_id"])
            with pytest.raises(openai.NotFoundError):
                clients[name].containers.files.content.retrieve(
                    entry["file_id"], container_id=entry["container_id"]
                )
        # Nor can they reach the other's server (files, kernels) through the hub with their own token.
        for path in ("api/contents/workshop_artifacts", "api/contents/workshop.ipynb", "api/kernels"):
            denied = hub.api("GET", f"/user/{other}/{path}", token=tokens[name], allow_redirects=False)
            assert denied.status_code == 403, (name, other, path, denied.status_code)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=hub.emulator_url, api_key="sk-not-in-the-class").containers.list()
    assert "keys: 2 keys, each its own project" in hub.log.read_text(encoding="utf-8")
