"""One typed model of a reply, built once from whatever shape it arrives in.

A :class:`Reply` holds what every other module reads: the text parts with their citations, the code runs
with their outputs, the usage, the status, the containers used, and one :class:`ArtifactRef` per file the
reply refers to (its identity ``key`` and how it was found, ``found_by``). It is built from

* a Responses ``Response`` (SDK model, dict or JSON text): :meth:`Reply.from_response`;
* the streamed events (models, dicts or JSON lines): :meth:`Reply.from_events`, or event by event with a
  :class:`ReplyBuilder` (the streaming view feeds one and reads its text and code runs as they grow; each
  :meth:`ReplyBuilder.feed` returns the artifact references that event revealed);
* Assistants messages: :meth:`Reply.from_messages`;
* any of these: :meth:`Reply.from_source`.

Everything is read as plain data (SDK versions differ in whether annotations are models or dicts). The
model is untrusted: every field is read defensively and nothing here interprets markup. To read a new kind
of output item (``shell_call``, ``image_generation_call``, ...), write a reader and add it to
:data:`ITEM_READERS`; streamed events of a new kind go in :meth:`ReplyBuilder.feed`. Nothing here imports
IPython or the SDK.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import unquote_to_bytes

from openai_artifacts_nb.errors import ReplyError

__all__ = [
    "ITEM_READERS",
    "TERMINAL_EVENTS",
    "ArtifactKey",
    "ArtifactRef",
    "Citation",
    "CodeOutput",
    "CodeRun",
    "Reply",
    "ReplyBuilder",
    "TextPart",
    "Usage",
    "files_ref",
    "malformed_ref",
    "plain",
    "valid_id",
]

Store = Literal["container", "files", "inline"]
#: (container id or ``files`` or ``inline``, file id or SHA-256): one file, however many ways it was found.
ArtifactKey = tuple[str, str]
#: The events that end a streamed response (each carries the final ``Response``).
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_RUNNING = frozenset({"in_progress", "interpreting"})
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_EXCEPTION_LINE = re.compile(
    r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Iteration)\b(?::[^\n]*)?"
)


def plain(value: Any) -> Any:
    """Return ``value`` as plain JSON-like data: SDK/pydantic models become dicts, recursively."""
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False))
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def _get(value: Any, name: str, default: Any = None) -> Any:
    """Read ``name`` from a dict or an object with attributes (SDK events are read without copying)."""
    if isinstance(value, Mapping):
        return value.get(name, default)
    return getattr(value, name, default)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


#: The shape of every id this package puts in a URL path or a key: ``cntr_…``, ``cfile_…``, ``file-…``.
#: Nothing else passes, so ``..``, ``.``, ``/``, ``%2e``, empty and non-strings never reach a request.
_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,199}")


def valid_id(value: object) -> bool:
    """Whether ``value`` is an id safe to put in a URL path: letters, digits, ``_`` and ``-`` only."""
    return isinstance(value, str) and _ID_SHAPE.fullmatch(value) is not None


def _index(value: object) -> int | None:
    """A span index: a non-negative ``int`` (``True`` and ``"3"`` are not)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _list(value: object) -> list[Any]:
    """``value`` if it is a list (or tuple), else an empty list: a malformed field holds nothing."""
    return list(value) if isinstance(value, (list, tuple)) else []


def _shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a failure line about a malformed field."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def malformed_ref(problem: str, data: object, *, filename: object = None, found_by: str) -> ArtifactRef:
    """A reference the reply made but that cannot be fetched: it becomes one failure line, nothing more.

    Its key is a digest of what it said (never a usable id), so it cannot collide with a real file.
    """
    digest = hashlib.sha256(_shown(data, 10_000).encode("utf-8", "replace")).hexdigest()[:24]
    name = filename if isinstance(filename, str) and filename.strip() else None
    return ArtifactRef(
        store="container",
        container_id="!malformed",
        file_id=digest,
        filename=name,
        found_by=(found_by,),
        problem=problem,
    )


