"""Find every file a reply produced, including the ones no annotation cites: a :class:`Collection`.

:func:`collect` reads a reply already in hand through :class:`~openai_artifacts_nb.reply.Reply` (a
``Response``, its JSON, the streamed events or Assistants messages) into a :class:`Collection`: one
:class:`~openai_artifacts_nb.reply.ArtifactRef` per (container, file), however many ways it was found, plus
the text parts whose links point at them. It is what :mod:`openai_artifacts_nb.download` needs and what an
app can store its own way.

Two steps need the API and take a client: :func:`list_container` returns the files with
``source: "assistant"`` that appeared in a container during the turn (annotations are sometimes missing;
:func:`add_container_listing` adds them to a collection), and :func:`collect_id` starts from a ``resp_``,
``conv_``, ``cntr_``, ``thread_`` or ``file-`` id.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection as Keys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from openai_artifacts_nb.errors import ReplyError
from openai_artifacts_nb.reply import (
    ArtifactKey,
    ArtifactRef,
    Citation,
    Reply,
    TextPart,
    malformed_ref,
    plain,
    valid_id,
)

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
    "list_container",
    "plain",
]

_ID_PREFIXES = {
    "resp_": "response",
    "conv_": "conversation",
    "cntr_": "container",
    "thread_": "thread",
    "file-": "file",
}


def id_kind(text: str) -> str | None:
    """Return ``"response"``, ``"conversation"``, ``"container"``, ``"thread"`` or ``"file"`` for an id, else
    ``None``."""
    stripped = text.strip()
    if not stripped or any(char.isspace() for char in stripped):
        return None
    for prefix, kind in _ID_PREFIXES.items():
        if stripped.startswith(prefix) and len(stripped) > len(prefix):
            return kind
    return None


@dataclass
class Collection:
    """Everything found in one source: the files (one per key), the texts and the containers used.

    Built from a :class:`~openai_artifacts_nb.reply.Reply` (:meth:`from_reply`); the steps that ask the API
    add to it, always from the thread that owns it.
    """

    source_id: str | None = None
    source_kind: str = "response"
    created_at: float | None = None
    refs: dict[ArtifactKey, ArtifactRef] = field(default_factory=dict)
    texts: list[TextPart] = field(default_factory=list)
    container_ids: list[str] = field(default_factory=list)

    @classmethod
    def from_reply(cls, reply: Reply) -> Collection:
        """The collection of ``reply``: its files, texts and containers."""
        kind = ("thread" if reply.id else "messages") if reply.kind == "messages" else "response"
        collection = cls(
            source_id=reply.id,
            source_kind=kind,
            created_at=reply.created_at,
            texts=list(reply.texts),
            container_ids=list(reply.container_ids),
        )
        for ref in reply.artifacts:
            collection.add(ref)
        return collection

    def add(self, ref: ArtifactRef) -> ArtifactKey:
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


def collect(source: Any) -> Collection:
    """Collect the artifact references and texts from a reply already in hand.

    ``source`` is a :class:`~openai_artifacts_nb.reply.Reply`, a ``Response`` (SDK model, dict or JSON text),
    a list of streamed events (models, dicts or JSON lines) or Assistants messages (models, dicts, a page, or
    a list of them). Raises :class:`~openai_artifacts_nb.errors.ReplyError` for anything else.
    """
    return Collection.from_reply(Reply.from_source(source))


# ---------------------------------------------------------------------------------------------------------
# Steps that ask the API


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _listing_ref(entry: Mapping[str, Any], found_by: str) -> ArtifactRef:
    """A listed container file; one whose ids are not id-shaped is a malformed reference (a failure line)."""
    path = entry.get("path") if isinstance(entry.get("path"), str) else None
    file_id, container_id = entry.get("id"), entry.get("container_id")
    if not (valid_id(file_id) and valid_id(container_id)):
        problem = f"a container listing names no valid file id ({file_id!r:.60} in {container_id!r:.60})"
        return malformed_ref(
            problem, entry, filename=path.rsplit("/", 1)[-1] if path else None, found_by=found_by
        )
    size = entry.get("bytes")
    return ArtifactRef(
        store="container",
        container_id=container_id,
        file_id=file_id,
        filename=path.rsplit("/", 1)[-1] or None if path else None,
        sandbox_path=path or None,
        found_by=(found_by,),
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        created_at=_number(entry.get("created_at")),
    )


def list_container(
    client: OpenAI, container_id: str, *, since: float | None = None, known: Keys[ArtifactKey] = ()
) -> list[ArtifactRef]:
    """Return what ``container_id``'s own listing adds to a reply whose files ``known`` already holds.

    Files in ``known`` come back with no ``found_by`` (they only gain the listing's size and path); others
    only if they have ``source: "assistant"`` and were created at or after ``since`` (unix seconds). Errors
    of the API propagate (``openai.APIError``): the caller decides whether a listing is worth failing for.
    Safe to call from any thread: it only reads.
    """
    found = []
    for entry in client.containers.files.list(container_id, order="asc", limit=100):
        data = plain(entry)
        data.setdefault("container_id", container_id)
        ref = _listing_ref(data, "container_listing")
        if ref.key in known:
            found.append(replace(ref, found_by=()))
        elif data.get("source") == "assistant" and (since is None or (ref.created_at or 0) >= int(since)):
            found.append(ref)
    return found


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
    the listing to some of the reply's containers. Errors of the API propagate (``openai.APIError``).
    """
    threshold = since if since is not None else collection.created_at
    known = set(collection.refs)
    for container_id in list(container_ids if container_ids is not None else collection.container_ids):
        for ref in list_container(client, container_id, since=threshold, known=known):
            collection.add(ref)


def collect_id(identifier: str, client: OpenAI) -> Collection:
    """Collect from an id: ``resp_…`` (a stored reply), ``conv_…`` (every item of a conversation, and the
    files its tool calls' containers hold), ``cntr_…`` (every file in the container), ``thread_…`` (every
    assistant message) or ``file-…`` (one Files object).

    Raises :class:`~openai_artifacts_nb.errors.ReplyError` for anything else; API errors propagate.
    """
    identifier = identifier.strip()
    kind = id_kind(identifier)
    if kind is not None and not valid_id(identifier):
        raise ReplyError(f"not a valid id: {identifier!r:.80} (only letters, digits, _ and - are)")
    if kind == "response":
        response = client.responses.retrieve(identifier, include=["code_interpreter_call.outputs"])
        return collect(response)
    if kind == "conversation":
        items = [
            plain(item)
            for item in client.conversations.items.list(
                identifier, order="asc", limit=100, include=["code_interpreter_call.outputs"]
            )
        ]
        collection = Collection.from_reply(Reply.from_response({"id": identifier, "output": items}))
        collection.source_kind = "conversation"
        add_container_listing(collection, client)
        return collection
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
        collection = Collection.from_reply(Reply.from_messages(messages))
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
        f"not an id this tool knows: {identifier!r} (expected resp_…, conv_…, cntr_…, thread_… or file-…)"
    )
