"""The streamed reply: one output redrawn cheaply, sandbox links held back, code shown while it runs."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_artifacts_nb.streaming import (
    ReplyStream,
    ShownText,
    ShownTextBuilder,
    StreamingView,
    hold_back_sandbox_links,
)


class FakeHandle:
    """Records what a DisplayHandle was given."""

    def __init__(self, shown: list[Any]) -> None:
        self.shown = shown

    def update(self, content: Any) -> None:
        self.shown.append(content)


class FakeDisplay:
    """A stand-in for IPython's ``display`` that records the first display and every update."""

    def __init__(self) -> None:
        self.shown: list[Any] = []
        self.calls = 0

    def __call__(self, content: Any, display_id: bool = False) -> FakeHandle | None:
        self.calls += 1
        self.shown.append(content)
        return FakeHandle(self.shown) if display_id else None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def event(kind: str, **fields: Any) -> SimpleNamespace:
    return SimpleNamespace(type=kind, **fields)


def text_delta(delta: str) -> SimpleNamespace:
    return event("response.output_text.delta", delta=delta)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("See [plot](sandbox:/mnt/data/plot.png) now", "See **plot** *(saving…)* now"),
        ("See ![plot](sandbox:/mnt/data/p.png)", "See **plot** *(saving…)*"),
        ("See [plot](sandb", "See "),
        ("See [plot](", "See "),
        ("See [plot]", "See "),
        ("See [pl", "See "),
        ("Saved to sandbox:/mnt/data/x.csv for you", "Saved to *(file, saving…)* for you"),
        ("Saved to sandb", "Saved to "),
        ("A [normal](https://example.com) link", "A [normal](https://example.com) link"),
        ("I said sand\n[pl", "I said sand\n"),
        ("An [unfinished\nlabel", "An [unfinished\nlabel"),
        ("No links at all.", "No links at all."),
    ],
)
def test_sandbox_links_are_held_back(text: str, shown: str) -> None:
    assert hold_back_sandbox_links(text) == shown


def test_streamed_text_never_shows_a_sandbox_link_at_any_point() -> None:
    display = FakeDisplay()
    stream = ReplyStream(live=True, min_interval=0.0, max_interval=0.0, display=display)
    reply = (
        "Here is the chart: [plot.png](sandbox:/mnt/data/plot.png) and the data [d](sandbox:/mnt/data/d.csv)."
    )
    for character in reply:
        stream.handle(text_delta(character))
    for view in display.shown:
        assert "sandbox" not in view._repr_mimebundle_()["text/html"]
    assert stream.text == reply


def test_ten_thousand_deltas_cost_few_redraws_and_linear_time() -> None:
    def feed(count: int) -> ReplyStream:
        clock = FakeClock()  # a delta a millisecond, whatever the machine's load
        stream = ReplyStream(live=True, display=FakeDisplay(), clock=clock)
        for index in range(count):
            clock.now += 0.001
            stream.handle(text_delta(f"word{index} "))
        return stream

    small, large = feed(10_000), feed(40_000)
    assert small.redraws < 60, small.redraws
    assert small.drawn_chars < 20 * len(small.text)
    # Linear work: four times the text costs at most about four times the characters processed and drawn.
    ratio = len(large.text) / len(small.text)
    assert large.processed_chars <= 1.25 * ratio * small.processed_chars
    assert large.drawn_chars <= 1.25 * ratio * small.drawn_chars


def _reply_of(words: int) -> list[str]:
    """A reply's deltas: one word each, twelve to a line, a paragraph break every 120 words."""
    deltas = []
    for index in range(words):
        end = "\n\n" if index % 120 == 119 else "\n" if index % 12 == 11 else " "
        deltas.append(f"word{index}{end}")
    return deltas


def _stream_at_50_per_second(words: int) -> tuple[ReplyStream, float, list[float]]:
    clock = FakeClock()
    draws: list[float] = []

    def display(content: Any, display_id: bool = False) -> Any:
        draws.append(clock.now)
        return SimpleNamespace(update=lambda content: draws.append(clock.now))

    stream = ReplyStream(live=True, clock=clock, display=display)
    stream.start()
    for delta in _reply_of(words):
        clock.now += 0.02
        stream.handle(text_delta(delta))
    return stream, clock.now, draws


