"""Case 2, one big file: a 1 GiB container file, fetched by us, by the forum loop and by a plain SDK stream.

Each download runs alone in a fresh process (``bench.download_child``), which reports its peak RSS; an idle
process that imports the same modules and makes one small request sets the zero. Targets: our peak rises by
less than 64 MiB over the idle process (the baseline, ``.read()`` then write, holds the whole file), and our
throughput is at least 0.8 times that of a plain streamed read with the SDK.
"""

from __future__ import annotations

import functools
import hashlib
import random
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.emulated import emulator, make_openai_client, run_code
from bench.harness import (
    BenchError,
    MiB,
    Row,
    Samples,
    Settings,
    interleaved,
    ratio,
    run_child,
)

NUMBER = 2
TITLE = "one big file"
RISE_LIMIT_MIB = 64.0
THROUGHPUT_TARGET = 0.8
JOBS = ("idle", "ours", "baseline", "stream")

MAKE_BIG = """
import random
chunk = random.Random(7).randbytes({chunk})
with open("/mnt/data/big.bin", "wb") as out:
    for _ in range({count}):
        out.write(chunk)
"""


def expected_digest(chunk: int, count: int) -> str:
    """The sha256 of the file the sandbox code writes."""
    data = random.Random(7).randbytes(chunk)
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(data)
    return digest.hexdigest()


def run(settings: Settings) -> list[Row]:
    """Make the file once, then run every job in its own process, interleaved."""
    size = settings.pick(full=1024 * MiB, quick=256 * MiB, smoke=16 * MiB)
    delay = settings.pick(full=0.1, quick=0.1, smoke=0.01)
    repeat = 1 if settings.smoke else min(settings.repeat, 3)
    chunk = MiB
    count = size // chunk
    started = time.perf_counter()
    expected = expected_digest(chunk, count)
    hash_speed = size / MiB / (time.perf_counter() - started)
    reply_path = settings.work_dir / "big-reply.json"
    runs = iter(range(10**6))
    seen: dict[str, list[dict[str, Any]]] = {job: [] for job in JOBS}

    with emulator(settings, request_delay=delay) as server:
        client = make_openai_client(server.base_url)
        response = run_code(client, MAKE_BIG.format(chunk=chunk, count=count))
        reply_path.write_text(response.model_dump_json(), encoding="utf-8")

        def job(name: str) -> float:
            out = settings.work_dir / f"big-{name}-{next(runs)}"
            args = ["-m", "bench.download_child", name, server.base_url, str(reply_path), str(out)]
            result = run_child(args)
            shutil.rmtree(out, ignore_errors=True)
            if name != "idle" and result["bytes"] != size:
                raise BenchError(f"{name} wrote {result['bytes']} bytes, not {size}")
            if name == "ours" and result["sha256"] != [expected]:
                raise BenchError(f"fetch saved different bytes: sha256 {result['sha256']} != {expected}")
            seen[name].append(result)
            return float(result["peak_rss"])

        if settings.smoke:  # nothing is timed in a smoke run, so the four processes may share the CPU
            with ThreadPoolExecutor(len(JOBS)) as pool:
                list(pool.map(job, JOBS))
        else:
            interleaved(repeat, {name: functools.partial(job, name) for name in JOBS})

    return _rows(seen, size=size, delay=delay, hash_speed=hash_speed)


def _rows(seen: dict[str, list[dict[str, Any]]], *, size: int, delay: float, hash_speed: float) -> list[Row]:
    idle = Samples.of([r["peak_rss"] / MiB for r in seen["idle"]], "MiB").median

    def rise(name: str) -> Samples:
        return Samples.of([r["peak_rss"] / MiB - idle for r in seen[name]], "MiB")

    def speed(name: str) -> Samples:
        return Samples.of([size / MiB / r["seconds"] for r in seen[name]], "MiB/s")

    ours_rise, baseline_rise = rise("ours"), rise("baseline")
    ours_speed, stream_speed, baseline_speed = speed("ours"), speed("stream"), speed("baseline")
    label = f"{size // MiB} MiB, {delay * 1000:.0f} ms/request"
    details = {
        "bytes": size,
        "idle_peak_rss_mib": idle,
        "stream_rise_mib": rise("stream").median,
        "baseline_speed_mib_s": baseline_speed.median,
        "sha256_speed_mib_s": hash_speed,
    }
    memory_ok = ours_rise.median < RISE_LIMIT_MIB
    memory_note = ""
    if not memory_ok:
        memory_note = (
            f"our peak rose {ours_rise.median:.0f} MiB, {ours_rise.median - RISE_LIMIT_MIB:.0f} MiB over "
            f"the limit, against {rise('stream').median:.0f} MiB for a plain SDK stream: something in the "
            "download path holds the body (a non-streaming read, a large buffer, or hashing a copy); "
            "streaming it in fixed-size chunks straight to the temporary file closes it."
        )
    speed_ratio = ratio(ours_speed.median, stream_speed.median)
    speed_note = ""
    if speed_ratio < THROUGHPUT_TARGET:
        lost = size / MiB / ours_speed.median - size / MiB / stream_speed.median
        hashing = size / MiB / hash_speed
        speed_note = (
            f"{speed_ratio:.2f}× is {THROUGHPUT_TARGET / speed_ratio:.2f}× short: fetch spent {lost:.2f} s "
            f"more than the plain stream on {size // MiB} MiB. sha256 over the file alone takes "
            f"{hashing:.2f} s on this machine ({hash_speed:.0f} MiB/s), so even perfectly overlapped with "
            f"the socket reads (fetch receives on one thread and hashes on another) fetch cannot beat "
            f"{ratio(hash_speed, stream_speed.median):.2f}× of this stream; on 2 cores the emulator, the "
            "receiving thread and the hashing thread also compete for CPU. A faster digest than the "
            "manifest's sha256, or a machine with SHA extensions, would close it."
        )
    return [
        Row(
            case=TITLE,
            what=f"peak RSS rise over idle, {label}: fetch vs .read()",
            ours=ours_rise,
            reference=baseline_rise,
            reference_name=".read()",
            ratio=ratio(ours_rise.median, baseline_rise.median),
            ratio_text="× of it",
            target=f"< {RISE_LIMIT_MIB:.0f} MiB",
            passed=memory_ok,
            note=memory_note,
            details=details,
        ),
        Row(
            case=TITLE,
            what=f"throughput, {label}: fetch vs plain SDK stream",
            ours=ours_speed,
            reference=stream_speed,
            reference_name="stream",
            ratio=speed_ratio,
            ratio_text="× of it",
            target=f"≥ {THROUGHPUT_TARGET}× of stream",
            passed=speed_ratio >= THROUGHPUT_TARGET,
            note=speed_note,
            details=details,
        ),
    ]
