"""Download buttons deliver exactly the saved bytes and leave nothing behind; fetch progress bars."""

from __future__ import annotations

import base64
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.widgets import ArtifactDownload, FetchProgress


def _record(widget: ArtifactDownload) -> list[tuple[dict[str, Any], ...]]:
    seen: list[tuple[dict[str, Any], ...]] = []
    widget.channel.observe(lambda change: seen.append(change["new"]), names="outputs")
    return seen


def _delivered(seen: list[tuple[dict[str, Any], ...]]) -> tuple[bytes, str]:
    """Join the chunks the scripts hand the browser, and return them with the final save script."""
    scripts = [outputs[0]["data"]["application/javascript"] for outputs in seen if outputs]
    chunks = [json.loads(re.search(r"\.push\((\".*\")\);", script).group(1)) for script in scripts[:-1]]
    return b"".join(base64.b64decode(chunk) for chunk in chunks), scripts[-1]


def test_a_click_delivers_exactly_the_saved_bytes(tmp_path: Path) -> None:
    path = tmp_path / "report (final).pdf"
    payload = bytes(range(256)) * 4000 + b"tail"
    path.write_bytes(payload)
    widget = ArtifactDownload(path, mime_type="application/pdf", chunk_bytes=100_000)
    seen = _record(widget)
    widget.button.click()
    data, save = _delivered(seen)
    assert data == payload
    assert widget.sent_chunks == -(-len(payload) // 100_000)
    assert '"report (final).pdf"' in save and '"application/pdf"' in save and "a.click()" in save
    assert seen[-1] == () and widget.channel.outputs == (), "nothing left in the notebook"
    assert not widget.button.disabled


def test_the_button_has_a_stable_class_and_no_bytes_before_a_click(tmp_path: Path) -> None:
    path = tmp_path / "plot.png"
    path.write_bytes(b"\x89PNG" + bytes(5000))
    widget = ArtifactDownload(path, mime_type="image/png")
    assert "oai-artifact-download" in widget.button._dom_classes
    assert widget.button.description == "Download plot.png"
    state = json.dumps([child.get_state() for child in widget.children], default=str)
    assert "iVBOR" not in state and len(state) < 5000
    data, metadata = widget._repr_mimebundle_()
    assert data["text/plain"] == "Download plot.png"
    assert "text/html" not in data, "no link without a relative path to point at"
    assert metadata == {"openai_artifacts_nb": {"live_only": True}}


def test_the_button_falls_back_to_a_plain_link_without_a_widget_manager(tmp_path: Path) -> None:
    path = tmp_path / "a b.csv"
    path.write_bytes(b"x,y\n")
    widget = ArtifactDownload(path, href='out/a b".csv')
    data, metadata = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == 'Download a b.csv: out/a b".csv'
    assert data["text/html"].startswith(
        '<a class="oai-artifact-link" href="out/a%20b%22.csv" download="a b.csv"'
    )
    assert metadata["openai_artifacts_nb"]["live_only"] is True


def test_large_files_show_a_progress_bar_while_sent(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 1_000_000)
    widget = ArtifactDownload(path, chunk_bytes=200_000, progress_over=500_000)
    values: list[int] = []
    widget.button.click()
    assert widget.progress is not None
    assert "oai-download-progress" in widget.progress._dom_classes
    widget.progress.observe(lambda change: values.append(change["new"]), names="value")
    widget.button.click()
    assert values[-1] == 1_000_000 and values == sorted(values)
    assert widget.progress.layout.display == "none", "hidden again once sent"


def test_small_files_get_no_progress_bar(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_text("hi")
    widget = ArtifactDownload(path)
    widget.button.click()
    assert widget.progress is None and len(widget.children) == 2


def test_a_file_gone_from_disk_says_so(tmp_path: Path) -> None:
    path = tmp_path / "gone.txt"
    path.write_text("x")
    widget = ArtifactDownload(path)
    path.unlink()
    seen = _record(widget)
    widget.button.click()
    assert seen == []
    assert widget.button.description == "gone.txt is no longer on disk"
    assert widget.button.button_style == "danger"


def test_fetch_progress_throttles_and_always_shows_the_end() -> None:
    bars = FetchProgress(interval=60.0, min_bytes=0)
    for done in range(0, 1001, 10):
        bars("data.csv", done, 1000)
    bar, label = bars.bars["data.csv"]
    assert bar.value == 1000.0 and bar.max == 1000.0
    assert label.value == "data.csv: 1,000 bytes of 1,000 bytes"
    bars("stream.bin", 5000, None)
    assert bars.bars["stream.bin"][1].value == "stream.bin: 4.9 KiB"
    assert list(bars.names) == ["data.csv", "stream.bin"]
    assert "oai-fetch-progress" in bars._dom_classes


def test_fetch_progress_from_worker_threads() -> None:
    bars = FetchProgress(interval=0.0, min_bytes=0)

    def work(index: int) -> None:
        for done in range(0, 101, 5):
            bars(f"file{index}.bin", done, 100)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(bars.children) == 8
    assert all(bar.value == 100.0 for bar, _ in bars.bars.values())


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5])
def test_tiny_and_empty_files(tmp_path: Path, size: int) -> None:
    path = tmp_path / "t.bin"
    path.write_bytes(bytes(range(size)))
    widget = ArtifactDownload(path, chunk_bytes=2)
    seen = _record(widget)
    widget.button.click()
    data, _ = _delivered(seen)
    assert data == path.read_bytes()


def test_closing_the_progress_closes_every_bar() -> None:
    bars = FetchProgress(interval=0.0, min_bytes=0)
    bars("a.csv", 1, 2)
    bar, label = bars.bars["a.csv"]
    bars.close()
    assert bar.comm is None and label.comm is None and bars.comm is None


def test_small_files_get_no_bar() -> None:
    bars = FetchProgress()
    bars("small.csv", 500, 500)
    assert bars.children == () and list(bars.names) == []
    bars("big.bin", 10, 5_000_000)
    assert list(bars.names) == ["big.bin"]


def test_progress_labels_show_hostile_names_as_text() -> None:
    from openai_artifacts_nb.widgets import FetchProgress

    bars = FetchProgress(interval=0.0, min_bytes=0)
    name = '<img src=x onerror="alert(1)">.csv'
    bars(name, 10, 10)
    row = bars.children[0]
    label = row.children[1]
    assert type(label).__name__ == "Label"
    assert label.value.startswith(name)
    bars.close()
