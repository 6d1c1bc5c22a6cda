"""Hosted shell commands, run inside the container's own kernel.

A command never runs in the server process: :func:`shell_program` wraps it in a small Python program that the
container's kernel runs like any code call (so it gets the same folder, confinement and time limit). The
program starts ``bash -c COMMAND`` (``sh`` if there is no bash) in ``/mnt/data`` in its own process group,
with stdin closed, drains stdout and stderr through pipes (keeping at most ``max_chars`` characters of each
and discarding the rest, so neither memory nor disk fills up), waits at most ``timeout`` seconds, then kills
the whole group (so background jobs do not outlive the call, even when the kernel's own time limit
interrupts the wait) and prints one line: a marker and the JSON of
what happened.
:func:`read_outcome` reads that line back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MARKER = "@@openai-artifacts-shell@@ "
DEFAULT_MAX_CHARS = 64 * 1024

_PROGRAM = """
def _openai_artifacts_shell(command, timeout, limit):
    import json, os, shutil, signal, subprocess, threading
    shell = shutil.which("bash") or "/bin/sh"
    process = subprocess.Popen(
        [shell, "-c", command], cwd="/mnt/data", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )
    kept = [bytearray(), bytearray()]
    def drain(stream, buffer):
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                return
            room = limit * 4 - len(buffer)
            if room > 0:
                buffer += chunk[:room]
    readers = [
        threading.Thread(target=drain, args=(stream, buffer), daemon=True)
        for stream, buffer in zip((process.stdout, process.stderr), kept)
    ]
    for reader in readers:
        reader.start()
    try:
        code, timed_out = process.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        code, timed_out = None, True
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
    for reader in readers:
        reader.join(timeout=5)
    texts = [bytes(buffer).decode("utf-8", "replace")[:limit] for buffer in kept]
    print({marker!r} + json.dumps(
        {{"stdout": texts[0], "stderr": texts[1], "exit_code": code, "timed_out": timed_out}},
        ensure_ascii=False,
    ))
_openai_artifacts_shell({command!r}, {timeout!r}, {limit!r})
del _openai_artifacts_shell
"""


@dataclass(frozen=True)
class ShellOutcome:
    """One command's result: captured streams and how it ended (exit code, or a timeout)."""

    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool

    def content_json(self) -> dict[str, object]:
        """Return the ``shell_call_output`` content entry (``FunctionShellCallOutputContent``)."""
        outcome: dict[str, object] = (
            {"type": "timeout"} if self.timed_out else {"type": "exit", "exit_code": self.exit_code or 0}
        )
        return {"outcome": outcome, "stderr": self.stderr, "stdout": self.stdout}


def shell_program(command: str, *, timeout: float, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Return the Python source that runs ``command`` in ``/mnt/data`` and prints its outcome."""
    return _PROGRAM.format(marker=MARKER, command=command, timeout=float(timeout), limit=int(max_chars))


def read_outcome(logs: str, *, timed_out: bool = False) -> ShellOutcome:
    """Return the outcome printed by :func:`shell_program`; the kernel's own logs if it printed none."""
    for line in reversed(logs.split("\n")):
        if line.startswith(MARKER):
            try:
                found = json.loads(line[len(MARKER) :])
            except ValueError:
                break
            code = found.get("exit_code")
            if isinstance(code, int) and code < 0:  # killed by a signal: report it as a shell would
                code = 128 - code
            return ShellOutcome(
                stdout=str(found.get("stdout", "")),
                stderr=str(found.get("stderr", "")),
                exit_code=int(code) if isinstance(code, int) else None,
                timed_out=bool(found.get("timed_out")),
            )
    return ShellOutcome(stdout="", stderr=logs, exit_code=None if timed_out else 1, timed_out=timed_out)
