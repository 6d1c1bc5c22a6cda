"""One download of the big-file case, alone in a fresh process, so the peak RSS it reports is its own.

``python -m bench.download_child JOB BASE_URL REPLY_JSON OUT_DIR`` where JOB is

- ``idle``: import everything the others import, build the client, make one small request, download nothing;
- ``ours``: ``fetch(reply, out_dir=..., client=...)``;
- ``baseline``: ``client.containers.files.content.retrieve(...).read()``, then write the bytes (forum style);
- ``stream``: the SDK's plain streamed read: ``with_streaming_response.retrieve``, ``iter_bytes`` to a file.

It prints one JSON line: seconds spent downloading, bytes written, the peak RSS in bytes and, for ``ours``,
the sha256 fetch recorded.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

CHUNK = 1024 * 1024


def _cited(reply: dict[str, Any]) -> tuple[str, str, str]:
    """(container id, file id, file name) of the reply's first cited container file."""
    for item in reply["output"]:
        if item["type"] != "message":
            continue
        for part in item["content"]:
            for note in part.get("annotations") or []:
                if note["type"] == "container_file_citation":
                    return note["container_id"], note["file_id"], note["filename"]
    raise SystemExit("the reply cites no container file")


def peak_rss() -> int:
    """This process image's peak resident set size, in bytes.

    ``VmHWM`` counts only since ``exec``; ``getrusage(...).ru_maxrss`` is kept across ``exec`` on Linux and
    so starts at the parent's size when it forked, which would hide a small child's peak.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str]) -> int:
    """Run one job and print its JSON line."""
    job, base_url, reply_path, out_dir = argv
    import openai

    from openai_artifacts_nb import fetching
    from openai_artifacts_nb.client import make_client

    reply = json.loads(Path(reply_path).read_text(encoding="utf-8"))
    container_id, file_id, name = _cited(reply)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    client: openai.OpenAI = make_client(base_url=base_url)
    written = 0
    digests: list[str] = []
    started = time.perf_counter()
    if job == "idle":
        client.containers.files.retrieve(file_id, container_id=container_id)
    elif job == "ours":
        result = fetching.fetch(reply, out_dir=out, client=client)
        if not result.ok:
            raise SystemExit(f"fetch failed: {result.failures[0].message}")
        written = sum(artifact.size for artifact in result.artifacts)
        digests = [artifact.sha256 for artifact in result.artifacts]
    elif job == "baseline":
        data = client.containers.files.content.retrieve(file_id, container_id=container_id).read()
        written = (out / name).write_bytes(data)
    elif job == "stream":
        with (
            client.containers.files.content.with_streaming_response.retrieve(
                file_id, container_id=container_id
            ) as response,
            (out / name).open("wb") as sink,
        ):
            for chunk in response.iter_bytes(CHUNK):
                written += sink.write(chunk)
    else:
        raise SystemExit(f"unknown job {job!r}")
    seconds = time.perf_counter() - started
    peak = peak_rss()
    line = {"job": job, "seconds": seconds, "bytes": written, "peak_rss": peak, "sha256": digests}
    sys.stdout.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
