"""Everything the emulator remembers: containers and their files, Files, stored responses, Assistants objects.

One :class:`EmulatorState` per server. It owns a private folder on disk (one sub-folder per container, mapped
to ``/mnt/data`` for that container's code, and one for uploaded Files) and a lock that guards its maps. It
knows nothing about HTTP or kernels: the server tells it the time and hands it a callback to run when a
container stops (expiry or deletion) so the sandbox can shut the kernel down.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai_artifacts_nb.local.ids import new_id


@dataclass
class ContainerFile:
    """A file inside a container: its sandbox path and where its bytes sit on disk."""

    id: str
    container_id: str
    path: str
    disk_path: Path
    bytes: int
    created_at: int
    source: str
    ordinal: int


@dataclass
class Container:
    """A sandbox container: metadata, its folder (``/mnt/data``) and the files registered in it."""

    id: str
    name: str
    created_at: int
    last_active_at: float
    idle_seconds: float
    expires_minutes: int
    memory_limit: str
    data_dir: Path
    ordinal: int
    internal: bool = False
    status: str = "running"
    files: dict[str, ContainerFile] = field(default_factory=dict)
    run_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def active(self) -> bool:
        """Whether the container can still run code and serve files."""
        return self.status == "running"


@dataclass
class StoredFile:
    """An object of the Files API and the place its bytes are kept."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    expires_at: int | None
    disk_path: Path
    ordinal: int


@dataclass
class StoredResponse:
    """A finished response kept for ``GET``, ``DELETE`` and ``previous_response_id``."""

    id: str
    body: dict[str, Any]
    container_ids: list[str]
    input_items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StoredConversation:
    """A Conversations API conversation: its metadata and its items (inputs and outputs), oldest first."""

    id: str
    created_at: int
    metadata: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Record:
    """A stored Assistants object (assistant, thread, message or run) as its JSON body plus its order."""

    id: str
    body: dict[str, Any]
    ordinal: int


