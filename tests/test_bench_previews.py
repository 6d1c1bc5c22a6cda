"""Smoke run of bench case 6 (preview bounds): each hostile file is made, previewed and checked; no timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import preview_bounds
from bench.harness import Settings


@pytest.mark.slow
def test_preview_bounds_case_previews_every_hostile_file(tmp_path: Path) -> None:
    rows = preview_bounds.run(Settings(mode="smoke", repeat=1, work_dir=tmp_path))
    assert len(rows) == 2 * len(preview_bounds.CASES)
    for hostile, (timing, memory) in zip(
        preview_bounds.CASES, zip(rows[::2], rows[1::2], strict=True), strict=True
    ):
        assert timing.what.startswith(hostile.name) and memory.what.startswith(hostile.name)
        assert timing.ours.unit == "s" and memory.ours.unit == "MiB"
        assert timing.target == "≤ 2 s" and memory.target == "≤ +256 MiB"
        assert timing.details["kind"] == hostile.expect  # the case raises when the preview was another kind
        assert hostile.filename in timing.details["shown"]
        json.dumps(timing.to_json())
    shown = {
        hostile.filename: row.details["shown"]
        for hostile, row in zip(preview_bounds.CASES, rows[::2], strict=True)
    }
    assert "NUL bytes in the first 1 MiB" in shown["sparse.csv"]
    assert "over the 16-megapixel preview limit" in shown["bomb.png"]
    assert "columns too large to read shown as …: text" in shown["big.parquet"]
    assert not any(
        path.name.endswith((".csv", ".xlsx", ".parquet", ".png")) and path.stat().st_size > 1 << 20
        for path in tmp_path.rglob("*")
        if path.is_file()
    ), "hostile files are removed after use"
