"""``fetch``: save every file a reply produced and return its text with working links.

This module only orchestrates the engine's parts, each usable on its own:

1. :mod:`~openai_artifacts_nb.collect` finds the artifact references and the text (and, with a client, the
   container listing's uncited files);
2. :mod:`~openai_artifacts_nb.download` streams them to temporary files, in parallel;
3. :mod:`~openai_artifacts_nb.filetypes` and :mod:`~openai_artifacts_nb.naming` give each a safe, real name
   and place it atomically in the output folder;
4. :mod:`~openai_artifacts_nb.manifest` records them in ``manifest.json``;
5. :mod:`~openai_artifacts_nb.links` rewrites the ``sandbox:`` links.

A file saved before (same artifact, intact on disk) is not downloaded again, so re-running adds nothing.
``fetch_command`` is the ``openai-artifacts fetch`` command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from openai_artifacts_nb.collect import (
    ArtifactRef,
    Collection,
    add_container_listing,
    collect,
    collect_id,
    id_kind,
)
from openai_artifacts_nb.download import DEFAULT_MAX_WORKERS, Download, Downloader, ProgressCallback
from openai_artifacts_nb.errors import (
    ApiError,
    ArtifactsError,
    ConfigurationError,
    ContainerExpiredError,
    DownloadError,
    FileMissingError,
)
from openai_artifacts_nb.filetypes import Detection, detect
from openai_artifacts_nb.links import LinkTable, LinkTarget, Span, rewrite_links
from openai_artifacts_nb.manifest import Manifest, ManifestEntry, utc_now
from openai_artifacts_nb.naming import ArtifactFolder, safe_filename

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = ["ArtifactFailure", "FetchResult", "SavedArtifact", "fetch", "fetch_command"]


@dataclass(frozen=True)
class SavedArtifact:
    """A file saved in the output folder.

    ``path`` is absolute; ``relative_path`` is POSIX and relative to the link base (use
    :func:`~openai_artifacts_nb.links.markdown_url` to put it in a link); ``found_by`` says how the reply
    referred to it (``citation``, ``image_citation``, ``image_output``, ``container_listing``, ...).
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
    ``"thread"``, ``"messages"``, ``"container"`` or ``"file"``.
    """

    artifacts: list[SavedArtifact]
    failures: list[ArtifactFailure]
    text: str
    source_id: str | None
    out_dir: Path
    manifest_path: Path
    source_kind: str = "response"
    skipped: list[SavedArtifact] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every file the reply produced was saved."""
        return not self.failures


def _api_error(error: Exception, what: str, client: OpenAI | None = None) -> ApiError:
    from openai_artifacts_nb.api_errors import from_sdk_error

    return from_sdk_error(error, what=what, secret=getattr(client, "api_key", None))


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
    needs_api = bool(collection.container_ids) or any(ref.store != "inline" for ref in collection.artifacts)
    return collection, (_client(client) if needs_api else client)


def _listing_failures(
    collection: Collection, client: OpenAI, since: float | None, manifest: Manifest
) -> list[ArtifactFailure]:
    """Run the container-listing fallback; a container that cannot be listed becomes one failure.

    An expired container that an earlier run of the same reply saved files from is not a failure: that run
    listed it while it was alive, and the files it found are taken from the manifest.
    """
    import openai

    failures = []
    for container_id in list(collection.container_ids):
        try:
            add_container_listing(collection, client, since=since, container_ids=[container_id])
        except openai.APIError as error:
            if isinstance(error, openai.NotFoundError) or getattr(error, "code", None) == "container_expired":
                known = [
                    entry
                    for entry in manifest.entries.values()
                    if entry.container_id == container_id
                    and entry.file_id
                    and entry.source_id == collection.source_id
                ]
                if known:
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
                    continue
                problem: DownloadError = ContainerExpiredError(
                    f"container {container_id} has expired or is gone, so the files it made cannot be "
                    "listed; run the code again to make them anew.",
                    container_id=container_id,
                )
            else:
                detail = _api_error(error, f"listing container {container_id}", client)
                problem = DownloadError(str(detail), container_id=container_id)
            failures.append(ArtifactFailure("(container listing)", container_id, None, problem, str(problem)))
    return failures


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
    return "the download failed"


