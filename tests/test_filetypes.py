"""Tests for openai_artifacts_nb.filetypes: sniffing real types when names lie or say nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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


def test_random_bytes_starting_with_a_brace_keep_bin(tmp_path: Path) -> None:
    # Regression: the benchmark's part_13.bin (seeded random bytes) starts with "{" and was saved as .json.
    import random

    data = random.Random(13).randbytes(1 << 20)
    assert data[:1] == b"{"
    detection = detect(_write(tmp_path, data), "part_13.bin")
    assert (detection.filename, detection.mime_type) == ("part_13.bin", "application/octet-stream")


@pytest.mark.parametrize(
    ("data", "name", "expected_name"),
    [
        (b"{" + bytes(range(256)) * 8, "blob.bin", "blob.bin"),
        (b"<" + bytes(range(255, -1, -1)) * 8, "table.csv", "table.csv"),
        (b"MZ\xff\xfe\x00\x01binary", "tool.bin", "tool.bin"),  # a two-byte signature is too weak
        (b"{\xff\xfe\x00\x01binary", "blob", "blob.json"),  # no extension: the hint is all there is
    ],
)
def test_weak_sniff_never_overrides_a_known_extension(
    tmp_path: Path, data: bytes, name: str, expected_name: str
) -> None:
    assert detect(_write(tmp_path, data), name).filename == expected_name


def test_strong_signature_still_overrides_a_known_extension(tmp_path: Path) -> None:
    assert detect(_write(tmp_path, _png()), "chart.bin").filename == "chart.png"


def _strong_binary_signature(data: bytes) -> bool:
    """Whether puremagic itself finds a binary signature of three bytes or more (real, if rare, evidence)."""
    import puremagic

    try:
        matches = puremagic.magic_string(data)
    except puremagic.PureError:
        return False
    return any(
        m.confidence >= 0.3 and not (m.mime_type or "").startswith(("text/", "application/json"))
        for m in matches
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    size=st.integers(min_value=1, max_value=4096),
    first=st.sampled_from([b"", b"{", b"[", b"<", b"#", b"{\n", b"<?"]),
)
def test_random_bytes_named_bin_keep_bin(tmp_path: Path, seed: int, size: int, first: bytes) -> None:
    import random

    payload = first + random.Random(seed).randbytes(size)
    assume(not _strong_binary_signature(payload))
    detection = detect(_write(tmp_path, payload), "part.bin")
    assert (detection.filename, detection.mime_type) == ("part.bin", "application/octet-stream")
