"""Case 5, notebook weight: bytes a 5 MB PNG, a 50 MB CSV and a 10 MB PDF add to the saved ``.ipynb``.

A notebook with ``%load_ext openai_artifacts_nb`` and one ``%%openai`` cell per artifact runs headless in a
real kernel (nbclient, widget state stored as nbclient stores it) against the emulator, and is written with
nbformat. A control notebook runs the same prompts, but the code writes its bytes to ``/dev/null``, so no
artifact appears. Bytes added per artifact = (that cell's outputs + the widget state its outputs reference)
minus the same for its control cell. Targets: under 512 KiB each with the default settings, and no artifact
embedded twice (no long string repeated within what it added).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from bench.emulated import emulator
from bench.harness import BenchError, KiB, Row, Samples, Settings, child_env

NUMBER = 5
TITLE = "notebook weight"
LIMIT_KIB = 512
LONG_STRING = 1024
MODEL_REF = re.compile(r"IPY_MODEL_([0-9a-f]+)")
BASE64_RUN = re.compile(rf"[A-Za-z0-9+/\n]{{{LONG_STRING},}}={{0,2}}")

#: (kind, file name, code that writes about ``size`` bytes of that kind to ``TARGET``).
ARTIFACTS: tuple[tuple[str, str, str], ...] = (
    (
        "PNG",
        "noise.png",
        """
import math, random
from PIL import Image
side = int(math.sqrt({size} / 3))
Image.frombytes("RGB", (side, side), random.Random(1).randbytes(side * side * 3)).save(TARGET, format="PNG")
""",
    ),
    (
        "CSV",
        "measurements.csv",
        """
import random
rng = random.Random(2)
with open(TARGET, "w") as out:
    out.write("id,x,y,label\\n")
    written, i = 0, 0
    while written < {size}:
        written += out.write(f"{{i}},{{rng.random():.6f}},{{rng.random():.6f}},item{{i % 97}}\\n")
        i += 1
""",
    ),
    (
        "PDF",
        "report.pdf",
        """
