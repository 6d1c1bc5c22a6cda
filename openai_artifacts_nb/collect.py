"""Find every file a reply produced: the artifact references, and the text whose links point at them.

Works offline on what the caller already has, in whatever shape: a Responses ``Response`` (SDK model, dict or
JSON text), the list of streamed events (models, dicts or JSON lines), or Assistants messages. Annotations
may arrive as SDK models or as plain dicts depending on the SDK version; everything is read as plain data.

* Responses: ``container_file_citation`` annotations (zero-width ones are images nobody linked) and the
  ``image`` outputs of ``code_interpreter_call`` items (data URIs become files).
* Assistants (legacy): ``image_file`` parts, ``file_path`` annotations and attachments of assistant messages.

Two steps need the API and take a client: :func:`add_container_listing` adds the files with
``source: "assistant"`` that appeared in the reply's containers during the turn but that no annotation cited
(annotations are sometimes missing), and :func:`collect_id` starts from a ``resp_``, ``cntr_``, ``thread_`` or
``file-`` id. A :class:`Collection` holds one :class:`ArtifactRef` per (container, file), however many ways
it was found; it is what :mod:`openai_artifacts_nb.download` needs and what an app can store its own way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote_to_bytes

from openai_artifacts_nb.errors import ReplyError

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = [
    "ArtifactRef",
    "Citation",
    "Collection",
    "TextPart",
    "add_container_listing",
    "collect",
    "collect_id",
    "id_kind",
    "plain",
]

Store = Literal["container", "files", "inline"]
_TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
_ID_PREFIXES = {"resp_": "response", "cntr_": "container", "thread_": "thread", "file-": "file"}


def plain(value: Any) -> Any:
    """Return ``value`` as plain JSON-like data: SDK/pydantic models become dicts, recursively."""
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False))
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def id_kind(text: str) -> str | None:
    """Return ``"response"``, ``"container"``, ``"thread"`` or ``"file"`` for an id, else ``None``."""
    stripped = text.strip()
    if not stripped or any(char.isspace() for char in stripped):
        return None
    for prefix, kind in _ID_PREFIXES.items():
        if stripped.startswith(prefix) and len(stripped) > len(prefix):
            return kind
    return None


@dataclass(frozen=True)
class ArtifactRef:
    """One file the reply produced, and where its bytes are.

    ``store`` is ``"container"`` (``container_id`` + ``file_id``), ``"files"`` (a Files ``file_id``) or
    ``"inline"`` (``data`` already holds the bytes, e.g. an image output's data URI). ``found_by`` says how
    it was found: ``citation``, ``image_citation``, ``image_output``, ``container_listing``, ``container``,
    ``image_file``, ``file_path``, ``attachment`` or ``file``. ``size`` is the byte count when known.
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

    @property
    def key(self) -> tuple[str, str]:
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
    key: tuple[str, str]


@dataclass
class TextPart:
    """One text of the reply (an ``output_text`` part or an assistant message) and its citations."""

    text: str
    citations: list[Citation] = field(default_factory=list)


@dataclass
class Collection:
    """Everything found in one source: the files (one per key), the texts and the containers used."""

    source_id: str | None = None
    source_kind: str = "response"
    created_at: float | None = None
    refs: dict[tuple[str, str], ArtifactRef] = field(default_factory=dict)
    texts: list[TextPart] = field(default_factory=list)
    container_ids: list[str] = field(default_factory=list)

    def add(self, ref: ArtifactRef) -> tuple[str, str]:
        """Add ``ref``, merging it into the reference already held for the same file; return its key."""
        key = ref.key
        existing = self.refs.get(key)
        self.refs[key] = existing.merged(ref) if existing is not None else ref
        return key

    def use_container(self, container_id: str | None) -> None:
        """Remember that the reply ran code in ``container_id`` (for the listing fallback)."""
        if container_id and container_id not in self.container_ids:
            self.container_ids.append(container_id)

    @property
    def artifacts(self) -> list[ArtifactRef]:
        """The references, in the order they were first found."""
        return list(self.refs.values())

    @property
    def text(self) -> str:
        """All text parts joined by blank lines (``""`` when there is none)."""
        return "\n\n".join(part.text for part in self.texts if part.text)


# ---------------------------------------------------------------------------------------------------------
# Offline collection


def collect(source: Any) -> Collection:
    """Collect the artifact references and texts from a reply already in hand.

    ``source`` is a ``Response`` (SDK model, dict or JSON text), a list of streamed events (models, dicts or
    JSON lines) or Assistants messages (models, dicts, a page, or a list of them). Raises
    :class:`~openai_artifacts_nb.errors.ReplyError` for anything else.
    """
    data = _load(source)
    if isinstance(data, dict):
        kind = data.get("object")
        if kind == "response" or "output" in data:
            return _collect_response(data)
        if kind == "thread.message" or ("content" in data and "role" in data):
            return _collect_messages([data])
        if kind == "list" and isinstance(data.get("data"), list):
            return collect(data["data"])
        if isinstance(data.get("response"), dict):
            return collect([data])
        raise ReplyError(f"not a reply: a JSON object with object={kind!r} and no 'output'")
    if isinstance(data, list):
        items = [item for item in data if isinstance(item, dict)]
        if len(items) != len(data):
            raise ReplyError("not a reply: a list that holds something other than events or messages")
        if not items:
            return Collection()
        if all(str(item.get("type", "")).startswith(("response.", "error")) for item in items):
            return _collect_events(items)
        if all(item.get("object") == "thread.message" or "role" in item for item in items):
            return _collect_messages(items)
        if all(item.get("object") == "response" for item in items):
            merged = Collection()
            for item in items:
                _merge_into(merged, _collect_response(item))
            return merged
        raise ReplyError("not a reply: a list that is neither streamed events nor Assistants messages")
    raise ReplyError(f"not a reply: cannot read a {type(source).__name__}")


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


def _merge_into(target: Collection, other: Collection) -> None:
    target.source_id = target.source_id or other.source_id
    for ref in other.artifacts:
        target.add(ref)
    target.texts.extend(other.texts)
    for container_id in other.container_ids:
        target.use_container(container_id)


def _collect_response(response: Mapping[str, Any]) -> Collection:
    collection = Collection(
        source_id=response.get("id"), source_kind="response", created_at=_number(response.get("created_at"))
    )
    for item in response.get("output") or []:
        _collect_item(collection, item)
    return collection


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _collect_item(collection: Collection, item: Mapping[str, Any]) -> None:
    kind = item.get("type")
    if kind == "code_interpreter_call":
        collection.use_container(item.get("container_id"))
        for number, output in enumerate(item.get("outputs") or []):
            if isinstance(output, Mapping) and output.get("type") == "image":
                ref = _image_output(output.get("url"), item, number, len(collection.refs))
                if ref is not None:
                    collection.add(ref)
    elif kind == "message":
        for part in item.get("content") or []:
            if isinstance(part, Mapping) and part.get("type") == "output_text":
                _collect_output_text(collection, part.get("text") or "", part.get("annotations") or [])


def _collect_output_text(collection: Collection, text: str, annotations: Iterable[Any]) -> None:
    part = TextPart(text=text)
    for annotation in annotations:
        if not isinstance(annotation, Mapping):
            continue
        kind = annotation.get("type")
        if kind == "container_file_citation" and annotation.get("file_id"):
            start = int(annotation.get("start_index") or 0)
            end = int(annotation.get("end_index") or 0)
            sandbox = _span_path(text, start, end)
            filename = annotation.get("filename") or None
            ref = ArtifactRef(
                store="container",
                container_id=annotation.get("container_id"),
                file_id=annotation["file_id"],
                filename=filename,
                sandbox_path=sandbox,
                found_by=("citation",) if end > start else ("image_citation",),
            )
            collection.use_container(ref.container_id)
            key = collection.add(ref)
            if end > start:
                part.citations.append(Citation(start, end, key))
        elif kind == "file_path" and annotation.get("file_id"):
            # The Responses flavour of ``file_path`` names a Files object, like the Assistants one.
            key = collection.add(
                ArtifactRef(store="files", file_id=annotation["file_id"], found_by=("file_path",))
            )
            _cite(part, text, annotation, key)
    collection.texts.append(part)


def _cite(part: TextPart, text: str, annotation: Mapping[str, Any], key: tuple[str, str]) -> None:
    start, end = annotation.get("start_index"), annotation.get("end_index")
    if isinstance(start, int) and isinstance(end, int) and end > start:
        part.citations.append(Citation(start, end, key))


def _span_path(text: str, start: int, end: int) -> str | None:
    """Return the sandbox path a citation span covers (``/mnt/data/x``), if it covers one."""
    from openai_artifacts_nb.links import sandbox_relative_name

    covered = text[start:end] if 0 <= start < end <= len(text) else ""
    if not covered.lower().startswith("sandbox:"):
        return None
    relative = sandbox_relative_name(covered)
    return f"/mnt/data/{relative}" if relative else None


def _image_output(url: Any, item: Mapping[str, Any], number: int, seen: int) -> ArtifactRef | None:
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
        container_id=item.get("container_id"),
        filename=f"image_{seen + 1}{ext}",
        found_by=("image_output",),
        size=len(data),
        mime_type=mime,
        data=data,
    )


