"""Benchmarks: what users feel, measured against the code people write by hand, in one run.

``python -m bench`` (or ``make bench``) runs these cases (the first five against the local emulator) and
prints a table of medians, ratios and verdicts, also written to ``bench/results.json``:

1. many files: 20 x 1 MiB from one reply at 100 ms per request, fetch against the one-by-one loop and the
   floor;
2. one big file: peak memory and throughput of our fetch on a 1 GiB container file;
3. start-up: ``import openai_artifacts_nb`` plus ``%load_ext`` in a fresh process, against ``import openai``;
4. long streams: 10,000 text deltas through the magic's streaming display;
5. notebook weight: bytes a 5 MB PNG, a 50 MB CSV and a 10 MB PDF add to the saved notebook;
6. preview bounds: each hostile file (huge XLSX rows and string tables, one-line and sparse CSVs, Parquet
   giant values, pixel bombs) previewed in a fresh process, against 2 s and +256 MiB;
7. link rewriting: ``rewrite_links`` on 1 MB replies of every hostile shape, against a tenth of the size;
8. streamed reply, files early: 20 x 1 MiB cited early, 2 s more writing, 100 ms per request: from
   ``response.completed`` to every file saved and shown, live fetching against fetching after completion.

Two more run on their own: ``python -m bench.classroom [--students 30] [--ramp 30]`` (one confined
emulator serving a class: p50/p95 turn latency and peak memory) and ``python -m bench.object_store_big
[--mib 1024]`` (one big file into S3-compatible storage: time and peak memory).

``--quick`` shrinks the slow cases, ``--case N`` picks cases. ``tests/test_bench.py`` runs a smoke version of
each so they do not rot; it asserts nothing about timing.
"""
