"""The emulator embedded in a notebook kernel survives that kernel's interrupts (Lab's Kernel > Interrupt).

A real notebook kernel (jupyter_client's ``KernelManager``) starts the emulator in-process, a turn sets a
variable in a container, then the test interrupts the notebook kernel as Lab does (a SIGINT to its process
group), once idle and once busy; a following turn still sees the variable. The emulator's own kernels sit in
sessions of their own, so the signal never reaches them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

pytestmark = pytest.mark.slow

SETUP = """
import os, openai
from openai_artifacts_nb.local import LocalServer
server = LocalServer(confine={confine})
client = openai.OpenAI(base_url=server.start(), api_key="local")
def turn(code, previous=None):
    extra = {{"previous_response_id": previous}} if previous else {{}}
    reply = client.responses.create(
        model="m", input="```python\\n" + code + "\\n```", include=["code_interpreter_call.outputs"],
        tools=[{{"type": "code_interpreter", "container": {{"type": "auto"}}}}], **extra,
    )
    logs = "".join(o.logs for o in reply.output[0].outputs if o.type == "logs")
    return reply.id, logs
first, _ = turn("secret = 41")
"""


def execute(client: BlockingKernelClient, code: str, *, timeout: float = 120) -> dict[str, Any]:
    """Run ``code`` in the notebook kernel; return its reply content plus everything it printed."""
    msg_id = client.execute(code)
    printed: list[str] = []
    while True:
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        if message["msg_type"] == "error":
            printed.append("\n".join(message["content"]["traceback"]))
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    reply = client.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=timeout)
    return dict(reply["content"], printed="".join(printed))


def wait_busy(client: BlockingKernelClient, msg_id: str) -> None:
    """Wait until the kernel reports it is busy with ``msg_id``."""
    while True:
        message = client.get_iopub_msg(timeout=60)
        if (
            message["parent_header"].get("msg_id") == msg_id
            and message["msg_type"] == "stream"
            and "sleeping" in message["content"]["text"]
        ):
            return


@pytest.fixture(params=[True, False], ids=["confined", "unconfined"])
def notebook(request: pytest.FixtureRequest) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A real notebook kernel running the embedded emulator (confined or not)."""
    confine = bool(request.param)
    if confine:
        from tests.plugins.emulator import require_bwrap

        require_bwrap()
    manager = KernelManager(kernel_name="python3")
    manager.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    manager.start_kernel()
    client = manager.blocking_client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        reply = execute(client, SETUP.format(confine=confine))
        assert reply["status"] == "ok", reply["printed"]
        yield manager, client
    finally:
        execute(client, "server.stop()")
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_the_emulators_kernels_are_in_sessions_of_their_own(
    notebook: tuple[KernelManager, BlockingKernelClient],
) -> None:
    _manager, client = notebook
    reply = execute(
        client,
        "pids = server.service.sandboxes.process_ids()\n"
        "own = [os.getsid(p) != os.getsid(0) and os.getpgid(p) != os.getpgid(0) for p in pids]\n"
        "print(len(pids) > 0, all(own))",
    )
    assert reply["printed"] == "True True\n"


def test_interrupts_idle_and_busy_leave_container_state_alone(
    notebook: tuple[KernelManager, BlockingKernelClient],
) -> None:
    manager, client = notebook
    manager.interrupt_kernel()  # idle, as Lab's Kernel > Interrupt does it: SIGINT to the process group
    after_idle = execute(client, "second, logs = turn('print(secret + 1)', first)\nprint(logs, end='')")
    assert after_idle["status"] == "ok" and after_idle["printed"] == "42\n"

    msg_id = client.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
    wait_busy(client, msg_id)
    manager.interrupt_kernel()
    interrupted = client.get_shell_msg(timeout=60)
    while interrupted["parent_header"].get("msg_id") != msg_id:
        interrupted = client.get_shell_msg(timeout=60)
    assert interrupted["content"]["status"] == "error"
    assert interrupted["content"]["ename"] == "KeyboardInterrupt"
    # ipykernel aborts requests that arrive right after an error; wait until it takes requests again.
    settled = [execute(client, "pass")["status"] for _ in range(20)]
    assert "ok" in settled

    after_busy = execute(client, "_, logs = turn('secret += 1\\nprint(secret)', second)\nprint(logs, end='')")
    assert after_busy["status"] == "ok" and after_busy["printed"] == "42\n"
    health = execute(client, "print(len(server.service.sandboxes.kernel_pids()))")
    assert health["printed"] == "1\n"
