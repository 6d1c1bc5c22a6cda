"""Tests for openai_artifacts_nb.download: streaming, retries, error mapping, parallelism, memory."""

from __future__ import annotations

import hashlib
import io
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.collect import ArtifactRef
from openai_artifacts_nb.download import Download, Downloader
from openai_artifacts_nb.errors import ContainerExpiredError, DownloadError, FileMissingError
from tests.plugins.engine import TEST_API_KEY, ReplayServer, error_body


def _ref(file_id: str = "cfile_1", container: str = "cntr_1", **options: Any) -> ArtifactRef:
    options.setdefault("filename", "data.bin")
    return ArtifactRef(
        store="container", container_id=container, file_id=file_id, found_by=("citation",), **options
    )


def _serve(server: ReplayServer, data: bytes, file_id: str = "cfile_1", **options: Any) -> None:
    server.container_file("cntr_1", file_id, f"/mnt/data/{file_id}.bin", data, **options)


def _content_requests(server: ReplayServer, file_id: str = "cfile_1") -> int:
    return sum(1 for path in server.paths_requested() if path.endswith(f"/{file_id}/content"))


def test_streams_a_container_file_with_progress(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    data = bytes(range(256)) * 20_000
    _serve(replay_server, data)
    calls: list[tuple[str, int, int | None]] = []
    downloader = Downloader(replay_client, progress=lambda *call: calls.append(call), chunk_size=64 * 1024)
    result = downloader.download(_ref(), tmp_path / ".x.part")
    assert isinstance(result, Download)
    assert result.path.read_bytes() == data
    assert (result.size, result.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert result.filename == "data.bin"
    assert calls[0] == ("data.bin", 0, len(data))
    assert calls[-1] == ("data.bin", len(data), len(data))
    assert [done for _, done, _ in calls] == sorted(done for _, done, _ in calls)
    assert len(calls) > 5
    [headers] = [h for _, p, h in replay_server.requests if p.endswith("/content")]
    assert {k.lower(): v for k, v in headers.items()}["accept"] == "application/binary"


def test_downloads_from_files(tmp_path: Path, replay_server: ReplayServer, replay_client: Any) -> None:
    replay_server.json(
        "/v1/files/file-1",
        {
            "id": "file-1",
            "object": "file",
            "bytes": 5,
            "created_at": 1,
            "filename": "/mnt/data/out.csv",
            "purpose": "assistants_output",
            "status": "processed",
        },
    )
    replay_server.bytes("/v1/files/file-1/content", b"a,b\n\n")
    ref = ArtifactRef(store="files", file_id="file-1", found_by=("image_file",))
    result = Downloader(replay_client).download(ref, tmp_path / ".f.part")
    assert result.path.read_bytes() == b"a,b\n\n"
    assert result.filename == "out.csv"
    assert result.ref.size == 5


def test_missing_name_is_looked_up(tmp_path: Path, replay_server: ReplayServer, replay_client: Any) -> None:
    _serve(replay_server, b"xyz", file_id="cfile_9")
    ref = ArtifactRef(store="container", container_id="cntr_1", file_id="cfile_9", found_by=("container",))
    result = Downloader(replay_client).download(ref, tmp_path / ".9.part")
    assert (result.filename, result.ref.sandbox_path, result.ref.size) == (
        "cfile_9.bin",
        "/mnt/data/cfile_9.bin",
        3,
    )


def test_write_to_any_seekable_sink(replay_server: ReplayServer, replay_client: Any) -> None:
    _serve(replay_server, b"hello", cut_after=2, cut_times=1)
    sink = io.BytesIO()
    size, sha = Downloader(replay_client, retry_delay=0).write_to(_ref(), sink)
    assert sink.getvalue() == b"hello"
    assert (size, sha) == (5, hashlib.sha256(b"hello").hexdigest())


class _Pipe(io.RawIOBase):
    """A write-only, unseekable sink, like a socket or a pipe."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: Any) -> int:
        self.data.extend(chunk)
        return len(chunk)


def test_unseekable_sink_is_not_retried(replay_server: ReplayServer, replay_client: Any) -> None:
    _serve(replay_server, b"0123456789", cut_after=4, cut_times=1)
    with pytest.raises(DownloadError, match=r"after 1 attempt \(the sink cannot be rewound\)"):
        Downloader(replay_client, retry_delay=0).write_to(_ref(), _Pipe())  # type: ignore[arg-type]
    pipe = _Pipe()
    Downloader(replay_client).write_to(_ref(), pipe)  # type: ignore[arg-type]
    assert bytes(pipe.data) == b"0123456789"


def test_inline_bytes_need_no_client(tmp_path: Path) -> None:
    ref = ArtifactRef(store="inline", filename="image_1.png", data=b"\x89PNG", found_by=("image_output",))
    result = Downloader(None).download(ref, tmp_path / ".i.part")
    assert result.path.read_bytes() == b"\x89PNG"


def test_cut_off_body_is_downloaded_afresh(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    data = b"0123456789" * 100_000
    _serve(replay_server, data, cut_after=300_000, cut_times=2)
    result = Downloader(replay_client, retry_delay=0).download(_ref(), tmp_path / ".c.part")
    assert result.path.read_bytes() == data
    assert _content_requests(replay_server) == 3


def test_body_shorter_than_the_known_size_is_retried(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    # No transport error at all: the server sends a complete, short body. The file's size says it is short.
    _serve(replay_server, b"short")
    with pytest.raises(
        DownloadError, match=r"after 2 attempts: the body was cut off after 5 of 50 bytes"
    ) as info:
        Downloader(replay_client, attempts=2, retry_delay=0).download(_ref(size=50), tmp_path / ".s.part")
    assert _content_requests(replay_server) == 2
    assert (info.value.container_id, info.value.file_id) == ("cntr_1", "cfile_1")
    assert not (tmp_path / ".s.part").exists()


def test_always_cut_off_fails_cleanly(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    _serve(replay_server, b"x" * 100_000, cut_after=10, cut_times=10)
    with pytest.raises(
        DownloadError, match=r"data.bin \(cfile_1 in container cntr_1\) could not be downloaded after 3"
    ):
        Downloader(replay_client, retry_delay=0).download(_ref(), tmp_path / ".a.part")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("status", "expired"), [("expired", True), ("running", False), (None, True)])
def test_404_maps_to_expired_container_or_missing_file(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any, status: str | None, expired: bool
) -> None:
    if status is not None:
        replay_server.container("cntr_1", status=status)
    with pytest.raises(DownloadError) as info:
        Downloader(replay_client).download(_ref(), tmp_path / ".m.part")
    error = info.value
    assert isinstance(error, ContainerExpiredError if expired else FileMissingError)
    assert (error.container_id, error.file_id) == ("cntr_1", "cfile_1")
    message = str(error)
    assert "cntr_1" in message and "cfile_1" in message and "data.bin" in message
    assert "run the code again" in message
    assert "\n" not in message
    assert not (tmp_path / ".m.part").exists()


def test_container_expired_code_needs_no_second_request(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    body = {
        "error": {
            "message": "Container is expired.",
            "type": "invalid_request_error",
            "param": None,
            "code": "container_expired",
        }
    }
    replay_server.json("/v1/containers/cntr_1/files/cfile_1/content", body, status=400)
    with pytest.raises(
        ContainerExpiredError, match=r"data.bin \(cfile_1\) is gone: container cntr_1 has expired"
    ):
        Downloader(replay_client).download(_ref(), tmp_path / ".x.part")
    assert replay_server.paths_requested() == ["/v1/containers/cntr_1/files/cfile_1/content"]


def test_missing_files_object(tmp_path: Path, replay_client: Any) -> None:
    ref = ArtifactRef(store="files", file_id="file-gone", filename="x.csv", found_by=("file_path",))
    with pytest.raises(FileMissingError, match=r"x.csv \(file-gone\) no longer exists in Files"):
        Downloader(replay_client).download(ref, tmp_path / ".g.part")


def test_429_then_success_uses_the_sdk_retries(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    _serve(replay_server, b"payload")
    replay_server.fail(
        "/v1/containers/cntr_1/files/cfile_1/content", 429, 2, headers={"retry-after-ms": "10"}
    )
    result = Downloader(replay_client).download(_ref(), tmp_path / ".r.part")
    assert result.path.read_bytes() == b"payload"
    assert _content_requests(replay_server) == 3


def test_persistent_500_is_a_download_error(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    _serve(replay_server, b"payload")
    replay_server.fail(
        "/v1/containers/cntr_1/files/cfile_1/content", 500, 10, headers={"retry-after-ms": "5"}
    )
    with pytest.raises(DownloadError, match="Error code: 500") as info:
        Downloader(replay_client).download(_ref(), tmp_path / ".e.part")
    assert type(info.value) is DownloadError
    assert _content_requests(replay_server) == 3


def test_api_key_never_appears_in_messages(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    replay_server.fail(
        "/v1/containers/cntr_1/files/cfile_1/content",
        401,
        1,
        message=f"Incorrect API key provided: {TEST_API_KEY}",
    )
    with pytest.raises(DownloadError) as info:
        Downloader(replay_client).download(_ref(), tmp_path / ".k.part")
    assert TEST_API_KEY not in str(info.value)
    assert "[redacted]" in str(info.value)


def test_unreachable_api(tmp_path: Path) -> None:
    from openai import OpenAI

    client = OpenAI(base_url="http://127.0.0.1:9/v1", api_key=TEST_API_KEY, max_retries=0, timeout=2)
    with pytest.raises(DownloadError, match="cannot reach the API"):
        Downloader(client).download(_ref(), tmp_path / ".u.part")


def test_download_all_is_parallel_bounded_and_ordered(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    payloads = {f"cfile_{n}": f"file {n}".encode() * 100 for n in range(12)}
    for file_id, data in payloads.items():
        _serve(replay_server, data, file_id=file_id, delay=0.2)
    replay_server.container("cntr_1")
    refs = [_ref(file_id) for file_id in payloads]
    refs.insert(3, _ref("cfile_missing"))
    results = Downloader(replay_client, max_workers=4).download_all(refs, tmp_path)
    assert isinstance(results[3], FileMissingError)
    downloads = [result for result in results if isinstance(result, Download)]
    assert [d.ref.file_id for d in downloads] == list(payloads)
    assert [d.path.read_bytes() for d in downloads] == list(payloads.values())
    assert replay_server.peak_active <= 4 + 1
    assert replay_server.peak_active >= 3


def test_progress_is_called_from_workers(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    for n in range(4):
        _serve(replay_server, b"z" * 1000, file_id=f"cfile_{n}")
    threads: set[str] = set()
    lock = threading.Lock()

    def progress(name: str, done: int, total: int | None) -> None:
        with lock:
            threads.add(threading.current_thread().name)

    Downloader(replay_client, max_workers=4, progress=progress).download_all(
        [_ref(f"cfile_{n}") for n in range(4)], tmp_path
    )
    assert all(name.startswith("artifact-download") for name in threads)


def test_reused_buffers_keep_every_byte_in_any_sink(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    # Many more buffers' worth than the three reused: a buffer handed back too early would corrupt the file.
    data = b"".join(hashlib.sha256(str(i).encode()).digest() * 1000 for i in range(300))
    _serve(replay_server, data)
    downloader = Downloader(replay_client, chunk_size=40_000)
    sink = io.BytesIO()
    assert downloader.write_to(_ref(), sink) == (len(data), hashlib.sha256(data).hexdigest())
    assert sink.getvalue() == data
    result = downloader.download(_ref(), tmp_path / ".x.part")
    assert result.path.read_bytes() == data and result.sha256 == hashlib.sha256(data).hexdigest()


def test_large_body_streams_with_bounded_memory(
    tmp_path: Path, replay_server: ReplayServer, replay_client: Any
) -> None:
    size = 48 * 1024 * 1024
    block = bytes(range(256)) * 4096  # 1 MiB

    def chunks() -> Iterator[bytes]:
        for _ in range(size // len(block)):
            yield block

    replay_server.stream("/v1/containers/cntr_1/files/cfile_big/content", size, chunks)
    tracemalloc.start()
    try:
        result = Downloader(replay_client).download(_ref("cfile_big"), tmp_path / ".big.part")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == size
    assert result.sha256 == hashlib.sha256(block * (size // len(block))).hexdigest()
    assert peak < 12 * 1024 * 1024, f"peak Python allocation {peak / 2**20:.1f} MiB"


def test_error_body_helper_is_openai_shaped() -> None:
    assert (
        error_body("x")
        == b'{"error": {"message": "x", "type": "invalid_request_error", "param": null, "code": null}}'
    )


def test_max_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        Downloader(None, max_workers=0)
