"""The example notebooks, run in real kernels (nbclient) on the embedded emulator, checked output by output.

Each notebook is copied (with its data) to a fresh folder and run as ``openai-artifacts run --local`` runs it.
The checks: images come as ``image/png``, tables as previews, no ``sandbox:`` is left in any output, every
linked file is on disk with the bytes the manifest recorded (data-URI links hold those same bytes), and each
saved file has its download button.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import nbformat
import pytest

from openai_artifacts_nb.manifest import MANIFEST_PATH
from openai_artifacts_nb.runner import RunReport, execute_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

pytestmark = pytest.mark.slow


def _run(name: str, folder: Path) -> tuple[RunReport, Any]:
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", folder)
    shutil.copytree(NOTEBOOKS / "data", folder / "data")
    report = execute_notebook(folder / f"{name}.ipynb", local=True, timeout=180)
    assert report.ok, report.error
    return report, nbformat.read(report.executed, as_version=4)


def _outputs(notebook: Any) -> list[dict[str, Any]]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def _texts(notebook: Any) -> list[str]:
    texts = []
    for output in _outputs(notebook):
        if output.output_type == "stream":
            texts.append(output.text)
        for value in output.get("data", {}).values():
            texts.append(value if isinstance(value, str) else json.dumps(value))
    return texts


def _manifest_hashes(artifacts_dir: Path) -> dict[str, str]:
    document = json.loads((artifacts_dir / MANIFEST_PATH).read_text(encoding="utf-8"))
    entries = document["artifacts"] if isinstance(document, dict) else document
    found = {}
    for entry in entries:
        name = entry.get("filename") or Path(entry.get("path", "")).name
        found[name] = entry["sha256"]
    return found


def _check_links(notebook: Any, folder: Path, artifacts_dir: Path) -> int:
    """Every relative link and data URI in the outputs points at a saved file with the recorded bytes."""
    hashes = _manifest_hashes(artifacts_dir)
    checked = 0
    for text in _texts(notebook):
        for found in re.findall(r'href="([^"]+)"', text) + re.findall(r"\]\(([^)\s]+)\)", text):
            target = html.unescape(found)
            if target.startswith("data:"):
                continue
            if "://" in target or target.startswith("#"):
                continue
            path = folder / unquote(target)
            assert path.is_file(), f"linked file missing: {target}"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == hashes[path.name], target
            checked += 1
        for name, data in re.findall(r'data:[^;"]+;base64,([^"]+)" download="([^"]+)"', text):
            raw = base64.b64decode(name)
            assert hashlib.sha256(raw).hexdigest() == hashes[html.unescape(data)]
            checked += 1
    return checked


def _download_buttons(notebook: Any) -> list[str]:
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    buttons = []
    for model in state.get("state", {}).values():
        attributes = model.get("state", {})
        if "oai-artifact-download" in attributes.get("_dom_classes", []):
            buttons.append(attributes["description"])
    return buttons


def _shown_widgets(notebook: Any) -> int:
    return sum(
        1
        for output in _outputs(notebook)
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    )


def _download_links(notebook: Any) -> list[str]:
    """The ``download`` names of the buttons' link fallbacks: what a saved notebook offers with no kernel."""
    import re

    names = []
    for output in _outputs(notebook):
        html = output.get("data", {}).get("text/html", "")
        html = "".join(html) if isinstance(html, list) else html
        names += re.findall(r'<a class="oai-artifact-link" href="[^"]*" download="([^"]*)"', html)
    return names


def _common_checks(notebook: Any, folder: Path, artifacts_dir: Path) -> list[str]:
    saved = sorted(
        path.name for path in artifacts_dir.iterdir() if path.is_file() and not path.name.startswith(".")
    )
    assert (artifacts_dir / MANIFEST_PATH).is_file()
    assert not any("sandbox:" in text for text in _texts(notebook))
    assert _check_links(notebook, folder, artifacts_dir) >= len(saved)
    files = saved
    buttons = _download_buttons(notebook)
    assert sorted(buttons) == sorted(f"Download {name}" for name in files)
    # The executed copy has no kernel behind it: each button is its download link, never a widget view.
    assert _shown_widgets(notebook) == 0
    assert sorted(set(_download_links(notebook))) == sorted(files)
    assert not any(output.output_type == "error" for output in _outputs(notebook))
    return files


