"""Tests for openai_artifacts_nb.naming: hostile names, collisions, atomic placement, reuse of same bytes."""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_artifacts_nb.naming import (
    MAX_NAME_BYTES,
    ArtifactFolder,
    numbered_name,
    safe_filename,
    sha256_of_file,
    split_extension,
)


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("plot.png", "plot.png"),
        ("../../etc/passwd", "passwd"),
        ("/mnt/data/report.csv", "report.csv"),
        ("C:\\Windows\\system32\\evil.dll", "evil.dll"),
        ("..", "file"),
        ("", "file"),
        ("   ", "file"),
        (".bashrc", "bashrc"),
        ("a\x00b\x1fc\x7f.txt", "abc.txt"),
        ("line\nbreak.txt", "line break.txt"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("com1.tar.gz", "_com1.tar.gz"),
        ("what?.csv", "what_.csv"),
        ('a<b>c:"d|e*.png', "a_b_c__d_e_.png"),
        ("trailing dots...", "trailing dots"),
        ("right\u202eto-left.txt", "rightto-left.txt"),
    ],
)
def test_safe_filename_cleans_hostile_names(hostile: str, expected: str) -> None:
    assert safe_filename(hostile) == expected


def test_safe_filename_normalises_unicode_to_nfc() -> None:
    decomposed = "cafe\u0301.csv"
    assert safe_filename(decomposed) == "café.csv"
    assert unicodedata.is_normalized("NFC", safe_filename(decomposed))


def test_safe_filename_caps_length_and_keeps_extension() -> None:
    name = "é" * 400 + ".parquet"
    safe = safe_filename(name)
    assert len(safe.encode()) <= MAX_NAME_BYTES
    assert safe.endswith(".parquet")
    assert safe.startswith("éé")


def test_split_extension_keeps_double_extensions_only_when_real() -> None:
    assert split_extension("data.tar.gz") == ("data", ".tar.gz")
    assert split_extension("report.v2.csv") == ("report.v2", ".csv")
    assert split_extension("README") == ("README", "")
    assert split_extension("archive.") == ("archive.", "")


def test_numbered_name() -> None:
    assert numbered_name("plot.png", 0) == "plot.png"
    assert numbered_name("plot.png", 1) == "plot (1).png"
    assert numbered_name("plot (1).png", 2) == "plot (2).png"
    assert numbered_name("data.tar.gz", 3) == "data (3).tar.gz"
    assert numbered_name("README", 1) == "README (1)"


def _temp(folder: ArtifactFolder, data: bytes) -> tuple[Path, str]:
    path = folder.temporary_path("x")
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_place_numbers_different_files_and_reuses_same_bytes(tmp_path: Path) -> None:
    folder = ArtifactFolder(tmp_path)
    first, sha_a = _temp(folder, b"A")
    path_a, reused = folder.place(first, "plot.png", sha_a)
    assert (path_a.name, reused) == ("plot.png", False)

    second, sha_b = _temp(folder, b"B")
    path_b, reused = folder.place(second, "plot.png", sha_b)
    assert (path_b.name, reused) == ("plot (1).png", False)

    again, _ = _temp(folder, b"B")
    path_again, reused = folder.place(again, "plot.png", sha_b)
    assert (path_again, reused) == (path_b, True)
    assert not again.exists()
    assert path_a.read_bytes() == b"A"
    assert path_b.read_bytes() == b"B"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot (1).png", "plot.png"]


def test_place_is_safe_under_concurrency(tmp_path: Path) -> None:
    folder = ArtifactFolder(tmp_path)
    payloads = [f"payload {n}".encode() for n in range(24)]
    results: list[Path] = []
    lock = threading.Lock()

    def worker(data: bytes) -> None:
        temp, sha = _temp(folder, data)
        path, _ = folder.place(temp, "same.txt", sha)
        with lock:
            results.append(path)

    threads = [threading.Thread(target=worker, args=(data,)) for data in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == len(payloads)
    assert {path.read_bytes() for path in results} == set(payloads)
    assert not list(tmp_path.glob(".*.part"))


def test_sha256_of_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 3_000_000)
    assert sha256_of_file(path, chunk_size=4096) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


def test_temporary_path_is_hidden_and_inside(tmp_path: Path) -> None:
    folder = ArtifactFolder(tmp_path)
    temp = folder.temporary_path("../../../evil.sh")
    assert temp.parent == tmp_path.resolve()
    assert temp.name.startswith(".") and temp.name.endswith(".part")


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_property_no_name_escapes_or_is_special(name: str) -> None:
    safe = safe_filename(name)
    assert safe and safe not in {".", ".."}
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not any(unicodedata.category(char) == "Cc" for char in safe)
    assert len(safe.encode("utf-8")) <= MAX_NAME_BYTES
    assert unicodedata.is_normalized("NFC", safe)
    assert not safe.startswith((".", " ")) and not safe.endswith((".", " "))
    assert safe.split(".")[0].strip().upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=40), st.binary(max_size=8)), min_size=1, max_size=12))
def test_property_placed_files_stay_inside_and_never_collide(
    tmp_path_factory: pytest.TempPathFactory, files: list[tuple[str, bytes]]
) -> None:
    directory = tmp_path_factory.mktemp("out")
    folder = ArtifactFolder(directory)
    placed: dict[Path, bytes] = {}
    for name, data in files:
        temp, sha = _temp(folder, data)
        path, reused = folder.place(temp, name, sha)
        assert folder.contains(path)
        assert path.parent == directory.resolve()
        if path in placed:
            assert reused and placed[path] == data
        placed[path] = data
    for path, data in placed.items():
        assert path.read_bytes() == data
    assert not list(directory.glob(".*.part"))
