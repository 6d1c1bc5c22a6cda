"""A conversation with the code interpreter: one plain method runs a prompt, state lives on the object.

:class:`ConversationSession` remembers the previous response (for ``previous_response_id``), the container
the code runs in, and the input files uploaded into it. :meth:`ConversationSession.run` sends one Responses
request with the ``code_interpreter`` tool and ``include=["code_interpreter_call.outputs"]``, streams it
through the SDK, reads the final ``Response`` once into a :class:`~openai_artifacts_nb.reply.Reply`, saves
every file it made through the engine (``fetching.fetch``) and returns a :class:`PromptResult` with the
files this turn shows (``FetchResult.new_this_turn``). If the container expired between two turns, it says
so (``on_notice``), starts a new one, uploads the input files again and goes on. SDK errors become
one-line ``ApiError`` messages (:mod:`~openai_artifacts_nb.api_errors`).

Nothing here imports IPython; the magic is a thin adapter over this module, and tests call it directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openai_artifacts_nb.download import DEFAULT_MAX_WORKERS
from openai_artifacts_nb.errors import REDACTED, ApiError, ReplyError, redact_secrets
from openai_artifacts_nb.naming import check_output_folder
from openai_artifacts_nb.reply import TERMINAL_EVENTS, CodeRun, Reply, Usage

if TYPE_CHECKING:
    from openai import OpenAI

    from openai_artifacts_nb.object_store import ObjectStore
    from openai_artifacts_nb.tools import ToolOptions

__all__ = ["ConversationSession", "InputFile", "PromptResult", "TurnInterrupted", "api_error", "code_runs_of"]

INCLUDE = ["code_interpreter_call.outputs"]
CONTAINER_NAME = "openai-artifacts-nb"

Progress = Callable[[str, int, "int | None"], None]


@dataclass
class InputFile:
    """A local file given with ``--file``; ``container_path`` is where it sits in the current container."""

    path: Path
    container_path: str | None = None
    container_file_id: str | None = None


@dataclass
class PromptResult:
    """What one prompt produced: the text (links rewritten), saved files, ids, usage and notices."""

    text: str
    artifacts: list[Any]
    failures: list[Any]
    response_id: str
    container_id: str | None
    model: str
    usage: Usage | None
    code_runs: list[CodeRun] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    manifest_path: Path | None = None
    seconds: float = 0.0
    #: The ``s3://…`` prefix the files were published to, for object storage.
    location: str | None = None
    status: str = "completed"

    @property
    def paths(self) -> list[Path]:
        """The absolute paths of the saved files."""
        return [Path(artifact.path) for artifact in self.artifacts]

    def __repr__(self) -> str:
        names = ", ".join(artifact.filename for artifact in self.artifacts) or "no files"
        return f"<PromptResult {self.response_id} · {len(self.text)} chars · {names}>"


class TurnInterrupted(KeyboardInterrupt):
    """Ctrl-C cut a turn off: while the reply streamed (``stage="reply"``) or while its files were saved
    (``stage="files"``).

    ``response_id`` is the cut-off response's id when the stream had said it (``response.created``). A
    :class:`KeyboardInterrupt`, so a caller that does not know it still stops as on any Ctrl-C.
    """

    def __init__(self, response_id: str | None, *, stage: str, container_id: str | None = None) -> None:
        super().__init__(response_id or "")
        self.response_id = response_id
        self.stage = stage
        self.container_id = container_id


class _StreamSeen:
    """What a stream said about itself before it ended: the response id and the containers used."""

    def __init__(self) -> None:
        self.response_id: str | None = None
        self.container_id: str | None = None

    def see(self, event: Any) -> None:
        kind = getattr(event, "type", "")
        if kind == "response.created":
            self.response_id = getattr(getattr(event, "response", None), "id", None) or self.response_id
        elif kind in ("response.output_item.added", "response.output_item.done"):
            container = getattr(getattr(event, "item", None), "container_id", None)
            if isinstance(container, str) and container:
                self.container_id = container


def api_error(error: Exception, *, api_key: str | None = None, base_url: str | None = None) -> ApiError:
    """Return the SDK exception ``error`` as a one-line :class:`ApiError` for a conversation's turn.

    :func:`~openai_artifacts_nb.api_errors.from_sdk_error` maps it; a conversation the server no longer
    has gets the hint to start a fresh one.
    """
    from openai_artifacts_nb.api_errors import from_sdk_error

    mapped = from_sdk_error(error, secret=api_key, base_url=base_url)
    if mapped.code == "previous_response_not_found":
        return ApiError(
            str(mapped.args[0]),
            status=mapped.status,
            code="previous_response_not_found",
            hint="The conversation is gone on the server; start a fresh one (--new, or `%openai reset`).",
        )
    return mapped


def code_runs_of(response: Any) -> list[CodeRun]:
    """Return the ``code_interpreter_call`` items of a response as :class:`CodeRun` objects."""
    return list(Reply.from_response(response).code_runs)


class ConversationSession:
    """The state of one conversation: previous response, container, uploaded inputs."""

    def __init__(self) -> None:
        self.previous_response_id: str | None = None
        self.container_id: str | None = None
        self.inputs: list[InputFile] = []
        self.turns = 0
        self._shown: set[tuple[str | None, str | None]] = set()
        self._saved: dict[tuple[str | None, str | None], Any] = {}  # every file a turn saved, by ids
        #: The Conversations API conversation (``conv_…``) when turns are chained by ``conversation=``.
        self.conversation_id: str | None = None

    def reset(self) -> None:
        """Forget the conversation, the container and the inputs: the next prompt starts fresh."""
        self.previous_response_id = None
        self.container_id = None
        self.inputs = []
        self.turns = 0
        self._shown = set()
        self._saved = {}
        self.conversation_id = None

    def run(
        self,
        prompt: str,
        *,
        client: OpenAI,
        model: str,
        out_dir: Path | ObjectStore,
        link_base: Path | None = None,
        instructions: str | None = None,
        files: Sequence[str | Path] = (),
        stream: bool = True,
        on_event: Callable[[Any], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
        progress: Progress | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        label: str | None = None,
        tools: ToolOptions | None = None,
        conversation_state: str = "previous_response_id",
        on_file: Callable[[Any], None] | None = None,
    ) -> PromptResult:
        """Send ``prompt`` as the next turn, save what the reply made, and return the result.

        Files earlier turns saved in the same container are not downloaded or shown again, and links to
        them work (whatever folder they went to). Figures the code showed are named
        ``<label>-figure-N.png`` (``label`` defaults to ``turn-<N>``).

        ``tools`` says which tools the model gets (default: the code interpreter) and how an automatic
        container is made; ``conversation_state="conversation"`` chains the turns through a Conversations
        API conversation (made on the first turn) instead of ``previous_response_id``.

        Streamed, every file starts downloading as soon as an event names it, and ``on_file(artifact)`` is
        called (on this thread, between two events) with each one as soon as it is on disk: a provisional
        ``SavedArtifact`` on its ``.part`` file, to show while the text still streams. The result's
        artifacts are the placed files. An interrupt or a failed reply cancels the downloads.
        Raises :class:`ApiError` for API failures, :class:`ConfigurationError` for a missing input file.
        """
        import openai

        from openai_artifacts_nb.api_errors import is_container_expired

        started = time.time()
        notices: list[str] = []

        def notify(message: str) -> None:
            message = redact_secrets(message, client.api_key, marker=REDACTED)  # the reason is the server's
            notices.append(message)
            if on_notice is not None:
                on_notice(message)

        new_files = [Path(file).expanduser().resolve() for file in files]
        _check_files(new_files)
        # Files earlier turns saved from this container: links to them resolve, they are not fetched again.
        earlier = [
            artifact
            for artifact in self._saved.values()
            if artifact.container_id is not None and artifact.container_id == self.container_id
        ]
        if isinstance(out_dir, Path):  # object storage is checked when it is opened
            check_output_folder(out_dir, create=False)  # before the paid turn: its files need a place
        # Streamed, the files download while the reply is still being written (live_fetch).
        fetch_options: dict[str, Any] = {
            "out_dir": out_dir,
            "client": client,
            "link_base": link_base if link_base is not None or not isinstance(out_dir, Path) else out_dir,
            "turn_started_at": started,
            "progress": progress,
            "max_workers": max_workers,
            "earlier": earlier,
            "figure_label": label or f"turn-{self.turns + 1}",
        }
        # Object storage publishes once the reply is whole: its files are fetched after the stream.
        live = _LiveTurn(fetch_options, on_event, on_file) if stream and isinstance(out_dir, Path) else None

        seen = _StreamSeen()

        def send(uploaded_now: Sequence[InputFile]) -> Any:
            return self._request(
                client,
                model=model,
                text=prompt + _files_note(uploaded_now),
                instructions=instructions,
                stream=stream,
                on_event=live.on_event if live is not None else on_event,
                seen=seen,
                tools=tools,
                conversation=self._conversation(client) if conversation_state == "conversation" else None,
            )

        try:
            try:
                try:
                    response = send(self._prepare_container(client, new_files, notify, tools=tools))
                except openai.APIStatusError as error:
                    if self.container_id is None or not is_container_expired(error):
                        raise
                    # Alive when asked a moment ago, expired by the time the request ran.
                    notify(self._expired_notice())
                    if live is not None:
                        live.restart()
                    response = send(self._prepare_container(client, [], notify, force_new=True, tools=tools))
            except openai.OpenAIError as error:
                raise api_error(error, api_key=client.api_key, base_url=str(client.base_url)) from None
        except BaseException as error:
            if live is not None:
                live.cancel()
            if not isinstance(error, KeyboardInterrupt):
                raise
            # The stream is closed (``_consume``'s ``with``). A cut-off response may never complete on the
            # server, so the next turn continues from the last completed one, in the container it used.
            if self.container_id is None and seen.container_id is not None:
                self.container_id = seen.container_id
            raise TurnInterrupted(seen.response_id, stage="reply", container_id=self.container_id) from None

        reply = Reply.from_response(response)
        if reply.status == "failed" and live is not None:
            live.cancel()
        if reply.status == "failed":
            raise ApiError(
                f"The response failed: {reply.error or 'the model could not finish'}",
                hint="Run the cell again, or change the prompt.",
                secret=client.api_key,
            )
        if reply.status == "incomplete":
            notify(f"The reply is incomplete ({reply.incomplete_reason or 'unknown reason'}).")

        self.previous_response_id = reply.id
        for run in reply.code_runs:
            if run.container_id:
                self.container_id = run.container_id
        if reply.container_ids and self.container_id not in reply.container_ids:
            self.container_id = reply.container_ids[-1]
        self.turns += 1

        from openai_artifacts_nb.fetching import fetch

        try:
            saved = live.finish(reply) if live is not None else fetch(reply, **fetch_options)
        except KeyboardInterrupt:
            raise TurnInterrupted(reply.id, stage="files", container_id=self.container_id) from None
        before = {(artifact.container_id, artifact.file_id) for artifact in earlier}
        fresh = saved.new_this_turn(self._shown | before, cited=set(reply.cited_keys) - before)
        self._shown.update((artifact.container_id, artifact.file_id) for artifact in fresh)
        for artifact in saved.artifacts:
            self._saved.setdefault((artifact.container_id, artifact.file_id), artifact)
        return PromptResult(
            text=saved.text or reply.text,
            artifacts=fresh,
            failures=list(saved.failures),
            response_id=str(reply.id or ""),
            container_id=self.container_id,
            model=reply.model or model,
            usage=reply.usage,
            code_runs=list(reply.code_runs),
            notices=notices,
            out_dir=saved.out_dir,
            manifest_path=saved.manifest_path,
            seconds=time.time() - started,
            status=reply.status,
            location=saved.location,
        )

    def _expired_notice(self) -> str:
        again = " and uploaded the inputs again." if self.inputs else "."
        return f"Container {self.container_id} expired; started a new one{again}"

    def _conversation(self, client: OpenAI) -> str:
        """The conversation the turns go to, made on the first turn (Conversations API)."""
        if self.conversation_id is None:
            self.conversation_id = str(client.conversations.create().id)
        return self.conversation_id

    def _prepare_container(
        self,
        client: OpenAI,
        new_files: list[Path],
        notify: Callable[[str], None],
        *,
        force_new: bool = False,
        tools: ToolOptions | None = None,
    ) -> list[InputFile]:
        """Make sure a live container holds every input file; return the files uploaded now."""
        from openai_artifacts_nb.api_errors import container_is_gone

        replace = force_new
        if self.container_id is not None and not force_new and container_is_gone(client, self.container_id):
            notify(self._expired_notice())
            replace = True
        if replace:
            # The conversation still names the dead container, so "auto" would fail: make one explicitly.
            self.container_id = None
        known = {item.path for item in self.inputs}
        self.inputs += [InputFile(path) for path in new_files if path not in known]
        if self.container_id is None:
            if not self.inputs and not replace:
                return []
            options = tools.container_options() if tools is not None else {}
            created = client.containers.create(name=CONTAINER_NAME, **options)
            self.container_id = created.id
            pending = list(self.inputs)
        else:
            pending = [item for item in self.inputs if item.path in set(new_files)]
        for item in pending:
            with item.path.open("rb") as handle:
                stored = client.containers.files.create(self.container_id, file=(item.path.name, handle))
            item.container_path = getattr(stored, "path", None) or f"/mnt/data/{item.path.name}"
            item.container_file_id = stored.id
        return pending

    def _request(
        self,
        client: OpenAI,
        *,
        model: str,
        text: str,
        instructions: str | None,
        stream: bool,
        on_event: Callable[[Any], None] | None,
        seen: _StreamSeen | None = None,
        tools: ToolOptions | None = None,
        conversation: str | None = None,
    ) -> Any:
        container: Any = self.container_id or {"type": "auto"}
        params: dict[str, Any] = {
            "model": model,
            "input": text,
            "tools": [{"type": "code_interpreter", "container": container}]
            if tools is None
            else tools.specs(self.container_id, stream=stream),
            "include": INCLUDE,
        }
        if instructions:
            params["instructions"] = instructions
        if conversation is not None:
            params["conversation"] = conversation
        elif self.previous_response_id:
            params["previous_response_id"] = self.previous_response_id
        if not stream:
            return client.responses.create(**params)
        return _consume(client.responses.create(**params, stream=True), on_event, seen, secret=client.api_key)


class _LiveTurn:
    """A turn's :class:`~openai_artifacts_nb.live_fetch.LiveFetch`, fed every event before it is shown."""

    def __init__(
        self,
        options: dict[str, Any],
        on_event: Callable[[Any], None] | None,
        on_file: Callable[[Any], None] | None,
    ) -> None:
        self._options = options
        self._on_event = on_event
        self._on_file = on_file
        self.restart()

    def restart(self) -> None:
        """Begin again (the request was sent anew)."""
        from openai_artifacts_nb.live_fetch import LiveFetch

        previous = getattr(self, "fetch", None)
        if previous is not None:
            previous.cancel()
        self.fetch = LiveFetch(**self._options)

    def on_event(self, event: Any) -> None:
        """Start what ``event`` names, show it, then hand over each file finished meanwhile."""
        self.fetch.feed(event)
        if self._on_event is not None:
            self._on_event(event)
        if self._on_file is not None:
            for artifact in self.fetch.ready():
                self._on_file(artifact)

    def cancel(self) -> None:
        """Stop the downloads and remove their temporary files."""
        self.fetch.cancel()

    def finish(self, reply: Reply) -> Any:
        """Save every file of the complete ``reply``."""
        return self.fetch.finish(reply)


