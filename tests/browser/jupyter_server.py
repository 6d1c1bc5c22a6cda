"""A real Jupyter server (JupyterLab and Notebook 7) for the browser tests, started on 127.0.0.1.

The server runs in its own process on a port the OS picks, with a token, no browser, a private set of
Jupyter/IPython folders (so nothing from the developer's home leaks in) and the settings that keep
JupyterLab's first-run news, update checks and toasts out of the way. It always points the magic at the
embedded emulator (``OPENAI_ARTIFACTS_BACKEND=local``) and drops every real OpenAI variable, so nothing
leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

# Variables that could point a kernel at the real API (the tests must never reach it), or at another
# notebook's folder (a test earlier in the same process may have left one set).
_DROPPED_VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_ARTIFACTS_NOTEBOOK",
    "JPY_SESSION_NAME",
)

# Lab and Notebook 7 read the same user settings folder (``<config dir>/lab/user-settings``).
_USER_SETTINGS = {
    # No "would you like news?" toast, no update check, no toasts over the notebook at all.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    # Every cell stays in the DOM, so the checks see off-screen outputs and the screenshot is whole; no
    # "Select Kernel" dialog when other kernels run: the notebook's own kernel starts, as on a first visit.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "scrollPastEnd": False,
        "autoStartDefaultKernel": True,
    },
}
_PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


@dataclass
class JupyterServer:
    """A running Jupyter server: its process, base URL, token and the folder it serves."""

    process: subprocess.Popen[bytes]
    base_url: str
    token: str
    root_dir: Path
    log_path: Path
    home: Path
    leftovers: list[str] = field(default_factory=list)

    def url(self, path: str, *, with_token: bool = False) -> str:
        """The absolute URL of ``path`` (like ``lab/tree/x.ipynb``) on this server."""
        url = f"{self.base_url}{path.lstrip('/')}"
        if with_token:
            url += ("&" if "?" in url else "?") + f"token={self.token}"
        return url

    def api(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """Call the server's REST API (``path`` like ``api/sessions``) with the token; return the body."""
        headers = {"Authorization": f"token {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url(path), data=body, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as reply:
            return bytes(reply.read())

    def shut_down_sessions(self) -> None:
        """Stop every notebook session and its kernel, so the next test starts from a quiet server.

        Whatever the kernels left running is ended too and noted in ``leftovers``.
        """
        for session in json.loads(self.api("GET", "api/sessions")):
            self.api("DELETE", f"api/sessions/{session['id']}")
        self.leftovers.extend(end_processes_of(self.home, keep=(self.process.pid,)))

    def log(self) -> str:
        """The server's output so far (for failure messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def copy_notebooks(target: Path) -> Path:
    """Copy ``notebooks/`` (without earlier runs' artifacts and executed copies) into ``target``."""
    ignore = shutil.ignore_patterns("*_artifacts", "*.executed.ipynb")
    shutil.copytree(NOTEBOOKS, target, dirs_exist_ok=True, ignore=ignore)
    return target


def _write_config(config_dir: Path) -> None:
    settings_dir = config_dir / "lab" / "user-settings"
    for relative, values in _USER_SETTINGS.items():
        target = settings_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values), encoding="utf-8")
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(_PAGE_CONFIG), encoding="utf-8")


def server_environment(home: Path) -> dict[str, str]:
    """The environment of the server and its kernels: private Jupyter folders, the local backend."""
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_VARIABLES}
    env.update(
        OPENAI_ARTIFACTS_BACKEND="local",
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_until_listening(
    process: subprocess.Popen[bytes], runtime_dir: Path, log_path: Path, token: str
) -> str:
    """Wait for the server's runtime file, then for its API to answer; return its base URL."""
    deadline = time.monotonic() + START_TIMEOUT
    info_file = runtime_dir / f"jpserver-{process.pid}.json"
    base_url = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"jupyter server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}"
            )
        if not base_url and info_file.exists():
            with contextlib.suppress(json.JSONDecodeError):
                base_url = json.loads(info_file.read_text(encoding="utf-8"))["url"]
        if base_url:
            try:
                status = urllib.request.Request(
                    f"{base_url}api/status", headers={"Authorization": f"token {token}"}
                )
                with urllib.request.urlopen(status, timeout=5) as reply:
                    if reply.status == 200:
                        return str(base_url)
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.1)  # a poll interval, not a wait for something to happen
    log = log_path.read_text(errors="replace")
    raise TimeoutError(f"jupyter server not ready in {START_TIMEOUT}s:\n{log}")


def start_server(root_dir: Path, home: Path) -> JupyterServer:
    """Start ``jupyter lab`` (which also serves Notebook 7) on 127.0.0.1 serving ``root_dir``."""
    _write_config(home / "config")
    for name in ("data", "runtime", "ipython"):
        (home / name).mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(24)
    log_path = home / "server.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # window.jupyterapp lets a failing test read the notebook model to say which cell broke.
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--ServerApp.log_level=WARN",
    ]
    if os.geteuid() == 0:  # CI and these machines run as root; Jupyter refuses that unless told
        command.append("--allow-root")
    env = server_environment(home)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = _wait_until_listening(process, home / "runtime", log_path, token)
    except BaseException:
        _terminate(process)
        end_processes_of(home)
        raise
    return JupyterServer(
        process=process, base_url=base_url, token=token, root_dir=root_dir, log_path=log_path, home=home
    )


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def end_processes_of(home: Path, *, keep: tuple[int, ...] = ()) -> list[str]:
    """End every process still running with this test home's environment; return what each was.

    Kernels and whatever they start (the emulator's sandboxes) inherit ``JUPYTER_CONFIG_DIR`` pointing into
    ``home``, which no other process on the machine has; so even ones orphaned when their parent exited are
    found, and nothing that these tests did not start is touched. Pids in ``keep`` are spared.
    """
    marker = str(home / "config")
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if (
                process.pid not in {os.getpid(), *keep}
                and process.environ().get("JUPYTER_CONFIG_DIR") == marker
            ):
                found.append(process)
    ended = []
    for process in found:
        with contextlib.suppress(psutil.Error):
            ended.append(f"{process.pid} " + " ".join(process.cmdline()[1:4]))
            process.terminate()
    _, alive = psutil.wait_procs(found, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    return ended


def stop_server(server: JupyterServer) -> None:
    """Shut the server down through its API (which stops its kernels), then end anything left behind.

    What had to be ended after a clean shutdown is listed in ``server.leftovers``.
    """
    request = urllib.request.Request(
        server.url("api/shutdown"), method="POST", headers={"Authorization": f"token {server.token}"}
    )
    with contextlib.suppress(OSError):
        urllib.request.urlopen(request, timeout=10).close()
    try:
        server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        _terminate(server.process)
    server.leftovers.extend(end_processes_of(server.home))


@contextlib.contextmanager
def running_server(root_dir: Path, home: Path) -> Iterator[JupyterServer]:
    """A started server for the duration of the ``with`` block, always shut down after."""
    server = start_server(root_dir, home)
    try:
        yield server
    finally:
        stop_server(server)
