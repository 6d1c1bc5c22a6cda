"""One output that grows while the reply streams, then is replaced by the final render.

:class:`ReplyStream` takes the SDK's streamed Responses events (anything with a ``type`` attribute), keeps the
text and the code the model runs, and redraws a single display (an IPython ``DisplayHandle``) now and then:
at most every ``min_interval`` seconds, and only when the text grew by a quarter since the last draw or a
wait passed that grows with the text (``max_interval``, or one second per ``chars_per_second`` characters
shown, at most ``longest_interval``). So the characters sent to the display grow linearly with a reply's
length, not with its square, up to ``chars_per_second * longest_interval`` characters (100,000 by default).

Each redraw handles only the new text: :class:`ShownTextBuilder` keeps the finished blocks (text up to a
blank line outside any code fence) already held back and rendered, and works again only on the block in
progress, so the work per redraw does not grow with the reply either. Every block goes through the same
Markdown parser and sanitizer as the final reply (:func:`~openai_artifacts_nb.markup.markdown_fragment`),
so nothing the model writes is live markup at any moment of the stream.

``sandbox:`` links are held back while streaming (their files are not saved yet): a finished link shows its
name with "saving…", a half-received one is not shown at all. While code runs, a note says so. In a
terminal (``live=False``) nothing is redrawn: notes go to stdout once each, and :meth:`finish` prints the
final render. IPython is imported only when something is displayed.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from openai_artifacts_nb.markup import MATH_IGNORE, escape, markdown_fragment, sanitize
from openai_artifacts_nb.render import MUTED, MimeBundle, code_run_html, code_run_plain, filter_bundle
from openai_artifacts_nb.reply import IMAGE_FORMATS, TERMINAL_EVENTS, ArtifactRef, CodeRun, ReplyBuilder

__all__ = ["ReplyStream", "ShownText", "ShownTextBuilder", "StreamingView", "hold_back_sandbox_links"]

_SANDBOX_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*sandbox:[^)\s]*\s*\)")
_SANDBOX_BARE = re.compile(r"sandbox:[^\s)\]>\"']*")
# \Z, not $: a label or word that a line break ended can no longer become a link, so it is shown.
_OPEN_LINK_TAIL = re.compile(r"!?\[[^\]\n]*(\](\([^)\n]*)?)?\Z")
_LAST_TOKEN = re.compile(r"[^\s(\[]*\Z")


def hold_back_sandbox_links(text: str) -> str:
    """Return ``text`` as it may be shown mid-stream: no ``sandbox:`` link, complete or partial.

    ``[plot](sandbox:/mnt/data/plot.png)`` becomes ``**plot** *(saving…)*``; a link still arriving at the end
    (``[plot](sandb``, or a bare ``sandb``) is not shown until it is complete.
    """
    window = max(0, len(text) - 2000)
    tail = _OPEN_LINK_TAIL.search(text, window)
    if tail is not None:
        text = text[: tail.start()]
    token = _LAST_TOKEN.search(text, max(0, len(text) - 300))
    if token is not None and token.group(0) and "sandbox:".startswith(token.group(0)):
        text = text[: token.start()]
    return _replace_finished_links(text)


def _replace_finished_links(text: str) -> str:
    text = _SANDBOX_LINK.sub(lambda match: f"**{match.group(2) or 'file'}** *(saving…)*", text)
    return _SANDBOX_BARE.sub("*(file, saving…)*", text)


@dataclass(frozen=True)
class ShownText:
    """The reply text as the stream shows it: ``plain`` with links held back, ``html`` also rendered."""

    plain: str
    html: str

    @classmethod
    def of(cls, text: str) -> ShownText:
        """Hold back and render the whole of ``text`` at once (block by block, as the builder does)."""
        builder = ShownTextBuilder()
        return builder.build(text)


# A line opening or closing a code fence: up to three spaces, then three or more backticks or tildes.
_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})")
# A blank line, then a line that starts at its margin: no list item or code block can carry on over it.
_BLOCK_BREAK = re.compile(r"\n[ \t]*\n(?=[^\s])")


class ShownTextBuilder:
    """Builds :class:`ShownText` for a growing text, working only on the block still arriving.

    The text is cut into blocks at blank lines outside code fences that a line at the margin follows; each
    finished block is held back and rendered once and kept, and every call renders only what came after
    the last finished block. ``processed_chars`` counts the characters scanned and rendered, to show that
    work is linear.
    """

    def __init__(self) -> None:
        self._done = 0
        self._scanned = 0
        self._fence = ""
        self._plain: list[str] = []
        self._html: list[str] = []
        self.processed_chars = 0

    def build(self, text: str) -> ShownText:
        """Return how ``text`` (the previous text plus what arrived since) is shown now."""
        for end in self._finished_blocks(text):
            plain = _replace_finished_links(text[self._done : end])
            self._plain.append(plain)
            self._html.append(markdown_fragment(plain))
            self.processed_chars += end - self._done
            self._done = end
        tail = hold_back_sandbox_links(text[self._done :])
        self.processed_chars += 2 * (len(text) - self._done)
        return ShownText("".join(self._plain) + tail, "".join(self._html) + markdown_fragment(tail))

    def _finished_blocks(self, text: str) -> list[int]:
        """The ends of the blocks finished since the last call, scanning each line once."""
        ends: list[int] = []
        position = self._scanned
        while True:
            newline = text.find("\n", position)
            if newline < 0:
                break
            line = text[position:newline]
            fence = _FENCE_LINE.match(line)
            if fence is not None:
                marker = fence.group(1)
                if not self._fence:
                    self._fence = marker
                elif (
                    marker[0] == self._fence[0]
                    and len(marker) >= len(self._fence)
                    and not line[fence.end() :].strip()
                ):
                    self._fence = ""
            elif not self._fence and not line.strip() and position > self._done:
                block_break = _BLOCK_BREAK.match(text, position - 1)
                if block_break is not None:
                    ends.append(newline + 1)
                elif newline + 1 >= len(text) or text[newline + 1 :].strip() == "":
                    break  # what follows the blank line has not arrived yet: decide on the next call
            position = newline + 1
        self._scanned = position
        return ends


@dataclass
class StreamingView:
    """What the stream shows at one moment: the code runs so far, the text so far, and a status note.

    ``shown`` is the text already held back and rendered (a stream builds it bit by bit); without it, the
    view works it out from ``text``.
    """

    text: str
    code_runs: list[CodeRun] = field(default_factory=list)
    note: str = ""
    shown: ShownText | None = None
    #: The latest partial image of an image being generated, as ``data:image/...;base64,...`` (or "").
    preview: str = ""

    def _shown(self) -> ShownText:
        if self.shown is None:
            self.shown = ShownText.of(self.text)
        return self.shown

    def html(self) -> str:
        """Return the view as sanitized HTML, with the running code block open."""
        parts = [
            code_run_html(run, open_block=run.running, note="running…" if run.running else "")
            for run in self.code_runs
        ]
        if self.preview:
            parts.append(
                f'<p class="oai-preview"><img src="{escape(self.preview)}" alt="image preview" /></p>'
            )
        if self.text:
            parts.append(self._shown().html)
        note = self.note or ("" if parts else "waiting for the reply…")
        if note:
            parts.append(f'<p class="oai-status" style="color:{MUTED}"><em>{escape(note)}</em></p>')
        return sanitize(f'<div class="oai-reply oai-streaming {MATH_IGNORE}">{"".join(parts)}</div>')

    def plain(self) -> str:
        """Return the view as plain text."""
        lines = [code_run_plain(run) for run in self.code_runs]
        if self.text:
            lines.append(self._shown().plain)
        if self.note:
            lines.append(f"... {self.note}")
        return "\n\n".join(lines) or "... waiting for the reply"

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> MimeBundle:
        return filter_bundle({"text/plain": self.plain(), "text/html": self.html()}, include, exclude)


class ReplyStream:
    """Feed it streamed events with :meth:`handle`; it keeps one display up to date, cheaply.

    ``live`` redraws one output in place (Jupyter); otherwise notes are written once to ``sys.stdout``
    (terminal IPython). ``display`` and ``clock`` are injectable for tests. ``redraws``, ``drawn_chars``
    (reply characters sent to the display, summed over redraws) and ``processed_chars`` (characters the
    hold-back and escaping patterns ran over) count the work done.
    """

    def __init__(
        self,
        *,
        live: bool = True,
        min_interval: float = 0.1,
        max_interval: float = 1.0,
        chars_per_second: int = 10_000,
        longest_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        display: Callable[..., Any] | None = None,
    ) -> None:
        self.live = live
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.chars_per_second = chars_per_second
        self.longest_interval = longest_interval
        self._clock = clock
        self._display = display
        self._handle: Any = None
        self._reply = ReplyBuilder()
        self._drawn_length = 0
        self._last_draw = float("-inf")
        self._note = ""
        self._dirty = False
        self._shown_text = ShownTextBuilder()
        self.redraws = 0
        self.drawn_chars = 0

    @property
    def processed_chars(self) -> int:
        """Characters the hold-back and escaping patterns have run over, in all redraws so far."""
        return self._shown_text.processed_chars

    @property
    def reply(self) -> ReplyBuilder:
        """The reply as it streams in (the same parser the final model is built with)."""
        return self._reply

    @property
    def text(self) -> str:
        """The reply text received so far."""
        return self._reply.text

    @property
    def code_runs(self) -> list[CodeRun]:
        """The code runs seen so far, in order."""
        return self._reply.code_runs

    def start(self) -> None:
        """Show the stream's output right away (a "waiting" note), so the cell never looks idle."""
        self._draw(force=True)

    def note(self, message: str) -> None:
        """Show a status line under the text (for example "saving 3 files…"); "" removes it."""
        if message and not self.live and message != self._note:
            sys.stdout.write(f"... {message}\n")
        self._note = message
        self._draw(force=True)

    def handle(self, event: Any) -> list[ArtifactRef]:
        """Take one streamed event (SDK object or anything with the same attributes); return the artifact
        references it revealed (see :meth:`~openai_artifacts_nb.reply.ReplyBuilder.feed`)."""
        found = self._reply.feed(event)
        kind = getattr(event, "type", "")
        item_type = getattr(getattr(event, "item", None), "type", "")
        if kind in (
            "response.output_text.delta",
            "response.code_interpreter_call_code.delta",
            "response.shell_call_command.delta",
        ):
            self._dirty = True
            self._draw()
        elif kind == "response.output_item.added" and item_type == "code_interpreter_call":
            self._note = "the model is writing code…"
            self._draw(force=True)
        elif kind == "response.output_item.added" and item_type in ("shell_call", "shell_call_output"):
            self._note = "running a shell command in the container…"
            self._draw(force=True)
        elif kind in (
            "response.image_generation_call.generating",
            "response.image_generation_call.partial_image",
        ):
            self._note = "generating an image…"
            self._draw(force=True)
        elif kind == "response.output_item.done" and item_type in (
            "shell_call_output",
            "image_generation_call",
        ):
            self._note = "the model is writing…"
            self._draw(force=True)
        elif kind == "response.code_interpreter_call.interpreting":
            self.note("running code in the container…")
        elif kind == "response.output_item.done" and item_type == "code_interpreter_call":
            self._note = "the model is writing…"
            self._draw(force=True)
        elif kind in TERMINAL_EVENTS:
            self._note = ""
            self._draw(force=True)
        return found

    def view(self) -> StreamingView:
        """Return what the stream shows now."""
        text = self.text
        partial = self._reply.partial_image
        preview = ""
        if partial is not None:
            mime = IMAGE_FORMATS.get(partial[2], IMAGE_FORMATS["png"])[1]
            preview = f"data:{mime};base64,{partial[1]}"
        return StreamingView(text, self.code_runs, self._note, self._shown_text.build(text), preview)

    def _draw(self, *, force: bool = False) -> None:
        if not self.live:
            return
        now = self._clock()
        if not force:
            if not self._dirty or now - self._last_draw < self.min_interval:
                return
            grown = self._reply.text_length - self._drawn_length
            if grown < max(1, self._drawn_length // 4) and now - self._last_draw < self._wait():
                return
        view = self.view()
        self._last_draw = now
        self._drawn_length = self._reply.text_length
        self._dirty = False
        self.redraws += 1
        self.drawn_chars += len(view.text)
        self._show(view)

    def _wait(self) -> float:
        # Waiting longer for a longer text keeps the characters sent to the display per second of the reply
        # at most chars_per_second, so their sum grows with the reply's length, not its square.
        grown_wait = self._drawn_length / max(1, self.chars_per_second)
        return max(self.max_interval, min(grown_wait, self.longest_interval))

    def _display_function(self) -> Callable[..., Any]:
        if self._display is not None:
            return self._display
        from IPython.display import display

        return display

    def _show(self, content: Any) -> None:
        if self._handle is None:
            self._handle = self._display_function()(content, display_id=True)
        else:
            self._handle.update(content)

    def abandon(self, empty: Any) -> None:
        """The turn failed: keep what arrived (without the status note), or ``empty`` if nothing did."""
        self._note = ""
        if self.live and self._handle is not None:
            has_content = bool(self._reply.text_length or self._reply.code_runs)
            self._handle.update(self.view() if has_content else empty)

    def finish(self, final: Any) -> None:
        """Replace the stream with ``final`` (the reply with working links); print it in a terminal."""
        self._note = ""
        if self.live and self._handle is not None:
            self._handle.update(final)
            return
        self._display_function()(final)
