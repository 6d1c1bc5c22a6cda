"""``fetch``: save every file a reply produced and return its text with working links.

This module only orchestrates the engine's parts, each usable on its own:

1. :mod:`~openai_artifacts_nb.collect` finds the artifact references and the text (and, with a client, the
   container listing's uncited files);
2. :mod:`~openai_artifacts_nb.download` streams them to temporary files, in parallel;
3. :mod:`~openai_artifacts_nb.filetypes` and :mod:`~openai_artifacts_nb.naming` give each a safe, real name
   and place it atomically in the output folder;
4. :mod:`~openai_artifacts_nb.manifest` records them in ``.openai-artifacts/manifest.json``;
5. :mod:`~openai_artifacts_nb.links` rewrites the ``sandbox:`` links.

For an object-storage ``out_dir`` (``s3://bucket/prefix``) the folder is a local staging folder and
:mod:`~openai_artifacts_nb.object_store` publishes each placed file, then the manifest, before the links are
rewritten to the objects' URLs.

:func:`fetch` reads as its steps: *collect*, *plan* (files an earlier run saved intact are reused, so
re-running adds nothing), *download* (one pool, owned by :func:`_download`, runs the container listings
and the downloads together; only this thread adds to the collection), *merge twins* (an image shown and
saved is one file), *place* and record, *rewrite* the links.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from openai_artifacts_nb.collect import ArtifactRef, Collection, collect, collect_id, id_kind, list_container
from openai_artifacts_nb.download import (
    DEFAULT_MAX_WORKERS,
    Download,
    Downloader,
    ProgressCallback,
    StalledError,
)
from openai_artifacts_nb.errors import (
    ApiError,
    ContainerExpiredError,
    DownloadError,
    FileMissingError,
)
from openai_artifacts_nb.filetypes import Detection, detect
from openai_artifacts_nb.links import LinkTable, LinkTarget, Span, rewrite_links
from openai_artifacts_nb.manifest import Manifest, ManifestEntry, utc_now
from openai_artifacts_nb.naming import ArtifactFolder, check_output_folder, safe_filename, sweep_stale_parts
from openai_artifacts_nb.object_store import ObjectStore, Publication, is_object_url

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = ["ArtifactFailure", "FetchResult", "SavedArtifact", "fetch"]


#: (container id, file id) of a file, as a conversation remembers what it has shown.
FileIds = tuple[str | None, str | None]


@dataclass(frozen=True)
class SavedArtifact:
    """A file saved in the output folder.

    ``path`` is absolute; ``relative_path`` is POSIX and relative to the link base (use
    :func:`~openai_artifacts_nb.links.markdown_url` to put it in a link); ``found_by`` says how the reply
    referred to it (``citation``, ``image_citation``, ``image_output``, ``container_listing``, ...).

    In object storage, ``relative_path`` is the object's URL (presigned, valid ``link_lifetime`` seconds,
    or public when that is ``None``), ``stored_at`` its ``s3://…`` URL and ``path`` its staged copy.
    """

    path: Path
    relative_path: str
    filename: str
    mime_type: str
    size: int
    sha256: str
    container_id: str | None
    file_id: str | None
    sandbox_path: str | None
    found_by: tuple[str, ...]
    stored_at: str | None = None
    link_lifetime: int | None = None


@dataclass(frozen=True)
class ArtifactFailure:
    """A file that could not be saved: which one, the error, and a one-line message for people."""

    filename: str
    container_id: str | None
    file_id: str | None
    error: DownloadError
    message: str


@dataclass
class FetchResult:
    """What :func:`fetch` did: the saved artifacts, the failures, and the text with rewritten links.

    ``artifacts`` lists every file of the source that is on disk now; ``skipped`` is the subset that an
    earlier run had already saved intact (not downloaded again). ``source_kind`` is ``"response"``,
    ``"thread"``, ``"messages"``, ``"container"`` or ``"file"``. In object storage ``location`` is the
    ``s3://…`` prefix published to, and ``out_dir`` and ``manifest_path`` are in the staging folder.
    """

    artifacts: list[SavedArtifact]
    failures: list[ArtifactFailure]
    text: str
    source_id: str | None
    out_dir: Path
    manifest_path: Path
    source_kind: str = "response"
    skipped: list[SavedArtifact] = field(default_factory=list)
    location: str | None = None
    #: One line per thing worth telling that is not a failed file (a corrupt manifest kept aside).
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every file the reply produced was saved."""
        return not self.failures

    def new_this_turn(
        self,
        shown: AbstractSet[tuple[str | None, str | None]],
        *,
        cited: AbstractSet[tuple[str | None, str | None]],
    ) -> list[SavedArtifact]:
        """The files to show for this turn: each once, leaving out those an earlier turn showed (``shown``,
        by container and file id) unless this reply cites them again (``cited``).

        The container listing finds every file made since the turn began, to the second; a quick earlier
        turn's files can fall in that second, and showing them again would repeat the previous cell.
        """
        again = set(cited)
        seen = set(shown)
        fresh = []
        for artifact in [*self.artifacts, *self.skipped]:
            key = (artifact.container_id, artifact.file_id)
            if key in seen and key not in again:
                continue
            seen.add(key)
            again.discard(key)
            fresh.append(artifact)
        return fresh


