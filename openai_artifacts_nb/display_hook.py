"""The display hook: an OpenAI reply that a cell shows is saved, shown and linked as ``%%openai`` does.

After ``%load_ext openai_artifacts_nb``, :class:`DisplayHook` registers one function with IPython's
``ipython_display_formatter`` for each reply type of the ``openai`` SDK, *by module and type name*
(``for_type_by_name``), so nothing of ``openai`` is imported until such an object is displayed:

* ``Response`` (sync and async clients; ``ParsedResponse`` through its base class),
* a finished ``ResponseStream`` / ``AsyncResponseStream`` and the ``responses.stream()`` managers (their
  final response; an unfinished stream is left to its normal repr),
* Assistants ``Message`` (the assistant's) and ``SyncCursorPage`` / ``AsyncCursorPage`` of Messages,
* a ``list`` of Responses stream events (any other list declines and keeps its normal repr).

The formatter is the one that may call ``display()`` several times (the reply, each file, its button, the
usage line), and it declines an object by raising ``NotImplementedError``, which IPython's
``catch_format_error`` turns into "not handled" without a warning: the object then gets its normal repr.
Displaying is the trigger, never assigning: ``r = client.responses.create(...)`` shows nothing until ``r``
is the value of a cell or is passed to ``display``. The same reply shown twice downloads nothing the
second time (the manifest knows its files). ``%config OpenAIMagics.display_hook = False`` and
``%unload_ext`` remove every registration.

:func:`reply_source` decides what an object holds (without importing ``openai``); :func:`show_reply` fetches
and shows it through :mod:`~openai_artifacts_nb.cell_output`. Only IPython's formatter objects are touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["HOOKED_TYPES", "DisplayHook", "is_event_list", "reply_source", "show_reply"]

_STREAMS = "openai.lib.streaming.responses._responses"

#: (module, type name) of every SDK type the hook shows, as ``for_type_by_name`` takes them.
HOOKED_TYPES: tuple[tuple[str, str], ...] = (
    ("openai.types.responses.response", "Response"),
    (_STREAMS, "ResponseStream"),
    (_STREAMS, "AsyncResponseStream"),
    (_STREAMS, "ResponseStreamManager"),
    (_STREAMS, "AsyncResponseStreamManager"),
    ("openai.types.beta.threads.message", "Message"),
    ("openai.pagination", "SyncCursorPage"),
    ("openai.pagination", "AsyncCursorPage"),
)

_MESSAGE = ("openai.types.beta.threads.message", "Message")


def _named(obj: Any, module: str, name: str) -> bool:
    """Whether ``obj``'s class or one of its bases is ``module.name`` (no import of ``module``)."""
    return any(
        getattr(cls, "__module__", None) == module and getattr(cls, "__name__", None) == name
        for cls in type(obj).__mro__
    )


def is_event_list(obj: Any) -> bool:
    """Whether ``obj`` is a non-empty list of Responses stream events (SDK models, ``response.*`` types)."""
    if not isinstance(obj, list) or not obj:
        return False
    return all(
        type(event).__module__.startswith(("openai.types.responses.", "openai.lib.streaming.responses."))
        and str(getattr(event, "type", "")).startswith("response.")
        for event in obj
    )


@dataclass(frozen=True)
class LiveStream:
    """A ``ResponseStream`` the cell displays before it has finished: the hook consumes and shows it live."""

    stream: Any


def _final_response(stream: Any) -> Any:
    state = getattr(stream, "_state", None)
    return getattr(state, "_completed_response", None)


def reply_source(obj: Any) -> Any:
    """Return what :func:`~openai_artifacts_nb.reply.Reply.from_source` should read for ``obj``, or ``None``
    when the hook should leave ``obj`` alone (an unfinished stream, a page of other things, a user message).
    """
    if _named(obj, "openai.types.responses.response", "Response"):
        return obj
    if _named(obj, _STREAMS, "ResponseStream") and _final_response(obj) is None:
        return LiveStream(obj)  # still streaming: shown as it arrives, its files saved as they are named
    for kind in ("ResponseStream", "AsyncResponseStream"):
        if _named(obj, _STREAMS, kind):
            return _final_response(obj)
    for kind in ("ResponseStreamManager", "AsyncResponseStreamManager"):
        if _named(obj, _STREAMS, kind):
            # The manager keeps its stream in a private (name-mangled) attribute; the SDK offers no other way.
            stream = getattr(obj, f"_{kind}__stream", None)
            return _final_response(stream) if stream is not None else None
    if _named(obj, *_MESSAGE):
        return [obj] if getattr(obj, "role", None) == "assistant" else None
    if _named(obj, "openai.pagination", "SyncCursorPage") or _named(
        obj, "openai.pagination", "AsyncCursorPage"
    ):
        data = list(getattr(obj, "data", None) or [])
        return data if data and all(_named(item, *_MESSAGE) for item in data) else None
    if is_event_list(obj):
        return list(obj)
    return None


