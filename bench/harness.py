"""What every benchmark case shares: settings, samples and medians, the rows of the table, child processes.

A case is a module with ``NUMBER``, ``TITLE`` and ``run(settings) -> list[Row]``. It measures its own code and
the code a user would otherwise write in the same run, so machine noise hits both alike, and it checks the
bytes it produced: a fast wrong answer is not a result.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: The repository root: child processes run here so ``bench`` and the package import the same way.
ROOT = Path(__file__).resolve().parent.parent

Mode = Literal["full", "quick", "smoke"]

MiB = 1024 * 1024
KiB = 1024


class BenchError(RuntimeError):
    """A case could not measure: its dependency is missing or it produced wrong bytes."""


@dataclass(frozen=True)
class Settings:
    """How hard to push: ``full`` for ``make bench``, ``quick`` for a fast look, ``smoke`` for the tests.

    ``emulator_url`` points the cases at an emulator already running (its own process is better for timing:
    one in the measuring process shares its CPU and GIL); by default each case starts its own.
    """

    mode: Mode = "full"
    repeat: int = 5
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="openai-artifacts-bench-")))
    emulator_url: str | None = None

    @property
    def smoke(self) -> bool:
        """True when only checking that the case still runs (tiny sizes, one repetition)."""
        return self.mode == "smoke"

    def pick(self, *, full: Any, quick: Any, smoke: Any) -> Any:
        """Return the value that fits this mode."""
        return {"full": full, "quick": quick, "smoke": smoke}[self.mode]


@dataclass(frozen=True)
class Samples:
    """Repeated measurements of one quantity, in one unit."""

    values: tuple[float, ...]
    unit: str

    @classmethod
    def of(cls, values: list[float] | tuple[float, ...], unit: str) -> Samples:
        """Build from a non-empty sequence of numbers."""
        if not values:
            raise BenchError("no samples were taken")
        return cls(tuple(float(v) for v in values), unit)

    @property
    def median(self) -> float:
        """The median, the number the table shows."""
        return statistics.median(self.values)

    def describe(self) -> str:
        """The median with its unit, in a short human form."""
        return format_quantity(self.median, self.unit)

    def to_json(self) -> dict[str, Any]:
        """The samples as plain JSON."""
        return {"median": self.median, "unit": self.unit, "samples": list(self.values)}


@dataclass(frozen=True)
class Row:
    """One line of the table: what is measured, our median, the reference's, their ratio, target and verdict.

    ``ratio`` is the number the target is about when the target is relative (``ratio_text`` says which way it
    reads, e.g. "× faster"); for absolute targets it is shown for context only. ``note`` explains a miss:
    by how much, why, and what would close it.
    """

    case: str
    what: str
    ours: Samples
    target: str
    passed: bool
    reference: Samples | None = None
    reference_name: str = ""
    ratio: float | None = None
    ratio_text: str = ""
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """``PASS`` or ``MISS``."""
        return "PASS" if self.passed else "MISS"

    def to_json(self) -> dict[str, Any]:
        """The row as plain JSON, samples included."""
        return {
            "case": self.case,
            "what": self.what,
            "ours": self.ours.to_json(),
            "reference_name": self.reference_name,
            "reference": self.reference.to_json() if self.reference else None,
            "ratio": self.ratio,
            "ratio_text": self.ratio_text,
            "target": self.target,
            "verdict": self.verdict,
            "note": self.note,
            "details": self.details,
        }


def format_quantity(value: float, unit: str) -> str:
    """Show ``value`` in ``unit`` with sensible precision (``2.50 s``, ``37.5 ms``, ``640 KiB``)."""
    if unit == "s" and abs(value) < 1:
        value, unit = value * 1000, "ms"
    if unit == "count":
        return f"{value:g}"
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:.{digits}f} {unit}"


def timed(action: Callable[[], object]) -> float:
    """Run ``action`` once and return its wall-clock seconds."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def interleaved(repeat: int, actions: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each action ``repeat`` times, taking turns, so a noisy minute hurts every contender alike.

    Each action returns the number it measured (seconds, bytes, ...).
    """
    results: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            results[name].append(action())
    return results


def child_env() -> dict[str, str]:
    """The environment for child processes: this one, with the repository importable and no API key."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("OPENAI_API_KEY", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_child(args: list[str], *, timeout: float = 600.0, extra_env: dict[str, str] | None = None) -> Any:
    """Run ``python ARGS`` in a fresh process and return the JSON object on the last line of its stdout."""
    env = child_env()
    if extra_env:
        env.update(extra_env)
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise BenchError(f"child process {' '.join(args[:3])} failed ({done.returncode}): {tail}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise BenchError(f"child process {' '.join(args[:3])} printed nothing")
    return json.loads(lines[-1])


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, infinite when the denominator is zero."""
    return numerator / denominator if denominator else float("inf")
