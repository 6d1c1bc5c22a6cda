"""The container folder on disk: snapshots, what changed, safe names."""

from __future__ import annotations

import io
import os
from pathlib import Path

from openai_artifacts_nb.local.workspace import changed_files, copy_stream, safe_filename, snapshot


def test_changed_files_sees_new_and_modified_but_not_hidden(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("same")
    (tmp_path / "edit.txt").write_text("v1")
    before = snapshot(tmp_path)
    (tmp_path / "new.csv").write_text("n")
    (tmp_path / "edit.txt").write_text("v2!")
    os.utime(tmp_path / "edit.txt", ns=(1, 10**18))
    (tmp_path / ".hidden").write_text("h")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.pyc").write_bytes(b"c")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.json").write_text("{}")
    assert sorted(changed_files(before, snapshot(tmp_path))) == ["edit.txt", "new.csv", "sub/deep.json"]


def test_safe_filename_keeps_only_the_last_component() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\me\\report.pdf") == "report.pdf"
    assert safe_filename("..") == "upload"
    assert safe_filename("résumé 1.csv") == "résumé 1.csv"


def test_copy_stream_writes_all_bytes(tmp_path: Path) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 7)
    assert copy_stream(io.BytesIO(payload), tmp_path / "a" / "b.bin") == len(payload)
    assert (tmp_path / "a" / "b.bin").read_bytes() == payload
