"""File views: each kind of file previewed within budget, always with text/plain, links to the saved bytes."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from openai_artifacts_nb.file_views import ArtifactCard, ArtifactView, PreviewLimits

BUDGET = 512 * 1024


def bundle_of(view: Any) -> dict[str, Any]:
    result = view._repr_mimebundle_()
    return result[0] if isinstance(result, tuple) else result


def total_size(view: ArtifactView) -> int:
    return sum(len(json.dumps(bundle_of(part))) for part in view.displays())


def noise_png(path: Path, side: int) -> Path:
    import random

    generator = random.Random(1)
    image = Image.frombytes(
        "RGB", (side, side), bytes(generator.getrandbits(8) for _ in range(side * side * 3))
    )
    image.save(path)
    return path


def test_a_small_png_is_shown_as_is_with_a_card(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    Image.new("RGB", (320, 200), "steelblue").save(path)
    view = ArtifactView.from_file(path, relative_to=tmp_path.parent)
    assert view.kind == "image"
    data, metadata = view._repr_mimebundle_()
    assert base64.b64decode(data["image/png"]) == path.read_bytes()
    assert metadata == {"image/png": {"width": 320, "height": 200}}
    assert "text/html" not in data, "a front end shows one type per output: the image gets its own"
    assert data["text/plain"].startswith("[image] chart.png · PNG · ")
    parts = view.displays()
    assert isinstance(parts[1], ArtifactCard)
    card = bundle_of(parts[1])["text/html"]
    assert f'href="{tmp_path.name}/chart.png"' in card and "download=" in card
    assert "data:" not in card, "the image is already embedded once"


def test_a_five_megabyte_png_is_downscaled_within_budget(tmp_path: Path) -> None:
    path = noise_png(tmp_path / "big.png", 1400)
    original = path.read_bytes()
    assert len(original) > 5 * 1000 * 1000
    view = ArtifactView.from_file(path)
    data, metadata = view._repr_mimebundle_()
    mime = "image/png" if "image/png" in data else "image/jpeg"
    shown = base64.b64decode(data[mime])
    assert len(shown) <= PreviewLimits().image_max_bytes
    assert total_size(view) < BUDGET
    assert "full 1400×1400 file is on disk" in data["text/plain"]
    assert path.read_bytes() == original
    with Image.open(io.BytesIO(shown)) as image:
        assert image.size == (metadata[mime]["width"], metadata[mime]["height"])


def test_large_dimensions_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (4000, 1000), "white").save(path)
    _, metadata = ArtifactView.from_file(path, limits=PreviewLimits(image_max_pixels=800))._repr_mimebundle_()
    assert metadata["image/png"] == {"width": 800, "height": 200}


@pytest.mark.parametrize(
    ("name", "fmt", "mime"), [("a.jpg", "JPEG", "image/jpeg"), ("a.gif", "GIF", "image/gif")]
)
def test_jpeg_and_gif_keep_their_type(tmp_path: Path, name: str, fmt: str, mime: str) -> None:
    path = tmp_path / name
    Image.new("RGB", (50, 40), "red").save(path, format=fmt)
    data, _ = ArtifactView.from_file(path)._repr_mimebundle_()
    assert base64.b64decode(data[mime]) == path.read_bytes()


def test_webp_is_shown_as_png(tmp_path: Path) -> None:
    path = tmp_path / "a.webp"
    Image.new("RGB", (60, 30), "green").save(path, format="WEBP")
    data, _ = ArtifactView.from_file(path, mime_type="image/webp")._repr_mimebundle_()
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")


def test_svg_is_only_ever_an_image(tmp_path: Path) -> None:
    path = tmp_path / "logo.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><circle r="4"/></svg>')
    data = bundle_of(ArtifactView.from_file(path, mime_type="image/svg+xml"))
    assert "image/svg+xml" not in data
    assert "<svg" not in data["text/html"] and "<script" not in data["text/html"]
    source = re.search(
        r'<img class="oai-artifact-image[^"]*" src="data:image/svg\+xml;base64,([^"]+)"', data["text/html"]
    )
    assert source is not None and base64.b64decode(source.group(1)) == path.read_bytes()


def test_fifty_megabyte_csv_preview_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    line = "12345.6789,hello world,xyz\n"
    count = 50_000_000 // len(line)
    path.write_text("a,b,c\n" + line * count)
    started = time.perf_counter()
    view = ArtifactView.from_file(path)
    data = bundle_of(view)
    elapsed = time.perf_counter() - started
    assert view.kind == "table"
    assert 'class="oai-table-preview"' in data["text/html"]
    assert f"20 of about {count:,} rows" in data["text/html"]
    assert total_size(view) < BUDGET
    assert "data:" not in data["text/html"]
    assert elapsed < 5, elapsed


def test_small_csv_counts_rows_exactly_and_embeds_a_copy(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i * i}\n" for i in range(30)))
    data = bundle_of(ArtifactView.from_file(path, limits=PreviewLimits(rows=5)))
    assert "5 of 30 rows" in data["text/html"] and "(5 of 30 rows)" in data["text/plain"]
    embedded = re.search(
        r'href="data:application/octet-stream;base64,([^"]+)" download="small.csv"', data["text/html"]
    )
    assert embedded is not None and base64.b64decode(embedded.group(1)) == path.read_bytes()


def test_tsv_xlsx_json_and_parquet_tables(tmp_path: Path) -> None:
    import pyarrow as pa
    from openpyxl import Workbook
    from pyarrow import parquet

    (tmp_path / "t.tsv").write_text("a\tb\n" + "".join(f"{i}\t{i}\n" for i in range(25)))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "score"])
    for index in range(42):
        sheet.append([f"s{index}", index])
    workbook.save(tmp_path / "t.xlsx")
    (tmp_path / "t.json").write_text(json.dumps([{"k": i, "v": i * 2} for i in range(33)]))
    parquet.write_table(
        pa.table({"n": list(range(70)), "s": [str(i) for i in range(70)]}), tmp_path / "t.parquet"
    )
    expected = {
        "t.tsv": "20 of 25 rows",
        "t.xlsx": "20 of 42 rows",
        "t.json": "20 of 33 rows",
        "t.parquet": "20 of 70 rows",
    }
    for name, footer in expected.items():
        view = ArtifactView.from_file(tmp_path / name)
        assert view.kind == "table", name
        html = bundle_of(view)["text/html"]
        assert 'class="oai-table-preview"' in html and footer in html, name


def test_json_that_is_not_a_table_is_highlighted_text(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"name": "x", "nested": {"a": 1}}, indent=2))
    html = bundle_of(ArtifactView.from_file(path, mime_type="application/json"))["text/html"]
    assert 'class="oai-artifact-text"' in html and "lines" in html


def test_code_is_highlighted_and_capped(tmp_path: Path) -> None:
    path = tmp_path / "analysis.py"
    path.write_text("".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(500)))
    data = bundle_of(
        ArtifactView.from_file(path, mime_type="text/x-python", limits=PreviewLimits(text_lines=50))
    )
    assert "50 of 1,000 lines" in data["text/html"]
    assert "<span" in data["text/html"] and "style=" in data["text/html"], "pygments colours"
    assert "def f0(x):" in data["text/plain"]


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("deck.pdf", "application/pdf"),
        ("slides.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ],
)
def test_other_files_get_a_card(tmp_path: Path, name: str, mime: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.7\n" + bytes(10 * 1000 * 1000))
    view = ArtifactView.from_file(path, mime_type=mime)
    assert view.kind == "file"
    data = bundle_of(view)
    assert (
        f'data-filename="{name}"' in data["text/html"]
        and "9.5 MiB" in data["text/html"]
        and mime in data["text/html"]
    )
    assert "data:" not in data["text/html"]
    assert total_size(view) < 4096


def test_small_binary_files_get_an_exact_data_uri(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(bytes(range(256)) * 4)
    html = bundle_of(ArtifactView.from_file(path, mime_type="application/zip"))["text/html"]
    match = re.search(r'href="data:application/octet-stream;base64,([^"]+)" download="bundle.zip"', html)
    assert match is not None and base64.b64decode(match.group(1)) == path.read_bytes()


def test_links_are_url_encoded(tmp_path: Path) -> None:
    folder = tmp_path / "my notebook_artifacts"
    folder.mkdir()
    path = folder / "résumé 1.pdf"
    path.write_bytes(b"%PDF")
    view = ArtifactView.from_file(path, relative_to=tmp_path, mime_type="application/pdf")
    assert view.relative_path == "my notebook_artifacts/résumé 1.pdf"
    assert 'href="my%20notebook_artifacts/r%C3%A9sum%C3%A9%201.pdf"' in bundle_of(view)["text/html"]


def test_a_broken_file_falls_back_to_its_card(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    data = bundle_of(ArtifactView.from_file(path, mime_type="image/png"))
    assert "no preview" in data["text/plain"] and 'class="oai-artifact-card"' in data["text/html"]


def test_include_and_exclude_are_honoured(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n")
    view = ArtifactView.from_file(path)
    assert set(view._repr_mimebundle_(include=["text/plain"])[0]) == {"text/plain"}
    assert set(view._repr_mimebundle_(exclude=["text/html"])[0]) == {"text/plain"}