# ---------------------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class ArtifactRef:
    """One file the reply produced, and where its bytes are.

    ``store`` is ``"container"`` (``container_id`` + ``file_id``), ``"files"`` (a Files ``file_id``) or
    ``"inline"`` (``data`` already holds the bytes, e.g. an image output's data URI). ``found_by`` says how
    it was found: ``citation``, ``image_citation``, ``image_output``, ``container_listing``, ``container``,
    ``image_file``, ``file_path``, ``attachment`` or ``file``. ``size`` is the byte count when known.
    ``problem`` is set on a malformed reference (a bad id or field type): it is never fetched, only reported.
    """

    store: Store
    container_id: str | None = None
    file_id: str | None = None
    filename: str | None = None
    sandbox_path: str | None = None
    found_by: tuple[str, ...] = ()
    size: int | None = None
    mime_type: str | None = None
    created_at: float | None = None
    data: bytes | None = field(default=None, repr=False)
    problem: str | None = None

    @property
    def key(self) -> ArtifactKey:
        """Identity of the file: (container or store, file id); inline bytes by their SHA-256."""
        if self.store == "inline":
            return ("inline", hashlib.sha256(self.data or b"").hexdigest())
        return (self.container_id or "files", self.file_id or "")

    @property
    def display_name(self) -> str:
        """The best name known before downloading (file name, sandbox path's base name, or id)."""
        for candidate in (self.filename, (self.sandbox_path or "").rsplit("/", 1)[-1], self.file_id):
            if candidate:
                return candidate
        return "file"

    def merged(self, other: ArtifactRef) -> ArtifactRef:
        """Return this reference completed with what ``other`` (the same file, found another way) knows."""
        found_by = self.found_by + tuple(way for way in other.found_by if way not in self.found_by)
        better_name = self.filename
        if not better_name or (better_name.startswith("cfile_") and other.filename):
            better_name = other.filename or better_name
        return replace(
            self,
            filename=better_name,
            sandbox_path=self.sandbox_path or other.sandbox_path,
            found_by=found_by,
            size=self.size if self.size is not None else other.size,
            mime_type=self.mime_type or other.mime_type,
            created_at=self.created_at if self.created_at is not None else other.created_at,
        )


@dataclass(frozen=True)
class Citation:
    """An annotation's ``[start, end)`` character span in a text part, and the key of the file it cites."""

    start: int
    end: int
    key: ArtifactKey


@dataclass(frozen=True)
class TextPart:
    """One text of the reply (an ``output_text`` part or an assistant message), its citations in span
    order of arrival, and its annotations as they came (plain data)."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    annotations: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class CodeOutput:
    """One output of a code run: ``logs`` (what it printed) or ``image`` (a data URI in ``url``)."""

    type: str
    logs: str = ""
    url: str | None = None


@dataclass(frozen=True)
class CodeRun:
    """One ``code_interpreter_call``: the code, what it printed, how many images it showed, how it ended."""

    item_id: str
    code: str = ""
    logs: str = ""
    status: str = "in_progress"
    container_id: str | None = None
    images: int = 0
    outputs: tuple[CodeOutput, ...] = ()
    #: ``code_interpreter`` (Python in the container) or ``shell`` (a hosted shell's commands, one a line).
    kind: str = "code_interpreter"
    #: How a shell call ended: ``exit 0``, ``exit 2``, ``timeout`` (empty for the code interpreter).
    outcome: str = ""

    @property
    def running(self) -> bool:
        """Whether the code is still being written or run."""
        return self.status in _RUNNING

    @property
    def clean_logs(self) -> str:
        """The logs without terminal colour codes (tracebacks from a kernel carry them)."""
        return _ANSI.sub("", self.logs)

    @property
    def error(self) -> str:
        """``"FileNotFoundError: orders.csv"`` when the code raised (its logs hold a traceback), else ``""``.

        The code interpreter reports a raised exception as a completed call whose logs hold the traceback,
        so the traceback is what tells a failed run. Only the last 4 KiB of the logs are read. A shell call
        that exited non-zero or timed out says so (``exit 2``).
        """
        if self.kind == "shell":
            return self.outcome if self.outcome and self.outcome != "exit 0" else ""
        tail = _ANSI.sub("", self.logs[-4096:])
        marker = tail.rfind("Traceback (most recent call last)")
        if marker < 0:
            return ""
        for line in reversed(tail[marker:].splitlines()):
            match = _EXCEPTION_LINE.match(line.strip())
            if match:
                return match.group(0)[:300]
        return ""

    @classmethod
    def from_item(cls, item: Any) -> CodeRun:
        """Build from a ``code_interpreter_call`` item (SDK model or dict)."""
        outputs = tuple(
            CodeOutput(
                type=str(_get(output, "type", "") or ""),
                logs=str(_get(output, "logs", "") or ""),
                url=_get(output, "url") if isinstance(_get(output, "url"), str) else None,
            )
            for output in (_get(item, "outputs") or [])
        )
        return cls(
            item_id=str(_get(item, "id", "") or ""),
            code=str(_get(item, "code", "") or ""),
            logs="".join(output.logs for output in outputs if output.type == "logs"),
            status=str(_get(item, "status", "") or "completed"),
            container_id=_get(item, "container_id") if valid_id(_get(item, "container_id")) else None,
            images=sum(1 for output in outputs if output.type == "image"),
            outputs=outputs,
        )


@dataclass(frozen=True)
class Usage:
    """Token counts of one response."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    @classmethod
    def from_response_usage(cls, usage: Any) -> Usage | None:
        """Build from the SDK's ``ResponseUsage`` (or a dict); ``None`` stays ``None``."""
        if usage is None:
            return None
        details = _get(usage, "input_tokens_details")
        return cls(
            input_tokens=int(_get(usage, "input_tokens", 0) or 0),
            output_tokens=int(_get(usage, "output_tokens", 0) or 0),
            total_tokens=int(_get(usage, "total_tokens", 0) or 0),
            cached_tokens=int(_get(details, "cached_tokens", 0) or 0),
        )