def _collect_events(events: list[dict[str, Any]]) -> Collection:
    for event in reversed(events):
        if event.get("type") in _TERMINAL_EVENTS and isinstance(event.get("response"), dict):
            collection = _collect_response(event["response"])
            _containers_from_events(collection, events)
            return collection
    response: dict[str, Any] = {}
    items: dict[int, dict[str, Any]] = {}
    texts: dict[tuple[int, int], dict[str, Any]] = {}
    for event in events:
        kind = event.get("type", "")
        if kind in ("response.created", "response.in_progress") and isinstance(event.get("response"), dict):
            response = event["response"]
        elif kind in ("response.output_item.added", "response.output_item.done"):
            items[int(event.get("output_index", len(items)))] = dict(event.get("item") or {})
        elif kind.startswith("response.output_text."):
            slot = texts.setdefault(
                (int(event.get("output_index", 0)), int(event.get("content_index", 0))),
                {"type": "output_text", "text": "", "annotations": []},
            )
            if kind == "response.output_text.delta":
                slot["text"] += event.get("delta") or ""
            elif kind == "response.output_text.done":
                slot["text"] = event.get("text") or slot["text"]
            elif kind == "response.output_text.annotation.added":
                slot["annotations"].append(event.get("annotation") or {})
    for (output_index, content_index), part in sorted(texts.items()):
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
    collection = _collect_response({**response, "output": [items[index] for index in sorted(items)]})
    _containers_from_events(collection, events)
    return collection