def test_a_long_stream_does_linear_work_and_still_updates() -> None:
    small, small_seconds, _ = _stream_at_50_per_second(1_000)
    large, large_seconds, draws = _stream_at_50_per_second(10_000)
    for stream, seconds in ((small, small_seconds), (large, large_seconds)):
        length = len(stream.text)
        # Each character goes through the patterns about three times (held back, rendered, kept), plus the
        # paragraph still arriving once per redraw (at most 120 words here): never the whole text again.
        assert stream.processed_chars < 3 * length + 2 * 1200 * stream.redraws, (
            stream.processed_chars,
            length,
        )
        # Redraws are spaced so the characters sent stay within chars_per_second of the time the reply takes,
        # plus a bounded multiple of its length for the redraws that growth by a quarter brings.
        assert stream.drawn_chars <= stream.chars_per_second * seconds + 5 * length, (
            stream.drawn_chars,
            length,
        )
    assert large.processed_chars < 12 * small.processed_chars
    assert large.redraws < 4 * small.redraws, (small.redraws, large.redraws)
    gaps = [later - earlier for earlier, later in itertools.pairwise(draws)]
    assert max(gaps) <= large.longest_interval + 0.02, "a long reply still updates at least every 10 s"
    assert draws[-1] > large_seconds - large.longest_interval - 0.02


def test_the_incremental_render_is_the_whole_text_render() -> None:
    reply = (
        "Intro with `code <b>` and <i>html</i>.\n\n"
        "```python\nx = '<tag>'\n\nprint(x)\n```\n"
        "See [the plot](\n  sandbox:/mnt/data/plot.png\n) and ![img](sandbox:/mnt/data/i.png)\n"
        "A span ``across\nlines <x>`` ends here.\n"
        "~~~\nopen <fence>\n\nstill open\n"
        "~~~\nafter <the fence> sandbox:/mnt/data/raw.csv\n(\nnot a link)\nsand\n[last](sandbox:/mnt/d"
    )
    builder = ShownTextBuilder()
    for end in range(len(reply) + 1):
        assert builder.build(reply[:end]) == ShownText.of(reply[:end]), reply[:end]


_PIECES = st.sampled_from(
    ["word ", "\n", "\n\n", "`", "``", "```", "~~~", "<b>", "(", ")", "[", "]", "![", "](", "sandbox:",
     "/mnt/data/a.png", " ", "x"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_PIECES, min_size=1, max_size=4).map("".join), max_size=40))
def test_the_incremental_render_matches_for_any_deltas(deltas: list[str]) -> None:
    builder = ShownTextBuilder()
    text = ""
    for delta in deltas:
        text += delta
        assert builder.build(text) == ShownText.of(text)


def test_redraws_wait_for_growth_or_time() -> None:
    clock = FakeClock()
    display = FakeDisplay()
    stream = ReplyStream(live=True, min_interval=0.1, max_interval=1.0, clock=clock, display=display)
    stream.handle(text_delta("a" * 100))
    assert stream.redraws == 1
    clock.now = 0.05
    stream.handle(text_delta("b" * 100))
    assert stream.redraws == 1, "not before min_interval"
    clock.now = 0.2
    stream.handle(text_delta("c"))
    assert stream.redraws == 2, "grew by more than a quarter"
    clock.now = 0.4
    stream.handle(text_delta("d"))
    assert stream.redraws == 2, "grew by little, and max_interval has not passed"
    clock.now = 1.3
    stream.handle(text_delta("e"))
    assert stream.redraws == 3, "max_interval passed"