def _api_error(error: Exception, what: str, client: OpenAI | None = None) -> ApiError:
    from openai_artifacts_nb.api_errors import from_sdk_error

    url = getattr(client, "base_url", None)
    secret = getattr(client, "api_key", None)
    return from_sdk_error(error, what=what, secret=secret, base_url=str(url) if url else None)


def _client(client: OpenAI | None) -> OpenAI:
    if client is not None:
        return client
    from openai_artifacts_nb.client import make_client

    return make_client()


def _collect(source: Any, client: OpenAI | None) -> tuple[Collection, OpenAI | None]:
    import openai

    if isinstance(source, str) and id_kind(source) is not None:
        client = _client(client)
        try:
            return collect_id(source, client), client
        except openai.APIError as error:
            raise _api_error(error, source.strip(), client) from None
    collection = collect(source)
    needs_api = bool(collection.container_ids) or any(
        ref.store != "inline" and ref.problem is None for ref in collection.artifacts
    )
    return collection, (_client(client) if needs_api else client)


def _relative_to(path: Path, base: Path) -> str:
    try:
        return PurePath(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows: only an absolute URL can reach it
        return path.as_uri()


def _short_problem(error: DownloadError) -> str:
    if isinstance(error, ContainerExpiredError):
        return f"its container {error.container_id} expired"
    if isinstance(error, FileMissingError):
        return "the file no longer exists"
    if isinstance(error, StalledError):
        return "the download stalled"
    return "the download failed"


@dataclass(frozen=True)
class _Sniffed:
    """The type a download's worker detected, and the name it detected it for."""

    name: str
    detection: Detection


def _download_and_sniff(
    downloader: Downloader, ref: ArtifactRef, folder: ArtifactFolder | _Parts
) -> tuple[Download | DownloadError, _Sniffed | None]:
    """Download ``ref`` and sniff its type on the worker thread (puremagic's scan is pure Python: done
    here it overlaps the other downloads instead of queueing after the last one)."""
    outcome = downloader.download_one(ref, folder.temporary_path)
    if not isinstance(outcome, Download):
        return outcome, None
    name = safe_filename(outcome.filename)
    try:
        return outcome, _Sniffed(name, detect(outcome.path, name))
    except OSError:
        return outcome, None  # placing it reports the problem


class _Saver:
    """Places finished downloads in the folder and records them; one per :func:`fetch` call."""

    def __init__(
        self,
        folder: ArtifactFolder,
        manifest: Manifest,
        link_base: Path,
        source_id: str | None,
        figure_label: str | None = None,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.link_base = link_base
        self.source_id = source_id
        self.figure_label = figure_label
        self._figures = 0
        self.secret: object = None
        self._folder_link = _relative_to(folder.directory, link_base)

    def _link(self, path: Path) -> str:
        # Most files lie right in the folder: its relative path is worked out once, not per file.
        if path.parent == self.folder.directory and "://" not in self._folder_link:
            return path.name if self._folder_link == "." else f"{self._folder_link}/{path.name}"
        return _relative_to(path, self.link_base)

    def saved(self, ref: ArtifactRef, path: Path, mime: str, size: int, sha256: str) -> SavedArtifact:
        """Describe ``ref`` saved at ``path``."""
        return SavedArtifact(
            path=path,
            relative_path=self._link(path),
            filename=path.name,
            mime_type=mime,
            size=size,
            sha256=sha256,
            container_id=ref.container_id,
            file_id=ref.file_id,
            sandbox_path=self.without_key(ref.sandbox_path) if ref.sandbox_path else None,
            found_by=ref.found_by,
        )

    def without_key(self, text: str) -> str:
        """``text`` (a name the model chose) without the client's key: it must not name a file or an entry.

        Only the key itself is replaced; key-shaped names (``sk-learn_model.pkl``) are the model's to keep.
        """
        secret = self.secret
        if isinstance(secret, str) and len(secret) >= 8 and secret in text:
            return text.replace(secret, "[redacted]")
        return text

    def entry(self, artifact: SavedArtifact, saved_at: str | None = None) -> ManifestEntry:
        """The manifest entry for ``artifact`` (saved at ``saved_at``, default now)."""
        return ManifestEntry(
            path=self.folder.relative_name(artifact.path),
            sha256=artifact.sha256,
            bytes=artifact.size,
            mime_type=artifact.mime_type,
            found_by=list(artifact.found_by),
            source_id=self.source_id,
            container_id=artifact.container_id,
            file_id=artifact.file_id,
            sandbox_path=artifact.sandbox_path,
            filename=artifact.filename,
            saved_at=saved_at or utc_now(),
        )

    def place(self, download: Download, sniffed: _Sniffed | None = None) -> SavedArtifact:
        """Give a finished download its real type and safe name, and move it into the folder.

        ``sniffed`` is the type the download's worker already detected, used when the name still matches.
        """
        name = safe_filename(download.filename)
        detection = sniffed.detection if sniffed is not None and sniffed.name == name else None
        detection = detection or detect(download.path, name)
        filename = self.without_key(detection.filename)
        if self.figure_label is not None and _is_figure(download.ref, detection.mime_type):
            self._figures += 1
            same = self._same_figure(download.sha256)
            if same is not None:
                download.path.unlink(missing_ok=True)
                return self.saved(download.ref, same, detection.mime_type, download.size, download.sha256)
            suffix = PurePath(filename).suffix or ".png"
            filename = safe_filename(f"{self.figure_label}-figure-{self._figures}{suffix}")
        path, _ = self.folder.place(download.path, filename, download.sha256)
        return self.saved(download.ref, path, detection.mime_type, download.size, download.sha256)

    def _same_figure(self, sha256: str) -> Path | None:
        """An intact figure with these bytes that an earlier turn saved here: a re-run reuses it."""
        for entry in self.manifest.entries.values():
            if entry.sha256 == sha256 and "-figure-" in entry.path:
                known = self.manifest.existing_file(entry.key)
                if known is not None:
                    return known[1]
        return None


def fetch(
    source: Any,
    *,
    out_dir: str | os.PathLike[str] | ObjectStore | Publication,
    client: OpenAI | None = None,
    link_base: str | os.PathLike[str] | None = None,
    turn_started_at: float | None = None,
    progress: ProgressCallback | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    earlier: Iterable[SavedArtifact] = (),
    figure_label: str | None = None,
    stall_timeout: float | None = None,
    storage_options: dict[str, Any] | None = None,
) -> FetchResult:
    """Save every file ``source`` produced into ``out_dir`` and return a :class:`FetchResult`.

    ``source`` is a :class:`~openai_artifacts_nb.reply.Reply`, an SDK ``Response``, its JSON (text or dict),
    a list of streamed events, Assistants messages, or a ``resp_…``/``cntr_…``/``thread_…``/``file-…`` id.
    A live event iterator (the SDK's ``Stream``, a generator) is read as it arrives: each file starts
    downloading as soon as an event names it (:mod:`~openai_artifacts_nb.live_fetch`).
    ``client`` defaults to one built from the SDK's environment variables, and is only needed when something
    must be asked of the API. Links in the text are made relative to ``link_base`` (default ``out_dir``).
    For a reply, uncited files with ``source: "assistant"`` created since ``turn_started_at`` (default: the
    reply's ``created_at``) are saved too. ``progress(name, done, total)`` is called from worker threads as
    bytes arrive. A download silent for ``stall_timeout`` seconds (default
    :data:`~openai_artifacts_nb.download.STALL_TIMEOUT`, 60) fails as stalled; the others go on.

    Every request goes out at once on a pool of up to ``max_workers`` threads (downloads are I/O-bound):
    the cited files start downloading while the containers are being listed, and the uncited files the
    listing finds follow, so a reply's files cost about one listing plus one download round trip. The
    result and the manifest keep the reply's order whatever order the downloads finish in.

    ``earlier`` are files earlier turns of the same conversation saved, possibly in other folders: one
    this source refers to again is not downloaded again (it is settled as ``skipped``, at its saved path,
    and recorded only in its own folder's manifest), and a ``sandbox:`` link to one resolves to it.
    ``figure_label`` names the images the code showed (``plt.show()``), which the container names by id:
    ``<figure_label>-figure-1.png``…; an earlier figure with the same bytes is reused, not copied again.

    A file that cannot be saved is listed in ``failures`` (its link becomes a marker); the others are
    saved. Raises :class:`~openai_artifacts_nb.errors.ReplyError` for a source it cannot read,
    :class:`~openai_artifacts_nb.errors.ConfigurationError` for a folder that cannot hold files (checked
    before anything is downloaded) and :class:`~openai_artifacts_nb.errors.ApiError` when an id cannot be
    looked up. ``.part`` files a killed process left in the folder are removed first. On Ctrl-C the
    downloads stop, the complete files are kept (with their manifest entries), every ``.part`` is removed,
    and ``KeyboardInterrupt`` is raised again.

    ``out_dir`` may be object storage, ``s3://bucket/prefix`` (reached with fsspec ``storage_options``) or an
    :class:`~openai_artifacts_nb.object_store.ObjectStore`: see :mod:`~openai_artifacts_nb.object_store`
    (a live stream is then read to its end first, and its files fetched after).
    """
    if isinstance(out_dir, ObjectStore) or (isinstance(out_dir, str) and is_object_url(out_dir)):
        with Publication(ObjectStore.coerce(out_dir, storage_options)) as opened:
            return fetch(
                list(source) if _is_live(source) else source,
                out_dir=opened,
                client=client,
                turn_started_at=turn_started_at,
                progress=progress,
                max_workers=max_workers,
                earlier=earlier,
                figure_label=figure_label,
                stall_timeout=stall_timeout,
            )
    publication: Publication | None = None
    if isinstance(out_dir, Publication):  # called back by the branch above: stage, then publish
        publication, out_dir = out_dir, out_dir.staging
        link_base = out_dir
    if _is_live(source):
        from openai_artifacts_nb.live_fetch import fetch_events

        return fetch_events(
            source,
            out_dir=out_dir,
            client=client,
            link_base=link_base,
            turn_started_at=turn_started_at,
            progress=progress,
            max_workers=max_workers,
            earlier=earlier,
            figure_label=figure_label,
        )
    folder = _folder(out_dir)
    base = Path(link_base).resolve() if link_base is not None else folder.directory
    collection, api = _collect(source, client)
    downloader = Downloader(api, max_workers=max_workers, progress=progress, stall_timeout=stall_timeout)
    since = turn_started_at if turn_started_at is not None else collection.created_at
    return _settle(
        collection,
        folder,
        base,
        downloader,
        api=api,
        since=since,
        max_workers=max_workers,
        earlier=earlier,
        figure_label=figure_label,
        publication=publication,
    )


def _is_live(source: Any) -> bool:
    """A live event iterator (an SDK ``Stream``, a generator): read as it arrives, not collected first."""
    return isinstance(source, Iterator) and not isinstance(source, (str, bytes, dict, list, tuple))


def _folder(out_dir: str | os.PathLike[str]) -> ArtifactFolder:
    """The output folder, proven able to hold files, with a killed run's ``.part`` files swept."""
    folder = ArtifactFolder(check_output_folder(out_dir))
    sweep_stale_parts(folder.directory)
    return folder


def _settle(
    collection: Collection,
    folder: ArtifactFolder,
    base: Path,
    downloader: Downloader,
    *,
    api: OpenAI | None,
    since: float | None,
    max_workers: int,
    early: _Early | None = None,
    earlier: Iterable[SavedArtifact] = (),
    figure_label: str | None = None,
    publication: Publication | None = None,
) -> FetchResult:
    """Plan, download, merge twins, place, record and rewrite: every step after *collect*.

    ``early`` holds what a live fetch already started while the reply streamed (its pool, its downloads
    by key and its container listings); those are reused, not asked again. With a ``publication``, the
    folder is its staging folder: the plan reads the remote manifest, and each placed file is uploaded
    (the manifest last) before the links are rewritten to the objects.
    """
    manifest = publication.manifest() if publication is not None else Manifest(folder.directory)
    saver = _Saver(folder, manifest, base, collection.source_id, figure_label)
    saver.secret = getattr(api, "api_key", None)
    results = _Results(saver, earlier)
    listing = api if collection.source_kind == "response" and collection.container_ids else None
    parts = _Parts(folder)
    try:
        fetched, listing_failures = _download(
            collection,
            results,
            downloader,
            parts,
            listing=listing,
            since=since,
            max_workers=max_workers,
            early=early,
        )
        _place_all(results, fetched)
    except KeyboardInterrupt as interrupt:
        # Keep what was complete, under its final name and in the manifest; leave no ``.part`` behind.
        try:
            complete = getattr(interrupt, "complete", [])
            _place_all(results, [item for item in complete if item.ref.key not in results.by_key])
            _record(manifest, results.manifest_entries())
        finally:
            parts.remove_all()
        raise KeyboardInterrupt from None
    if publication is not None:
        results.publish(publication)
        publication.publish_manifest(manifest, results.manifest_entries())
        manifest_failures: list[ArtifactFailure] = []
    else:
        manifest_failures = _record(manifest, results.manifest_entries())

    return FetchResult(
        artifacts=results.artifacts,
        failures=listing_failures + results.failures + manifest_failures,
        notes=list(manifest.notes),
        text=_rewrite(collection, results.by_key, results.earlier.values()),
        source_id=collection.source_id,
        out_dir=folder.directory,
        manifest_path=manifest.path,
        source_kind=collection.source_kind,
        skipped=list(results.skipped),
        location=publication.location if publication is not None else None,
    )


def _place_all(results: _Results, fetched: list[_Fetched]) -> None:
    """Place each download (inline images last, so that one equal to a downloaded file merges into it)."""
    for item in sorted(fetched, key=lambda item: item.ref.store == "inline"):
        if not results.merge_twin(item):
            results.place(item)


class _Parts:
    """The folder as the downloads see it: hands out ``.part`` paths and remembers them, so that an
    interrupted fetch removes every one it made (placed ones are already gone)."""

    def __init__(self, folder: ArtifactFolder) -> None:
        self.folder = folder
        self._made: list[Path] = []
        self._lock = threading.Lock()

    def temporary_path(self, hint: str) -> Path:
        """A fresh ``.part`` path in the folder, remembered."""
        path = self.folder.temporary_path(hint)
        with self._lock:
            self._made.append(path)
        return path

    def remove_all(self) -> None:
        """Remove every ``.part`` file this fetch made that is still there."""
        with self._lock:
            made, self._made = self._made, []
        for path in made:
            path.unlink(missing_ok=True)


def _record(manifest: Manifest, entries: list[ManifestEntry]) -> list[ArtifactFailure]:
    """Write the manifest; a disk that refuses it (full, read-only) is one failure line, the files stay."""
    try:
        manifest.update(entries)
    except OSError as error:
        problem = DownloadError(
            f"the manifest {manifest.path} could not be written: {error.strerror or error}"
        )
        return [ArtifactFailure("(manifest)", None, None, problem, str(problem))]
    return []


@dataclass(frozen=True)
class _Fetched:
    """One download's outcome: its reference, the file or the error, and the type its worker sniffed."""

    ref: ArtifactRef
    outcome: Download | DownloadError
    sniffed: _Sniffed | None


_Task = Future[tuple[Download | DownloadError, "_Sniffed | None"]]


@dataclass
class _Early:
    """What a live fetch started before the reply was complete: reused by :func:`_download`.

    ``started`` maps keys to download tasks on ``pool``; ``listings`` maps container ids to listing tasks
    whose refs already carry the listing's meaning for the final collection (see ``live_fetch``).
    """

    pool: ThreadPoolExecutor
    started: dict[tuple[str, str], _Task] = field(default_factory=dict)
    listings: dict[str, Future[list[ArtifactRef]]] = field(default_factory=dict)


def _download(
    collection: Collection,
    results: _Results,
    downloader: Downloader,
    folder: _Parts,
    *,
    listing: OpenAI | None,
    since: float | None,
    max_workers: int,
    early: _Early | None = None,
) -> tuple[list[_Fetched], list[ArtifactFailure]]:
    """Plan, list and download on one pool; return the downloads in the collection's order.

    The cited files start at once (a nameless citation waits for the listing, which names it, rather than
    cost a request); the listings run beside them and only this thread adds what they found. With
    ``early`` (a live fetch), its pool, downloads and listings are used and the pool is left running.
    """
    started: dict[tuple[str, str], _Task] = dict(early.started) if early is not None else {}

    def start(pool: ThreadPoolExecutor, *, early: bool) -> None:
        for ref in collection.artifacts:
            if ref.key in started or ref.key in results.by_key:
                continue
            if ref.problem is not None:
                results.malformed(ref)
                continue
            if results.reuse(ref):
                continue
            if not (early and ref.store == "container" and ref.filename is None):
                started[ref.key] = pool.submit(_download_and_sniff, downloader, ref, folder)

    failures: list[ArtifactFailure] = []
    pool = (
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="artifact-download")
        if early is None
        else early.pool
    )
    listings: dict[str, Future[list[ArtifactRef]]] = {}
    try:
        if listing is not None:
            known = set(collection.refs)
            for container_id in collection.container_ids:
                if early is not None and container_id in early.listings:
                    listings[container_id] = early.listings[container_id]
                    continue
                listings[container_id] = pool.submit(
                    list_container, listing, container_id, since=since, known=known
                )
        start(pool, early=bool(listings))
        for container_id, listed in listings.items():
            failures += _add_listing(collection, container_id, listed, results.saver.manifest, listing)
        start(pool, early=False)
        fetched = []
        for ref in collection.artifacts:
            if ref.key in started:
                outcome, sniffed = started[ref.key].result()
                if ref.key in results.earlier and ref.key not in results.by_key and results.reuse(ref):
                    # Started while the reply streamed, but an earlier turn saved it: keep that file.
                    if isinstance(outcome, Download):
                        outcome.path.unlink(missing_ok=True)
                    continue
                if isinstance(outcome, Download):
                    # The listing may have named it better or shown it was cut short: bring it up to date.
                    updated = downloader.complete(outcome, ref, folder.temporary_path)
                    if not isinstance(updated, Download) or updated.path != outcome.path:
                        sniffed = None  # downloaded again: sniff the new file when placing it
                    outcome = updated
                fetched.append(_Fetched(ref, outcome, sniffed))
    except KeyboardInterrupt:
        raise _wind_down(pool, downloader, collection, started, [*listings.values()]) from None
    except BaseException:
        downloader.cancel()  # a bug: stop the others rather than leave them writing
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    if early is None:
        pool.shutdown(wait=True)
    return fetched, failures


#: How long an interrupted fetch waits for its workers to stop (they are woken at once; this is a bound).
WIND_DOWN_SECONDS = 2.0


class _Interrupted(KeyboardInterrupt):
    """An interrupt during the downloads, carrying the downloads that were complete by then."""

    def __init__(self, complete: list[_Fetched]) -> None:
        super().__init__()
        self.complete = complete


def _wind_down(
    pool: ThreadPoolExecutor,
    downloader: Downloader,
    collection: Collection,
    started: dict[tuple[str, str], _Task],
    listings: list[Future[list[ArtifactRef]]],
) -> _Interrupted:
    """Stop every download (open responses woken, queued ones dropped), wait for the workers within a
    bound, and return the interrupt with the downloads that had completed."""
    from concurrent.futures import wait

    downloader.cancel()
    pool.shutdown(wait=False, cancel_futures=True)
    import time

    deadline = time.monotonic() + WIND_DOWN_SECONDS
    pending: list[Future[Any]] = [*started.values(), *listings]
    wait(pending, timeout=WIND_DOWN_SECONDS)
    # The idle workers exit on the pool's shutdown signal; join them (within the bound) so that no thread
    # of ours outlives the interrupted cell. ``_threads`` is the executor's own set of its threads.
    for thread in list(getattr(pool, "_threads", ())):
        thread.join(max(0.0, deadline - time.monotonic()))
    complete = []
    for ref in collection.artifacts:
        task = started.get(ref.key)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            continue
        outcome, sniffed = task.result()
        if isinstance(outcome, Download):
            complete.append(_Fetched(ref, outcome, sniffed))
    return _Interrupted(complete)


def _add_listing(
    collection: Collection,
    container_id: str,
    listed: Future[list[ArtifactRef]],
    manifest: Manifest,
    client: OpenAI | None,
) -> list[ArtifactFailure]:
    """Add what one container's listing found; a container that cannot be listed becomes one failure.

    An expired container that an earlier run of the same reply saved files from is not a failure: that run
    listed it while it was alive, and the files it found are taken from the manifest.
    """
    import openai

    from openai_artifacts_nb.api_errors import is_container_expired

    try:
        refs = listed.result()
    except openai.APIError as error:
        if isinstance(error, openai.NotFoundError) or is_container_expired(error):
            known = manifest.known_files(container_id=container_id, source_id=collection.source_id)
            for entry in known:
                collection.add(
                    ArtifactRef(
                        store="container",
                        container_id=container_id,
                        file_id=entry.file_id,
                        filename=entry.filename,
                        sandbox_path=entry.sandbox_path,
                        found_by=tuple(entry.found_by),
                        size=entry.bytes,
                    )
                )
            if known:
                return []
            problem: DownloadError = ContainerExpiredError(
                f"container {container_id} has expired or is gone, so the files it made cannot be "
                "listed; run the code again to make them anew.",
                container_id=container_id,
            )
        else:
            detail = _api_error(error, f"listing container {container_id}", client)
            problem = DownloadError(str(detail), container_id=container_id)
        return [ArtifactFailure("(container listing)", container_id, None, problem, str(problem))]
    for ref in refs:
        collection.add(ref)
    return []


class _Results:
    """What became of each file, by key, in the order they were settled: saved, reused or failed."""

    def __init__(self, saver: _Saver, earlier: Iterable[SavedArtifact] = ()) -> None:
        self.saver = saver
        self.earlier = {
            (artifact.container_id or "files", artifact.file_id): replace(
                artifact, relative_path=_relative_to(artifact.path, saver.link_base)
            )
            for artifact in earlier
            if artifact.file_id
        }
        self.by_key: dict[tuple[str, str], SavedArtifact | ArtifactFailure] = {}
        self.skipped: list[SavedArtifact] = []
        self._by_sha: dict[str, tuple[str, str]] = {}
        self._saved_at: dict[int, str] = {}

    @property
    def artifacts(self) -> list[SavedArtifact]:
        """The files on disk now, in order."""
        return [item for item in self.by_key.values() if isinstance(item, SavedArtifact)]

    @property
    def failures(self) -> list[ArtifactFailure]:
        """The files that could not be saved, in order."""
        return [item for item in self.by_key.values() if isinstance(item, ArtifactFailure)]

    def reuse(self, ref: ArtifactRef) -> bool:
        """Settle ``ref`` with the file an earlier run or turn saved intact, if there is one."""
        known = self.saver.manifest.existing_file(ref.key)
        if known is None:
            return self._reuse_earlier(ref)
        entry, path = known
        found_by = tuple(entry.found_by) + tuple(way for way in ref.found_by if way not in entry.found_by)
        artifact = replace(
            self.saver.saved(ref, path, entry.mime_type, entry.bytes, entry.sha256), found_by=found_by
        )
        self.by_key[ref.key] = artifact
        self.skipped.append(artifact)
        self._saved_at[id(artifact)] = entry.saved_at
        self._by_sha.setdefault(artifact.sha256, ref.key)
        return True

    def _reuse_earlier(self, ref: ArtifactRef) -> bool:
        artifact = self.earlier.get(ref.key)
        try:
            intact = artifact is not None and artifact.path.stat().st_size == artifact.size
        except OSError:
            intact = False
        if artifact is None or not intact:
            return False
        self.by_key[ref.key] = artifact
        self.skipped.append(artifact)
        return True

    def merge_twin(self, item: _Fetched) -> bool:
        """A displayed image arrives twice, as an image output and as a container file: keep one file."""
        outcome, ref = item.outcome, item.ref
        if not isinstance(outcome, Download):
            return False
        twin_key = self._by_sha.get(outcome.sha256)
        if twin_key is None or "inline" not in (ref.store, twin_key[0]):
            return False
        outcome.path.unlink(missing_ok=True)
        twin = self.by_key.pop(twin_key)
        assert isinstance(twin, SavedArtifact)
        keep_key = twin_key if ref.store == "inline" else ref.key
        keeper = (
            twin
            if ref.store == "inline"
            else self.saver.saved(outcome.ref, twin.path, twin.mime_type, twin.size, twin.sha256)
        )
        ways = keeper.found_by + tuple(
            way for way in twin.found_by + ref.found_by if way not in keeper.found_by
        )
        self.by_key[keep_key] = replace(keeper, found_by=ways)
        self._by_sha[outcome.sha256] = keep_key
        return True

    def place(self, item: _Fetched) -> None:
        """Give a download its real type and safe name in the folder, or record why it failed."""
        ref, outcome = item.ref, item.outcome
        if isinstance(outcome, DownloadError):
            self._fail(ref, outcome)
            return
        try:
            artifact = self.saver.place(outcome, item.sniffed)
        except OSError as error:
            outcome.path.unlink(missing_ok=True)
            self._fail(
                ref,
                DownloadError(
                    f"{ref.display_name} could not be saved in {self.saver.folder.directory}: "
                    f"{error.strerror or error}",
                    container_id=ref.container_id,
                    file_id=ref.file_id,
                ),
            )
            return
        self.by_key[ref.key] = artifact
        self._by_sha.setdefault(artifact.sha256, ref.key)

    def malformed(self, ref: ArtifactRef) -> None:
        """Settle a reference the reply got wrong (a bad id or field): one failure line, no request."""
        self._fail(ref, DownloadError(f"{ref.display_name}: {ref.problem}; it cannot be fetched"))

    def publish(self, publication: Publication) -> None:
        """Upload every file placed now to object storage and point each artifact at its object."""
        reused: dict[int, SavedArtifact] = {id(item): item for item in self.skipped}
        for key, item in list(self.by_key.items()):
            if not isinstance(item, SavedArtifact):
                continue
            if id(item) in reused:  # an earlier run published it: only its link is new
                self.by_key[key] = reused[id(item)] = publication.linked(item)
                self._saved_at[id(reused[id(item)])] = self._saved_at.pop(id(item), "")
                continue
            try:
                self.by_key[key] = publication.publish(item)
            except DownloadError as error:
                self.by_key[key] = publication.failure(item, error)
        self.skipped = [reused[id(item)] for item in self.skipped]

    def manifest_entries(self) -> list[ManifestEntry]:
        """One manifest entry per file in this folder (a reused one keeps the time it was first saved)."""
        return [
            self.saver.entry(item, self._saved_at.get(id(item)))
            for item in self.artifacts
            if self.saver.folder.contains(item.path)
        ]

    def _fail(self, ref: ArtifactRef, error: DownloadError) -> None:
        if ref.problem is not None:  # its "ids" are a digest, not the API's: show none
            self.by_key[ref.key] = ArtifactFailure(ref.display_name, None, None, error, str(error))
            return
        self.by_key[ref.key] = ArtifactFailure(
            ref.display_name, ref.container_id, ref.file_id, error, str(error)
        )


def _is_figure(ref: ArtifactRef, mime_type: str) -> bool:
    """Whether ``ref`` is an image the code showed (``plt.show()``): an image output, or a container file
    the container named by its own id (``cfile_….png``), as the code interpreter names shown figures."""
    if not mime_type.startswith("image/"):
        return False
    if ref.store == "inline":
        return "image_output" in ref.found_by
    stem = PurePath(ref.filename or (ref.sandbox_path or "").rsplit("/", 1)[-1]).stem
    return bool(ref.file_id) and stem == ref.file_id


def _rewrite(
    collection: Collection,
    outcomes: dict[tuple[str, str], SavedArtifact | ArtifactFailure],
    earlier: Iterable[SavedArtifact] = (),
) -> str:
    """Return the collection's text with each ``sandbox:`` link pointing at its saved file or a marker.

    Links the collection does not know may point at a file an earlier turn saved (``earlier``); this
    source's own files come first, so they win for the same path.
    """
    table = LinkTable()
    targets: dict[tuple[str, str], LinkTarget] = {}
    for key, outcome in outcomes.items():
        ref = collection.refs[key]
        if isinstance(outcome, SavedArtifact):
            target = LinkTarget(filename=outcome.filename, relative_path=outcome.relative_path)
        else:
            problem = "the reply named it wrongly" if ref.problem else _short_problem(outcome.error)
            target = LinkTarget(filename=outcome.filename, problem=problem)
        targets[key] = target
        names = [name for name in (ref.filename, ref.display_name) if name]
        table.add(target, sandbox_path=ref.sandbox_path, names=names)
    for artifact in earlier:
        target = LinkTarget(filename=artifact.filename, relative_path=artifact.relative_path)
        table.add(target, sandbox_path=artifact.sandbox_path)
    parts = []
    for part in collection.texts:
        spans = [Span(c.start, c.end, targets[c.key]) for c in part.citations if c.key in targets]
        parts.append(rewrite_links(part.text, table, spans))
    return "\n\n".join(text for text in parts if text)