@dataclass(frozen=True)
class Reply:
    """A reply, read once: texts, code runs, files, containers, usage and how it ended.

    ``kind`` is ``"response"`` (Responses) or ``"messages"`` (Assistants; ``id`` is the thread id when
    known). ``artifacts`` holds one reference per key, in the order first found, merged over every way it
    was found. ``status`` is the response's (``completed``, ``incomplete``, ``failed``...); ``error`` and
    ``incomplete_reason`` say why it did not complete.
    """

    id: str | None = None
    kind: Literal["response", "messages"] = "response"
    status: str = "completed"
    model: str | None = None
    created_at: float | None = None
    texts: tuple[TextPart, ...] = ()
    code_runs: tuple[CodeRun, ...] = ()
    artifacts: tuple[ArtifactRef, ...] = ()
    container_ids: tuple[str, ...] = ()
    usage: Usage | None = None
    error: str | None = None
    incomplete_reason: str | None = None

    @property
    def text(self) -> str:
        """All text parts joined by blank lines (``""`` when there is none)."""
        return "\n\n".join(part.text for part in self.texts if part.text)

    @property
    def cited_keys(self) -> set[tuple[str | None, str | None]]:
        """The (container id, file id) of every container file the reply's text cites."""
        return {
            (ref.container_id, ref.file_id)
            for ref in self.artifacts
            if ref.store == "container" and ("citation" in ref.found_by or "image_citation" in ref.found_by)
        }

    # -- builders ----------------------------------------------------------------------------------------

    @classmethod
    def from_source(cls, source: Any) -> Reply:
        """Read a ``Response``, its JSON, streamed events or Assistants messages (models, dicts, JSON text,
        a page or a list of them; several responses are read as one). Raises :class:`ReplyError` else."""
        if isinstance(source, Reply):
            return source
        data = _load(source)
        if isinstance(data, dict):
            kind = data.get("object")
            if kind == "response" or "output" in data:
                return cls.from_response(data)
            if kind == "thread.message" or ("content" in data and "role" in data):
                return cls.from_messages([data])
            if kind == "list" and isinstance(data.get("data"), list):
                return cls.from_source(data["data"])
            if isinstance(data.get("response"), dict):
                return cls.from_events([data])
            raise ReplyError(f"not a reply: a JSON object with object={kind!r} and no 'output'")
        if isinstance(data, list):
            items = [item for item in data if isinstance(item, dict)]
            if len(items) != len(data):
                raise ReplyError("not a reply: a list that holds something other than events or messages")
            if not items:
                return cls()
            if all(str(item.get("type", "")).startswith(("response.", "error")) for item in items):
                return cls.from_events(items)
            if all(item.get("object") == "thread.message" or "role" in item for item in items):
                return cls.from_messages(items)
            if all(item.get("object") == "response" for item in items):
                return _combined([cls.from_response(item) for item in items])
            raise ReplyError("not a reply: a list that is neither streamed events nor Assistants messages")
        raise ReplyError(f"not a reply: cannot read a {type(source).__name__}")

    @classmethod
    def from_response(cls, response: Any) -> Reply:
        """Read a Responses ``Response`` (SDK model, dict or JSON text)."""
        data = _load(response) if isinstance(response, (str, bytes, bytearray)) else plain(response)
        if not isinstance(data, Mapping):
            raise ReplyError(f"not a response: a {type(data).__name__}")
        draft = _Draft()
        for item in data.get("output") or []:
            if isinstance(item, Mapping):
                reader = ITEM_READERS.get(str(item.get("type")))
                if reader is not None:
                    reader(draft, item)
        failure = data.get("error")
        details = data.get("incomplete_details")
        return draft.reply(
            id=data.get("id"),
            status=str(data.get("status") or "completed"),
            model=data.get("model"),
            created_at=_number(data.get("created_at")),
            usage=Usage.from_response_usage(data.get("usage")),
            error=(failure.get("message") or "the model could not finish")
            if isinstance(failure, Mapping)
            else None,
            incomplete_reason=details.get("reason") if isinstance(details, Mapping) else None,
        )

    @classmethod
    def from_events(cls, events: Iterable[Any]) -> Reply:
        """Read the streamed events of one response (SDK models, dicts or JSON lines)."""
        builder = ReplyBuilder()
        for event in events:
            builder.feed(json.loads(event) if isinstance(event, str) else event)
        return builder.build()

    @classmethod
    def from_messages(cls, messages: Iterable[Any]) -> Reply:
        """Read Assistants messages (models or dicts); only the assistant's count, oldest first."""
        draft = _Draft()
        thread_id = None
        ordered = sorted((plain(message) for message in messages), key=lambda m: m.get("created_at") or 0)
        for message in ordered:
            if message.get("role") != "assistant":
                continue
            thread_id = thread_id or message.get("thread_id")
            for part in message.get("content") or []:
                if not isinstance(part, Mapping):
                    continue
                if part.get("type") == "image_file":
                    image = part.get("image_file")
                    draft.add(
                        files_ref(
                            image.get("file_id") if isinstance(image, Mapping) else image,
                            part,
                            found_by="image_file",
                        )
                    )
                elif part.get("type") == "text":
                    _read_message_text(draft, part.get("text") or {})
            for attachment in message.get("attachments") or []:
                if isinstance(attachment, Mapping) and "file_id" in attachment:
                    draft.add(files_ref(attachment["file_id"], attachment, found_by="attachment"))
        return draft.reply(id=thread_id, kind="messages")


