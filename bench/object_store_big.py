"""One big file into object storage: a container file fetched to ``s3://…`` on moto's S3 server.

``python -m bench.object_store_big [--mib 1024]`` makes the file in the emulator's sandbox, starts moto's
server (its own process, on 127.0.0.1), then runs ``fetch(reply, out_dir="s3://bench/run")`` in a fresh
process (``child``) that reports its peak RSS before and after, the seconds and the SHA-256 it recorded. It
prints one JSON line. Target: the peak rises by less than 80 MiB, whatever the file's size (the download is
streamed to a staging ``.part`` file and the upload reads 8 MiB parts, 2 at a time).

``python -m bench.object_store_big child REPLY_JSON BASE_URL S3_URL`` is the measured process (the
``AWS_*`` variables point it at the server); ``tests/test_object_store.py`` runs it at 256 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

RISE_LIMIT_MIB = 80.0


def child(reply_path: str, base_url: str, s3_url: str) -> int:
    """Fetch the reply into ``s3_url`` and print the JSON report line."""
    import openai

    from bench.download_child import peak_rss
    from openai_artifacts_nb.fetching import fetch
    from openai_artifacts_nb.object_store import ObjectStore, Publication

    reply = json.loads(Path(reply_path).read_text(encoding="utf-8"))
    client = openai.OpenAI(base_url=base_url, api_key="sk-bench-object-store", max_retries=0)
    Publication(
        ObjectStore(s3_url.rstrip("/") + "-warm")
    ).close()  # s3fs imported and started before the zero
    before = peak_rss()
    started = time.perf_counter()
    result = fetch(reply, out_dir=s3_url, client=client)
    seconds = time.perf_counter() - started
    report = {
        "before": before,
        "after": peak_rss(),
        "seconds": seconds,
        "failures": [failure.message for failure in result.failures],
        "sha256": [artifact.sha256 for artifact in result.artifacts],
        "bytes": sum(artifact.size for artifact in result.artifacts),
    }
    print(json.dumps(report))
    return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench(mib: int) -> dict[str, object]:
    """Run the case once at ``mib`` MiB and return its numbers."""
    import boto3

    from bench.big_file import MAKE_BIG, expected_digest
    from bench.emulated import emulator, make_openai_client, run_code
    from bench.harness import MiB, Settings, child_env

    settings = Settings(mode="full", repeat=1)
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **child_env(),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="bench",
            aws_secret_access_key="bench-secret",
            region_name="us-east-1",
        )
        for _ in range(100):
            try:
                s3.create_bucket(Bucket="bench")
                break
            except Exception:
                time.sleep(0.1)
        with emulator(settings, request_delay=0.0) as server:
            client = make_openai_client(server.base_url)
            response = run_code(client, MAKE_BIG.format(chunk=MiB, count=mib))
            reply_path = settings.work_dir / "object-store-reply.json"
            reply_path.write_text(response.model_dump_json(), encoding="utf-8")
            done = subprocess.run(
                [sys.executable, "-m", "bench.object_store_big", "child", str(reply_path), server.base_url,
                 "s3://bench/run"],
                capture_output=True, text=True, env=env, timeout=1800, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        report = json.loads(done.stdout.strip().splitlines()[-1])
        head = s3.head_object(Bucket="bench", Key="run/big.bin")
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    rise = (report["before"] and (report["after"] - report["before"]) / MiB) or 0.0
    expected = expected_digest(MiB, mib)
    return {
        "mib": mib,
        "seconds": round(report["seconds"], 2),
        "mib_per_s": round(mib / report["seconds"], 1),
        "peak_rss_rise_mib": round(rise, 1),
        "rise_limit_mib": RISE_LIMIT_MIB,
        "verdict": "PASS" if rise < RISE_LIMIT_MIB and not report["failures"] else "MISS",
        "sha256_ok": report["sha256"] == [expected] and head["Metadata"].get("sha256") == expected,
        "object_bytes": head["ContentLength"],
        "failures": report["failures"],
    }


def main(argv: list[str]) -> int:
    """``child …`` or the bench itself (``--mib N``, default 1024)."""
    if argv[:1] == ["child"]:
        return child(*argv[1:4])
    parser = argparse.ArgumentParser(prog="python -m bench.object_store_big")
    parser.add_argument("--mib", type=int, default=int(os.environ.get("BENCH_OBJECT_STORE_MIB", "1024")))
    args = parser.parse_args(argv)
    print(json.dumps(bench(args.mib)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