def _consume(
    events: Any,
    on_event: Callable[[Any], None] | None,
    seen: _StreamSeen | None = None,
    *,
    secret: object = None,
) -> Any:
    """Read a streamed response to its end, passing each event on; return the final ``Response``.

    The ``with`` closes the SDK stream (and its HTTP connection) however the reading ends, Ctrl-C included.
    """
    final = None
    with events:
        for event in events:
            if seen is not None:
                seen.see(event)
            if on_event is not None:
                on_event(event)
            kind = getattr(event, "type", "")
            if kind in TERMINAL_EVENTS:
                final = event.response
            elif kind == "error":
                message = getattr(event, "message", None) or "the stream reported an error"
                code = getattr(event, "code", None)
                raise ApiError(
                    f"OpenAI API error{f' ({code})' if code else ''}: {message}",
                    hint="Run the cell again.",
                    secret=secret,
                )
    if final is None:
        raise ReplyError("The reply stream ended before the response was complete; run the cell again.")
    return final


def _check_files(paths: Iterable[Path]) -> None:
    from openai_artifacts_nb.errors import ConfigurationError

    for path in paths:
        if not path.is_file():
            raise ConfigurationError(f"--file {path}: no such file.")


def _files_note(uploaded: Sequence[InputFile]) -> str:
    if not uploaded:
        return ""
    lines = [f"- {item.path.name}: {item.container_path}" for item in uploaded]
    return "\n\nFiles uploaded to the container for this conversation:\n" + "\n".join(lines)