def _load(source: Any) -> Any:
    if isinstance(source, (bytes, bytearray)):
        source = bytes(source).decode("utf-8")
    if isinstance(source, str):
        text = source.strip()
        if not text:
            raise ReplyError("not a reply: the text is empty")
        try:
            return plain(json.loads(text))
        except json.JSONDecodeError:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            try:
                return [
                    json.loads(line.removeprefix("data:").strip()) for line in lines if line != "data: [DONE]"
                ]
            except json.JSONDecodeError as error:
                raise ReplyError(f"not a reply: not JSON ({error.msg} at line {error.lineno})") from None
    if hasattr(source, "model_dump") or isinstance(source, Mapping):
        return plain(source)
    if isinstance(source, Iterable):
        return [plain(json.loads(item) if isinstance(item, str) else item) for item in source]
    return source


def _combined(replies: list[Reply]) -> Reply:
    draft = _Draft()
    for reply in replies:
        for ref in reply.artifacts:
            draft.add(ref)
        draft.texts.extend(reply.texts)
        draft.runs.extend(reply.code_runs)
        for container_id in reply.container_ids:
            draft.use_container(container_id)
    first = replies[0]
    return draft.reply(id=first.id, status=first.status, model=first.model, created_at=first.created_at)


# ---------------------------------------------------------------------------------------------------------
# Readers of output items: one per item type, all in ITEM_READERS.


class _Draft:
    """What the readers gather before it is frozen into a :class:`Reply`."""

    def __init__(self) -> None:
        self.refs: dict[ArtifactKey, ArtifactRef] = {}
        self.texts: list[TextPart] = []
        self.runs: list[CodeRun] = []
        self.containers: list[str] = []
        self.shell_calls: dict[str, int] = {}  # call id -> index in runs, for its shell_call_output

    def add(self, ref: ArtifactRef) -> ArtifactKey:
        key = ref.key
        existing = self.refs.get(key)
        self.refs[key] = existing.merged(ref) if existing is not None else ref
        return key

    def use_container(self, container_id: Any) -> None:
        if valid_id(container_id) and container_id not in self.containers:
            self.containers.append(container_id)

    def reply(self, **fields: Any) -> Reply:
        return Reply(
            texts=tuple(self.texts),
            code_runs=tuple(self.runs),
            artifacts=tuple(self.refs.values()),
            container_ids=tuple(self.containers),
            **fields,
        )


def _read_code_interpreter_call(draft: _Draft, item: Any) -> None:
    run = CodeRun.from_item(item)
    draft.use_container(run.container_id)
    draft.runs.append(run)
    for output in run.outputs:
        if output.type == "image":
            ref = image_output_ref(output.url, run.container_id, len(draft.refs))
            if ref is not None:
                draft.add(ref)


def _read_message(draft: _Draft, item: Any) -> None:
    for part in _get(item, "content") or []:
        if _get(part, "type") == "output_text":
            annotations = _list(plain(_get(part, "annotations")))
            text = _get(part, "text")
            draft.texts.append(
                read_output_text(draft.add, text if isinstance(text, str) else "", annotations)
            )