import math, random
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
side = int(math.sqrt({size} / 3))
pixels = np.frombuffer(random.Random(3).randbytes(side * side * 3), dtype=np.uint8).reshape(side, side, 3)
figure = plt.figure(figsize=(side / 100, side / 100), dpi=100)
figure.figimage(pixels)
figure.savefig(TARGET, format="pdf", dpi=100)
plt.close(figure)
""",
    ),
)


def _prompt(code: str, target: str) -> str:
    return f'Make the file.\n\n```python\nTARGET = "{target}"\n{code.strip()}\n```\n'


def build_notebook(sizes: dict[str, int], *, control: bool) -> Any:
    """The notebook: ``%load_ext``, then one ``%%openai`` cell per artifact (to ``/dev/null`` if control)."""
    from nbformat import v4

    builder: Any = v4  # nbformat ships no type hints
    cells = [builder.new_code_cell("%load_ext openai_artifacts_nb")]
    for kind, name, code in ARTIFACTS:
        target = "/dev/null" if control else f"/mnt/data/{name}"
        source = "%%openai\n" + _prompt(code.format(size=sizes[kind]), target)
        cells.append(builder.new_code_cell(source, metadata={"bench": kind}))
    notebook = builder.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def execute(notebook: Any, path: Path, *, base_url: str) -> Any:
    """Run ``notebook`` in a real kernel beside ``path`` with the magic pointed at the emulator; write it."""
    import nbformat as untyped_nbformat
    from nbclient import NotebookClient

    nbformat: Any = untyped_nbformat  # nbformat ships no type hints
    env = child_env()
    env["OPENAI_BASE_URL"] = base_url
    env["OPENAI_ARTIFACTS_NOTEBOOK"] = str(path)  # what a headless runner sets; the file must exist
    nbformat.write(notebook, path)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=env)
    nbformat.write(notebook, path)
    return nbformat.read(path, as_version=4)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


def _widget_models(outputs: list[Any], state: dict[str, Any]) -> dict[str, Any]:
    """The widget models ``outputs`` show, and every model those reference, from the saved widget state."""
    found: dict[str, Any] = {}
    pending = [
        output.get("data", {}).get("application/vnd.jupyter.widget-view+json", {}).get("model_id")
        for output in outputs
    ]
    while pending:
        model_id = pending.pop()
        if not model_id or model_id in found or model_id not in state:
            continue
        found[model_id] = state[model_id]
        pending.extend(MODEL_REF.findall(json.dumps(state[model_id])))
    return found


def cell_weight(notebook: Any, kind: str) -> tuple[int, int, list[str]]:
    """Bytes of the cell for ``kind``: its outputs, the widget state they use; and its long strings."""
    cell = next(c for c in notebook.cells if c.metadata.get("bench") == kind)
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = _widget_models(cell.outputs, state.get("state", {}))
    outputs_bytes = len(json.dumps(cell.outputs, indent=1, ensure_ascii=False).encode())
    models_bytes = len(json.dumps(models, indent=1, ensure_ascii=False).encode())
    strings = [s for s in _strings(cell.outputs) + _strings(models) if len(s) >= LONG_STRING]
    return outputs_bytes, models_bytes, strings


def _embedded_twice(strings: list[str]) -> bool:
    """True when one binary payload (base64, bare or in a data URI) appears more than once."""
    heads = []
    for text in strings:
        payload = text.split("base64,", 1)[-1]
        for found in BASE64_RUN.findall(payload):
            heads.append(found[:LONG_STRING])
    return len(set(heads)) < len(heads)


def _full_file_embedded(strings: list[str], saved: Path) -> bool:
    if not saved.is_file():
        return False
    head = saved.read_bytes()[:3000]
    needles = (base64.b64encode(head).decode()[:2000], head[:2000].decode("utf-8", "replace"))
    return any(needle in s for s in strings for needle in needles)


def run(settings: Settings) -> list[Row]:
    """Run the artifact notebook and its control once each (the bytes do not vary), and weigh each cell."""
    sizes = settings.pick(
        full={"PNG": 5_000_000, "CSV": 50_000_000, "PDF": 10_000_000},
        quick={"PNG": 5_000_000, "CSV": 50_000_000, "PDF": 10_000_000},
        smoke={"PNG": 200_000, "CSV": 500_000, "PDF": 200_000},
    )
    folder = settings.work_dir / "weight"
    folder.mkdir(parents=True, exist_ok=True)
    with emulator(settings) as server:
        url = server.base_url
        made = execute(build_notebook(sizes, control=False), folder / "weight.ipynb", base_url=url)
        control = None
        if not settings.smoke:  # a smoke run checks that bytes are weighed; the control adds ~1 KiB
            control = execute(build_notebook(sizes, control=True), folder / "control.ipynb", base_url=url)
    saved_folder = folder / "weight_artifacts"
    rows = []
    for kind, name, _ in ARTIFACTS:
        saved = saved_folder / name
        if not saved.is_file():
            raise BenchError(f"the magic did not save {name} beside the notebook (looked in {saved_folder})")
        outputs_bytes, widget_bytes, strings = cell_weight(made, kind)
        weight = outputs_bytes + widget_bytes
        baseline = sum(cell_weight(control, kind)[:2]) if control is not None else 0
        added_kib = (weight - baseline) / KiB
        twice = _embedded_twice(strings)
        whole = _full_file_embedded(strings, saved)
        small = added_kib < LIMIT_KIB
        reasons = []
        if not small:
            reasons.append(
                f"{added_kib - LIMIT_KIB:.0f} KiB over the limit"
                + (", because the whole file is embedded" if whole else "")
                + "; a preview capped in bytes (downscaled image, first rows, a file card) closes it."
            )
        if twice:
            reasons.append("the same payload appears twice in this cell's outputs and widget state.")
        rows.append(
            Row(
                case=TITLE,
                what=f".ipynb bytes added by a {saved.stat().st_size / 1e6:.1f} MB {kind} ({name})",
                ours=Samples.of([added_kib], "KiB"),
                target=f"< {LIMIT_KIB} KiB, once",
                passed=small and not twice,
                note=" ".join(reasons),
                details={
                    "file_bytes": saved.stat().st_size,
                    "cell_output_bytes": outputs_bytes,
                    "cell_widget_state_bytes": widget_bytes,
                    "control_cell_bytes": baseline,
                    "embedded_twice": twice,
                    "whole_file_embedded": whole,
                    "notebook_bytes": (folder / "weight.ipynb").stat().st_size,
                    "control_notebook_bytes": control and (folder / "control.ipynb").stat().st_size,
                    "output_types": sorted(
                        {
                            key
                            for cell in made.cells
                            if cell.metadata.get("bench") == kind
                            for output in cell.outputs
                            for key in output.get("data", {})
                        }
                    ),
                },
            )
        )
    return rows
