"""Issue 9, interrupts: Ctrl-C during the downloads stops them, keeps every complete file under its final
name with its manifest entry, removes every ``.part`` and leaves no thread running.

SIGINT must reach a main thread, so ``fetch`` runs in a child process against a replay server in this one:
one file completes at once, the other sends a first piece and then goes silent. Once the child says the
first is complete and the second under way, it gets a real SIGINT.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from openai_artifacts_nb.manifest import Manifest
from tests.plugins.engine import ReplayServer

CONTAINER = "cntr_i"

CHILD = r"""
import json, sys, threading
from openai import OpenAI
from openai_artifacts_nb.fetching import fetch

base_url, out, reply = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = OpenAI(base_url=base_url, api_key="sk-test-child-0123456789", max_retries=0)

def progress(name, done, total):
    if name == "a.txt" and done == total:
        print("complete a.txt", flush=True)
    if name == "slow.bin" and done:
        print("under way slow.bin", flush=True)

outcome = "returned"
try:
    fetch(reply, out_dir=out, client=client, progress=progress, stall_timeout=30)
except KeyboardInterrupt:
    outcome = "interrupted"
finally:
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    print("end " + json.dumps({"outcome": outcome, "threads": others}), flush=True)
"""


def _reply() -> dict[str, object]:
    names = ["a.txt", "slow.bin"]
    text = " ".join(f"[{name}](sandbox:/mnt/data/{name})" for name in names)
    notes = []
    for number, name in enumerate(names):
        target = f"sandbox:/mnt/data/{name}"
        start = text.index(target)
        notes.append(
            {
                "type": "container_file_citation",
                "container_id": CONTAINER,
                "file_id": f"cfile_{number}",
                "filename": name,
                "start_index": start,
                "end_index": start + len(target),
            }
        )
    content = {"type": "output_text", "text": text, "annotations": notes}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [content]}
    return {"id": "resp_i", "object": "response", "created_at": 1, "output": [message]}


def _lines(stream: object) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:  # type: ignore[attr-defined]
            found.put(line.strip())

    threading.Thread(target=read, daemon=True).start()
    return found


def test_sigint_during_downloads_keeps_complete_files_and_leaves_nothing_behind(
    tmp_path: Path, replay_server: ReplayServer
) -> None:
    release = threading.Event()

    def slow() -> Iterator[bytes]:
        yield b"s" * (3 << 20)  # past the first progress report (one per MiB)
        release.wait(60)
        yield b"never"

    replay_server.container_file(CONTAINER, "cfile_0", "/mnt/data/a.txt", b"complete bytes\n", listed=False)
    replay_server.container_file(CONTAINER, "cfile_1", "/mnt/data/slow.bin", b"", listed=False)
    replay_server.stream(f"/v1/containers/{CONTAINER}/files/cfile_1/content", 10_000_000, slow)
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, replay_server.base_url, str(out), json.dumps(_reply())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _lines(child.stdout)
        seen = set()
        while seen != {"complete a.txt", "under way slow.bin"}:
            seen.add(lines.get(timeout=30))
        assert list(out.glob(".slow.bin.*.part")), "the slow download is under way"
        child.send_signal(signal.SIGINT)
        end = lines.get(timeout=30)
        while not end.startswith("end "):
            end = lines.get(timeout=30)
        assert child.wait(timeout=30) == 0, child.stderr.read() if child.stderr else ""
    finally:
        release.set()
        if child.poll() is None:
            child.kill()
    report = json.loads(end.removeprefix("end "))
    assert report == {"outcome": "interrupted", "threads": []}
    assert (out / "a.txt").read_bytes() == b"complete bytes\n"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["a.txt"]
    assert not list(out.glob("**/*.part")) and not list(out.glob("**/*.tmp"))
    assert [(e.path, e.file_id) for e in Manifest(out).entries.values()] == [("a.txt", "cfile_0")]
