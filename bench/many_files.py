"""Case 1, many files: 20 files of 1 MiB from one reply, 100 ms added to every request.

Ours is ``openai_artifacts_nb.fetching.fetch(response, out_dir=..., client=...)`` with its defaults, as the
magic calls it. The baseline is the loop from forum answers: list the container's files, then for each one
``client.containers.files.content.retrieve(...).read()`` and write the bytes, one after another. The floor is
what the delay alone costs a perfect downloader: one listing plus one download round trip, measured.
Targets: at least 8 times faster than the baseline, and within 1.3 times the floor.
"""

from __future__ import annotations

import hashlib
import inspect
import random
import shutil
from pathlib import Path
from typing import Any

from bench.emulated import container_of, emulator, logged_openai_client, run_code
from bench.harness import (
    BenchError,
    MiB,
    Row,
    Samples,
    Settings,
    interleaved,
    ratio,
    timed,
)

NUMBER = 1
TITLE = "many files"
SPEEDUP_TARGET = 8.0
FLOOR_TARGET = 1.3

MAKE_FILES = """
import random
for i in range({count}):
    with open(f"/mnt/data/part_{{i:02d}}.bin", "wb") as out:
        out.write(random.Random(i).randbytes({size}))
"""


def expected_digests(count: int, size: int) -> dict[str, str]:
    """File name -> sha256 of the bytes the sandbox code writes (the same seeded generator, run here)."""
    return {
        f"part_{i:02d}.bin": hashlib.sha256(random.Random(i).randbytes(size)).hexdigest()
        for i in range(count)
    }


def _check(folder: Path, expected: dict[str, str]) -> list[str]:
    """Check every expected file's bytes are in ``folder``; return the names saved under another name."""
    found = {
        hashlib.sha256(path.read_bytes()).hexdigest(): path.name
        for path in folder.iterdir()
        if path.is_file()  # the manifest lives in the tool's folder, not here
    }
    missing = sorted(name for name, digest in expected.items() if digest not in found)
    if missing:
        raise BenchError(f"files missing or with wrong bytes in {folder.name}: {missing[:3]}")
    return sorted(f"{name} -> {found[digest]}" for name, digest in expected.items() if found[digest] != name)


def baseline_loop(client: Any, container_id: str, out_dir: Path) -> None:
    """The code people write today: list the files, then read and write each one in turn."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in client.containers.files.list(container_id):
        if item.source != "assistant":
            continue
        data = client.containers.files.content.retrieve(item.id, container_id=container_id).read()
        (out_dir / Path(item.path).name).write_bytes(data)


def floor_round_trips(client: Any, container_id: str, out_dir: Path) -> None:
    """What a perfect downloader pays: one listing, then one file's download (all the others in parallel)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = client.containers.files.list(container_id)
    first = page.data[0]
    data = client.containers.files.content.retrieve(first.id, container_id=container_id).read()
    (out_dir / Path(first.path).name).write_bytes(data)


