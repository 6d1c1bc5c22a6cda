"""Tests for openai_artifacts_nb.filetypes: sniffing real types when names lie or say nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from openai_artifacts_nb.filetypes import detect, mime_type_for_name, sniff


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "blue").save(buffer, format="JPEG")
    return buffer.getvalue()


def _xlsx() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active["A1"] = 1  # type: ignore[index]
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / ".download.part"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("maker", "name", "expected_name", "expected_mime"),
    [
        (_png, "plot.png", "plot.png", "image/png"),
        (_png, "plot", "plot.png", "image/png"),
        (_png, "cfile_abc", "cfile_abc.png", "image/png"),
        (_png, "chart.txt", "chart.png", "image/png"),
        (_png, "chart.csv", "chart.png", "image/png"),
        (_jpeg, "photo.png", "photo.jpg", "image/jpeg"),
        (_jpeg, "photo.jpeg", "photo.jpeg", "image/jpeg"),
        (
            _xlsx,
            "sales.xlsx",
            "sales.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (_xlsx, "sales", "sales.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (_zip, "bundle", "bundle.zip", "application/zip"),
        (_zip, "bundle.zip", "bundle.zip", "application/zip"),
        (
            lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
            "report",
            "report.pdf",
            "application/pdf",
        ),
        (lambda: b"a,b\n1,2\n", "data.csv", "data.csv", "text/csv"),
        (lambda: b"a,b\n1,2\n", "data", "data.txt", "text/plain"),
        (lambda: b'{"a": [1, 2]}', "data.csv", "data.csv", "text/csv"),
        (lambda: b"# Title\n\nText\n", "notes.md", "notes.md", "text/markdown"),
        (lambda: b"\x00\x01\x02\x03binary", "blob", "blob", "application/octet-stream"),
        (lambda: b"\x00\x01\x02\x03binary", "blob.weird", "blob.weird", "application/octet-stream"),
        (lambda: b"", "empty.txt", "empty.txt", "text/plain"),
    ],
)
def test_detect(tmp_path: Path, maker: object, name: str, expected_name: str, expected_mime: str) -> None:
    data = maker()  # type: ignore[operator]
    detection = detect(_write(tmp_path, data), name)
    assert (detection.filename, detection.mime_type) == (expected_name, expected_mime)


def test_sniff_reads_only_the_head(tmp_path: Path) -> None:
    path = _write(tmp_path, _png() + b"\x00" * 5_000_000)
    found = sniff(path)
    assert found is not None
    assert (found.mime_type, found.extension) == ("image/png", ".png")


def test_sniff_unknown_is_none(tmp_path: Path) -> None:
    assert sniff(_write(tmp_path, b"just some words")) is None
    assert sniff(_write(tmp_path, b"")) is None


def test_mime_type_for_name() -> None:
    assert mime_type_for_name("a.PNG") == "image/png"
    assert mime_type_for_name("a.parquet") == "application/vnd.apache.parquet"
    assert mime_type_for_name("README") is None
