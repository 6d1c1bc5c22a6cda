"""A class on one emulator: N students (own keys) doing 3 turns with code and files each, downloading them.

Run alone: ``python -m bench.classroom [--students 30] [--ramp 30] [--sandbox auto|bwrap|none]``.

One server process (``LocalServer`` with a key per student, confined when bubblewrap works) serves every
student; each student is a thread with the official SDK. Students arrive spread over ``--ramp`` seconds (a
class does not press Enter in the same millisecond), then run 3 chained turns: a table as CSV, a plot as
PNG, a text summary; after each turn every cited file is downloaded and checked to carry that student's own
token (no cross-talk). A sampler sums the resident (RSS) and proportional (PSS: shared pages counted once)
memory of the server and every process under it twice a second. Targets: every turn succeeds, no
cross-talk, p95 turn latency under 10 s, peak memory under 8 GiB.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import secrets
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench.harness import ROOT, child_env

SERVER = """
import sys
from openai_artifacts_nb.local import LocalServer
from openai_artifacts_nb.local.access import KeyRing
keys = sys.stdin.readline().split()
confine = {"auto": None, "bwrap": True, "none": False}[sys.argv[1]]
server = LocalServer(keys=KeyRing(keys), confine=confine, exec_timeout=120.0)
print(server.start(), flush=True)
print(server.confinement, flush=True)
sys.stdin.read()
server.stop()
"""

TURNS = [
    "import pandas as pd\ndf = pd.DataFrame({{'x': range(50), 'y': [v * v for v in range(50)]}})\n"
    "df['who'] = '{token}'\ndf.to_csv('/mnt/data/table.csv', index=False)\nprint(len(df))",
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots()\nax.plot(df.x, df.y)\nax.set_title('{token}')\n"
    "fig.savefig('/mnt/data/plot.png', metadata={{'Title': '{token}'}})\nprint('saved')",
    "open('/mnt/data/summary.txt', 'w').write('{token}: ' + str(df.y.sum()))\nprint(df.y.sum())",
]
GIB = 1 << 30


@dataclass
class Student:
    """One simulated student: their key, token and what happened to their turns."""

    number: int
    key: str
    token: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cross_talk: int = 0
    files: int = 0


def _turn(client: Any, student: Student, code: str, previous: str | None) -> str:
    started = time.perf_counter()
    extra = {"previous_response_id": previous} if previous else {}
    response = client.responses.create(
        model="m",
        input=f"```python\n{code.format(token=student.token)}\n```",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        **extra,
    )
    message = response.output[-1]
    call = response.output[0]
    if call.type != "code_interpreter_call" or message.type != "message":
        raise RuntimeError(f"unexpected output {[item.type for item in response.output]}")
    annotations = message.content[0].annotations
    if not annotations:
        raise RuntimeError(f"no file cited: {message.content[0].text[:200]}")
    for annotation in annotations:
        data = client.containers.files.content.retrieve(
            annotation.file_id, container_id=annotation.container_id
        ).read()
        student.files += 1
        if student.token.encode() not in data:
            student.cross_talk += 1
    student.latencies.append(time.perf_counter() - started)
    return str(response.id)


def _student(base_url: str, student: Student, start_at: float) -> None:
    import openai

    time.sleep(max(0.0, start_at - time.monotonic()))
    with openai.OpenAI(base_url=base_url, api_key=student.key, max_retries=0, timeout=300) as client:
        previous = None
        for code in TURNS:
            try:
                previous = _turn(client, student, code, previous)
            except Exception as error:  # every failure is counted and shown, never hidden
                student.failures.append(f"{type(error).__name__}: {str(error)[:200]}")
                return


class MemorySampler:
    """Peak RSS and PSS of a process and all its descendants, sampled in the background."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        """Sample process ``pid``'s tree every ``every`` seconds once started."""
        self.root = psutil.Process(pid)
        self.every = every
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            rss = pss = 0
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    info = process.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_processes = max(self.peak_processes, len(processes))

    def __enter__(self) -> MemorySampler:
        """Start sampling."""
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


