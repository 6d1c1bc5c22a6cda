"""The printed table of medians, ratios and verdicts, its closing notes, and ``bench/results.json``."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import Row, Settings

HEADERS = ("case", "measures", "ours", "reference", "ratio", "target", "result")
MEASURE_WIDTH = 64


@dataclass
class CaseOutcome:
    """What one case gave: its rows, or the one-line reason it could not run, and how long it took."""

    number: int
    title: str
    rows: list[Row] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The outcome as plain JSON."""
        return {
            "number": self.number,
            "title": self.title,
            "seconds": round(self.seconds, 2),
            "error": self.error or None,
            "rows": [row.to_json() for row in self.rows],
        }


def _cells(row: Row, label: str) -> tuple[str, ...]:
    reference = ""
    if row.reference is not None:
        reference = f"{row.reference_name} {row.reference.describe()}"
    ratio = ""
    if row.ratio is not None:
        ratio = (f"{row.ratio:.2f}" if row.ratio >= 0.1 else f"{row.ratio:.3f}") + row.ratio_text
    return (label, row.what, row.ours.describe(), reference, ratio, row.target, row.verdict)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return lines


def render_table(outcomes: list[CaseOutcome]) -> str:
    """The table as text: one line per measurement, then a note for every miss and every case that failed."""
    body: list[tuple[str, ...]] = []
    for outcome in outcomes:
        label = f"{outcome.number} {outcome.title}"
        if outcome.error:
            body.append((label, "could not run (see notes)", "", "", "", "", "ERROR"))
        for index, row in enumerate(outcome.rows):
            body.append(_cells(row, label if index == 0 else ""))
    widths = [len(h) for h in HEADERS]
    for cells in body:
        widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]
    widths[1] = min(widths[1], MEASURE_WIDTH)

    def line(cells: tuple[str, ...]) -> list[str]:
        measure = _wrap(cells[1], widths[1])
        out = []
        for n, piece in enumerate(measure):
            row_cells = list(cells) if n == 0 else ["" for _ in cells]
            row_cells[1] = piece
            out.append("  ".join(c.ljust(w) for c, w in zip(row_cells, widths, strict=True)).rstrip())
        return out

    lines = line(HEADERS)
    lines.append("  ".join("-" * w for w in widths))
    for cells in body:
        lines.extend(line(cells))
    notes = _notes(outcomes)
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(notes)
    return "\n".join(lines)


def _notes(outcomes: list[CaseOutcome]) -> list[str]:
    notes = []
    for outcome in outcomes:
        if outcome.error:
            notes.append(f"- case {outcome.number} ({outcome.title}) could not run: {outcome.error}")
        for row in outcome.rows:
            if row.note:
                notes.append(f"- case {outcome.number}, {row.what}: {row.verdict}. {row.note}")
    return notes


def summary_line(outcomes: list[CaseOutcome]) -> str:
    """One closing line: how many measurements met their target."""
    rows = [row for outcome in outcomes for row in outcome.rows]
    passed = sum(row.passed for row in rows)
    errors = sum(bool(outcome.error) for outcome in outcomes)
    text = f"{passed} of {len(rows)} targets met"
    if errors:
        text += f", {errors} case(s) could not run"
    return text + "."


def machine_line(load_before: float, load_after: float) -> str:
    """One line on what ran the numbers: CPUs and the load average (other work skews every timing)."""
    return (
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {load_before:.1f} at "
        f"start and {load_after:.1f} at the end (every contender ran interleaved under the same load)."
    )


def write_results(
    path: Path,
    outcomes: list[CaseOutcome],
    settings: Settings,
    argv: list[str],
    *,
    load: tuple[float, float] = (0.0, 0.0),
) -> None:
    """Write every sample, median, ratio and verdict to ``path`` as JSON, with what machine ran them."""
    payload = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python -m bench", *argv]),
        "mode": settings.mode,
        "repeat": settings.repeat,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": {"start": load[0], "end": load[1]},
        "summary": summary_line(outcomes),
        "cases": [outcome.to_json() for outcome in outcomes],
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
