"""The class load case in smoke size: every student's turns succeed and each download is their own file."""

from __future__ import annotations

import pytest

from bench.classroom import percentile, run_class, table


@pytest.mark.slow
def test_a_small_class_runs_every_turn_without_cross_talk() -> None:
    result = run_class(students=2, ramp=0.0, sandbox="auto")
    assert result["failures"] == []
    assert (result["turns_ok"], result["turns"]) == (6, 6)
    assert (result["files_downloaded"], result["cross_talk"]) == (6, 0)
    assert result["peak_processes"] >= 3  # the server and at least the two students' kernels
    shown = table(result)
    assert "| turns succeeded | 6 / 6 | PASS |" in shown and "turn latency p95" in shown


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 1.0)) == (50.0, 95.0, 100.0)
    assert percentile([3.0], 0.95) == 3.0
