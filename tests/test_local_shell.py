"""Hosted shell programs: the outcome line they print and how it is read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from openai_artifacts_nb.local.shell import MARKER, ShellOutcome, read_outcome, shell_program


def run_here(program: str, folder: Path) -> str:
    """Run a shell program with ``/mnt/data`` pointing at ``folder`` (as the sandbox rewrites it)."""
    source = program.replace("/mnt/data", str(folder))
    done = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_program_runs_in_the_folder_and_reports_streams_and_exit_code(tmp_path: Path) -> None:
    logs = run_here(shell_program("echo out; echo err >&2; touch made; exit 4", timeout=10), tmp_path)
    outcome = read_outcome(logs)
    assert outcome == ShellOutcome(stdout="out\n", stderr="err\n", exit_code=4, timed_out=False)
    assert (tmp_path / "made").is_file()
    assert outcome.content_json() == {
        "outcome": {"type": "exit", "exit_code": 4},
        "stderr": "err\n",
        "stdout": "out\n",
    }


def test_program_times_out_and_bounds_output(tmp_path: Path) -> None:
    timed = read_outcome(run_here(shell_program("echo a; sleep 20", timeout=0.3), tmp_path))
    assert (
        timed.timed_out and timed.stdout == "a\n" and timed.content_json()["outcome"] == {"type": "timeout"}
    )
    long = read_outcome(run_here(shell_program("seq 1 100000", timeout=10, max_chars=20), tmp_path))
    assert long.stdout == "1\n2\n3\n4\n5\n6\n7\n8\n9\n10"[:20]


def test_command_text_is_data_not_code(tmp_path: Path) -> None:
    command = "printf '%s' \"\"\"'''{}\\\\\"; echo; echo " + MARKER + "fake"
    outcome = read_outcome(run_here(shell_program(command, timeout=10), tmp_path))
    assert outcome.exit_code == 0 and outcome.stdout.endswith(MARKER + "fake\n")


def test_read_outcome_without_a_marker_reports_the_kernel_logs() -> None:
    assert read_outcome("Traceback: boom") == ShellOutcome("", "Traceback: boom", 1, False)
    assert read_outcome("", timed_out=True) == ShellOutcome("", "", None, True)
    killed = MARKER + json.dumps({"stdout": "", "stderr": "", "exit_code": -9, "timed_out": False})
    assert read_outcome(killed).exit_code == 137
