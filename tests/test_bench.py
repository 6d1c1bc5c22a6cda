"""Smoke versions of the benchmarks in ``bench/``: each case still runs and checks its bytes; no timing.

Each case runs in ``smoke`` mode: tiny files, a short delay, one repetition. The assertions are on what the
case produced (rows, units, sample counts, the targets it reports against), never on how fast anything was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bench.__main__ import main as bench_main
from bench.harness import Row, Samples, Settings, format_quantity
from bench.report import CaseOutcome, render_table, summary_line, write_results
from bench.suite import CASES, run_case

if TYPE_CHECKING:
    from openai_artifacts_nb.local import LocalServer


@pytest.fixture
def smoke(tmp_path: Path) -> Settings:
    """Settings for a smoke run, working in the test's own folder."""
    return Settings(mode="smoke", repeat=1, work_dir=tmp_path)


@pytest.fixture
def smoke_on_emulator(tmp_path: Path, emulator: LocalServer) -> Settings:
    """Settings for a smoke run on the session's emulator (timings there mean nothing; starting is slow)."""
    return Settings(mode="smoke", repeat=1, work_dir=tmp_path, emulator_url=emulator.base_url)


def _assert_rows(rows: list[Row], *, count: int) -> None:
    assert len(rows) == count
    for row in rows:
        assert row.what and row.target
        assert row.verdict in {"PASS", "MISS"}
        assert row.ours.values
        assert not row.passed or not row.note, "a note explains a miss only"
        json.dumps(row.to_json())


def test_every_case_is_listed() -> None:
    assert sorted(CASES) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert {title for title, _ in CASES.values()} == {
        "many files",
        "one big file",
        "start-up",
        "long streams",
        "notebook weight",
        "preview bounds",
        "link rewriting",
        "streamed reply, files early",
    }


def test_startup_case_times_both_imports_and_lists_heavy_modules(smoke: Settings) -> None:
    from bench import startup

    rows = startup.run(smoke)
    _assert_rows(rows, count=2)
    timing, heavy = rows
    assert timing.ours.unit == "ms" and timing.reference is not None
    assert timing.reference_name == "import openai"
    assert timing.ours.median > 0 and timing.reference.median > 0
    assert heavy.target == "none"
    assert heavy.details["imported"] == sorted(heavy.details["imported"])
    assert set(heavy.details["imported"]) <= set(startup.HEAVY)


@pytest.mark.slow
def test_many_files_case_downloads_every_file(smoke_on_emulator: Settings) -> None:
    from bench import many_files

    rows = many_files.run(smoke_on_emulator)
    _assert_rows(rows, count=2)
    versus_loop, versus_floor = rows
    assert versus_loop.reference_name == "loop" and versus_floor.reference_name == "floor"
    assert versus_loop.details["files"] == 3
    assert versus_loop.details["fetch_requests"].startswith(tuple("0123456789"))


@pytest.mark.slow
def test_big_file_case_measures_memory_and_throughput(smoke_on_emulator: Settings) -> None:
    from bench import big_file

    rows = big_file.run(smoke_on_emulator)
    _assert_rows(rows, count=2)
    memory, throughput = rows
    assert memory.ours.unit == "MiB" and throughput.ours.unit == "MiB/s"
    assert memory.reference is not None and throughput.reference is not None
    # .read() holds the whole 16 MiB body at least once; the idle process sets the zero.
    assert memory.reference.median > 8, memory.to_json()
    assert throughput.ours.median > 0


@pytest.mark.slow
def test_streamed_files_case_measures_both_code_paths(smoke_on_emulator: Settings) -> None:
    from bench import streamed_files

    rows = streamed_files.run(smoke_on_emulator)
    _assert_rows(rows, count=1)
    (row,) = rows
    assert row.reference_name == "after completion" and row.reference is not None
    assert row.ours.unit == "s" and row.details["files"] == 3
    assert len(row.details["files_shown_before_completed"]) == 1


def test_report_renders_rows_errors_and_notes(tmp_path: Path) -> None:
    passed = Row(
        case="demo",
        what="thing vs other thing",
        ours=Samples.of([1.0, 2.0, 3.0], "s"),
        reference=Samples.of([10.0], "s"),
        reference_name="other",
        ratio=5.0,
        ratio_text="× faster",
        target="≥ 4× faster",
        passed=True,
    )
    missed = Row(
        case="demo", what="size", ours=Samples.of([900], "KiB"), target="< 512 KiB", passed=False, note="why."
    )
    outcomes = [
        CaseOutcome(number=1, title="demo", rows=[passed, missed]),
        CaseOutcome(number=2, title="broken", error="the engine is not available yet"),
    ]
    table = render_table(outcomes)
    assert "1 demo" in table and "2 ms" not in table
    assert "2.00 s" in table and "other 10.0 s" in table and "5.00× faster" in table
    assert "PASS" in table and "MISS" in table and "ERROR" in table
    assert "- case 1, size: MISS. why." in table
    assert "- case 2 (broken) could not run: the engine is not available yet" in table
    assert summary_line(outcomes) == "1 of 2 targets met, 1 case(s) could not run."

    path = tmp_path / "results.json"
    write_results(path, outcomes, Settings(mode="quick", repeat=3, work_dir=tmp_path), ["--quick"])
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["command"] == "python -m bench --quick"
    assert saved["cases"][0]["rows"][0]["ours"]["samples"] == [1.0, 2.0, 3.0]
    assert saved["cases"][0]["rows"][0]["ours"]["median"] == 2.0
    assert saved["cases"][1]["error"] == "the engine is not available yet"


