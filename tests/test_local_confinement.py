"""Confinement: code in one container sees only its /mnt/data, has no network and runs under limits.

Every test drives a real confined emulator through the official SDK. Where bubblewrap cannot run, the tests
skip (in CI they fail instead: CI must confine).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from openai_artifacts_nb.local import LocalServer
from openai_artifacts_nb.local.confinement import FIRST_UID, PROCESS_LIMIT, Bubblewrap
from tests.plugins.emulator import require_bwrap

INCLUDE = ["code_interpreter_call.outputs"]
REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def confined() -> Iterator[LocalServer]:
    """A confined emulator for this module (60 CPU-seconds per call unless a test lowers it)."""
    require_bwrap()
    with LocalServer(confine=True, exec_timeout=60.0, cpu_seconds=60.0) as server:
        yield server


@pytest.fixture
def sdk(confined: LocalServer) -> Iterator[openai.OpenAI]:
    """An SDK client on the confined emulator."""
    with openai.OpenAI(base_url=confined.base_url, api_key="sk-confined") as client:
        yield client


def run_in(client: openai.OpenAI, container: str, code: str) -> str:
    """Run ``code`` as one call in ``container`` and return its logs."""
    response = client.responses.create(
        model="m",
        input=f"```python\n{code}\n```",
        tools=[{"type": "code_interpreter", "container": container}],
        include=INCLUDE,
    )
    call = response.output[0]
    assert call.type == "code_interpreter_call"
    return "".join(o.logs for o in call.outputs or [] if o.type == "logs")


def test_the_server_says_it_confines(confined: LocalServer) -> None:
    assert confined.confined
    assert confined.confinement.startswith("bubblewrap (")


def test_code_sees_only_its_own_folder_and_a_read_only_system(
    sdk: openai.OpenAI, confined: LocalServer
) -> None:
    mine = sdk.containers.create(name="mine").id
    other = sdk.containers.create(name="other").id
    assert (
        run_in(sdk, other, "open('/mnt/data/secret.txt', 'w').write('other container')\nprint('ok')")
        == "ok\n"
    )
    other_folder = confined.service.state.containers[other].data_dir
    marker = Path.home() / f".emulator-probe-{uuid.uuid4().hex}"
    marker.write_text("home")
    try:
        probes = {
            "other container": str(other_folder / "secret.txt"),
            "project folder": str(REPOSITORY / "README.md"),
            "home": str(marker),
            "emulator store": str(confined.service.state.root),
        }
        code = (
            "import os\n"
            f"for label, path in {probes!r}.items():\n"
            "    print(label, os.path.exists(path))\n"
            "print('home holds', sorted(os.listdir(os.path.expanduser('~'))) == sorted(os.listdir('/tmp')))\n"
            "try:\n"
            "    open('/usr/evil', 'w')\n"
            "except OSError as error:\n"
            "    print('usr', type(error).__name__)\n"
            "open('/mnt/data/mine.txt', 'w').write('mine')\n"
            "print(os.getcwd(), os.listdir('/mnt/data'))"
        )
        logs = run_in(sdk, mine, code)
    finally:
        marker.unlink()
    assert logs.splitlines() == [
        "other container False",
        "project folder False",
        "home False",
        "emulator store False",
        "home holds True",
        "usr OSError",
        "/mnt/data ['mine.txt']",
    ]
    (record,) = sdk.containers.files.list(mine)
    assert record.path == "/mnt/data/mine.txt"
    assert sdk.containers.files.content.retrieve(record.id, container_id=mine).read() == b"mine"
    assert (other_folder / "secret.txt").read_text() == "other container"


def test_code_cannot_open_a_socket_to_the_host_or_anywhere(sdk: openai.OpenAI, confined: LocalServer) -> None:
    container = sdk.containers.create(name="net").id
    code = (
        "import errno, socket\n"
        f"for address in [('127.0.0.1', {confined.port}), ('10.0.0.1', 80)]:\n"
        "    try:\n"
        "        socket.create_connection(address, timeout=3)\n"
        "        print('connected')\n"
        "    except OSError as error:\n"
        "        print(errno.errorcode.get(error.errno, type(error).__name__))\n"
        "try:\n"
        "    socket.getaddrinfo('example.com', 443)\n"
        "    print('resolved')\n"
        "except OSError as error:\n"
        "    print('dns', type(error).__name__)\n"
    )
    lines = run_in(sdk, container, code).splitlines()
    # The sandbox's own loopback has nothing on it (or is down): the host's server is not reachable.
    assert lines[0] in {"ECONNREFUSED", "ENETUNREACH"}
    assert lines[1] in {"ENETUNREACH", "TimeoutError"}
    assert lines[2].startswith("dns ") and "connected" not in lines and "resolved" not in lines


def test_code_runs_as_its_own_user_without_capabilities(sdk: openai.OpenAI, confined: LocalServer) -> None:
    first = sdk.containers.create(name="u1").id
    second = sdk.containers.create(name="u2").id
    code = (
        "import os\nstatus = open('/proc/self/status').read()\n"
        "print(os.getuid(), status.split('CapEff:')[1].split()[0], status.split('NoNewPrivs:')[1].split()[0])"
    )
    one, two = (run_in(sdk, c, code).split() for c in (first, second))
    assert one[1:] == two[1:] == ["0000000000000000", "1"]
    if os.geteuid() == 0:
        assert int(one[0]) >= FIRST_UID and int(two[0]) >= FIRST_UID and one[0] != two[0]


def test_a_big_allocation_stops_at_the_memory_limit_and_the_next_call_works(sdk: openai.OpenAI) -> None:
    container = sdk.containers.create(name="mem", memory_limit="1g")
    assert container.memory_limit == "1g"
    logs = run_in(sdk, container.id, "x = 1\nblob = bytearray(2 * 1024**3)")
    assert "MemoryError" in logs
    assert logs.endswith("The code ran out of memory: this container's memory_limit is 1g.")
    assert run_in(sdk, container.id, "print('alive', x)") == "alive 1\n"


@pytest.mark.slow
def test_memory_held_past_the_limit_restarts_the_kernel(sdk: openai.OpenAI) -> None:
    container = sdk.containers.create(name="rss").id
    code = "x = 1\nimport time\nheld = b'x' * (1200 * 1024**2)\ntime.sleep(20)\nprint('survived')"
    logs = run_in(sdk, container, code)
    assert "survived" not in logs
    assert logs.endswith(
        "The code used more memory than this container's memory_limit (1g); its Python kernel was stopped "
        "and starts afresh on the next call (earlier variables are gone)."
    )
    assert run_in(sdk, container, "print('x' in dir())") == "False\n"


def test_the_auto_container_of_a_response_takes_its_memory_limit(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(
        model="m",
        input="```python\nimport resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0] >> 30)\n```",
        tools=[{"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "4g"}}],
        include=INCLUDE,
    )
    call = response.output[0]
    assert call.type == "code_interpreter_call"
    assert sdk.containers.retrieve(call.container_id).memory_limit == "4g"
    assert "".join(o.logs for o in call.outputs or [] if o.type == "logs") == "5\n"  # 4 GiB + headroom


def test_processes_are_limited(sdk: openai.OpenAI) -> None:
    container = sdk.containers.create(name="procs").id
    code = (
        "import subprocess\nchildren = []\n"
        "try:\n"
        f"    for _ in range({PROCESS_LIMIT * 2}):\n"
        "        children.append(subprocess.Popen(['sleep', '60']))\n"
        "    print('all started')\n"
        "except OSError as error:\n"
        "    print('stopped', type(error).__name__)\n"
        "for child in children:\n"
        "    child.kill()\n    child.wait()\n"
        f"print(0 < len(children) < {PROCESS_LIMIT})"
    )
    assert run_in(sdk, container, code) == "stopped BlockingIOError\nTrue\n"
    assert run_in(sdk, container, "print('still here')") == "still here\n"


def test_a_call_over_its_cpu_time_is_interrupted(
    sdk: openai.OpenAI, confined: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(confined.service.sandboxes, "cpu_seconds", 2.0)  # for kernels started from now on
    container = sdk.containers.create(name="cpu").id
    logs = run_in(sdk, container, "x = 1\nwhile True:\n    pass")
    assert "KeyboardInterrupt" in logs
    assert logs.endswith("Execution used more than 2 CPU-seconds and was interrupted.")
    assert run_in(sdk, container, "print(x)") == "1\n"


def test_uploads_are_changeable_by_the_code(sdk: openai.OpenAI) -> None:
    container = sdk.containers.create(name="uploads").id
    sdk.containers.files.create(container, file=("data.csv", b"a,b\n1,2\n"))
    logs = run_in(
        sdk, container, "open('/mnt/data/data.csv', 'a').write('3,4\\n')\nprint(open('data.csv').read())"
    )
    assert logs == "a,b\n1,2\n3,4\n\n"


def test_a_crashed_kernel_restarts_with_a_note_in_the_logs(
    sdk: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    container = sdk.containers.create(name="crash").id
    died = run_in(sdk, container, "x = 1\nimport os\nos._exit(9)")
    assert died.endswith("The Python kernel died; the container's Python state was reset.")
    with caplog.at_level("WARNING", logger="openai_artifacts_nb.local"):
        assert run_in(sdk, container, "print('x' in dir())") == "False\n"
    notes = [r.getMessage() for r in caplog.records if r.name == "openai_artifacts_nb.local"]
    assert f"container {container}: its Python kernel had stopped; starting a new one" in notes


class OneSandboxEach(Bubblewrap):
    """The confinement a non-root server uses: a bwrap of its own for every kernel (no fork server)."""

    @property
    def forks(self) -> bool:
        """Never fork from a confined fork server."""
        return False


def test_a_kernel_in_a_bwrap_of_its_own_is_confined_the_same_way(tmp_path: Path) -> None:
    require_bwrap()
    from openai_artifacts_nb.local.confinement import find_bwrap
    from openai_artifacts_nb.local.kernels import KernelLauncher
    from openai_artifacts_nb.local.sandbox import KernelSandbox

    bwrap = find_bwrap()
    assert bwrap is not None
    launcher = KernelLauncher(tmp_path / "sandbox" / "runtime", confine=OneSandboxEach(bwrap))
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    (other / "secret.txt").write_text("other")
    sandbox = KernelSandbox(mine, launcher=launcher)
    try:
        code = (
            "import os, socket\n"
            f"print(os.getcwd(), os.path.exists({str(other / 'secret.txt')!r}), os.listdir('/mnt/data'))\n"
            "open('made.txt', 'w').write('made')\n"
            "try:\n    socket.create_connection(('10.0.0.1', 80), timeout=2)\n"
            "except OSError:\n    print('no network')"
        )
        result = sandbox.run(code, timeout=60)
        assert result.logs == "/mnt/data False []\nno network\n"
        assert (mine / "made.txt").read_text() == "made"
        pid = sandbox.pid
        assert pid is not None
    finally:
        sandbox.shutdown()
        launcher.close()
    assert not Path(f"/proc/{pid}").exists()


def test_tmp_and_shared_memory_are_private_to_each_container(sdk: openai.OpenAI) -> None:
    first = sdk.containers.create(name="writer").id
    second = sdk.containers.create(name="reader").id
    code = (
        "from multiprocessing import shared_memory\n"
        "block = shared_memory.SharedMemory(name='classroom', create=True, size=16)\n"
        "block.buf[:5] = b'hello'\nopen('/tmp/note.txt', 'w').write('first')\nprint('written')"
    )
    assert run_in(sdk, first, code) == "written\n"
    probe = (
        "import os\nfrom multiprocessing import shared_memory\n"
        "try:\n    shared_memory.SharedMemory(name='classroom')\n    print('opened')\n"
        "except FileNotFoundError:\n    print('no shared memory')\n"
        "print(os.path.exists('/tmp/note.txt'))"
    )
    assert run_in(sdk, second, probe) == "no shared memory\nFalse\n"
    assert (
        run_in(sdk, first, "print(bytes(block.buf[:5]), open('/tmp/note.txt').read())") == "b'hello' first\n"
    )
