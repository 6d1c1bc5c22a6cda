"""One preview of the preview-bounds case, alone in a fresh process, so the peak RSS it reports is its own.

``python -m bench.preview_child PATH WARMUP_PATH [LIMITS_JSON]``: imports the renderer, previews the small
``WARMUP_PATH`` of the same kind (so lazy imports and first-use allocations are paid before the clock),
resets the kernel's peak-RSS mark, then times one full preview of ``PATH`` (the MIME bundle a notebook would
get). It prints one JSON line: seconds, the peak RSS rise in bytes over the RSS before the preview, whether
the result was a file card, and the first line of its ``text/plain``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no {field} in /proc/self/status")


def _bundle(path: Path, limits: Any) -> dict[str, Any]:
    from openai_artifacts_nb.render import ArtifactView

    result = ArtifactView.from_file(path, limits=limits)._repr_mimebundle_()
    return result[0] if isinstance(result, tuple) else result


def _ends(plain: str) -> str:
    lines = plain.splitlines() or [""]
    ends = lines[:1] if len(lines) == 1 else [lines[0], lines[-1].strip()]
    return " … ".join(line[:300] for line in ends)


def main(argv: list[str]) -> None:
    """Preview ``argv[1]`` after warming up on ``argv[2]`` and print what it cost."""
    from openai_artifacts_nb.render import PreviewLimits

    path, warmup = Path(argv[1]), Path(argv[2])
    limits = PreviewLimits(**json.loads(argv[3])) if len(argv) > 3 else PreviewLimits()
    _bundle(warmup, limits)
    # Writing 5 to clear_refs resets VmHWM to the current RSS, so the peak below is this preview's own.
    Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    before = _status("VmRSS")
    started = time.perf_counter()
    bundle = _bundle(path, limits)
    seconds = time.perf_counter() - started
    rise = _status("VmHWM") - before
    html = str(bundle.get("text/html", ""))
    plain = str(bundle.get("text/plain", ""))
    card = 'class="oai-artifact-card"' in html and "no preview" in plain
    kind = (
        "card"
        if card
        else "table"
        if "oai-table-preview" in html
        else "text"
        if "oai-artifact-text" in html
        else "image"
    )
    sys.stdout.write(
        json.dumps({"seconds": seconds, "rise": rise, "kind": kind, "plain": _ends(plain)}) + "\n"
    )


if __name__ == "__main__":
    main(sys.argv)
