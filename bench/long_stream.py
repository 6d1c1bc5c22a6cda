"""Case 4, long streams: a reply of 10,000 text deltas through the magic's streaming display, in a kernel.

The emulator streams a reply of N words (one ``response.output_text.delta`` each); the SDK parses the stream
in the kernel, and the events are collected first, so the clock then runs only over our code:
``ReplyStream.start`` and ``ReplyStream.handle`` for every event, drawing into the kernel's real display (ZMQ
messages to the client). Deltas are replayed as if they arrived at 50 per second, a typical model speed, so
the display's time-based throttle behaves as in a real 200-second reply. Targets: under 1 s in all for
10,000 deltas, and linear growth: 10 times the deltas cost at most 15 times the time (quadratic would be 100).
"""

from __future__ import annotations

from typing import Any

from bench.emulated import emulator
from bench.harness import Row, Samples, Settings, interleaved, ratio
from bench.kernel import kernel

NUMBER = 4
TITLE = "long streams"
TOTAL_LIMIT_S = 1.0
GROWTH_LIMIT = 1.5
ARRIVAL_STEP_S = 0.02

KERNEL_SETUP = """
import json, time
from openai_artifacts_nb.client import make_client
from openai_artifacts_nb.streaming import ReplyStream

def _bench_reply_text(words):
    lines, line = [], []
    for i in range(words - 1):
        line.append(f"word{i}")
        if len(line) == 12:
            lines.append(" ".join(line))
            line = []
    text = "\\n".join(lines + [" ".join(line)]).strip()
    return text + " [data.csv](sandbox:/mnt/data/data.csv)"

def _bench_events(words):
    prompt = "Say this.\\n\\n```reply\\n" + _bench_reply_text(words) + "\\n```\\n"
    with make_client().responses.create(model="gpt-4.1", input=prompt, stream=True) as stream:
        return list(stream)

class _BenchArrival:
    def __init__(self):
        self.now = 0.0
    def __call__(self):
        return self.now

def _bench_feed(events, step):
    arrival = _BenchArrival()
    view = ReplyStream(clock=arrival)
    spent = 0.0
    started = time.perf_counter()
    view.start()
    spent += time.perf_counter() - started
    for event in events:
        arrival.now += step
        started = time.perf_counter()
        view.handle(event)
        spent += time.perf_counter() - started
    deltas = sum(1 for e in events if e.type == "response.output_text.delta")
    return {"seconds": spent, "deltas": deltas, "events": len(events), "redraws": view.redraws,
            "drawn_chars": view.drawn_chars, "text_chars": len(view.text)}

_bench_streams = {}
"""

KERNEL_FETCH = "_bench_streams[{words}] = _bench_events({words}); print(len(_bench_streams[{words}]))"
KERNEL_FEED = "print(json.dumps(_bench_feed(_bench_streams[{words}], {step})))"


def run(settings: Settings) -> list[Row]:
    """Stream both replies once, then replay each ``settings.repeat`` times, interleaved."""
    small, large = settings.pick(full=(1_000, 10_000), quick=(1_000, 10_000), smoke=(50, 500))
    repeat = 1 if settings.smoke else settings.repeat
    seen: dict[int, list[dict[str, Any]]] = {small: [], large: []}
    with emulator(settings) as server, kernel(env={"OPENAI_BASE_URL": server.base_url}) as session:
        session.run(KERNEL_SETUP)
        for words in (small, large):
            session.run(KERNEL_FETCH.format(words=words))
        session.run_json(KERNEL_FEED.format(words=small, step=ARRIVAL_STEP_S))  # warm-up: first draw imports

        def feed(words: int) -> float:
            result = session.run_json(KERNEL_FEED.format(words=words, step=ARRIVAL_STEP_S))
            seen[words].append(result)
            return float(result["seconds"])

        times = interleaved(repeat, {"small": lambda: feed(small), "large": lambda: feed(large)})

    small_s, large_s = Samples.of(times["small"], "s"), Samples.of(times["large"], "s")
    deltas_small, deltas_large = seen[small][-1]["deltas"], seen[large][-1]["deltas"]
    per_delta_small = Samples.of([t / deltas_small * 1e6 for t in times["small"]], "µs")
    per_delta_large = Samples.of([t / deltas_large * 1e6 for t in times["large"]], "µs")
    growth = ratio(large_s.median, small_s.median)
    allowed_growth = deltas_large / deltas_small * GROWTH_LIMIT
    details = {
        "deltas": {str(small): deltas_small, str(large): deltas_large},
        "redraws": {str(n): seen[n][-1]["redraws"] for n in (small, large)},
        "drawn_chars": {str(n): seen[n][-1]["drawn_chars"] for n in (small, large)},
        "arrival_step_s": ARRIVAL_STEP_S,
        "per_delta_us": {str(small): per_delta_small.median, str(large): per_delta_large.median},
    }
    redraws, drawn = seen[large][-1]["redraws"], seen[large][-1]["drawn_chars"]
    why = (
        f"{redraws} redraws at 50 deltas/s re-rendered {drawn / 1e6:.1f} M characters in all. Each redraw "
        "re-checks and escapes only the lines after the last finished line (ShownTextBuilder) and redraws "
        "are spaced by the text's length (capped at 10 s), so the work per delta should stay flat; a miss "
        "means redraws still re-render too much of the text: see redraws and drawn_chars in results.json."
    )
    total_ok = large_s.median < TOTAL_LIMIT_S
    linear_ok = growth <= allowed_growth
    return [
        Row(
            case=TITLE,
            what=f"time in ReplyStream for {deltas_large:,} deltas at 50/s, in a kernel",
            ours=large_s,
            reference=per_delta_large,
            reference_name="per delta",
            target=f"< {TOTAL_LIMIT_S:.0f} s",
            passed=total_ok,
            note="" if total_ok else f"{large_s.median - TOTAL_LIMIT_S:.2f} s over: {why}",
            details=details,
        ),
        Row(
            case=TITLE,
            what=f"growth of that time from {deltas_small:,} to {deltas_large:,} deltas",
            ours=large_s,
            reference=small_s,
            reference_name=f"{deltas_small:,} deltas",
            ratio=growth,
            ratio_text="×",
            target=f"linear: ≤ {allowed_growth:.0f}×",
            passed=linear_ok,
            note=""
            if linear_ok
            else f"{growth:.1f}× for {deltas_large / deltas_small:.0f}× the deltas: {why}",
            details=details,
        ),
    ]
