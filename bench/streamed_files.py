"""Case 8, streamed reply, files early: 20 x 1 MiB cited early, the model writing 2 s more, 100 ms a request.

The emulator (its own process, 100 ms added to every request) holds the files; the reply's events are
played here as a model sends them: the code run ends, the text cites every file, then the model writes for
two more seconds before ``response.completed``. Both code paths read the same events at the same pace:

* **after completion** (the code path before live fetching): at ``response.completed``, ``fetch(reply)``
  lists the container and downloads every file, then each file's view is built;
* **live**: :class:`~openai_artifacts_nb.live_fetch.LiveFetch` is fed every event, so the listing starts
  when the code run ends and each download when its citation arrives; each finished file's view is built
  between events (as the cell shows it); at ``response.completed`` :meth:`LiveFetch.finish` places what is
  on disk and each file's final view is built.

Measured: the time from ``response.completed`` to every file saved and its final view built. Target: at
most one round trip (150 ms here: the 100 ms delay plus the emulator's own time), against the other path
measured in the same run.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.emulated import container_of, emulator, make_openai_client, run_code
from bench.harness import BenchError, MiB, Row, Samples, Settings, interleaved, ratio
from bench.many_files import MAKE_FILES, _check, expected_digests

NUMBER = 8
TITLE = "streamed reply, files early"
LIMIT_S = 0.150


def reply_events(response: Any, files: list[Any], *, writing: float, steps: int) -> Iterator[dict[str, Any]]:
    """The events of a reply that ran ``response``'s code, cites each of ``files``, then writes on."""
    code = response.output[[item.type for item in response.output].index("code_interpreter_call")]
    code_item = code.model_dump(mode="json")
    text = "Here are the parts: " + ", ".join(
        f"[{f.path.rsplit('/', 1)[-1]}](sandbox:{f.path})" for f in files
    )
    annotations = []
    for entry in files:
        link = f"[{entry.path.rsplit('/', 1)[-1]}](sandbox:{entry.path})"
        start = text.index(link)
        annotations.append(
            {
                "type": "container_file_citation",
                "container_id": code.container_id,
                "file_id": entry.id,
                "filename": entry.path.rsplit("/", 1)[-1],
                "start_index": start,
                "end_index": start + len(link),
            }
        )
    tail = " More words." * steps
    full = text + tail
    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": full, "annotations": annotations}],
    }
    base = {"id": response.id, "object": "response", "created_at": response.created_at, "model": "gpt-4.1"}
    yield {"type": "response.created", "response": {**base, "status": "in_progress", "output": []}}
    yield {"type": "response.output_item.done", "output_index": 0, "item": code_item}
    yield {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": text}
    for index, annotation in enumerate(annotations):
        yield {
            "type": "response.output_text.annotation.added",
            "output_index": 1,
            "content_index": 0,
            "annotation_index": index,
            "annotation": annotation,
        }
    for _ in range(steps):
        time.sleep(writing / steps)
        yield {
            "type": "response.output_text.delta",
            "output_index": 1,
            "content_index": 0,
            "delta": " More words.",
        }
    yield {"type": "response.output_item.done", "output_index": 1, "item": message}
    yield {
        "type": "response.completed",
        "response": {**base, "status": "completed", "output": [code_item, message], "usage": None},
    }


def _views(artifacts: list[Any]) -> int:
    """Build every file's views as the cell shows them; return how many outputs that made."""
    from openai_artifacts_nb.file_views import ArtifactView

    made = 0
    for artifact in artifacts:
        for part in ArtifactView.from_saved(artifact).displays():
            part._repr_mimebundle_()
            made += 1
    return made


def run(settings: Settings) -> list[Row]:
    """Make the files once, then play the reply to both code paths, interleaved."""
    count = settings.pick(full=20, quick=20, smoke=3)
    size = settings.pick(full=MiB, quick=MiB, smoke=64 * 1024)
    delay = settings.pick(full=0.1, quick=0.1, smoke=0.01)
    writing = settings.pick(full=2.0, quick=2.0, smoke=0.1)
    repeat = 1 if settings.smoke else settings.repeat
    try:
        from openai_artifacts_nb.fetching import fetch
        from openai_artifacts_nb.live_fetch import LiveFetch
        from openai_artifacts_nb.reply import Reply
    except ImportError as error:
        raise BenchError(f"the engine is not available yet: {error}") from error
    expected = expected_digests(count, size)
    folders = iter(range(10**6))
    early_counts: list[int] = []

    def fresh(label: str) -> Path:
        return settings.work_dir / f"streamed-{label}-{next(folders)}"

    with emulator(settings, request_delay=delay) as server:
        client = make_openai_client(server.base_url)
        response = run_code(client, MAKE_FILES.format(count=count, size=size))
        files = list(client.containers.files.list(container_of(response), order="asc"))
        files = [entry for entry in files if entry.source == "assistant"]
        if len(files) != count:
            raise BenchError(f"the container holds {len(files)} files, not {count}")
        since = float(response.created_at)

        def play(on_event: Callable[[dict[str, Any]], None], at_end: Callable[[Any], int]) -> float:
            final: Any = None
            for event in reply_events(response, files, writing=writing, steps=20):
                if event["type"] == "response.completed":
                    final = event["response"]
                    break
                on_event(event)
            started = time.perf_counter()
            at_end(final)
            return time.perf_counter() - started

        def after_completion() -> float:
            out = fresh("after")

            def at_end(final: Any) -> int:
                result = fetch(Reply.from_response(final), out_dir=out, client=client, turn_started_at=since)
                if not result.ok or len(result.artifacts) != count:
                    raise BenchError(f"fetch saved {len(result.artifacts)} of {count} files")
                return _views(result.artifacts)

            seconds = play(lambda event: None, at_end)
            _check(out, expected)
            shutil.rmtree(out)
            return seconds

        def live() -> float:
            out = fresh("live")
            fetcher = LiveFetch(out_dir=out, client=client, turn_started_at=since)
            early = [0]

            def on_event(event: dict[str, Any]) -> None:
                fetcher.feed(event)
                early[0] += _views(fetcher.ready())

            def at_end(final: Any) -> int:
                fetcher.feed({"type": "response.completed", "response": final})
                result = fetcher.finish(Reply.from_response(final))
                if not result.ok or len(result.artifacts) != count:
                    raise BenchError(f"live fetch saved {len(result.artifacts)} of {count} files")
                return _views(result.artifacts)

            seconds = play(on_event, at_end)
            early_counts.append(early[0])
            _check(out, expected)
            shutil.rmtree(out)
            return seconds

        times = interleaved(repeat, {"live": live, "after": after_completion})

    live_s = Samples.of(times["live"], "s")
    after_s = Samples.of(times["after"], "s")
    each = f"{size // MiB} MiB" if size >= MiB else f"{size // 1024} KiB"
    label = f"{count} × {each} cited early, {writing:g} s more writing, {delay * 1000:.0f} ms/request"
    limit = LIMIT_S if not settings.smoke else 1.5 * delay + 0.05
    passed = live_s.median <= limit
    details = {
        "files": count,
        "bytes_each": size,
        "request_delay_s": delay,
        "writing_s": writing,
        "files_shown_before_completed": early_counts,
    }
    note = ""
    if not passed:
        note = (
            f"{live_s.median * 1000:.0f} ms is {(live_s.median - limit) * 1000:.0f} ms over "
            f"{limit * 1000:.0f} ms: {min(early_counts or [0])} of {count} files were shown before "
            "response.completed; what is left after it is placing the files, the manifest and the final "
            "views, on CPU shared with the emulator."
        )
    return [
        Row(
            case=TITLE,
            what=f"response.completed → every file saved and shown, {label}: live vs after completion",
            ours=live_s,
            reference=after_s,
            reference_name="after completion",
            ratio=ratio(after_s.median, live_s.median),
            ratio_text="× faster",
            target=f"≤ {limit * 1000:.0f} ms (one round trip)",
            passed=passed,
            note=note,
            details=details,
        )
    ]
