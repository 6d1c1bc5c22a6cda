"""Show one prompt's run in a cell: the streamed reply, then the final text, every file, buttons and usage.

:func:`run_and_show` wires a :class:`~openai_artifacts_nb.session.ConversationSession` run to a
:class:`~openai_artifacts_nb.streaming.ReplyStream` and displays the final render: the reply (replacing the
stream), each saved file by kind (:mod:`~openai_artifacts_nb.render`), a download button under each
(:mod:`~openai_artifacts_nb.widgets`, only where widgets can work), one line per file that could not be
saved, and a usage line. In a terminal (``live=False``) everything is plain text and no widget is made.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openai_artifacts_nb.errors import ApiError
from openai_artifacts_nb.file_views import ArtifactView
from openai_artifacts_nb.previews import PreviewLimits
from openai_artifacts_nb.redaction import redacting_display
from openai_artifacts_nb.render import ErrorLine, Notice, ReplyView, UsageLine
from openai_artifacts_nb.session import ConversationSession, PromptResult, TurnInterrupted
from openai_artifacts_nb.streaming import ReplyStream, hold_back_sandbox_links

if TYPE_CHECKING:
    from openai_artifacts_nb.fetching import FetchResult
    from openai_artifacts_nb.object_store import ObjectStore

__all__ = ["DisplayOptions", "run_and_show", "show_events", "show_fetched", "show_notice"]


@dataclass(frozen=True)
class DisplayOptions:
    """How a cell shows its results: live redraws and widgets (Jupyter) or plain text, and preview limits."""

    live: bool = True
    buttons: bool = True
    quiet: bool = False
    limits: PreviewLimits = field(default_factory=PreviewLimits)


def _ipython_display(obj: Any, **kwargs: Any) -> Any:
    from IPython.display import display

    return display(obj, **kwargs)  # type: ignore[no-untyped-call]


#: The one way this module shows anything: redacted (anything key-shaped; a turn adds its client's key).
_display = redacting_display(_ipython_display)


def show_notice(message: str) -> None:
    """Display a one-line note."""
    _display(Notice(message))


def run_and_show(
    session: ConversationSession,
    prompt: str,
    *,
    client: Any,
    model: str,
    out_dir: Path | ObjectStore,
    link_base: Path,
    instructions: str | None = None,
    files: list[str] | tuple[str, ...] = (),
    stream: bool = True,
    options: DisplayOptions | None = None,
    label: str | None = None,
    tools: Any = None,
    conversation_state: str = "previous_response_id",
) -> PromptResult:
    """Run ``prompt`` in ``session`` and display everything it produced; return the result.

    Ctrl-C while the reply streams or its files are saved shows what arrived, code runs marked
    interrupted, and one line saying how to get the files; the result then has ``status="interrupted"``
    and nothing is raised (a traceback would be all the cell shows of it).
    """
    options = options or DisplayOptions()
    display = redacting_display(_ipython_display, getattr(client, "api_key", None))
    view = ReplyStream(live=options.live, display=display)
    view.start()
    if not stream:
        view.note("waiting for the whole reply (streaming is off)…")

    def on_event(event: Any) -> None:
        view.handle(event)
        if view.reply.status == "completed":
            view.note("saving the files…")

    progress, progress_handle = _progress_bars(options)
    slots = _FileSlots(options, display)
    try:
        result = session.run(
            prompt,
            client=client,
            model=model,
            out_dir=out_dir,
            link_base=link_base,
            instructions=instructions,
            files=list(files),
            stream=stream,
            on_event=on_event,
            on_notice=lambda message: display(Notice(message)),
            progress=progress,
            label=label,
            tools=tools,
            conversation_state=conversation_state,
            on_file=slots.early if options.live and not options.quiet else None,
        )
    except TurnInterrupted as interrupted:
        return _show_interrupted(view, interrupted, session, model)
    except BaseException:
        # The error itself is shown once, by the caller; the stream keeps what arrived, without "waiting".
        view.abandon(_Empty())
        slots.clear()
        raise
    finally:
        if progress_handle is not None:
            progress_handle.update(_Empty())
            progress.close()
    view.finish(ReplyView(result.text, () if options.quiet else result.code_runs))
    if not options.quiet:
        slots.final(result.artifacts)
    for failure in result.failures:
        display(ErrorLine(failure.message))
    folder = result.location or _relative(result.out_dir, link_base)
    display(
        UsageLine(
            result.model, result.usage, result.response_id, result.seconds, len(result.artifacts), folder
        )
    )
    return result


def _show_interrupted(
    view: ReplyStream, interrupted: TurnInterrupted, session: ConversationSession, model: str
) -> PromptResult:
    """Finish the view with what arrived before Ctrl-C and say, in one line, what it means."""
    runs = [replace(run, status="interrupted") if run.running else run for run in view.code_runs]
    # The files are not saved, so their links cannot work: show their names, as the stream did.
    text = hold_back_sandbox_links(view.text).replace("saving…", "not saved")
    view.finish(ReplyView(text, runs))
    where = f"`%openai fetch {interrupted.response_id}`"
    if interrupted.stage == "files":
        message = f"saving the files was cut off; the reply's files: {where}."
    else:
        if interrupted.response_id:
            message = f"the reply was cut off; files it made so far: {where}."
        else:
            message = "the request was cut off before the reply began."
        if session.previous_response_id:
            message += f" The next cell continues from {session.previous_response_id}"
            message += f" in container {session.container_id}." if session.container_id else "."
        elif session.container_id:
            message += f" The next cell starts a new conversation in container {session.container_id}."
    _display(Notice(message, css_class="oai-error", prefix="Interrupted:"))
    return PromptResult(
        text=view.text,
        artifacts=[],
        failures=[],
        response_id=interrupted.response_id or "",
        container_id=session.container_id,
        model=model,
        usage=None,
        code_runs=runs,
        status="interrupted",
    )


def show_fetched(
    result: Any,
    *,
    link_base: Path,
    options: DisplayOptions | None = None,
    code_runs: Any = (),
    model: str = "",
    usage: Any = None,
    response_id: str = "",
) -> None:
    """Display a fetched reply (a ``FetchResult``) as a turn is shown: the text with working links, the code
    runs, each file with its button, one line per failure, and the usage line (the display hook's view)."""
    options = options or DisplayOptions()
    _display(ReplyView(result.text, list(code_runs)))
    if not options.quiet:
        for artifact in result.artifacts:
            _show_artifact(artifact, options)
    for failure in result.failures:
        _display(ErrorLine(failure.message))
    folder = getattr(result, "location", None) or _relative(result.out_dir, link_base)
    _display(
        UsageLine(
            model, usage, response_id or str(result.source_id or ""), None, len(result.artifacts), folder
        )
    )


def show_events(
    events: Iterable[Any],
    *,
    out_dir: Path | ObjectStore,
    link_base: Path,
    client: Any = None,
    options: DisplayOptions | None = None,
) -> FetchResult:
    """Show a live stream of Responses events (the SDK's ``Stream``) as :func:`run_and_show` shows a turn.

    Each file is saved as soon as the reply names it and shown while the text streams; at the end the
    reply with working links, each file once in the reply's order, the failures and the usage line. For a
    display hook handed a stream. An interrupt or a failed reply cancels the downloads.
    """
    from openai_artifacts_nb.live_fetch import LiveFetch, close_stream

    options = options or DisplayOptions()
    started = time.time()
    display = redacting_display(_ipython_display, getattr(client, "api_key", None))
    view = ReplyStream(live=options.live, display=display)
    view.start()
    progress, progress_handle = _progress_bars(options)
    slots = _FileSlots(options, display)
    live: LiveFetch | _FetchAfter
    if isinstance(out_dir, Path):
        live = LiveFetch(out_dir=out_dir, client=client, link_base=link_base, progress=progress)
    else:
        live = _FetchAfter(out_dir=out_dir, client=client, progress=progress)
    try:
        for event in events:
            live.feed(event)
            view.handle(event)
            if view.reply.status == "completed":
                view.note("saving the files…")
            if options.live and not options.quiet:
                for artifact in live.ready():
                    slots.early(artifact)
        reply = live.reply.build()
        if reply.status == "failed":
            raise ApiError(
                f"The response failed: {reply.error or 'the model could not finish'}",
                hint="Run the cell again, or change the prompt.",
                secret=getattr(client, "api_key", None),
            )
        result = live.finish(reply)
    except BaseException:
        live.cancel()
        close_stream(events)
        view.abandon(_Empty())
        slots.clear()
        raise
    finally:
        if progress_handle is not None:
            progress_handle.update(_Empty())
            progress.close()
    view.finish(ReplyView(result.text, reply.code_runs))
    if not options.quiet:
        slots.final(result.artifacts)
    for failure in result.failures:
        display(ErrorLine(failure.message))
    folder = result.location or _relative(result.out_dir, link_base)
    seconds = time.time() - started
    display(UsageLine(reply.model or "", reply.usage, reply.id or "", seconds, len(result.artifacts), folder))
    return result


class _FetchAfter:
    """For object storage: the stream is read as :class:`LiveFetch` reads it, but its files are fetched and
    published once the reply is whole (``LiveFetch`` saves into a local folder as events arrive)."""

    def __init__(self, *, out_dir: ObjectStore, client: Any, progress: Any) -> None:
        from openai_artifacts_nb.reply import ReplyBuilder

        self.reply = ReplyBuilder()
        self._options = {"out_dir": out_dir, "client": client, "progress": progress}

    def feed(self, event: Any) -> None:
        """Read one event."""
        self.reply.feed(event)

    def ready(self) -> list[Any]:
        """No file is ready before the reply is whole."""
        return []

    def finish(self, reply: Any) -> FetchResult:
        """Fetch the finished reply's files into object storage."""
        from openai_artifacts_nb.fetching import fetch

        return fetch(reply, **self._options)

    def cancel(self) -> None:
        """Nothing was started."""


class _Empty:
    """Nothing to show: what the progress bars' output becomes once the files are saved."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, str]:
        return {"text/plain": ""}


class _FileSlots:
    """Where the files show: a place per file, made as each is saved while the text streams, and filled
    with the files' final views in the reply's order at the end, so nothing jumps and nothing repeats.

    A place is :data:`SLOT_SIZE` outputs (an image, its card, its button); what a file does not use stays
    empty.
    """

    SLOT_SIZE = 3

    def __init__(self, options: DisplayOptions, display: Any = None) -> None:
        self._options = options
        self._show = display or _display
        self._slots: list[list[Any]] = []
        self._shown: set[tuple[str | None, str | None]] = set()

    def early(self, artifact: Any) -> None:
        """Show ``artifact`` (provisional, still in its temporary file) in a new place, at once."""
        key = (artifact.container_id, artifact.file_id)
        if key in self._shown:
            return
        self._shown.add(key)
        first = ArtifactView.from_saved(artifact, limits=self._options.limits).displays()[0]
        parts = [first] + [_Empty()] * (self.SLOT_SIZE - 1)
        self._slots.append([self._show(part, display_id=True) for part in parts])

    def final(self, artifacts: list[Any]) -> None:
        """Show each saved file once, in order: in the places made early, then after them."""
        for index, artifact in enumerate(artifacts):
            if index >= len(self._slots):
                _show_artifact(artifact, self._options, self._show)
                continue
            parts = _artifact_parts(artifact, self._options)
            handles = self._slots[index]
            parts += [_Empty()] * (len(handles) - len(parts))
            for handle, part in zip(handles, parts, strict=True):
                handle.update(part)
        self._clear(self._slots[len(artifacts) :])

    def clear(self) -> None:
        """The turn failed: empty every place made early (its file is not kept)."""
        self._clear(self._slots)

    @staticmethod
    def _clear(slots: list[list[Any]]) -> None:
        for handles in slots:
            for handle in handles:
                handle.update(_Empty())


def _show_artifact(artifact: Any, options: DisplayOptions, display: Any = None) -> None:
    display = display or _display
    for part in _artifact_parts(artifact, options):
        display(part)


def _artifact_parts(artifact: Any, options: DisplayOptions) -> list[Any]:
    """What one saved file shows: its preview (an image also its card), then its download button."""
    parts: list[Any] = list(ArtifactView.from_saved(artifact, limits=options.limits).displays())
    # A terminal prints each output's text: the preview's already says where the file is, so one is enough.
    parts = parts if options.live else parts[:1]
    if options.live and options.buttons:
        from openai_artifacts_nb.widgets import ArtifactDownload

        parts.append(
            ArtifactDownload(
                artifact.path,
                filename=artifact.filename,
                mime_type=artifact.mime_type,
                href=artifact.relative_path,
            )
        )
    return parts


def _progress_bars(options: DisplayOptions) -> tuple[Any, Any]:
    if not (options.live and options.buttons):
        return None, None
    from openai_artifacts_nb.widgets import FetchProgress

    bars = FetchProgress()
    return bars, _display(bars, display_id=True)


def _relative(folder: Path | None, base: Path) -> str:
    if folder is None:
        return ""
    try:
        return Path(folder).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(folder)