@dataclass(frozen=True)
class _Sniffed:
    """The type a download's worker detected, and the name it detected it for."""

    name: str
    detection: Detection


def _download_and_sniff(
    downloader: Downloader, ref: ArtifactRef, folder: ArtifactFolder
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
        self, folder: ArtifactFolder, manifest: Manifest, link_base: Path, source_id: str | None
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.link_base = link_base
        self.source_id = source_id
        self.entries: list[ManifestEntry] = []

    def saved(self, ref: ArtifactRef, path: Path, mime: str, size: int, sha256: str) -> SavedArtifact:
        """Describe ``ref`` saved at ``path``."""
        return SavedArtifact(
            path=path,
            relative_path=_relative_to(path, self.link_base),
            filename=path.name,
            mime_type=mime,
            size=size,
            sha256=sha256,
            container_id=ref.container_id,
            file_id=ref.file_id,
            sandbox_path=ref.sandbox_path,
            found_by=ref.found_by,
        )

    def record(self, artifact: SavedArtifact, saved_at: str | None = None) -> None:
        """Queue the manifest entry for ``artifact`` (written once, at the end)."""
        self.entries.append(
            ManifestEntry(
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
        )

    def place(self, download: Download, sniffed: _Sniffed | None = None) -> SavedArtifact:
        """Give a finished download its real type and safe name, and move it into the folder.

        ``sniffed`` is the type the download's worker already detected, used when the name still matches.
        """
        name = safe_filename(download.filename)
        detection = sniffed.detection if sniffed is not None and sniffed.name == name else None
        detection = detection or detect(download.path, name)
        path, _ = self.folder.place(download.path, detection.filename, download.sha256)
        return self.saved(download.ref, path, detection.mime_type, download.size, download.sha256)


def fetch(
    source: Any,
    *,
    out_dir: str | os.PathLike[str],
    client: OpenAI | None = None,
    link_base: str | os.PathLike[str] | None = None,
    turn_started_at: float | None = None,
    progress: ProgressCallback | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
) -> FetchResult:
    """Save every file ``source`` produced into ``out_dir`` and return a :class:`FetchResult`.

    ``source`` is an SDK ``Response``, its JSON (text or dict), a list of streamed events, Assistants
    messages, or a ``resp_…``/``cntr_…``/``thread_…``/``file-…`` id. ``client`` defaults to one built from the
    SDK's environment variables, and is only needed when something must be asked of the API. Links in the
    text are made relative to ``link_base`` (default ``out_dir``). For a reply, uncited files with
    ``source: "assistant"`` created since ``turn_started_at`` (default: the reply's ``created_at``) are
    saved too. ``progress(name, done, total)`` is called from worker threads as bytes arrive.

    Every request goes out at once on a pool of up to ``max_workers`` threads (downloads are I/O-bound):
    the cited files start downloading while the containers are being listed, and the uncited files the
    listing finds follow, so a reply's files cost about one listing plus one download round trip. The
    result and the manifest keep the reply's order whatever order the downloads finish in.

    A file that cannot be saved is listed in ``failures`` (its link becomes a marker); the others are
    saved. Raises :class:`~openai_artifacts_nb.errors.ReplyError` for a source it cannot read and
    :class:`~openai_artifacts_nb.errors.ApiError` when an id cannot be looked up.
    """
    try:
        folder = ArtifactFolder(out_dir)
    except OSError as error:
        raise ConfigurationError(
            f"cannot use {os.fspath(out_dir)!r} as the output folder: {error.strerror or error}"
        ) from None
    base = Path(link_base).resolve() if link_base is not None else folder.directory
    manifest = Manifest(folder.directory)
    collection, api = _collect(source, client)
    failures: list[ArtifactFailure] = []
    saver = _Saver(folder, manifest, base, collection.source_id)
    by_key: dict[tuple[str, str], SavedArtifact | ArtifactFailure] = {}
    skipped: list[SavedArtifact] = []
    downloader = Downloader(api, max_workers=max_workers, progress=progress)
    listing = api is not None and collection.source_kind == "response" and bool(collection.container_ids)
    started: dict[tuple[str, str], Future[tuple[Download | DownloadError, _Sniffed | None]]] = {}

    def start(pool: ThreadPoolExecutor, refs: list[ArtifactRef], *, early: bool) -> None:
        for ref in refs:
            if ref.key in started or ref.key in by_key:
                continue
            known = manifest.existing_file(ref.key)
            if known is not None:
                reused = _reuse(saver, ref, *known)
                by_key[ref.key] = reused
                skipped.append(reused)
            elif not (early and ref.store == "container" and ref.filename is None):
                # (A nameless citation waits for the listing, which names it, rather than cost a request.)
                started[ref.key] = pool.submit(_download_and_sniff, downloader, ref, folder)

    # The listing thread adds to the collection: the early downloads get a snapshot taken before it starts.
    cited = collection.artifacts
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="artifact-download") as pool:
        listed = None
        if listing and api is not None:
            listed = pool.submit(_listing_failures, collection, api, turn_started_at, manifest)
        start(pool, cited, early=listed is not None)
        if listed is not None:
            failures.extend(listed.result())
        start(pool, collection.artifacts, early=False)
        # Every file of the collection is now either reused or downloading; gather them in its order.
        pending = [ref for ref in collection.artifacts if ref.key in started]
        results: list[Download | DownloadError] = []
        sniffs: list[_Sniffed | None] = []
        for ref in pending:
            outcome, sniffed = started[ref.key].result()
            if isinstance(outcome, Download):
                updated = _completed(outcome, ref, downloader, folder)
                if not isinstance(updated, Download) or updated.path != outcome.path:
                    sniffed = None  # downloaded again: sniff the new file when placing it
                outcome = updated
            results.append(outcome)
            sniffs.append(sniffed)

    # Inline images come last so that one equal to a downloaded file merges into it.
    order = sorted(range(len(pending)), key=lambda index: pending[index].store == "inline")
    pending = [pending[index] for index in order]
    results = [results[index] for index in order]
    sniffs = [sniffs[index] for index in order]
    by_sha = {item.sha256: key for key, item in by_key.items() if isinstance(item, SavedArtifact)}
    for ref, outcome, sniffed in zip(pending, results, sniffs, strict=True):
        if isinstance(outcome, DownloadError):
            message = " ".join(str(outcome).split())
            by_key[ref.key] = ArtifactFailure(
                ref.display_name, ref.container_id, ref.file_id, outcome, message
            )
            continue
        twin_key = by_sha.get(outcome.sha256)
        if twin_key is not None and "inline" in (ref.store, twin_key[0]):
            # A displayed image arrives twice, as an image output and as a container file: one file.
            outcome.path.unlink(missing_ok=True)
            twin = by_key.pop(twin_key)
            assert isinstance(twin, SavedArtifact)
            keep_key = twin_key if ref.store == "inline" else ref.key
            keeper = (
                twin
                if ref.store == "inline"
                else saver.saved(outcome.ref, twin.path, twin.mime_type, twin.size, twin.sha256)
            )
            found_by = keeper.found_by + tuple(
                way for way in (twin.found_by + ref.found_by) if way not in keeper.found_by
            )
            by_key[keep_key] = SavedArtifact(**{**keeper.__dict__, "found_by": found_by})
            by_sha[outcome.sha256] = keep_key
            continue
        try:
            artifact = saver.place(outcome, sniffed)
        except OSError as error:
            outcome.path.unlink(missing_ok=True)
            problem = DownloadError(
                f"{ref.display_name} could not be saved in {folder.directory}: {error.strerror or error}",
                container_id=ref.container_id,
                file_id=ref.file_id,
            )
            by_key[ref.key] = ArtifactFailure(
                ref.display_name, ref.container_id, ref.file_id, problem, str(problem)
            )
            continue
        by_key[ref.key] = artifact
        by_sha.setdefault(artifact.sha256, ref.key)

    artifacts = [item for item in by_key.values() if isinstance(item, SavedArtifact)]
    skipped_keys = {id(item) for item in skipped}
    for artifact in artifacts:
        if id(artifact) not in skipped_keys:
            saver.record(artifact)
    failures.extend(item for item in by_key.values() if isinstance(item, ArtifactFailure))
    manifest.update(saver.entries)

    text = _rewrite(collection, by_key)
    return FetchResult(
        artifacts=artifacts,
        failures=failures,
        text=text,
        source_id=collection.source_id,
        out_dir=folder.directory,
        manifest_path=manifest.path,
        source_kind=collection.source_kind,
        skipped=skipped,
    )


def _reuse(saver: _Saver, ref: ArtifactRef, entry: ManifestEntry, path: Path) -> SavedArtifact:
    """Describe (and queue the manifest entry of) a file an earlier run saved intact."""
    found_by = tuple(entry.found_by) + tuple(way for way in ref.found_by if way not in entry.found_by)
    artifact = saver.saved(ref, path, entry.mime_type, entry.bytes, entry.sha256)
    artifact = SavedArtifact(**{**artifact.__dict__, "found_by": found_by})
    saver.record(artifact, entry.saved_at)
    return artifact


def _completed(
    download: Download, ref: ArtifactRef, downloader: Downloader, folder: ArtifactFolder
) -> Download | DownloadError:
    """Bring a download started before the listing up to date with what the listing added to ``ref``.

    The listing may give the file a better name (``cfile_…`` images) and its size: a body shorter than
    that size was cut off without the server saying so, and is downloaded again.
    """
    current = download.ref.merged(ref)
    if current.size is not None and download.size < current.size:
        download.path.unlink(missing_ok=True)
        return downloader.download_one(current, folder.temporary_path)
    return replace(download, ref=current, filename=current.display_name)


def _rewrite(collection: Collection, outcomes: dict[tuple[str, str], SavedArtifact | ArtifactFailure]) -> str:
    """Return the collection's text with each ``sandbox:`` link pointing at its saved file or a marker."""
    table = LinkTable()
    targets: dict[tuple[str, str], LinkTarget] = {}
    for key, outcome in outcomes.items():
        ref = collection.refs[key]
        if isinstance(outcome, SavedArtifact):
            target = LinkTarget(filename=outcome.filename, relative_path=outcome.relative_path)
        else:
            target = LinkTarget(filename=outcome.filename, problem=_short_problem(outcome.error))
        targets[key] = target
        names = [name for name in (ref.filename, ref.display_name) if name]
        table.add(target, sandbox_path=ref.sandbox_path, names=names)
    parts = []
    for part in collection.texts:
        spans = [Span(c.start, c.end, targets[c.key]) for c in part.citations if c.key in targets]
        parts.append(rewrite_links(part.text, table, spans))
    return "\n\n".join(text for text in parts if text)


def fetch_command(ids: Sequence[str], *, out: str, base_url: str | None) -> int:
    """Run ``openai-artifacts fetch``: save the files of each id into ``out``; return the exit status.

    For a reply or a thread, ``out/<id>.md`` gets the text with rewritten links. Each failure is one line on
    stderr; the status is 0 only when everything was saved.
    """
    from openai_artifacts_nb.client import make_client

    client = make_client(base_url=base_url)
    status = 0
    for identifier in ids:
        try:
            result = fetch(identifier, out_dir=out, client=client)
        except ArtifactsError as error:
            sys.stderr.write(f"openai-artifacts: {identifier}: {error}\n")
            status = 1
            continue
        for artifact in result.artifacts:
            sys.stdout.write(f"{artifact.relative_path}\t{artifact.size}\t{artifact.mime_type}\n")
        if result.source_kind in ("response", "thread") and result.text:
            text_path = result.out_dir / safe_filename(f"{identifier.strip()}.md")
            text_path.write_text(result.text + "\n", encoding="utf-8")
            sys.stdout.write(f"{text_path.name}\ttext with rewritten links\n")
        for failure in result.failures:
            sys.stderr.write(f"openai-artifacts: {failure.message}\n")
            status = 1
    return status