class EmulatorState:
    """The emulator's store: thread-safe maps of every object, and the folder that holds their bytes."""

    def __init__(
        self,
        root: Path,
        *,
        idle_seconds: float,
        on_container_stopped: Callable[[str], None] = lambda _container_id: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Keep objects under ``root``; containers expire after ``idle_seconds`` without use."""
        self.root = root
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.lock = threading.RLock()
        self._on_container_stopped = on_container_stopped
        self._ordinals = itertools.count()
        self.containers: dict[str, Container] = {}
        self.files: dict[str, StoredFile] = {}
        self.responses: dict[str, StoredResponse] = {}
        self.assistants: dict[str, Record] = {}
        self.threads: dict[str, Record] = {}
        self.messages: dict[str, list[Record]] = {}
        self.runs: dict[str, Record] = {}
        self.thread_containers: dict[str, str] = {}
        self.conversations: dict[str, StoredConversation] = {}
        (root / "containers").mkdir(parents=True, exist_ok=True)
        (root / "files").mkdir(parents=True, exist_ok=True)

    def now(self) -> int:
        """Return the current unix time in whole seconds, as the API reports it."""
        return int(self.clock())

    def next_ordinal(self) -> int:
        """Return a number that orders objects created within the same second."""
        with self.lock:
            return next(self._ordinals)

    # Containers -------------------------------------------------------------------------------------------

    def create_container(
        self,
        *,
        name: str,
        expires_minutes: int | None = None,
        memory_limit: str = "1g",
        internal: bool = False,
    ) -> Container:
        """Create a running container with an empty ``/mnt/data`` folder."""
        container_id = new_id("cntr")
        data_dir = self.root / "containers" / container_id
        data_dir.mkdir(parents=True)
        idle_seconds = self.idle_seconds if expires_minutes is None else expires_minutes * 60.0
        now = self.clock()
        container = Container(
            id=container_id,
            name=name,
            created_at=int(now),
            last_active_at=now,
            idle_seconds=idle_seconds,
            expires_minutes=max(1, round(idle_seconds / 60)),
            memory_limit=memory_limit,
            data_dir=data_dir.resolve(),
            ordinal=self.next_ordinal(),
            internal=internal,
        )
        with self.lock:
            self.containers[container_id] = container
        return container

    def find_container(self, container_id: str) -> Container | None:
        """Return the container (expiring it first if it sat idle too long), or None if unknown/deleted.

        A container running code is in use, so it never expires mid-call.
        """
        with self.lock:
            container = self.containers.get(container_id)
        if container is None:
            return None
        idle = self.clock() - container.last_active_at >= container.idle_seconds
        if container.active and idle and not container.run_lock.locked():
            self.expire_container(container_id)
        return container

    def touch(self, container: Container) -> None:
        """Record a use of ``container``: any use pushes its expiry back."""
        if container.active:
            container.last_active_at = self.clock()

    def list_containers(self) -> list[Container]:
        """Return every visible container (expiring idle ones on the way)."""
        with self.lock:
            ids = [c.id for c in self.containers.values() if not c.internal]
        found = (self.find_container(container_id) for container_id in ids)
        return [c for c in found if c is not None]

    def expire_idle_containers(self) -> list[str]:
        """Expire every container idle for too long and return their ids (the periodic sweep)."""
        with self.lock:
            candidates = [c.id for c in self.containers.values() if c.active]
        expired = []
        for container_id in candidates:
            container = self.find_container(container_id)
            if container is not None and container.status == "expired":
                expired.append(container_id)
        return expired

    def expire_container(self, container_id: str) -> bool:
        """Expire a container now: its files are removed and its kernel stops; metadata stays."""
        with self.lock:
            container = self.containers.get(container_id)
            if container is None or not container.active:
                return False
            container.status = "expired"
            container.files.clear()
        self._on_container_stopped(container_id)
        shutil.rmtree(container.data_dir, ignore_errors=True)
        return True

    def expire_all_containers(self) -> list[str]:
        """Expire every running container and return their ids."""
        with self.lock:
            ids = [c.id for c in self.containers.values() if c.active]
        return [container_id for container_id in ids if self.expire_container(container_id)]

    def delete_container(self, container_id: str) -> bool:
        """Delete a container, its files and its kernel; return False if it did not exist."""
        with self.lock:
            container = self.containers.pop(container_id, None)
        if container is None:
            return False
        self._on_container_stopped(container_id)
        shutil.rmtree(container.data_dir, ignore_errors=True)
        return True

    def register_container_file(
        self, container: Container, relative_path: str, *, source: str, file_id: str | None = None
    ) -> ContainerFile:
        """Register the file at ``relative_path`` in the container's folder, replacing an older record."""
        disk_path = container.data_dir / relative_path
        sandbox_path = "/mnt/data/" + relative_path
        record = ContainerFile(
            id=file_id or new_id("cfile"),
            container_id=container.id,
            path=sandbox_path,
            disk_path=disk_path,
            bytes=disk_path.stat().st_size,
            created_at=self.now(),
            source=source,
            ordinal=self.next_ordinal(),
        )
        with self.lock:
            for old_id in [f.id for f in container.files.values() if f.path == sandbox_path]:
                del container.files[old_id]
            container.files[record.id] = record
        return record

    def remove_container_file(self, container: Container, file_id: str) -> bool:
        """Delete a container file's record and bytes; return False if it was not there."""
        with self.lock:
            record = container.files.pop(file_id, None)
        if record is None:
            return False
        record.disk_path.unlink(missing_ok=True)
        return True

    # Files ------------------------------------------------------------------------------------------------

    def add_file(self, *, filename: str, purpose: str, disk_path: Path, expires_at: int | None) -> StoredFile:
        """Register bytes already written to ``disk_path`` as a Files object."""
        record = StoredFile(
            id=disk_path.name,
            filename=filename,
            purpose=purpose,
            bytes=disk_path.stat().st_size,
            created_at=self.now(),
            expires_at=expires_at,
            disk_path=disk_path,
            ordinal=self.next_ordinal(),
        )
        with self.lock:
            self.files[record.id] = record
        return record

    def new_file_path(self) -> Path:
        """Return where the bytes of a new Files object go (its name is the new file id)."""
        return self.root / "files" / new_id("file")

    def find_file(self, file_id: str) -> StoredFile | None:
        """Return a Files object, or None if unknown, deleted or past its ``expires_at``."""
        with self.lock:
            record = self.files.get(file_id)
        if record is not None and record.expires_at is not None and self.now() >= record.expires_at:
            self.delete_file(file_id)
            return None
        return record

    def list_files(self) -> list[StoredFile]:
        """Return every live Files object."""
        with self.lock:
            ids = list(self.files)
        found = (self.find_file(file_id) for file_id in ids)
        return [f for f in found if f is not None]

    def delete_file(self, file_id: str) -> bool:
        """Delete a Files object and its bytes; return False if it did not exist."""
        with self.lock:
            record = self.files.pop(file_id, None)
        if record is None:
            return False
        record.disk_path.unlink(missing_ok=True)
        return True

    # Responses --------------------------------------------------------------------------------------------

    def store_response(self, response: StoredResponse) -> None:
        """Keep a finished response for later retrieval and chaining."""
        with self.lock:
            self.responses[response.id] = response

    def find_response(self, response_id: str) -> StoredResponse | None:
        """Return a stored response, or None."""
        with self.lock:
            return self.responses.get(response_id)

    def delete_response(self, response_id: str) -> bool:
        """Forget a stored response; return False if it was not stored."""
        with self.lock:
            return self.responses.pop(response_id, None) is not None

    # Assistants -------------------------------------------------------------------------------------------

    def add_record(self, table: dict[str, Record], body: dict[str, Any]) -> Record:
        """Store an Assistants object body in ``table`` and return its record."""
        record = Record(id=str(body["id"]), body=body, ordinal=self.next_ordinal())
        with self.lock:
            table[record.id] = record
        return record

    def add_message(self, thread_id: str, body: dict[str, Any]) -> Record:
        """Append a message body to a thread."""
        record = Record(id=str(body["id"]), body=body, ordinal=self.next_ordinal())
        with self.lock:
            self.messages.setdefault(thread_id, []).append(record)
        return record

    def thread_messages(self, thread_id: str) -> list[Record]:
        """Return a thread's messages, oldest first."""
        with self.lock:
            return list(self.messages.get(thread_id, []))

    def thread_container(self, thread_id: str) -> Container:
        """Return the hidden container that runs a thread's code (Assistants have one sandbox per thread)."""
        with self.lock:
            container_id = self.thread_containers.get(thread_id)
            container = self.containers.get(container_id) if container_id else None
            if container is None or not container.active:
                container = self.create_container(name=f"thread {thread_id}", internal=True)
                self.thread_containers[thread_id] = container.id
        return container

    # Conversations ----------------------------------------------------------------------------------------

    def create_conversation(
        self, *, metadata: dict[str, Any], items: list[dict[str, Any]]
    ) -> StoredConversation:
        """Create a conversation holding ``items``."""
        conversation = StoredConversation(new_id("conv"), self.now(), dict(metadata), list(items))
        with self.lock:
            self.conversations[conversation.id] = conversation
        return conversation

    def find_conversation(self, conversation_id: str) -> StoredConversation | None:
        """Return a conversation, or None if unknown or deleted."""
        with self.lock:
            return self.conversations.get(conversation_id)

    def conversation_items(self, conversation: StoredConversation) -> list[dict[str, Any]]:
        """Return a snapshot of a conversation's items, oldest first."""
        with self.lock:
            return list(conversation.items)

    def add_conversation_items(self, conversation: StoredConversation, items: list[dict[str, Any]]) -> None:
        """Append ``items`` to a conversation."""
        with self.lock:
            conversation.items.extend(items)

    def remove_conversation_item(self, conversation: StoredConversation, item_id: str) -> bool:
        """Delete one item from a conversation; return False if it was not there."""
        with self.lock:
            kept = [item for item in conversation.items if item.get("id") != item_id]
            removed = len(kept) != len(conversation.items)
            conversation.items[:] = kept
        return removed

    def delete_conversation(self, conversation_id: str) -> bool:
        """Delete a conversation; return False if it did not exist."""
        with self.lock:
            return self.conversations.pop(conversation_id, None) is not None
