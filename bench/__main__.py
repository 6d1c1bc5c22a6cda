"""``python -m bench [--quick] [--case N ...] [--repeat R]``: run the benchmarks, print the table, save it."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.harness import ROOT, Mode, Settings
from bench.report import machine_line, render_table, summary_line, write_results
from bench.suite import CASES, run_case


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for ``python -m bench``."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repetitions")
    parser.add_argument(
        "--case",
        type=int,
        action="append",
        choices=sorted(CASES),
        help="run only this case (repeatable); default: all",
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="repetitions per measurement (default 5, quick 3)"
    )
    parser.add_argument(
        "--emulator-url",
        default=None,
        metavar="URL",
        help="use this running emulator (`openai-artifacts serve`) instead of one started per case",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results.json", help="where to write the JSON results"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen cases and return 0 when they ran (misses are results, not failures)."""
    args = build_parser().parse_args(argv)
    mode: Mode = "quick" if args.quick else "full"
    repeat = args.repeat or (3 if args.quick else 5)
    settings = Settings(mode=mode, repeat=repeat, emulator_url=args.emulator_url)
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    load_before = os.getloadavg()[0]
    try:
        for number in args.case or sorted(CASES):
            sys.stderr.write(f"case {number} ({CASES[number][0]}) ...\n")
            sys.stderr.flush()
            outcome = run_case(number, settings)
            state = f"error: {outcome.error}" if outcome.error else f"{len(outcome.rows)} measurement(s)"
            sys.stderr.write(f"case {number} done in {outcome.seconds:.1f} s, {state}\n")
            outcomes.append(outcome)
    finally:
        shutil.rmtree(settings.work_dir, ignore_errors=True)
    load = (load_before, os.getloadavg()[0])
    report = [machine_line(*load), render_table(outcomes), summary_line(outcomes)]
    sys.stdout.write("\n\n".join(report) + "\n")
    write_results(args.out, outcomes, settings, list(argv if argv is not None else sys.argv[1:]), load=load)
    sys.stdout.write(f"Results written to {args.out}\n")
    return 1 if any(outcome.error for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
