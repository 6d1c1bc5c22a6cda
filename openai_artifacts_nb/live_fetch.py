"""Save a reply's files while it streams: each download starts the moment an event names it.

A reply that made a chart usually goes on writing for seconds after its code ran. :class:`LiveFetch`,
owned by one turn, is fed every streamed event (:meth:`LiveFetch.feed`) and uses that time:

* a citation (``response.output_text.annotation.added``) or an image output starts its download at once,
  into a hidden ``.part`` file in the output folder;
* a finished ``code_interpreter_call`` (or ``shell_call``) starts a listing of its container's files made
  since the turn began, and each file the listing finds starts downloading as soon as the listing returns;
* :meth:`LiveFetch.ready` returns, on the calling thread, the files finished since the last call, so a
  cell can show them while the text still streams;
* :meth:`LiveFetch.finish` takes the complete :class:`~openai_artifacts_nb.reply.Reply` through fetching's
  own steps (plan, listings, downloads, twins, placement, manifest, links), reusing by key what was already
  started, so the result is what :func:`~openai_artifacts_nb.fetching.fetch` returns for that reply;
* :meth:`LiveFetch.cancel` (an interrupt, a failed reply) stops every download at its next chunk and
  removes its ``.part`` file.

:func:`fetch_events` is ``fetch`` for a live event iterator, built on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openai_artifacts_nb.collect import Collection, list_container
from openai_artifacts_nb.download import DEFAULT_MAX_WORKERS, Download, Downloader, ProgressCallback
from openai_artifacts_nb.errors import ArtifactsError
from openai_artifacts_nb.fetching import (
    FetchResult,
    SavedArtifact,
    _client,
    _download_and_sniff,
    _Early,
    _folder,
    _relative_to,
    _settle,
    _Sniffed,
    _Task,
)
from openai_artifacts_nb.manifest import Manifest
from openai_artifacts_nb.naming import ArtifactFolder, safe_filename, sweep_stale_parts
from openai_artifacts_nb.reply import ArtifactKey, ArtifactRef, Reply, ReplyBuilder

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = ["LISTED_CALLS", "LiveFetch", "close_stream", "fetch_events"]

#: Output items whose completion means the container may hold new files: its listing starts then.
LISTED_CALLS = frozenset({"code_interpreter_call", "shell_call"})


class _Cancelled(BaseException):
    """Raised in a download's thread once its live fetch is cancelled.

    A ``BaseException`` so that no error mapping turns it into a failure: the download removes its
    ``.part`` file and stops.
    """


def _get(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


class LiveFetch:
    """The files of one streamed turn, fetched as the events name them; see the module docstring.

    The options are :func:`~openai_artifacts_nb.fetching.fetch`'s. Only the thread that feeds the events
    calls :meth:`feed`, :meth:`ready`, :meth:`finish` and :meth:`cancel`; the downloads run on one pool.
    """

    def __init__(
        self,
        *,
        out_dir: str | os.PathLike[str],
        client: OpenAI | None = None,
        link_base: str | os.PathLike[str] | None = None,
        turn_started_at: float | None = None,
        progress: ProgressCallback | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        earlier: Iterable[SavedArtifact] = (),
        figure_label: str | None = None,
    ) -> None:
        """Prepare a turn's fetch; nothing is created on disk until the first file is named.

        ``earlier`` and ``figure_label`` are :func:`~openai_artifacts_nb.fetching.fetch`'s."""
        self._earlier = list(earlier)
        self._figure_label = figure_label
        self._out_dir = out_dir
        self._client = client
        self._link_base = link_base
        self._since = turn_started_at
        self._progress = progress
        self._max_workers = max_workers
        self._builder = ReplyBuilder()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._closed = False
        self._unusable = False
        self._made_folder = False
        self._folder: ArtifactFolder | None = None
        self._saved_before: set[ArtifactKey] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._downloader: Downloader | None = None
        self._started: dict[ArtifactKey, _Task] = {}
        self._listings: dict[str, Future[list[ArtifactRef]]] = {}
        self._finished: queue.SimpleQueue[ArtifactKey] = queue.SimpleQueue()
        self._last_container: str | None = None

    @property
    def reply(self) -> ReplyBuilder:
        """The reply as the fed events make it up."""
        return self._builder

    @property
    def started(self) -> list[ArtifactKey]:
        """The keys of the downloads started so far, in the order they started."""
        with self._lock:
            return list(self._started)

    @property
    def listed(self) -> list[str]:
        """The containers whose listing was started while streaming."""
        with self._lock:
            return list(self._listings)

    # -- while streaming ---------------------------------------------------------------------------------

    def feed(self, event: Any) -> list[ArtifactRef]:
        """Take one streamed event; start what it names; return the refs it revealed."""
        if isinstance(event, str):
            event = json.loads(event)
        found = self._builder.feed(event)
        kind = _get(event, "type")
        if kind == "response.created" and self._since is None:
            created = _get(_get(event, "response"), "created_at")
            if isinstance(created, (int, float)) and not isinstance(created, bool):
                self._since = float(created)
        for ref in found:
            self.start(ref)
        if kind == "response.output_item.done":
            item = _get(event, "item")
            if _get(item, "type") in LISTED_CALLS:
                container_id = _get(item, "container_id") or self._last_container
                if isinstance(container_id, str) and container_id:
                    self._last_container = container_id
                    self.list_container(container_id)
        return found

    def start(self, ref: ArtifactRef) -> None:
        """Start downloading ``ref`` now, unless it is started already or an earlier run saved it."""
        with self._lock:
            if self._closed or ref.key in self._started or not self._ready_for(ref):
                return
            if ref.key in self._saved_before:
                return  # the finish step reuses it after checking its bytes
            assert self._pool is not None and self._downloader is not None and self._folder is not None
            task = self._pool.submit(_download_and_sniff, self._downloader, ref, self._folder)
            self._started[ref.key] = task
        key = ref.key
        task.add_done_callback(lambda _done: self._finished.put(key))

    def list_container(self, container_id: str) -> None:
        """List ``container_id``'s files made since the turn began; each one found starts downloading.

        A later call for the same container (a second code run) replaces the earlier listing: the last
        one sees every file.
        """
        probe = ArtifactRef(store="container", container_id=container_id, file_id="", found_by=())
        with self._lock:
            if self._closed or not self._ready_for(probe):
                return
            assert self._pool is not None
            self._listings[container_id] = self._pool.submit(self._list, container_id, self._since)

    def ready(self) -> list[SavedArtifact]:
        """The files whose download finished since the last call, in the order they finished.

        Each is provisional: its ``path`` is the ``.part`` file (its type sniffed, its name made safe), to
        be shown at once; :meth:`finish` gives the placed files.
        """
        shown: list[SavedArtifact] = []
        while True:
            try:
                key = self._finished.get_nowait()
            except queue.Empty:
                return shown
            task = self._started.get(key)
            if task is None or task.cancelled() or task.exception() is not None:
                continue
            outcome, sniffed = task.result()
            if isinstance(outcome, Download) and outcome.path.exists():
                shown.append(self._provisional(outcome, sniffed))

    # -- at the end ----------------------------------------------------------------------------------------

    def finish(self, reply: Reply | None = None) -> FetchResult:
        """Save every file of ``reply`` (default: the fed events' reply) and return the fetch result.

        What was started is reused by key; the rest is planned, listed and downloaded as ``fetch`` does.
        """
        with self._lock:
            self._closed = True
            started = dict(self._started)
            listings = dict(self._listings)
        reply = reply if reply is not None else self._builder.build()
        collection = Collection.from_reply(reply)
        folder = self._folder if self._folder is not None else _folder(self._out_dir)
        base = Path(self._link_base).resolve() if self._link_base is not None else folder.directory
        needs_api = bool(collection.container_ids) or any(r.store != "inline" for r in collection.artifacts)
        api = self._client if self._client is not None or not needs_api else _client(None)
        downloader = self._downloader or self._new_downloader(api)
        downloader.client = downloader.client or api
        pool = self._pool or self._new_pool()
        known = set(collection.refs)
        early = _Early(
            pool,
            started=started,
            listings={container_id: _as_final(task, known) for container_id, task in listings.items()},
        )
        since = self._since if self._since is not None else collection.created_at
        try:
            result = _settle(
                collection,
                folder,
                base,
                downloader,
                api=api,
                since=since,
                max_workers=self._max_workers,
                early=early,
                earlier=self._earlier,
                figure_label=self._figure_label,
            )
        except BaseException:
            self.cancel()
            raise
        # A download no final file took (the reply changed its mind): its temporary file goes.
        _discard([task for key, task in started.items() if key not in collection.refs], timeout=None)
        pool.shutdown(wait=False)
        return result

    def cancel(self, *, timeout: float | None = 30.0) -> None:
        """Stop every download (each at its next chunk), remove the ``.part`` files, start nothing more.

        Waits up to ``timeout`` seconds for the downloads in flight to stop; one still waiting for its
        server then removes its file when it ends.
        """
        self._cancelled.set()
        with self._lock:
            self._closed = True
            tasks: list[Future[Any]] = [*self._started.values(), *self._listings.values()]
        for task in tasks:
            task.cancel()
        _discard(tasks, timeout=timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._made_folder and self._folder is not None:
            with contextlib.suppress(OSError):  # made for this turn and still empty: leave no trace
                self._folder.directory.rmdir()

    # -- internals -------------------------------------------------------------------------------------

    def _ready_for(self, ref: ArtifactRef) -> bool:
        """Make the folder, pool and downloader on first use (under the lock); False if they cannot be.

        A folder or client that cannot be made is not an error here: :meth:`finish` reports it.
        """
        if self._unusable:
            return False
        if self._folder is None:
            existed = Path(self._out_dir).exists()
            try:
                self._folder = ArtifactFolder(self._out_dir)
            except OSError:
                self._unusable = True
                return False
            self._made_folder = not existed
            sweep_stale_parts(self._folder.directory)  # a killed run's leftovers
            self._saved_before = set(Manifest(self._folder.directory).entries)
        if self._downloader is None:
            self._downloader = self._new_downloader(self._client)
        if ref.store != "inline" and self._downloader.client is None:
            try:
                self._client = self._downloader.client = _client(None)
            except ArtifactsError:
                return False
        if self._pool is None:
            self._pool = self._new_pool()
        return True

    def _new_downloader(self, client: OpenAI | None) -> Downloader:
        return Downloader(client, max_workers=self._max_workers, progress=self._report)

    def _new_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="artifact-download")

    def _report(self, name: str, done: int, total: int | None) -> None:
        if self._cancelled.is_set():
            raise _Cancelled
        if self._progress is not None:
            self._progress(name, done, total)

    def _list(self, container_id: str, since: float | None) -> list[ArtifactRef]:
        """Runs on the pool: list the container, start each file found, return them all."""
        assert self._client is not None or self._downloader is not None
        client = self._client or (self._downloader.client if self._downloader else None)
        assert client is not None
        refs = list_container(client, container_id, since=since)
        for ref in refs:
            self.start(ref)
        return refs

    def _provisional(self, download: Download, sniffed: _Sniffed | None) -> SavedArtifact:
        ref = download.ref
        name = safe_filename(download.filename)
        detection = sniffed.detection if sniffed is not None and sniffed.name == name else None
        folder = self._folder
        assert folder is not None
        base = Path(self._link_base).resolve() if self._link_base is not None else folder.directory
        return SavedArtifact(
            path=download.path,
            relative_path=_relative_to(download.path, base),
            filename=detection.filename if detection else name,
            mime_type=detection.mime_type if detection else "application/octet-stream",
            size=download.size,
            sha256=download.sha256,
            container_id=ref.container_id,
            file_id=ref.file_id,
            sandbox_path=ref.sandbox_path,
            found_by=ref.found_by,
        )


