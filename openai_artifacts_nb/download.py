"""Download artifacts through the official SDK, streamed straight to disk, several at once.

Each file is streamed with ``client.containers.files.content.with_streaming_response.retrieve(...)`` or
``client.files.with_streaming_response.content(...)`` and ``iter_bytes``, piece by piece as the socket
delivers them, into a temporary ``.part`` file beside its final place, hashing as it goes: a 1 GiB file never
passes through memory. The pieces are gathered into a few reused ``chunk_size`` (1 MiB) buffers; each full
buffer is written by the downloading thread and hashed by a hashing thread, so the SHA-256 (the slowest
step: about 230 MiB/s on a CPU without SHA extensions) overlaps the network and the disk. The progress
callback is called once per buffer, not per piece. The SDK
retries 408/409/429/5xx and connection errors; on top of that a body cut short (fewer bytes than
``Content-Length`` or the file's known size, a dropped connection mid-body, or a size learnt later:
:meth:`Downloader.complete`) is downloaded afresh, here and nowhere else. SDK errors become the error tree's
(:func:`~openai_artifacts_nb.api_errors.file_error`): a missing file or an expired container is a
:class:`~openai_artifacts_nb.errors.FileMissingError` or
:class:`~openai_artifacts_nb.errors.ContainerExpiredError`, naming the container and the file and saying
what to do.

Use it alone, e.g. in a web app that keeps files in its own storage::

    downloader = Downloader(client, max_workers=4)
    with storage.open(name, "wb+") as sink:          # any seekable binary file
        size, sha256 = downloader.write_to(ref, sink)

or :meth:`Downloader.download_all` to get temporary files in a folder, to be placed by the caller.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from openai_artifacts_nb.errors import DownloadError
from openai_artifacts_nb.reply import ArtifactRef, plain

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "STALL_TIMEOUT",
    "Download",
    "DownloadCancelled",
    "Downloader",
    "ProgressCallback",
    "StalledError",
    "TruncatedBodyError",
]

#: ``progress(name, bytes_done, bytes_total_or_None)``, called from worker threads as bytes arrive.
ProgressCallback = Callable[[str, int, "int | None"], None]

_CHUNK = 1 << 20
#: Seconds of silence after which a download is given up as stalled (the SDK's 600 s, retried, would hold
#: a cell for half an hour). A setting: ``Downloader(stall_timeout=…)``, ``fetch(stall_timeout=…)``.
STALL_TIMEOUT = 60.0
#: Downloads are I/O-bound: a pool as large as the work (up to this many) starts every request at once.
DEFAULT_MAX_WORKERS = 32


class TruncatedBodyError(Exception):
    """A download ended before all its bytes arrived (internal: triggers a fresh download)."""


class StalledError(DownloadError):
    """No byte arrived for ``stall_timeout`` seconds: the download is given up, not tried again."""


class DownloadCancelled(Exception):
    """The downloads were cancelled (:meth:`Downloader.cancel`, e.g. on an interrupt); nothing is kept."""


@dataclass(frozen=True)
class Download:
    """A finished download: the reference, its temporary file, size, SHA-256 and the name to save it as."""

    ref: ArtifactRef
    path: Path
    size: int
    sha256: str
    filename: str


class Downloader:
    """Streams artifacts to disk through an ``openai.OpenAI`` client on a bounded thread pool.

    ``max_workers`` bounds parallel downloads; ``attempts`` is how many fresh downloads a cut-off body
    gets; ``progress`` is called as bytes arrive (from worker threads, so it must be thread-safe), at most
    once per ``chunk_size`` bytes. Each download holds at most three buffers of ``chunk_size`` bytes.
    ``stall_timeout`` (default :data:`STALL_TIMEOUT`) is the longest silence a download may keep: then it
    fails as :class:`StalledError`, once, without the SDK's retries. :meth:`cancel` stops every download
    under way within a read: their open responses are closed and each raises :class:`DownloadCancelled`.
    """

    def __init__(
        self,
        client: OpenAI | None,
        *,
        max_workers: int = DEFAULT_MAX_WORKERS,
        progress: ProgressCallback | None = None,
        attempts: int = 3,
        chunk_size: int = _CHUNK,
        retry_delay: float = 0.25,
        stall_timeout: float | None = None,
    ) -> None:
        """Download with ``client`` (may be ``None`` when only inline bytes are saved)."""
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.client = client
        self.max_workers = max_workers
        self.progress = progress
        self.attempts = max(1, attempts)
        self.chunk_size = chunk_size
        self.retry_delay = retry_delay
        self.stall_timeout = STALL_TIMEOUT if stall_timeout is None else stall_timeout
        self._cancelled = threading.Event()
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()

    def cancel(self) -> None:
        """Stop every download under way and refuse new ones (thread-safe; called on an interrupt).

        The open HTTP responses are closed, so a read blocked on the socket returns at once; each download
        then removes its ``.part`` file and raises :class:`DownloadCancelled`.
        """
        self._cancelled.set()
        with self._open_lock:
            responses = list(self._open)
        for response in responses:
            _abort(response)

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled.is_set()

    # -- public API ------------------------------------------------------------------------------------

    def download_all(
        self,
        refs: Sequence[ArtifactRef],
        directory: Path,
        *,
        temporary_path: Callable[[str], Path] | None = None,
    ) -> list[Download | DownloadError]:
        """Download every reference into temporary files in ``directory``, in parallel.

        Returns one entry per reference, in order: a :class:`Download`, or the :class:`DownloadError` that
        stopped it (the others still complete).
        """
        make_path = temporary_path or (lambda hint: _default_temporary(directory, hint))
        if not refs:
            return []
        workers = min(self.max_workers, len(refs))
        if workers == 1:
            return [self.download_one(ref, make_path) for ref in refs]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="artifact-download") as pool:
            futures = [pool.submit(self.download_one, ref, make_path) for ref in refs]
            return [future.result() for future in futures]

    def download_one(
        self, ref: ArtifactRef, temporary_path: Callable[[str], Path]
    ) -> Download | DownloadError:
        """Download ``ref`` to ``temporary_path(name_hint)``; return the :class:`Download` or the error.

        For callers that run downloads on their own pool (``fetch`` starts them while it lists containers).
        """
        try:
            return self.download(ref, temporary_path(ref.display_name))
        except DownloadError as error:
            return error
        except OSError as error:
            return DownloadError(
                f"{ref.display_name} ({ref.file_id}{_in(ref)}) could not be written: "
                f"{error.strerror or error}",
                container_id=ref.container_id,
                file_id=ref.file_id,
            )

    def complete(
        self, download: Download, ref: ArtifactRef, temporary_path: Callable[[str], Path]
    ) -> Download | DownloadError:
        """Bring a finished ``download`` up to date with ``ref``, the same file as known now.

        A later look (the container listing) may give the file a better name (``cfile_…`` images) and its
        size: a body shorter than that size was cut off without the server saying so, and is downloaded
        afresh, here, like any other cut body.
        """
        current = download.ref.merged(ref)
        if current.size is not None and download.size < current.size:
            download.path.unlink(missing_ok=True)
            return self.download_one(current, temporary_path)
        return replace(download, ref=current, filename=current.display_name)

    def download(self, ref: ArtifactRef, destination: Path) -> Download:
        """Download ``ref`` to ``destination`` (a temporary path the caller later renames).

        On failure ``destination`` is removed and :class:`~openai_artifacts_nb.errors.DownloadError` raised.
        """
        if self.cancelled:
            raise DownloadCancelled
        ref = self.resolve(ref)
        try:
            with destination.open("wb") as sink:
                size, sha256 = self.write_to(ref, sink)
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
        return Download(ref=ref, path=destination, size=size, sha256=sha256, filename=ref.display_name)

    def resolve(self, ref: ArtifactRef) -> ArtifactRef:
        """Return ``ref`` with its file name (and size) filled in from the API when the reply gave none.

        Only a missing name costs a request: a missing size is not worth one, since ``Content-Length``
        tells a cut-off body apart just as well.
        """
        if ref.store == "inline" or ref.filename or self.client is None:
            return ref
        if ref.filename is None:
            try:
                import httpx2

                timeout = httpx2.Timeout(self.stall_timeout)
                if ref.store == "files":
                    info = plain(self.client.files.retrieve(ref.file_id or "", timeout=timeout))
                    name = info.get("filename") or None
                else:
                    info = plain(
                        self.client.containers.files.retrieve(
                            ref.file_id or "", container_id=ref.container_id or "", timeout=timeout
                        )
                    )
                    name = (info.get("path") or "").rsplit("/", 1)[-1] or None
            except Exception as error:
                raise self._map_error(error, ref) from None
            size = info.get("bytes") if isinstance(info.get("bytes"), int) else None
            return replace(
                ref,
                filename=ref.filename or (name.rsplit("/", 1)[-1] if name else None),
                sandbox_path=ref.sandbox_path or info.get("path") or None,
                size=ref.size if ref.size is not None else size,
            )
        return ref

    def write_to(self, ref: ArtifactRef, sink: BinaryIO) -> tuple[int, str]:
        """Stream ``ref``'s bytes into ``sink``, truncated before each fresh attempt (if it is not seekable,
        a cut-off body is not retried).

        Returns (size, hex SHA-256). Raises :class:`~openai_artifacts_nb.errors.DownloadError`.
        """
        name = ref.display_name
        if ref.store == "inline":
            data = ref.data or b""
            sink.write(data)
            self._report(name, len(data), len(data))
            return len(data), hashlib.sha256(data).hexdigest()
        if self.client is None:
            raise DownloadError(
                f"{name}: no client to download {ref.file_id} with",
                container_id=ref.container_id,
                file_id=ref.file_id,
            )
        last: Exception | None = None
        for attempt in range(self.attempts):
            if self.cancelled:
                raise DownloadCancelled
            if attempt:
                if not sink.seekable():
                    break
                time.sleep(self.retry_delay * 2 ** (attempt - 1))
                sink.seek(0)
                sink.truncate()
            try:
                return self._stream_once(ref, sink)
            except TruncatedBodyError as error:
                last = error
            except Exception as error:
                if self.cancelled:
                    raise DownloadCancelled from None
                if _is_transport_error(error) and not _is_timeout(error):
                    last = error
                    continue
                raise self._map_error(error, ref) from None
        tries = f"{self.attempts} attempts" if sink.seekable() else "1 attempt (the sink cannot be rewound)"
        raise DownloadError(
            f"{name} ({ref.file_id}{_in(ref)}) could not be downloaded after {tries}: {last}",
            container_id=ref.container_id,
            file_id=ref.file_id,
            secret=getattr(self.client, "api_key", None),
        )

    # -- internals -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _open_stream(self, ref: ArtifactRef) -> Iterator[Any]:
        import httpx2

        assert self.client is not None
        # Every wait (connect, each read of the body) is bounded by the stall timeout; a body that stalls
        # is not tried again (write_to), so a silent server costs one stall_timeout, not 600 s per retry.
        client = self.client
        timeout = httpx2.Timeout(self.stall_timeout)
        if ref.store == "container":
            manager: Any = client.containers.files.content.with_streaming_response.retrieve(
                ref.file_id or "", container_id=ref.container_id or "", timeout=timeout
            )
        else:
            manager = client.files.with_streaming_response.content(ref.file_id or "", timeout=timeout)
        with manager as response:
            with self._open_lock:
                self._open.add(response)
            try:
                if self.cancelled:
                    raise DownloadCancelled
                yield response
            finally:
                with self._open_lock:
                    self._open.discard(response)

    def _stream_once(self, ref: ArtifactRef, sink: BinaryIO) -> tuple[int, str]:
        name = ref.display_name
        done = 0
        with self._open_stream(ref) as response:
            headers = response.headers
            length = headers.get("content-length")
            declared = (
                int(length) if length and length.isdigit() and not headers.get("content-encoding") else None
            )
            total = declared if declared is not None else ref.size
            # A quarter of a small file per buffer: it needs no megabyte (32 downloads at once would hold
            # 32 of them), and its hashing starts while the rest arrives instead of after the last byte.
            buffer_size = min(self.chunk_size, max(total // 4, 1 << 16)) if total else self.chunk_size
            spooler = _Spooler(sink, buffer_size)
            self._report(name, 0, total)
            reported = 0
            # The pieces as the socket gives them (about 64 KiB): asking the SDK for fixed-size chunks
            # copies every byte once more through a buffer, which costs as much CPU as receiving them.
            with spooler:
                for piece in response.iter_bytes():
                    if self.cancelled:
                        raise DownloadCancelled
                    spooler.add(piece)
                    done += len(piece)
                    if done - reported >= self.chunk_size:
                        reported = done
                        self._report(name, done, total)
        if done != reported:
            self._report(name, done, total)
        sha256 = spooler.hexdigest()
        expected = max(size for size in (declared, ref.size, 0) if size is not None)
        if done < expected:
            raise TruncatedBodyError(f"the body was cut off after {done} of {expected} bytes")
        return done, sha256

    def _report(self, name: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(name, done, total)

    def _map_error(self, error: Exception, ref: ArtifactRef) -> DownloadError:
        from openai_artifacts_nb.api_errors import file_error

        if _is_timeout(error):
            return StalledError(
                f"{ref.display_name} ({ref.file_id}{_in(ref)}) stalled: "
                f"no data for {self.stall_timeout:g} s; run the cell again to fetch it",
                container_id=ref.container_id,
                file_id=ref.file_id,
                secret=getattr(self.client, "api_key", None),
            )

        return file_error(
            error,
            ref,
            secret=getattr(self.client, "api_key", None),
            container_expired=lambda: self._container_expired(ref.container_id or ""),
        )

    def _container_expired(self, container_id: str) -> bool:
        import openai

        from openai_artifacts_nb.api_errors import container_is_gone

        assert self.client is not None
        try:
            return container_is_gone(self.client, container_id)
        except openai.APIError:
            return False


class _Spooler:
    """Gathers pieces into reused buffers, writes each full one, and hashes it on a thread of its own.

    The copy into a buffer and the write happen on the downloading thread; the hashing thread only hashes
    (``hashlib`` releases the GIL for it) and hands the buffer back. Reusing at most ``buffers`` buffers
    bounds the memory and spares the page faults of a fresh megabyte per chunk. Buffers are reused only
    for real files, whose ``write`` copies the bytes out before returning; any other sink gets ``bytes``.
    Leaving the ``with`` block writes what is left, waits for the hashing, and flushes the sink.
    """

    def __init__(self, sink: BinaryIO, size: int, *, buffers: int = 3) -> None:
        import io
        import queue

        self._sink = sink
        self._reuse = isinstance(sink, (io.BufferedWriter, io.BufferedRandom, io.FileIO))
        self._size = max(1, size)
        self._limit = max(1, buffers)
        self._made = 0
        self._digest = hashlib.sha256()
        self._todo: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self._free: queue.Queue[bytearray] = queue.Queue()
        self._thread = threading.Thread(target=self._hash, name="artifact-hasher", daemon=True)
        self._buffer: bytearray | None = None
        self._view = memoryview(b"")
        self._filled = 0

    def __enter__(self) -> _Spooler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self._ship()
                self._sink.flush()
        finally:
            self._todo.put(None)
            self._thread.join()

    def add(self, piece: bytes) -> None:
        """Copy ``piece`` into the current buffer, shipping each buffer that fills up."""
        view = memoryview(piece)
        while view:
            if self._buffer is None:
                self._buffer = self._take()
                self._view = memoryview(self._buffer)
            room = self._size - self._filled
            part = view[:room]
            self._view[self._filled : self._filled + len(part)] = part
            self._filled += len(part)
            view = view[len(part) :]
            if self._filled == self._size:
                self._ship()

    def hexdigest(self) -> str:
        """The SHA-256 of everything added (call after the ``with`` block)."""
        return self._digest.hexdigest()

    def _take(self) -> bytearray:
        if self._made < self._limit and self._free.empty():
            self._made += 1
            return bytearray(self._size)
        return self._free.get()  # waits for the hashing thread to finish with one

    def _ship(self) -> None:
        if self._buffer is None or not self._filled:
            return
        chunk = self._view[: self._filled]
        self._sink.write(chunk if self._reuse else chunk.tobytes())
        self._todo.put((self._buffer, self._filled))
        self._buffer, self._view, self._filled = None, memoryview(b""), 0

    def _hash(self) -> None:
        while (item := self._todo.get()) is not None:
            buffer, filled = item
            with memoryview(buffer) as view:
                self._digest.update(view[:filled])
            self._free.put(buffer)


def _in(ref: ArtifactRef) -> str:
    from openai_artifacts_nb.api_errors import where_is

    return where_is(ref)


def _abort(response: Any) -> None:
    """Wake the thread reading ``response``: shut its socket down (closing it alone would not wake a
    ``recv`` blocked on it). The reading thread then closes the response itself."""
    import socket

    http = getattr(response, "http_response", response)
    stream = (getattr(http, "extensions", None) or {}).get("network_stream")
    try:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing is blocked on it


def _is_timeout(error: Exception) -> bool:
    """No data within the stall timeout: before the headers (the SDK's ``APITimeoutError``) or mid-body."""
    import httpx2
    import openai

    return isinstance(error, (httpx2.TimeoutException, openai.APITimeoutError))


def _is_transport_error(error: Exception) -> bool:
    """A connection dropped mid-body: the SDK does not retry those, so we download afresh."""
    import httpx2

    return isinstance(error, httpx2.TransportError)


def _default_temporary(directory: Path, hint: str) -> Path:
    from openai_artifacts_nb.naming import part_path

    directory.mkdir(parents=True, exist_ok=True)
    return part_path(directory, hint)