def _containers_from_events(collection: Collection, events: list[dict[str, Any]]) -> None:
    for event in events:
        item = event.get("item")
        if isinstance(item, Mapping) and item.get("type") == "code_interpreter_call":
            collection.use_container(item.get("container_id"))


def _collect_messages(messages: list[dict[str, Any]]) -> Collection:
    collection = Collection(source_kind="messages")
    ordered = sorted(messages, key=lambda message: message.get("created_at") or 0)
    for message in ordered:
        if message.get("role") != "assistant":
            continue
        collection.source_id = collection.source_id or message.get("thread_id")
        for part in message.get("content") or []:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "image_file":
                file_id = (part.get("image_file") or {}).get("file_id")
                if file_id:
                    collection.add(ArtifactRef(store="files", file_id=file_id, found_by=("image_file",)))
            elif part.get("type") == "text":
                _collect_message_text(collection, part.get("text") or {})
        for attachment in message.get("attachments") or []:
            if isinstance(attachment, Mapping) and attachment.get("file_id"):
                collection.add(
                    ArtifactRef(store="files", file_id=attachment["file_id"], found_by=("attachment",))
                )
    if collection.source_id:
        collection.source_kind = "thread"
    return collection


def _collect_message_text(collection: Collection, text: Mapping[str, Any] | str) -> None:
    if isinstance(text, str):
        collection.texts.append(TextPart(text=text))
        return
    value = text.get("value") or ""
    part = TextPart(text=value)
    for annotation in text.get("annotations") or []:
        if not isinstance(annotation, Mapping) or annotation.get("type") != "file_path":
            continue
        file_id = (annotation.get("file_path") or {}).get("file_id")
        if not file_id:
            continue
        sandbox = annotation.get("text") or None
        path = None
        if sandbox and str(sandbox).lower().startswith("sandbox:"):
            from openai_artifacts_nb.links import sandbox_relative_name

            path = "/mnt/data/" + sandbox_relative_name(sandbox)
        key = collection.add(
            ArtifactRef(
                store="files",
                file_id=file_id,
                filename=path.rsplit("/", 1)[-1] if path else None,
                sandbox_path=path,
                found_by=("file_path",),
            )
        )
        _cite(part, value, annotation, key)
    collection.texts.append(part)


