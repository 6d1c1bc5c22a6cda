"""Card facts: short type names, PDF pages, ZIP entries and unpacked size, PPTX slides, read within bounds."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.preview_budget import PreviewRefused
from openai_artifacts_nb.preview_facts import (
    describe_file,
    file_facts,
    pdf_page_count,
    read_zip_directory,
    type_label,
)
from openai_artifacts_nb.render import ArtifactView

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def _pdf(pages: int) -> bytes:
    kids = " ".join(f"{3 + n} 0 R" for n in range(pages))
    objects = [
        "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj",
        f"2 0 obj << /Type /Pages /Kids [{kids}] /Count {pages} >> endobj",
        *(f"{3 + n} 0 obj << /Type /Page /Parent 2 0 R >> endobj" for n in range(pages)),
    ]
    return ("%PDF-1.7\n" + "\n".join(objects) + "\ntrailer << /Root 1 0 R >>\n%%EOF\n").encode()


def test_type_labels_are_short() -> None:
    assert type_label("report.xlsx", XLSX) == "XLSX"
    assert type_label("data.csv", "text/csv") == "CSV"
    assert type_label("chart.png", "image/png") == "PNG"
    assert type_label("photo.jpg", "image/jpeg") == "JPEG"
    assert type_label("notes", "application/pdf") == "PDF"
    assert type_label("table.parquet", "application/octet-stream") == "PARQUET"
    assert type_label("blob.averylongsuffix", "application/octet-stream") == "file"


def test_pdf_pages_come_from_the_page_tree(tmp_path: Path) -> None:
    path = tmp_path / "deck.pdf"
    path.write_bytes(_pdf(3))
    assert pdf_page_count(path) == 3
    path.write_bytes(_pdf(2).replace(b"/Count 2", b""))  # no /Count in reach: count the page objects
    assert pdf_page_count(path) == 2
    path.write_bytes(b"not a pdf /Type /Page")
    assert pdf_page_count(path) is None


def test_a_big_pdf_is_read_only_at_its_ends(tmp_path: Path) -> None:
    path = tmp_path / "big.pdf"
    with path.open("wb") as out:
        out.write(_pdf(1).replace(b"/Count 1", b"/Count 250"))
        out.truncate(64 * 1024 * 1024)
    assert file_facts(path, "application/pdf") == ["250 pages"]


def test_zip_entries_and_unpacked_size_come_from_the_central_directory(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.txt", "x" * 3000)
        archive.writestr("b/c.txt", "y")
    assert read_zip_directory(path).entries == 2
    assert file_facts(path, "application/zip") == ["2 entries", "2.9 KiB unpacked"]
    single = tmp_path / "one.zip"
    with zipfile.ZipFile(single, "w") as archive:
        archive.writestr("only", b"z")
    assert file_facts(single) == ["1 entry", "1 byte unpacked"]


def test_pptx_slides_are_counted_from_the_listing(tmp_path: Path) -> None:
    path = tmp_path / "slides.pptx"
    with zipfile.ZipFile(path, "w") as archive:
        for n in (1, 2, 3, 10):
            archive.writestr(f"ppt/slides/slide{n}.xml", "<p:sld/>")
        archive.writestr("ppt/slides/_rels/slide1.xml.rels", "<r/>")
        archive.writestr("ppt/slideLayouts/slideLayout1.xml", "<l/>")
    assert file_facts(path, PPTX) == ["4 slides"]


def test_facts_are_left_out_when_they_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK not really")
    assert file_facts(path, "application/zip") == []
    with pytest.raises(PreviewRefused, match="no central directory"):
        read_zip_directory(path)


def test_the_card_shows_type_size_and_facts(tmp_path: Path) -> None:
    path = tmp_path / "deck.pdf"
    path.write_bytes(_pdf(12))
    result: Any = ArtifactView.from_file(path, mime_type="application/pdf")._repr_mimebundle_()
    bundle = result[0]
    size = path.stat().st_size
    assert describe_file(path, "deck.pdf", "application/pdf", size) == ["PDF", f"{size} bytes", "12 pages"]
    assert f'title="application/pdf">PDF · {size} bytes · 12 pages</span>' in bundle["text/html"]
    assert bundle["text/plain"] == f"[file] deck.pdf · PDF · {size} bytes · 12 pages · saved to deck.pdf"


def test_page_counts_need_a_page_tree_nearby(tmp_path: Path) -> None:
    path = tmp_path / "counts.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"/Count 7 " * 200_000)
    assert pdf_page_count(path) is None
    path.write_bytes(b"%PDF-1.7\n" + b"/Count 7 " * 200_000 + b"<< /Type /Pages /Count 9 >>")
    assert pdf_page_count(path) == 9


def test_a_zip_of_many_entries_is_counted_from_its_end_record_only(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(20_001):
            archive.writestr(f"{index}", b"")
    assert file_facts(path, "application/zip") == ["20,001 entries"]