def test_code_is_shown_while_it_runs_and_then_with_its_logs() -> None:
    display = FakeDisplay()
    stream = ReplyStream(live=True, min_interval=0.0, display=display)
    item = SimpleNamespace(
        type="code_interpreter_call", id="ci_1", container_id="cntr_1", code="", outputs=[]
    )
    stream.handle(event("response.output_item.added", item=item))
    stream.handle(event("response.code_interpreter_call_code.delta", item_id="ci_1", delta="print("))
    stream.handle(event("response.code_interpreter_call_code.delta", item_id="ci_1", delta="42)"))
    stream.handle(event("response.code_interpreter_call.interpreting", item_id="ci_1"))
    running = display.shown[-1]._repr_mimebundle_()["text/html"]
    assert '<details class="oai-code-run" open="">' in running and "running…" in running
    assert "print(42)" in running
    assert "running code in the container" in running
    done = SimpleNamespace(
        type="code_interpreter_call",
        id="ci_1",
        container_id="cntr_1",
        code="print(42)",
        status="completed",
        outputs=[SimpleNamespace(type="logs", logs="42\n"), SimpleNamespace(type="image", url="data:")],
    )
    stream.handle(event("response.output_item.done", item=done))
    finished = display.shown[-1]._repr_mimebundle_()["text/html"]
    assert '<details class="oai-code-run">' in finished and "42" in finished
    assert "1 image shown below" in finished
    assert stream.code_runs[0].logs == "42\n"


def test_finish_replaces_the_stream() -> None:
    display = FakeDisplay()
    stream = ReplyStream(live=True, display=display)
    stream.start()
    stream.handle(text_delta("hello"))
    stream.finish("FINAL")
    assert display.calls == 1, "one output, updated in place"
    assert display.shown[-1] == "FINAL"


def test_terminal_mode_prints_notes_once_and_displays_only_the_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    display = FakeDisplay()
    stream = ReplyStream(live=False, display=display)
    stream.start()
    stream.note("running code…")
    stream.note("running code…")
    for index in range(100):
        stream.handle(text_delta(f"{index} "))
    assert display.calls == 0
    stream.finish("FINAL")
    assert display.shown == ["FINAL"]
    assert capsys.readouterr().out == "... running code…\n"


def test_the_real_recorded_stream(recorded_events: list[dict[str, Any]]) -> None:
    from openai._models import construct_type
    from openai.types.responses import ResponseStreamEvent

    display = FakeDisplay()
    stream = ReplyStream(live=True, display=display)
    final = None
    for data in recorded_events:
        parsed = construct_type(type_=ResponseStreamEvent, value=data)
        stream.handle(parsed)
        if data["type"] == "response.completed":
            final = data["response"]
    assert final is not None
    texts = [
        part["text"]
        for item in final["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    ]
    assert stream.text == "\n\n".join(texts)
    calls = [item for item in final["output"] if item["type"] == "code_interpreter_call"]
    assert [run.code for run in stream.code_runs] == [call["code"] for call in calls]
    markup = display.shown[-1]._repr_mimebundle_()["text/html"]
    assert "sandbox:" not in markup and "(saving…)" in markup
    assert stream.redraws < 40


def test_view_bundle_honours_include_and_exclude() -> None:
    view = StreamingView("hi")
    assert set(view._repr_mimebundle_()) == {"text/plain", "text/html"}
    assert set(view._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(view._repr_mimebundle_(exclude=["text/html"])) == {"text/plain"}
    assert StreamingView("")._repr_mimebundle_()["text/plain"] == "... waiting for the reply"


def test_abandon_keeps_what_arrived_without_the_waiting_note() -> None:
    display = FakeDisplay()
    stream = ReplyStream(live=True, display=display)
    stream.start()
    stream.note("running code in the container…")
    stream.handle(text_delta("partial answer"))
    stream.abandon("EMPTY")
    kept = display.shown[-1]._repr_mimebundle_()["text/html"]
    assert "partial answer" in kept and "running code" not in kept
    empty = FakeDisplay()
    nothing = ReplyStream(live=True, display=empty)
    nothing.start()
    nothing.abandon("EMPTY")
    assert empty.shown[-1] == "EMPTY"


def test_the_stream_reports_each_file_once_and_agrees_with_the_final_reply(
    recorded_events: list[dict[str, Any]],
) -> None:
    from openai._models import construct_type
    from openai.types.responses import ResponseStreamEvent

    from openai_artifacts_nb.reply import Reply

    stream = ReplyStream(live=True, display=FakeDisplay())
    found = []
    for data in recorded_events:
        found += stream.handle(construct_type(type_=ResponseStreamEvent, value=data))
    keys = [ref.key for ref in found]
    assert len(keys) == len(set(keys)), "each file is reported once"
    final = Reply.from_events(recorded_events)
    assert set(keys) == {ref.key for ref in final.artifacts}
    assert stream.reply.build().text == final.text