def percentile(values: list[float], share: float) -> float:
    """Return the ``share`` percentile (0..1) of ``values`` (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return ordered[rank]


def run_class(*, students: int, ramp: float, sandbox: str) -> dict[str, Any]:
    """Run the class and return its numbers."""
    group = [
        Student(number, f"sk-class-{secrets.token_hex(12)}", f"student-{number:02d}-{secrets.token_hex(4)}")
        for number in range(1, students + 1)
    ]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, sandbox],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        server.stdin.write(" ".join(s.key for s in group) + "\n")
        server.stdin.flush()
        base_url = server.stdout.readline().strip()
        confinement = server.stdout.readline().strip()
        time.sleep(10)  # a server started before class has its fork server and spare kernel warm
        started = time.monotonic()
        with MemorySampler(server.pid) as memory:
            threads = [
                threading.Thread(
                    target=_student, args=(base_url, s, started + ramp * i / max(1, students)), daemon=True
                )
                for i, s in enumerate(group)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        wall = time.monotonic() - started
    finally:
        server.stdin.close()
        server.wait(timeout=120)
    latencies = [value for s in group for value in s.latencies]
    return {
        "students": students,
        "ramp_s": ramp,
        "sandbox": confinement,
        "turns_ok": len(latencies),
        "turns": students * len(TURNS),
        "failures": [f for s in group for f in s.failures],
        "files_downloaded": sum(s.files for s in group),
        "cross_talk": sum(s.cross_talk for s in group),
        "p50_s": statistics.median(latencies) if latencies else float("nan"),
        "p95_s": percentile(latencies, 0.95) if latencies else float("nan"),
        "max_s": max(latencies) if latencies else float("nan"),
        "peak_rss_gib": memory.peak_rss / GIB,
        "peak_pss_gib": memory.peak_pss / GIB,
        "peak_processes": memory.peak_processes,
        "wall_s": wall,
    }


def table(result: dict[str, Any]) -> str:
    """Return the result as a Markdown table."""
    ok = result["turns_ok"] == result["turns"] and result["cross_talk"] == 0
    rows = [
        ("students x turns", f"{result['students']} x 3 (arriving over {result['ramp_s']:g} s)", ""),
        ("sandbox", result["sandbox"], ""),
        ("turns succeeded", f"{result['turns_ok']} / {result['turns']}", "PASS" if ok else "MISS"),
        ("files downloaded, cross-talk", f"{result['files_downloaded']}, {result['cross_talk']}", ""),
        ("turn latency p50", f"{result['p50_s']:.2f} s", ""),
        ("turn latency p95", f"{result['p95_s']:.2f} s", "PASS" if result["p95_s"] < 10 else "MISS"),
        ("turn latency max", f"{result['max_s']:.2f} s", ""),
        ("peak memory RSS (sum)", f"{result['peak_rss_gib']:.2f} GiB", ""),
        (
            "peak memory PSS (shared once)",
            f"{result['peak_pss_gib']:.2f} GiB",
            "PASS" if result["peak_pss_gib"] < 8 else "MISS",
        ),
        ("peak processes", str(result["peak_processes"]), ""),
        ("wall time", f"{result['wall_s']:.1f} s", ""),
    ]
    lines = ["| measure | value | target |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += [f"\nfailure: {failure}" for failure in result["failures"][:5]]
    return "\n".join(lines)


def main() -> int:
    """Run the class from the command line and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--ramp", type=float, default=30.0)
    parser.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto")
    args = parser.parse_args()
    result = run_class(students=args.students, ramp=args.ramp, sandbox=args.sandbox)
    sys.stdout.write(table(result) + "\n")
    return 0 if result["turns_ok"] == result["turns"] and result["cross_talk"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
