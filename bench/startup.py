"""Case 3, start-up: `import openai_artifacts_nb` and `%load_ext` in a fresh process, vs `import openai`.

Both are timed inside a fresh Python process that already has an IPython shell, as a kernel does, so only the
import (and the extension's registration) is on the clock. Target: under 100 ms, and neither ``openai``,
``ipywidgets`` nor ``pandas`` imported. A ``-X importtime`` run names the heaviest imports when it misses.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from bench.harness import ROOT, Row, Samples, Settings, child_env, interleaved, ratio, run_child

NUMBER = 3
TITLE = "start-up"
LIMIT_MS = 100.0
HEAVY = ("openai", "ipywidgets", "pandas")

_SHELL = """
import json, sys, time
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
config = Config()
config.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=config)
before = set(sys.modules)
sys.stderr.write("-- bench: timed part starts --\\n")
sys.stderr.flush()
"""

OURS = (
    _SHELL
    + """
started = time.perf_counter()
import openai_artifacts_nb
error = ""
try:
    shell.run_line_magic("load_ext", "openai_artifacts_nb")
    if "openai" not in shell.magics_manager.magics["cell"]:
        error = "%load_ext did not register the %%openai cell magic"
except Exception as caught:
    error = f"{type(caught).__name__}: {caught}"
seconds = time.perf_counter() - started
heavy = [name for name in HEAVY if name in sys.modules and name not in before]
added = len(set(sys.modules) - before)
print(json.dumps({"seconds": seconds, "heavy": heavy, "added": added, "error": error}))
"""
).replace("HEAVY", repr(HEAVY))

REFERENCE = (
    _SHELL
    + """
started = time.perf_counter()
import openai
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "added": len(set(sys.modules) - before), "error": ""}))
"""
)


def _measure(code: str, seen: list[dict[str, Any]]) -> float:
    result = run_child(["-c", code], timeout=120)
    seen.append(result)
    return float(result["seconds"]) * 1000


def heaviest_imports(code: str, count: int = 4) -> list[tuple[str, float]]:
    """The modules whose own import time (ms, imports excluded) was largest in the timed part of ``code``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _, _, timed_part = done.stderr.partition("-- bench: timed part starts --")
    costs: list[tuple[str, float]] = []
    for line in timed_part.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(fields) == 3 and fields[0].strip().isdigit():
            costs.append((fields[2].strip(), int(fields[0]) / 1000))
    return sorted(costs, key=lambda item: item[1], reverse=True)[:count]


def run(settings: Settings) -> list[Row]:
    """Time both imports ``settings.repeat`` times (at least 5, they are cheap), interleaved."""
    repeat = 1 if settings.smoke else max(settings.repeat, 5)
    ours_seen: list[dict[str, Any]] = []
    reference_seen: list[dict[str, Any]] = []
    times = interleaved(
        repeat,
        {
            "ours": lambda: _measure(OURS, ours_seen),
            "openai": lambda: _measure(REFERENCE, reference_seen),
        },
    )
    ours = Samples.of(times["ours"], "ms")
    reference = Samples.of(times["openai"], "ms")
    errors = sorted({seen["error"] for seen in ours_seen if seen["error"]})
    heavy = sorted({name for seen in ours_seen for name in seen["heavy"]})
    fast = ours.median < LIMIT_MS and not errors

    note = ""
    details: dict[str, Any] = {
        "modules_added": ours_seen[-1]["added"],
        "openai_modules": reference_seen[-1]["added"],
    }
    if not fast:
        top = heaviest_imports(OURS)
        details["heaviest_imports_ms"] = top
        parts = []
        if errors:
            parts.append(f"%load_ext failed: {errors[0]}")
        if ours.median >= LIMIT_MS:
            spent = ", ".join(f"{name} {ms:.0f} ms" for name, ms in top)
            parts.append(
                f"{ours.median - LIMIT_MS:.0f} ms over the limit; the imports that took longest themselves "
                f"(one -X importtime run) were {spent}. "
                "Importing those when the first %%openai cell runs, not when the extension loads, would "
                "close it."
            )
        note = " ".join(parts)
    rows = [
        Row(
            case=TITLE,
            what="import openai_artifacts_nb + %load_ext, fresh process",
            ours=ours,
            reference=reference,
            reference_name="import openai",
            ratio=ratio(ours.median, reference.median),
            ratio_text="× of it",
            target=f"< {LIMIT_MS:.0f} ms",
            passed=fast,
            note=note,
            details=details,
        ),
        Row(
            case=TITLE,
            what="openai, ipywidgets, pandas imported by the above",
            ours=Samples.of([len(heavy)], "count"),
            target="none",
            passed=not heavy and not errors,
            note=(
                f"imported: {', '.join(heavy)}; import them inside the functions that need them."
                if heavy
                else ""
            )
            + (" (%load_ext failed, so this is unchecked)" if errors else ""),
            details={"imported": heavy, "errors": errors},
        ),
    ]
    return rows
