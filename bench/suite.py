"""The list of cases and how one is run: imported by name, timed, its failure kept to one line."""

from __future__ import annotations

import importlib
import time
import traceback

from bench.harness import BenchError, Settings
from bench.report import CaseOutcome

#: Case number -> (title, module). Modules are imported only when their case runs.
CASES: dict[int, tuple[str, str]] = {
    1: ("many files", "bench.many_files"),
    2: ("one big file", "bench.big_file"),
    3: ("start-up", "bench.startup"),
    4: ("long streams", "bench.long_stream"),
    5: ("notebook weight", "bench.notebook_weight"),
    6: ("preview bounds", "bench.preview_bounds"),
    7: ("link rewriting", "bench.link_rewriting"),
    8: ("streamed reply, files early", "bench.streamed_files"),
}


def run_case(number: int, settings: Settings) -> CaseOutcome:
    """Run case ``number`` and return its rows, or the reason it could not run."""
    title, module_name = CASES[number]
    outcome = CaseOutcome(number=number, title=title)
    started = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
        outcome.rows = list(module.run(settings))
    except BenchError as error:
        outcome.error = str(error)
    except Exception as error:  # a broken dependency must not hide the other cases' numbers
        frame = traceback.extract_tb(error.__traceback__)[-1]
        outcome.error = f"{type(error).__name__}: {error} (at {frame.filename}:{frame.lineno})"
    outcome.seconds = time.perf_counter() - started
    return outcome
