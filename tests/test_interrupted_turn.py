"""Ctrl-C during a streamed ``%%openai`` reply, in a real notebook kernel (Lab's Kernel > Interrupt).

A jupyter_client ``KernelManager`` kernel loads the extension on the embedded emulator. A first cell sets a
variable in the container; a second runs slow code, and the test interrupts the kernel while that code
runs. The second cell must end with one line starting "Interrupted", no ``error`` output (no traceback), no
"running…" left in its reply, and ``status: ok``; a third cell continues the conversation from the first
(completed) reply, in the same container, where the variable still is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

pytestmark = [pytest.mark.slow, pytest.mark.kernel]

FIRST = """%%openai --out one
```python
secret = 41
print("set", secret)
```
"""

SLOW = """%%openai --out cut
```python
import time
print("sleeping", flush=True)
time.sleep(10)
print("woke")
```
"""

THIRD = """%%openai --out third
```python
print("again", secret + 1)
```
"""


class Cell:
    """The messages one execute request produced, collected until the kernel is idle again."""

    def __init__(self, client: BlockingKernelClient, code: str) -> None:
        self.client = client
        self.msg_id = client.execute(code)
        self.messages: list[dict[str, Any]] = []
        self.reply: dict[str, Any] = {}

    def until(self, predicate: Any, *, timeout: float = 120) -> None:
        """Read iopub messages of this cell until ``predicate(message)`` holds."""
        while True:
            message = self.client.get_iopub_msg(timeout=timeout)
            if message["parent_header"].get("msg_id") != self.msg_id:
                continue
            self.messages.append(message)
            if predicate(message):
                return

    def finish(self, *, timeout: float = 120) -> Cell:
        """Read to the idle status and the shell reply."""
        self.until(
            lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "idle", timeout=timeout
        )
        reply = self.client.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != self.msg_id:
            reply = self.client.get_shell_msg(timeout=timeout)
        self.reply = reply["content"]
        return self

    def of_type(self, *kinds: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in kinds]

    def last_shown(self) -> dict[str, str]:
        """The final content of every display in the cell, by display id (or position without one)."""
        shown: dict[str, dict[str, str]] = {}
        for index, message in enumerate(self.of_type("display_data", "update_display_data")):
            key = message["content"].get("transient", {}).get("display_id") or f"#{index}"
            shown[key] = message["content"]["data"]
        return {
            key: data.get("text/html", "") + "\n" + data.get("text/plain", "") for key, data in shown.items()
        }


@pytest.fixture
def kernel() -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A real notebook kernel with the extension loaded on the embedded emulator."""
    manager = KernelManager(kernel_name="python3")
    manager.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    manager.start_kernel()
    client = manager.blocking_client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        setup = Cell(client, "%load_ext openai_artifacts_nb\n%openai local").finish()
        assert setup.reply["status"] == "ok"
        yield manager, client
    finally:
        Cell(client, "%openai stop").finish()
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_ctrl_c_mid_stream_shows_one_line_and_the_next_cell_continues(
    kernel: tuple[KernelManager, BlockingKernelClient], tmp_path: Any
) -> None:
    manager, client = kernel
    Cell(client, f"%cd {tmp_path}").finish()
    first = Cell(client, FIRST).finish()
    assert first.reply["status"] == "ok"
    first_id = Cell(client, "print(one.response_id)").finish()
    first_response = "".join(m["content"]["text"] for m in first_id.of_type("stream")).strip()
    assert first_response.startswith("resp_")

    slow = Cell(client, SLOW)
    # Interrupt while the container runs the slow code: the stream says so before the code's output ends.
    slow.until(
        lambda m: (
            m["msg_type"] in ("display_data", "update_display_data")
            and "running code in the container" in m["content"]["data"].get("text/plain", "")
        )
    )
    manager.interrupt_kernel()
    slow.finish()

    assert slow.reply["status"] == "ok"
    assert slow.of_type("error") == []
    shown = slow.last_shown()
    interrupted = [text for text in shown.values() if "Interrupted:" in text]
    assert len(interrupted) == 1
    assert "the reply was cut off" in interrupted[0]
    assert f"continues from {first_response}" in interrupted[0]
    assert not any("running…" in text or "Traceback" in text for text in shown.values())
    assert any("interrupted" in text and "Code (4 lines)" in text for text in shown.values())

    third = Cell(client, THIRD).finish()
    assert third.reply["status"] == "ok", third.reply
    result = Cell(client, "print(third.code_runs[0].logs, cut.status, sep='|')").finish()
    printed = "".join(m["content"]["text"] for m in result.of_type("stream"))
    assert printed == "again 42\n|interrupted\n"
    status = Cell(client, "%openai status").finish()
    status_text = "".join(
        m["content"]["data"].get("text/plain", "") for m in status.of_type("execute_result")
    )
    assert "(2 turns)" in status_text