def shell_run(item: Any) -> CodeRun:
    """Return a hosted ``shell_call`` item as a :class:`CodeRun` of kind ``shell`` (its commands as code)."""
    action = _get(item, "action") or {}
    commands = [str(command) for command in (_get(action, "commands") or []) if isinstance(command, str)]
    environment = _get(item, "environment") or {}
    container_id = _get(environment, "container_id")
    return CodeRun(
        item_id=str(_get(item, "id", "") or ""),
        code="\n".join(commands),
        status=str(_get(item, "status", "") or "completed"),
        container_id=container_id if isinstance(container_id, str) and container_id else None,
        kind="shell",
    )


def shell_output(run: CodeRun, item: Any) -> CodeRun:
    """Return ``run`` completed by its ``shell_call_output`` item: what it printed and how it ended."""
    logs: list[str] = []
    outcome = ""
    for content in _get(item, "output") or []:
        for stream in ("stdout", "stderr"):
            value = _get(content, stream)
            if isinstance(value, str) and value:
                logs.append(value if value.endswith("\n") else value + "\n")
        ended = _get(content, "outcome") or {}
        kind = _get(ended, "type")
        if kind == "timeout":
            outcome = "timeout"
        elif kind == "exit" and outcome != "timeout":
            code = _get(ended, "exit_code")
            if isinstance(code, int) and (not outcome or code != 0):
                outcome = f"exit {code}"
    return replace(
        run,
        logs="".join(logs),
        outcome=outcome or run.outcome,
        status=str(_get(item, "status") or run.status),
    )


def _read_shell_call(draft: _Draft, item: Any) -> None:
    run = shell_run(item)
    draft.use_container(run.container_id)
    call_id = _get(item, "call_id")
    if isinstance(call_id, str) and call_id:
        draft.shell_calls[call_id] = len(draft.runs)
    draft.runs.append(run)


def _read_shell_call_output(draft: _Draft, item: Any) -> None:
    index = draft.shell_calls.get(str(_get(item, "call_id") or ""))
    if index is not None:
        draft.runs[index] = shell_output(draft.runs[index], item)


#: ``output_format`` of an image generation call -> (extension, MIME type).
IMAGE_FORMATS = {
    "png": (".png", "image/png"),
    "webp": (".webp", "image/webp"),
    "jpeg": (".jpg", "image/jpeg"),
}


def generated_image_ref(item: Any) -> ArtifactRef | None:
    """Return an ``image_generation_call``'s base64 ``result`` as inline bytes named ``<item id>.<ext>``."""
    result = _get(item, "result")
    if not isinstance(result, str) or not result:
        return None
    try:
        data = base64.b64decode(result, validate=False)
    except (binascii.Error, ValueError):
        return None
    ext, mime = IMAGE_FORMATS.get(str(_get(item, "output_format") or "png"), IMAGE_FORMATS["png"])
    item_id = re.sub(r"[^A-Za-z0-9_-]", "", str(_get(item, "id", "") or ""))[:64] or "image"
    return ArtifactRef(
        store="inline",
        filename=f"{item_id}{ext}",
        found_by=("image_generation",),
        size=len(data),
        mime_type=mime,
        data=data,
    )


def _read_image_generation_call(draft: _Draft, item: Any) -> None:
    ref = generated_image_ref(item)
    if ref is not None:
        draft.add(ref)


#: How each kind of Responses output item is read: add a kind by adding its reader here.
ITEM_READERS: dict[str, Callable[[_Draft, Any], None]] = {
    "code_interpreter_call": _read_code_interpreter_call,
    "message": _read_message,
    "shell_call": _read_shell_call,
    "shell_call_output": _read_shell_call_output,
    "image_generation_call": _read_image_generation_call,
}


def annotation_ref(annotation: Mapping[str, Any], text: str) -> ArtifactRef | None:
    """Return the file a Responses annotation cites in ``text``, or ``None`` if it cites no file.

    Every field is checked: a citation whose ids are not id-shaped, whose ``filename`` is not text or whose
    span is not two indexes comes back as a :func:`malformed_ref` (one failure line, never a request).
    """
    kind = annotation.get("type")
    if kind == "container_file_citation":
        file_id, container_id = annotation.get("file_id"), annotation.get("container_id")
        filename = annotation.get("filename")
        start, end = annotation.get("start_index", 0), annotation.get("end_index", 0)
        problem = None
        if not valid_id(file_id):
            problem = f"a citation names no valid file id ({_shown(file_id)})"
        elif not valid_id(container_id):
            problem = f"a citation of {file_id} names no valid container id ({_shown(container_id)})"
        elif filename is not None and not isinstance(filename, str):
            problem = f"a citation of {file_id} has a file name that is not text ({_shown(filename)})"
        elif _index(start) is None or _index(end) is None:
            problem = f"a citation of {file_id} has a malformed span ({_shown(start)}, {_shown(end)})"
        if problem is not None:
            return malformed_ref(problem, annotation, filename=filename, found_by="citation")
        assert isinstance(start, int) and isinstance(end, int)
        return ArtifactRef(
            store="container",
            container_id=container_id,
            file_id=file_id,
            filename=filename or None,
            sandbox_path=_span_path(text, start, end),
            found_by=("citation",) if end > start else ("image_citation",),
        )
    if kind == "file_path":
        # The Responses flavour of ``file_path`` names a Files object, like the Assistants one.
        return files_ref(annotation.get("file_id"), annotation, found_by="file_path")
    return None


