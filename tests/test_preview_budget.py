"""The preview budget: bytes taken, parts sharing one deadline, and sizes written with their units."""

from __future__ import annotations

import pytest

from openai_artifacts_nb.preview_budget import Budget, PreviewRefused, format_bytes

MiB = 1024 * 1024


def test_format_bytes_reads_naturally() -> None:
    assert [format_bytes(n) for n in (0, 1, 2, 1023, 1024, 3482, 10 * 1024, 16 * MiB, 5 * 1024 * MiB)] == [
        "0 bytes",
        "1 byte",
        "2 bytes",
        "1,023 bytes",
        "1 KiB",
        "3.4 KiB",
        "10 KiB",
        "16 MiB",
        "5 GiB",
    ]


def test_a_budget_counts_bytes_and_its_parts() -> None:
    budget = Budget(10)
    assert budget.take(4) and not budget.exhausted and budget.left == 6
    assert not budget.take(6) and budget.exhausted and budget.left == 0
    part = budget.part(100, "the sheet")
    assert part.take(30) and budget.spent == 40 and part.what == "the sheet"


def test_parts_share_the_deadline() -> None:
    budget = Budget(10, seconds=-1, what="x.csv")
    with pytest.raises(PreviewRefused, match=r"reading x\.csv took longer than -1 s"):
        budget.take(1)
    with pytest.raises(PreviewRefused, match="reading the sheet took longer"):
        budget.part(10, "the sheet").check_time()