def _as_final(listed: Future[list[ArtifactRef]], known: set[ArtifactKey]) -> Future[list[ArtifactRef]]:
    """A streaming listing as ``fetch``'s own would read: files the final reply already holds only lend it
    their size and path (no ``found_by``), as :func:`~openai_artifacts_nb.collect.list_container` does."""
    final: Future[list[ArtifactRef]] = Future()

    def relay(done: Future[list[ArtifactRef]]) -> None:
        if done.cancelled():
            final.cancel()
            final.set_running_or_notify_cancel()
            return
        error = done.exception()
        if error is not None:
            final.set_exception(error)
        else:
            final.set_result(
                [replace(ref, found_by=()) if ref.key in known else ref for ref in done.result()]
            )

    listed.add_done_callback(relay)
    return final


def _discard(tasks: Iterable[Future[Any]], *, timeout: float | None) -> None:
    """Remove the temporary files of finished downloads among ``tasks`` (waiting up to ``timeout``); a
    download still running removes its own when it ends."""
    tasks = list(tasks)
    wait_for(tasks, timeout=timeout)
    for task in tasks:
        if task.done():
            _remove_part(task)
        else:
            task.add_done_callback(_remove_part)


def _remove_part(task: Future[Any]) -> None:
    if task.cancelled() or task.exception() is not None:
        return
    outcome = task.result()
    if isinstance(outcome, tuple) and outcome and isinstance(outcome[0], Download):
        outcome[0].path.unlink(missing_ok=True)


def fetch_events(
    events: Iterable[Any],
    *,
    out_dir: str | os.PathLike[str],
    client: OpenAI | None = None,
    link_base: str | os.PathLike[str] | None = None,
    turn_started_at: float | None = None,
    progress: ProgressCallback | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    earlier: Iterable[SavedArtifact] = (),
    figure_label: str | None = None,
) -> FetchResult:
    """``fetch`` for a live event iterator: read it to its end, each file downloading as soon as an event
    names it, then save everything as ``fetch`` saves the same events collected in a list.

    An interrupt while reading cancels the downloads and removes their temporary files.
    """
    live = LiveFetch(
        out_dir=out_dir,
        client=client,
        link_base=link_base,
        turn_started_at=turn_started_at,
        progress=progress,
        max_workers=max_workers,
        earlier=earlier,
        figure_label=figure_label,
    )
    try:
        for event in events:
            live.feed(event)
    except BaseException:
        live.cancel()
        close_stream(events)
        raise
    return live.finish()


def close_stream(events: Any) -> None:
    """Close an SDK ``Stream`` (or a generator) left unfinished, so its connection is given back."""
    close = getattr(events, "close", None)
    if callable(close):
        close()