class DisplayHook:
    """Registers ``show`` with a shell's ``ipython_display_formatter`` for every reply type, and removes it.

    ``show(source)`` gets what :func:`reply_source` found; objects it finds nothing in are declined.
    """

    def __init__(self, shell: Any, show: Callable[[Any], None]) -> None:
        self._shell = shell
        self._show = show
        self._previous_list: Any = None
        self.installed = False

    @property
    def _formatter(self) -> Any:
        return self._shell.display_formatter.ipython_display_formatter

    def __call__(self, obj: Any) -> None:
        """The formatter function: show ``obj``'s reply, or decline (``NotImplementedError``)."""
        source = reply_source(obj)
        if source is None:
            if isinstance(obj, list) and self._previous_list is not None:
                self._previous_list(obj)  # a printer for list registered before ours keeps working
                return
            if isinstance(obj, list) and type(obj) is not list:
                # A printer for list shadows a subclass's own _ipython_display_: call it as IPython would.
                method = getattr(type(obj), "_ipython_display_", None)
                if callable(method):
                    method(obj)
                    return
            raise NotImplementedError  # IPython then formats obj as if no printer were registered
        self._show(source)

    def install(self) -> None:
        """Register the hook (by type name, so ``openai`` is not imported); idempotent."""
        if self.installed:
            return
        formatter = self._formatter
        for module, name in HOOKED_TYPES:
            formatter.for_type_by_name(module, name, self)
        self._previous_list = formatter.for_type(list, self)
        self.installed = True

    def remove(self) -> None:
        """Remove every registration this hook made (another printer for ``list`` is put back)."""
        if not self.installed:
            return
        formatter = self._formatter
        for module, name in HOOKED_TYPES:
            if _registered(formatter, f"{module}.{name}") is self:
                formatter.pop(f"{module}.{name}", None)
        if formatter.type_printers.get(list) is self:
            formatter.pop(list, None)
            if self._previous_list is not None:
                formatter.for_type(list, self._previous_list)
        self._previous_list = None
        self.installed = False


def _registered(formatter: Any, dotted_name: str) -> Any:
    try:
        return formatter.lookup_by_type(dotted_name)
    except KeyError:
        return None


def show_reply(
    source: Any,
    *,
    client: Callable[[], Any],
    out_dir: Any,
    link_base: Any,
    options: Any = None,
) -> Any:
    """Save every file of ``source`` (a reply in any shape, or an id) and show it as a turn is shown.

    ``client()`` is called only when something must be asked of the API (inline images need nothing). An
    error (no key, an expired container, a bad id) is one line under the reply; it never raises. Returns
    the ``FetchResult``, or ``None`` when the files could not be fetched.
    """
    from IPython.core.error import UsageError

    from openai_artifacts_nb import cell_output
    from openai_artifacts_nb.errors import ArtifactsError
    from openai_artifacts_nb.fetching import fetch
    from openai_artifacts_nb.render import ErrorLine, ReplyView, UsageLine
    from openai_artifacts_nb.reply import Reply

    if isinstance(source, LiveStream):
        try:
            return cell_output.show_events(
                source.stream, out_dir=out_dir, link_base=link_base, client=client(), options=options
            )
        except (ArtifactsError, UsageError) as error:
            cell_output._display(ErrorLine(f"The reply's files were not saved: {error}"))
            return None
    reply = Reply.from_source(source) if not isinstance(source, str) else None
    try:
        if reply is None:
            result = fetch(source, out_dir=out_dir, client=client(), link_base=link_base)
        else:
            needs_api = bool(reply.container_ids) or any(ref.store != "inline" for ref in reply.artifacts)
            result = fetch(
                reply, out_dir=out_dir, client=client() if needs_api else None, link_base=link_base
            )
    except (ArtifactsError, UsageError) as error:
        if reply is not None:
            cell_output._display(ReplyView(reply.text, reply.code_runs))
        cell_output._display(ErrorLine(f"The reply's files were not saved: {error}"))
        if reply is not None:
            cell_output._display(UsageLine(reply.model or "", reply.usage, reply.id or ""))
        return None
    cell_output.show_fetched(
        result,
        link_base=link_base,
        options=options,
        code_runs=reply.code_runs if reply is not None else (),
        model=(reply.model or "") if reply is not None else "",
        usage=reply.usage if reply is not None else None,
        response_id=(reply.id or "") if reply is not None else str(source),
    )
    return result
