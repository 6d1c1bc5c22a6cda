"""One output that grows while the reply streams, then is replaced by the final render.

:class:`ReplyStream` takes the SDK's streamed Responses events (anything with a ``type`` attribute), keeps the
text and the code the model runs, and redraws a single display (an IPython ``DisplayHandle``) now and then:
at most every ``min_interval`` seconds, and only when the text grew by a quarter since the last draw or
``max_interval`` passed. So a reply of 10,000 deltas costs a handful of redraws, linear time, not quadratic.

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

from openai_artifacts_nb.render import CodeRun, MimeBundle, escape_markdown_html

__all__ = ["ReplyStream", "StreamingView", "hold_back_sandbox_links"]

_SANDBOX_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*sandbox:[^)\s]*\s*\)")
_SANDBOX_BARE = re.compile(r"sandbox:[^\s)\]>\"']*")
_OPEN_LINK_TAIL = re.compile(r"!?\[[^\]\n]*(\](\([^)\n]*)?)?$")
_LAST_TOKEN = re.compile(r"[^\s(\[]*$")


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
    text = _SANDBOX_LINK.sub(lambda match: f"**{match.group(2) or 'file'}** *(saving…)*", text)
    return _SANDBOX_BARE.sub("*(file, saving…)*", text)


@dataclass
class StreamingView:
    """What the stream shows at one moment: the code runs so far, the text so far, and a status note."""

    text: str
    code_runs: list[CodeRun] = field(default_factory=list)
    note: str = ""

    def markdown(self) -> str:
        """Return the view as Markdown, with the running code block open."""
        parts = []
        for run in self.code_runs:
            running = run.status in {"in_progress", "interpreting"}
            parts.append(run.markdown(open_block=running, note="running…" if running else ""))
        if self.text:
            parts.append(escape_markdown_html(hold_back_sandbox_links(self.text)))
        if self.note:
            parts.append(f"*⏳ {self.note}*")
        return "\n\n".join(parts) or "*⏳ waiting for the reply…*"

    def plain(self) -> str:
        """Return the view as plain text."""
        lines = [run.plain() for run in self.code_runs]
        if self.text:
            lines.append(hold_back_sandbox_links(self.text))
        if self.note:
            lines.append(f"... {self.note}")
        return "\n\n".join(lines) or "... waiting for the reply"

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> MimeBundle:
        bundle = {"text/plain": self.plain(), "text/markdown": self.markdown()}
        if include:
            bundle = {key: value for key, value in bundle.items() if key in set(include)}
        if exclude:
            bundle = {key: value for key, value in bundle.items() if key not in set(exclude)}
        return bundle


class ReplyStream:
    """Feed it streamed events with :meth:`handle`; it keeps one display up to date, cheaply.

    ``live`` redraws one output in place (Jupyter); otherwise notes are written once to ``sys.stdout``
    (terminal IPython). ``display`` and ``clock`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        live: bool = True,
        min_interval: float = 0.1,
        max_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        display: Callable[..., Any] | None = None,
    ) -> None:
        self.live = live
        self.min_interval = min_interval
        self.max_interval = max_interval
        self._clock = clock
        self._display = display
        self._handle: Any = None
        self._text_parts: list[str] = []
        self._text_length = 0
        self._drawn_length = 0
        self._last_draw = float("-inf")
        self._runs: dict[str, CodeRun] = {}
        self._code_parts: dict[str, list[str]] = {}
        self._note = ""
        self._dirty = False
        self.redraws = 0
        self.drawn_chars = 0

    @property
    def text(self) -> str:
        """The reply text received so far."""
        return "".join(self._text_parts)

    @property
    def code_runs(self) -> list[CodeRun]:
        """The code runs seen so far, in order."""
        for item_id, parts in self._code_parts.items():
            if parts and self._runs[item_id].status != "completed":
                self._runs[item_id].code = "".join(parts)
        return list(self._runs.values())

    def start(self) -> None:
        """Show the stream's output right away (a "waiting" note), so the cell never looks idle."""
        self._draw(force=True)

    def note(self, message: str) -> None:
        """Show a status line under the text (for example "saving 3 files…"); "" removes it."""
        if message and not self.live and message != self._note:
            sys.stdout.write(f"... {message}\n")
        self._note = message
        self._draw(force=True)

    def handle(self, event: Any) -> None:
        """Take one streamed event (SDK object or anything with the same attributes)."""
        kind = getattr(event, "type", "")
        if kind == "response.output_text.delta":
            delta = getattr(event, "delta", "") or ""
            self._text_parts.append(delta)
            self._text_length += len(delta)
            self._dirty = True
            self._draw()
        elif kind == "response.output_item.added":
            item = getattr(event, "item", None)
            if getattr(item, "type", "") == "code_interpreter_call":
                item_id = str(getattr(item, "id", "") or f"ci_{len(self._runs)}")
                self._runs[item_id] = CodeRun(item_id, container_id=getattr(item, "container_id", None))
                self._code_parts[item_id] = []
                self._note = "the model is writing code…"
                self._draw(force=True)
            elif getattr(item, "type", "") == "message" and self._text_length:
                self._text_parts.append("\n\n")
                self._text_length += 2
        elif kind == "response.code_interpreter_call_code.delta":
            parts = self._code_parts.setdefault(str(getattr(event, "item_id", "")), [])
            parts.append(getattr(event, "delta", "") or "")
            self._ensure_run(str(getattr(event, "item_id", "")))
            self._dirty = True
            self._draw()
        elif kind == "response.code_interpreter_call_code.done":
            run = self._ensure_run(str(getattr(event, "item_id", "")))
            run.code = getattr(event, "code", "") or "".join(self._code_parts.get(run.item_id, []))
        elif kind == "response.code_interpreter_call.interpreting":
            run = self._ensure_run(str(getattr(event, "item_id", "")))
            run.status = "interpreting"
            self.note("running code in the container…")
        elif kind == "response.output_item.done":
            item = getattr(event, "item", None)
            if getattr(item, "type", "") == "code_interpreter_call":
                self._finish_run(item)
        elif kind in {"response.completed", "response.failed", "response.incomplete"}:
            self._note = ""
            self._draw(force=True)

    def _ensure_run(self, item_id: str) -> CodeRun:
        if item_id not in self._runs:
            self._runs[item_id] = CodeRun(item_id)
            self._code_parts.setdefault(item_id, [])
        return self._runs[item_id]

    def _finish_run(self, item: Any) -> None:
        run = self._ensure_run(str(getattr(item, "id", "")))
        run.code = getattr(item, "code", None) or "".join(self._code_parts.get(run.item_id, []))
        run.status = getattr(item, "status", "completed") or "completed"
        run.container_id = getattr(item, "container_id", None) or run.container_id
        outputs = getattr(item, "outputs", None) or []
        run.logs = "".join(
            str(getattr(output, "logs", "") or "")
            for output in outputs
            if getattr(output, "type", "") == "logs"
        )
        run.images = sum(1 for output in outputs if getattr(output, "type", "") == "image")
        self._note = "the model is writing…"
        self._draw(force=True)

    def view(self) -> StreamingView:
        """Return what the stream shows now."""
        return StreamingView(self.text, self.code_runs, self._note)

    def _draw(self, *, force: bool = False) -> None:
        if not self.live:
            return
        now = self._clock()
        if not force:
            if not self._dirty or now - self._last_draw < self.min_interval:
                return
            grown = self._text_length - self._drawn_length
            if grown < max(1, self._drawn_length // 4) and now - self._last_draw < self.max_interval:
                return
        view = self.view()
        self._last_draw = now
        self._drawn_length = self._text_length
        self._dirty = False
        self.redraws += 1
        self.drawn_chars += len(view.text)
        self._show(view)

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
            has_content = bool(self._text_length or self._runs)
            self._handle.update(self.view() if has_content else empty)

    def finish(self, final: Any) -> None:
        """Replace the stream with ``final`` (the reply with working links); print it in a terminal."""
        self._note = ""
        if self.live and self._handle is not None:
            self._handle.update(final)
            return
        self._display_function()(final)