def run(settings: Settings) -> list[Row]:
    """Make the files once, then time ours, the baseline and the floor, interleaved."""
    count = settings.pick(full=20, quick=20, smoke=3)
    size = settings.pick(full=MiB, quick=MiB, smoke=64 * 1024)
    delay = settings.pick(full=0.1, quick=0.1, smoke=0.01)
    repeat = 1 if settings.smoke else settings.repeat
    try:
        from openai_artifacts_nb.fetching import fetch
    except ImportError as error:
        raise BenchError(f"the engine is not available yet: {error}") from error
    expected = expected_digests(count, size)
    folders = iter(range(10**6))

    def fresh(label: str) -> Path:
        return settings.work_dir / f"many-{label}-{next(folders)}"

    with emulator(settings, request_delay=delay) as server:
        client, log = logged_openai_client(server.base_url)
        requests_seen: list[str] = []
        renamed: set[str] = set()
        response = run_code(client, MAKE_FILES.format(count=count, size=size))
        container_id = container_of(response)

        def ours(**options: Any) -> float:
            out = fresh("ours")
            result: Any = None

            def go() -> None:
                nonlocal result
                result = fetch(response, out_dir=out, client=client, **options)

            log.clear()
            seconds = timed(go)
            if not options:
                requests_seen.append(log.summary())
            if not result.ok:
                raise BenchError(f"fetch failed: {result.failures[0].message}")
            renamed.update(_check(out, expected))
            shutil.rmtree(out)
            return seconds

        def baseline() -> float:
            out = fresh("baseline")
            seconds = timed(lambda: baseline_loop(client, container_id, out))
            _check(out, expected)
            shutil.rmtree(out)
            return seconds

        def floor() -> float:
            out = fresh("floor")
            seconds = timed(lambda: floor_round_trips(client, container_id, out))
            shutil.rmtree(out)
            return seconds

        contenders = {"ours": ours, "baseline": baseline, "floor": floor}
        if not settings.smoke:  # diagnosis only: how close a pool as large as the file count gets
            contenders["wide"] = lambda: ours(max_workers=count)
        times = interleaved(repeat, contenders)

    ours_s = Samples.of(times["ours"], "s")
    baseline_s = Samples.of(times["baseline"], "s")
    floor_s = Samples.of(times["floor"], "s")
    speedup = ratio(baseline_s.median, ours_s.median)
    over_floor = ratio(ours_s.median, floor_s.median)
    each = f"{size // MiB} MiB" if size >= MiB else f"{size // 1024} KiB"
    label = f"{count} × {each}, {delay * 1000:.0f} ms/request"
    fetch_requests = requests_seen[-1]
    default = inspect.signature(fetch).parameters["max_workers"].default
    pool = default if isinstance(default, int) and default > 0 else count
    waves = -(-count // pool)
    transfer = max(0.0, baseline_s.median - (count + 1) * delay)
    wide = Samples.of(times["wide"], "s").median if "wide" in times else None
    details = {
        "files": count,
        "bytes_each": size,
        "request_delay_s": delay,
        "fetch_requests": fetch_requests,
        "fetch_default_max_workers": pool,
        "fetch_renamed": sorted(renamed),
        "loop_transfer_s": transfer,
        "fetch_with_pool_of_all_files_s": wide,
    }
    why = (
        f"fetch made {fetch_requests}; the cited downloads start while the container is listed, on a pool "
        f"of {pool} ({waves} wave(s) for {count} files), so its round trips match the floor's 2."
        f" What is left is CPU: moving and hashing the {count * size / MiB:.0f} MiB on 2 cores shared with "
        f"the emulator (the loop spent {transfer * 1000:.0f} ms beyond its own round trips)."
    )
    if wide is not None:
        faster, to_floor = ratio(baseline_s.median, wide), ratio(wide, floor_s.median)
        why += (
            f" With max_workers={count} fetch took {wide * 1000:.0f} ms ({faster:.1f}× faster than the loop, "
            f"{to_floor:.2f}× the floor). Less CPU per byte (the SDK's per-request cost, the copy into the "
            "file, the sha256) is what would close the rest."
        )
    speed_note = ""
    if speedup < SPEEDUP_TARGET:
        speed_note = (
            f"{speedup:.1f}× is {SPEEDUP_TARGET / speedup:.2f}× short of {SPEEDUP_TARGET:.0f}×: " + why
        )
    floor_note = ""
    if over_floor > FLOOR_TARGET:
        floor_note = (
            f"{over_floor:.2f}× the floor is {over_floor / FLOOR_TARGET:.2f}× over the limit "
            f"({(ours_s.median - floor_s.median) * 1000:.0f} ms more than one listing plus one download): "
            + why
        )
    return [
        Row(
            case=TITLE,
            what=f"fetch vs one-by-one loop, {label}",
            ours=ours_s,
            reference=baseline_s,
            reference_name="loop",
            ratio=speedup,
            ratio_text="× faster",
            target=f"≥ {SPEEDUP_TARGET:.0f}× faster",
            passed=speedup >= SPEEDUP_TARGET,
            note=speed_note,
            details=details,
        ),
        Row(
            case=TITLE,
            what="fetch vs floor: one listing + one download round trip",
            ours=ours_s,
            reference=floor_s,
            reference_name="floor",
            ratio=over_floor,
            ratio_text="× floor",
            target=f"≤ {FLOOR_TARGET}× floor",
            passed=over_floor <= FLOOR_TARGET,
            note=floor_note,
            details=details,
        ),
    ]