def files_ref(
    file_id: object,
    data: object,
    *,
    found_by: str,
    filename: str | None = None,
    sandbox_path: str | None = None,
) -> ArtifactRef:
    """A Files object the reply names, or a :func:`malformed_ref` when ``file_id`` is not id-shaped."""
    if not valid_id(file_id):
        return malformed_ref(
            f"a {found_by} names no valid file id ({_shown(file_id)})", data, found_by=found_by
        )
    assert isinstance(file_id, str)
    return ArtifactRef(
        store="files", file_id=file_id, filename=filename, sandbox_path=sandbox_path, found_by=(found_by,)
    )


def read_output_text(
    add: Callable[[ArtifactRef], ArtifactKey], text: str, annotations: Iterable[Any]
) -> TextPart:
    """Read one ``output_text`` part: ``add`` each file it cites, and return it with its citations."""
    citations: list[Citation] = []
    kept: list[Mapping[str, Any]] = []
    for annotation in annotations:
        if not isinstance(annotation, Mapping):
            continue
        kept.append(annotation)
        ref = annotation_ref(annotation, text)
        if ref is None:
            continue
        key = add(ref)
        start, end = _index(annotation.get("start_index")), _index(annotation.get("end_index"))
        if ref.problem is None and start is not None and end is not None and end > start:
            citations.append(Citation(start, end, key))
    return TextPart(text=text, citations=citations, annotations=tuple(kept))


def _read_message_text(draft: _Draft, text: Mapping[str, Any] | str) -> None:
    if isinstance(text, str):
        draft.texts.append(TextPart(text=text))
        return
    value = text.get("value") or ""
    citations: list[Citation] = []
    annotations = [note for note in _list(text.get("annotations")) if isinstance(note, Mapping)]
    for annotation in annotations:
        if annotation.get("type") != "file_path":
            continue
        file_path = annotation.get("file_path")
        file_id = file_path.get("file_id") if isinstance(file_path, Mapping) else file_path
        sandbox = annotation.get("text")
        path = None
        if isinstance(sandbox, str) and sandbox.lower().startswith("sandbox:"):
            from openai_artifacts_nb.links import sandbox_relative_name

            path = "/mnt/data/" + sandbox_relative_name(sandbox)
        ref = files_ref(
            file_id,
            annotation,
            found_by="file_path",
            filename=path.rsplit("/", 1)[-1] if path else None,
            sandbox_path=path,
        )
        key = draft.add(ref)
        start, end = _index(annotation.get("start_index")), _index(annotation.get("end_index"))
        if ref.problem is None and start is not None and end is not None and end > start:
            citations.append(Citation(start, end, key))
    value = value if isinstance(value, str) else ""
    draft.texts.append(TextPart(text=value, citations=citations, annotations=tuple(annotations)))


def _span_path(text: str, start: int, end: int) -> str | None:
    """Return the sandbox path a citation span covers (``/mnt/data/x``), if it covers one."""
    from openai_artifacts_nb.links import sandbox_relative_name

    covered = text[start:end] if 0 <= start < end <= len(text) else ""
    if not covered.lower().startswith("sandbox:"):
        return None
    relative = sandbox_relative_name(covered)
    return f"/mnt/data/{relative}" if relative else None


def image_output_ref(url: Any, container_id: Any, seen: int) -> ArtifactRef | None:
    """Return an ``image`` output's data URI as inline bytes (``image_<seen + 1>.<ext>``), else ``None``."""
    if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
        return None
    header, payload = url[5:].split(",", 1)
    mime = header.split(";", 1)[0] or "application/octet-stream"
    try:
        data = base64.b64decode(payload, validate=False) if ";base64" in header else unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None
    ext = mimetypes.guess_extension(mime, strict=False) or ""
    return ArtifactRef(
        store="inline",
        container_id=container_id if valid_id(container_id) else None,
        filename=f"image_{seen + 1}{ext}",
        found_by=("image_output",),
        size=len(data),
        mime_type=mime,
        data=data,
    )


# ---------------------------------------------------------------------------------------------------------
# Streamed events