def test_quantities_read_naturally() -> None:
    assert format_quantity(0.0421, "s") == "42.1 ms"
    assert format_quantity(2.5, "s") == "2.50 s"
    assert format_quantity(640, "KiB") == "640 KiB"
    assert format_quantity(3, "count") == "3"


def test_a_case_that_breaks_is_reported_not_raised(smoke: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CASES, 9, ("missing", "bench.no_such_case"))
    outcome = run_case(9, smoke)
    assert outcome.rows == []
    assert "no_such_case" in outcome.error


def test_command_line_runs_one_case_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(CASES, 9, ("missing", "bench.no_such_case"))
    out = tmp_path / "results.json"
    assert bench_main(["--case", "9", "--out", str(out)]) == 1  # the case could not run
    printed = capsys.readouterr().out
    assert "9 missing" in printed and "ERROR" in printed
    assert json.loads(out.read_text(encoding="utf-8"))["cases"][0]["number"] == 9


@pytest.mark.slow
def test_long_stream_case_replays_real_deltas_in_a_kernel(smoke_on_emulator: Settings) -> None:
    from bench import long_stream

    rows = long_stream.run(smoke_on_emulator)
    _assert_rows(rows, count=2)
    total, growth = rows
    deltas = total.details["deltas"]
    assert deltas["50"] >= 50 and deltas["500"] >= 500  # one delta per word, as the emulator streams them
    assert total.details["redraws"]["500"] >= 1
    assert growth.reference is not None and growth.ratio is not None
    assert growth.target == "linear: ≤ 15×"


@pytest.mark.slow
def test_notebook_weight_case_weighs_each_artifact(smoke_on_emulator: Settings) -> None:
    from bench import notebook_weight

    rows = notebook_weight.run(smoke_on_emulator)
    _assert_rows(rows, count=3)
    for row, (kind, name, _) in zip(rows, notebook_weight.ARTIFACTS, strict=True):
        assert kind in row.what and name in row.what
        assert row.ours.unit == "KiB" and row.ours.median > 0
        assert row.details["file_bytes"] > 100_000
        assert row.details["embedded_twice"] is False
    png = rows[0]
    assert {"image/png", "image/jpeg", "image/webp"} & set(png.details["output_types"])


def test_request_log_counts_requests_and_overlap() -> None:
    from bench.emulated import RequestLog

    log = RequestLog()
    log.done.extend(
        [
            ("GET", "/v1/containers/cntr_1/files", 0.0, 0.1),
            ("GET", "/v1/containers/cntr_1/files/cfile_a/content", 0.1, 0.2),
            ("GET", "/v1/containers/cntr_1/files/cfile_b/content", 0.11, 0.21),
            ("GET", "/v1/containers/cntr_1/files/cfile_c/content", 0.3, 0.4),
        ]
    )
    assert log.most_in_flight() == 2
    assert log.summary() == "4 requests (3 GET …/content, 1 GET …/files), at most 2 in flight"
    log.clear()
    assert log.summary() == "0 requests (), at most 0 in flight"


def test_a_payload_shown_twice_is_caught() -> None:
    import base64

    from bench.notebook_weight import _embedded_twice

    payload = base64.b64encode(bytes(range(256)) * 8).decode()
    data_uri = f"data:image/png;base64,{payload}"
    assert _embedded_twice([payload, f'<a href="{data_uri}">plot.png</a>'])
    assert not _embedded_twice([payload])
    assert not _embedded_twice(["A reply. " * 300, "A reply. " * 300])  # prose is not a payload


def test_link_rewriting_case_times_every_shape_at_two_sizes(smoke: Settings) -> None:
    from bench import link_rewriting

    rows = link_rewriting.run(smoke)
    _assert_rows(rows, count=len(link_rewriting.SHAPES))
    for row in rows:
        assert row.ours.unit == "s" and row.reference is not None
        assert row.reference_name == "1/10 size" and row.target == "< 1 s per 1 MB"
        assert row.details["bytes"] > row.details["tenth_bytes"] > 0