# ---------------------------------------------------------------------------------------------------------
# Steps that ask the API


def _listing_ref(entry: Mapping[str, Any], found_by: str) -> ArtifactRef:
    path = entry.get("path") or None
    return ArtifactRef(
        store="container",
        container_id=entry.get("container_id"),
        file_id=entry.get("id"),
        filename=path.rsplit("/", 1)[-1] if path else None,
        sandbox_path=path,
        found_by=(found_by,),
        size=entry.get("bytes"),
        created_at=_number(entry.get("created_at")),
    )


def add_container_listing(
    collection: Collection,
    client: OpenAI,
    *,
    since: float | None = None,
    container_ids: Iterable[str] | None = None,
) -> None:
    """Add the uncited files the reply's code made, from each container's own listing.

    Only files with ``source: "assistant"`` created at or after ``since`` (unix seconds; default: the reply's
    ``created_at``) are added; cited files only gain the listing's size and path. ``container_ids`` limits
    the listing to some of the reply's containers. Errors of the API propagate (``openai.APIError``): the
    caller decides whether a listing is worth failing for.
    """
    threshold = since if since is not None else collection.created_at
    cited = {ref.key for ref in collection.artifacts}
    for container_id in list(container_ids if container_ids is not None else collection.container_ids):
        for entry in client.containers.files.list(container_id, order="asc", limit=100):
            data = plain(entry)
            data.setdefault("container_id", container_id)
            ref = _listing_ref(data, "container_listing")
            if ref.key in cited:
                existing = collection.refs[ref.key]
                collection.refs[ref.key] = existing.merged(replace(ref, found_by=()))
                continue
            if data.get("source") != "assistant":
                continue
            if threshold is not None and (ref.created_at or 0) < int(threshold):
                continue
            collection.add(ref)


def collect_id(identifier: str, client: OpenAI) -> Collection:
    """Collect from an id: ``resp_…`` (a stored reply), ``cntr_…`` (every file in the container), ``thread_…``
    (every assistant message) or ``file-…`` (one Files object).

    Raises :class:`~openai_artifacts_nb.errors.ReplyError` for anything else; API errors propagate.
    """
    identifier = identifier.strip()
    kind = id_kind(identifier)
    if kind == "response":
        response = client.responses.retrieve(identifier, include=["code_interpreter_call.outputs"])
        return collect(response)
    if kind == "container":
        collection = Collection(source_id=identifier, source_kind="container")
        for entry in client.containers.files.list(identifier, order="asc", limit=100):
            data = plain(entry)
            data.setdefault("container_id", identifier)
            collection.add(_listing_ref(data, "container"))
        return collection
    if kind == "thread":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            messages = [
                plain(message) for message in client.beta.threads.messages.list(identifier, order="asc")
            ]
        collection = _collect_messages(messages)
        collection.source_id, collection.source_kind = identifier, "thread"
        return collection
    if kind == "file":
        info = plain(client.files.retrieve(identifier))
        collection = Collection(source_id=identifier, source_kind="file")
        collection.add(
            ArtifactRef(
                store="files",
                file_id=identifier,
                filename=info.get("filename") or None,
                found_by=("file",),
                size=info.get("bytes"),
            )
        )
        return collection
    raise ReplyError(
        f"not an id this tool knows: {identifier!r} (expected resp_…, cntr_…, thread_… or file-…)"
    )