def test_quickstart(tmp_path: Path) -> None:
    report, notebook = _run("quickstart", tmp_path)
    artifacts_dir = tmp_path / "quickstart_artifacts"
    files = _common_checks(notebook, tmp_path, artifacts_dir)
    assert {"revenue.png", "monthly_revenue.csv", "report.md", "rolling_total.csv"} <= set(files)
    assert any(name.endswith(".png") and name != "revenue.png" for name in files), "the plt.show() image"
    outputs = _outputs(notebook)
    assert sum(1 for output in outputs if "image/png" in output.get("data", {})) >= 2
    previews = [text for text in _texts(notebook) if 'class="oai-table-preview"' in text]
    assert any("20 of 24 rows" in text and "monthly_revenue.csv" in text for text in previews)
    assert any("rolling_total.csv" in text for text in previews)
    assert report.artifact_files() == sorted(artifacts_dir / name for name in files)
    # The follow-up read the table the first cell made: it ran in the same container.
    status = [text for text in _texts(notebook) if text.startswith("openai: model")]
    assert status and "(2 turns)" in status[-1]
    replies = [
        "".join(o["data"]["text/html"])
        for o in outputs
        if "oai-reply" in "".join(o.get("data", {}).get("text/html", ""))
    ]
    assert len(replies) == 2, "one output per cell for the reply: the stream was replaced in place"
    assert (
        'src="quickstart_artifacts/revenue.png"' in replies[0]
        or 'href="quickstart_artifacts/revenue.png"' in replies[0]
    )
    assert '<details class="oai-code-run"' in replies[0] and "<summary>Code" in replies[0]
    assert not any("oai-streaming" in reply or "oai-status" in reply for reply in replies)
    notebook_bytes = report.executed.stat().st_size
    assert notebook_bytes < 512 * 1024, notebook_bytes


def test_workshop(tmp_path: Path) -> None:
    _, notebook = _run("workshop", tmp_path)
    files = _common_checks(notebook, tmp_path, tmp_path / "workshop_artifacts")
    assert {"summary_by_group.csv", "hours_vs_score.png", "grades.xlsx", "grades.json"} <= set(files)
    previews = [text for text in _texts(notebook) if 'class="oai-table-preview"' in text]
    assert any("20 of 60 rows" in text and "grades.xlsx" in text for text in previews)
    assert any("20 of 60 rows" in text and "grades.json" in text for text in previews)
    assert any("image/png" in output.get("data", {}) for output in _outputs(notebook))


def test_legacy_assistants(tmp_path: Path) -> None:
    _, notebook = _run("legacy_assistants", tmp_path)
    artifacts_dir = tmp_path / "legacy_assistants_artifacts"
    saved = sorted(path.name for path in artifacts_dir.iterdir() if not path.name.startswith("."))
    assert {"region_totals.csv", "revenue_by_region.png"} <= set(saved)
    assert any("image/png" in output.get("data", {}) for output in _outputs(notebook))
    assert not any("sandbox:" in text for text in _texts(notebook))
    assert len(_download_buttons(notebook)) == len(saved)


def test_plain_sdk(tmp_path: Path) -> None:
    """Plain SDK cells (no magic): the display hook saves and shows every file of each reply."""
    _, notebook = _run("plain_sdk", tmp_path)
    artifacts_dir = tmp_path / "plain_sdk_artifacts"
    files = _common_checks(notebook, tmp_path, artifacts_dir)
    images = [name for name in files if name.startswith("ig_") and name.endswith(".png")]
    assert len(images) == 1, files
    assert {"squares.png", "squares.csv", "words.txt", "cubes.csv"} | set(images) == set(files)
    assert (artifacts_dir / "cubes.csv").read_bytes() == b"x,y\n1,1\n2,8\n3,27\n"
    assert (artifacts_dir / images[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    outputs = _outputs(notebook)
    assert sum(1 for output in outputs if "image/png" in output.get("data", {})) >= 2
    replies = [
        "".join(o["data"]["text/html"])
        for o in outputs
        if "oai-reply" in "".join(o.get("data", {}).get("text/html", ""))
    ]
    assert len(replies) == 4, "one reply view per SDK cell"
    assert 'href="plain_sdk_artifacts/squares.csv"' in replies[0] and "<summary>Code" in replies[0]
    assert "<summary>Shell (1 command)" in replies[1] and "uniq -c" in replies[1]
    assert not any(output.get("output_type") == "execute_result" for output in outputs)