class _RunDraft:
    """A code run while it streams: its code arrives in pieces."""

    def __init__(self, item_id: str, container_id: str | None = None) -> None:
        self.run = CodeRun(item_id, container_id=container_id)
        self.parts: list[str] = []

    def snapshot(self) -> CodeRun:
        if self.parts and self.run.status != "completed":
            return replace(self.run, code="".join(self.parts))
        return self.run


class ReplyBuilder:
    """Builds a :class:`Reply` from streamed events, one :meth:`feed` at a time.

    While it streams, :attr:`text` (the text so far, messages separated by blank lines), :attr:`code_runs`
    and :attr:`status` say what arrived; :meth:`feed` returns the artifact references an event revealed
    (a citation as it is added, an image output when its run is done), each key once. :meth:`build`
    returns the reply: the final ``Response`` of the terminal event when there is one, else what the events
    carried. Events may be SDK models or dicts; they are read without copying.
    """

    def __init__(self) -> None:
        self._text_parts: list[str] = []
        self._text_length = 0
        self._runs: dict[str, _RunDraft] = {}
        self._response: dict[str, Any] = {}
        self._final: Any = None
        self._items: dict[int, dict[str, Any]] = {}
        self._slots: dict[tuple[int, int], tuple[list[str], list[dict[str, Any]]]] = {}
        self._containers: list[str] = []
        self._found: dict[ArtifactKey, ArtifactRef] = {}
        self._shell_items: dict[str, str] = {}  # call id -> the shell_call's item id
        self._shell_slots: dict[int, str] = {}  # output index -> the shell_call's item id
        self.status = "in_progress"
        #: The latest ``partial_image`` of an image being generated: (item id, base64 image, format).
        self.partial_image: tuple[str, str, str] | None = None

    @property
    def text(self) -> str:
        """The reply text received so far."""
        if len(self._text_parts) > 1:
            self._text_parts = ["".join(self._text_parts)]
        return "".join(self._text_parts)

    @property
    def text_length(self) -> int:
        """The length of :attr:`text`, without joining it."""
        return self._text_length

    @property
    def code_runs(self) -> list[CodeRun]:
        """The code runs seen so far, in order, their code as far as it arrived."""
        return [draft.snapshot() for draft in self._runs.values()]

    @property
    def finished(self) -> bool:
        """Whether a terminal event arrived."""
        return self._final is not None

    @property
    def final_response(self) -> Any:
        """The ``Response`` the terminal event carried (as it came), or ``None``."""
        return self._final

    def feed(self, event: Any) -> list[ArtifactRef]:
        """Take one event; return the artifact references it revealed that no earlier event did."""
        kind = str(_get(event, "type", "") or "")
        if kind == "response.output_text.delta":
            delta = _get(event, "delta", "") or ""
            self._text_parts.append(delta)
            self._text_length += len(delta)
            self._slot(event)[0].append(delta)
        elif kind == "response.output_text.done":
            parts = self._slot(event)[0]
            done = _get(event, "text")
            if done:
                parts[:] = [done]
        elif kind == "response.output_text.annotation.added":
            parts, notes = self._slot(event)
            annotation = plain(_get(event, "annotation") or {})
            if isinstance(annotation, dict):
                notes.append(annotation)
                ref = annotation_ref(annotation, "".join(parts))
                return self._reveal([ref] if ref is not None else [])
        elif kind in ("response.output_item.added", "response.output_item.done"):
            return self._item(event, added=kind.endswith("added"))
        elif kind == "response.code_interpreter_call_code.delta":
            draft = self._run(str(_get(event, "item_id", "") or ""))
            draft.parts.append(_get(event, "delta", "") or "")
        elif kind == "response.code_interpreter_call_code.done":
            draft = self._run(str(_get(event, "item_id", "") or ""))
            draft.run = replace(draft.run, code=_get(event, "code", "") or "".join(draft.parts))
        elif kind == "response.code_interpreter_call.interpreting":
            draft = self._run(str(_get(event, "item_id", "") or ""))
            draft.run = replace(draft.run, status="interpreting")
        elif kind == "response.shell_call_command.delta":
            item_id = self._shell_slots.get(int(_get(event, "output_index", -1) or 0))
            if item_id is not None:
                self._run(item_id).parts.append(_get(event, "delta", "") or "")
        elif kind == "response.image_generation_call.partial_image":
            image = _get(event, "partial_image_b64")
            if isinstance(image, str) and image:
                fmt = str(_get(event, "output_format", "") or "png")
                self.partial_image = (str(_get(event, "item_id", "") or ""), image, fmt)
        elif kind in ("response.created", "response.in_progress"):
            self._response = plain(_get(event, "response") or {})
        elif kind in TERMINAL_EVENTS:
            self._final = _get(event, "response")
            self.status = kind.removeprefix("response.")
            return self._reveal(list(Reply.from_response(self._final or {}).artifacts))
        return []

    def build(self) -> Reply:
        """Return the reply the events make up so far."""
        reply = Reply.from_response(self._final) if self._final is not None else self._rebuilt()
        containers = list(reply.container_ids)
        containers += [cid for cid in self._containers if cid not in containers]
        return replace(reply, container_ids=tuple(containers))

    # -- internals ---------------------------------------------------------------------------------------

    def _slot(self, event: Any) -> tuple[list[str], list[dict[str, Any]]]:
        key = (int(_get(event, "output_index", 0) or 0), int(_get(event, "content_index", 0) or 0))
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = ([], [])
        return slot

    def _run(self, item_id: str) -> _RunDraft:
        if item_id not in self._runs:
            self._runs[item_id] = _RunDraft(item_id)
        return self._runs[item_id]

    def _reveal(self, refs: list[ArtifactRef]) -> list[ArtifactRef]:
        new = []
        for ref in refs:
            if ref.key not in self._found and ref.problem is None:
                new.append(ref)
                self._found[ref.key] = ref
        return new

    def _item(self, event: Any, *, added: bool) -> list[ArtifactRef]:
        item = _get(event, "item")
        item_type = _get(item, "type", "")
        index = _get(event, "output_index")
        self._items[int(index) if isinstance(index, int) else len(self._items)] = plain(item or {})
        if item_type == "message" and added and self._text_length:
            self._text_parts.append("\n\n")
            self._text_length += 2
        if item_type in ("shell_call", "shell_call_output"):
            self._shell_item(item, index, added=added)
            return []
        if item_type == "image_generation_call":
            ref = None if added else generated_image_ref(item)
            if (
                ref is not None
                and self.partial_image is not None
                and self.partial_image[0] == _get(item, "id")
            ):
                self.partial_image = None
            return self._reveal([ref] if ref is not None else [])
        if item_type != "code_interpreter_call":
            if item_type == "message" and not added:
                cited = _Draft()
                _read_message(cited, item)
                return self._reveal(list(cited.refs.values()))
            return []
        container_id = _get(item, "container_id") if valid_id(_get(item, "container_id")) else None
        if isinstance(container_id, str) and container_id not in self._containers:
            self._containers.append(container_id)
        item_id = str(_get(item, "id", "") or f"ci_{len(self._runs)}")
        if added:
            self._runs[item_id] = _RunDraft(item_id, container_id)
            return []
        draft = self._run(item_id)
        finished = CodeRun.from_item(item)
        draft.run = replace(
            finished,
            code=finished.code or "".join(draft.parts),
            container_id=finished.container_id or draft.run.container_id,
        )
        images = _Draft()
        images.refs = dict(self._found)  # image outputs are numbered after every file found before them
        _read_code_interpreter_call(images, item)
        return self._reveal(list(images.refs.values()))

    def _shell_item(self, item: Any, index: Any, *, added: bool) -> None:
        """A hosted shell call (its commands) or its output (what they printed) arrived or finished."""
        call_id = str(_get(item, "call_id", "") or "")
        if _get(item, "type") == "shell_call_output":
            item_id = self._shell_items.get(call_id)
            if item_id is not None and not added:
                finished = self._run(item_id)
                finished.run = shell_output(finished.run, item)
            return
        run = shell_run(item)
        item_id = run.item_id or f"sh_{len(self._runs)}"
        self._shell_items[call_id] = item_id
        if isinstance(index, int):
            self._shell_slots[index] = item_id
        if run.container_id and run.container_id not in self._containers:
            self._containers.append(run.container_id)
        draft = self._runs.get(item_id)
        if draft is None or added:
            draft = self._runs[item_id] = _RunDraft(item_id, run.container_id)
            draft.run = replace(run, status="in_progress" if added else run.status)
        else:
            draft.run = replace(run, code=run.code or "".join(draft.parts))

    def _rebuilt(self) -> Reply:
        """The reply from the items and text the events carried, when no terminal event did."""
        items = {index: dict(item) for index, item in self._items.items()}
        for (output_index, content_index), (parts, notes) in sorted(self._slots.items()):
            part = {"type": "output_text", "text": "".join(parts), "annotations": list(notes)}
            message = items.setdefault(output_index, {"type": "message", "content": []})
            content = list(message.get("content") or [])
            while len(content) <= content_index:
                content.append({"type": "output_text", "text": "", "annotations": []})
            existing = content[content_index]
            if not existing.get("text"):
                content[content_index] = part
            elif not existing.get("annotations") and part["annotations"]:
                content[content_index] = {**existing, "annotations": part["annotations"]}
            message["content"] = content
        return Reply.from_response({**self._response, "output": [items[index] for index in sorted(items)]})
