"""Tests for openai_artifacts_nb.object_store: ``fetch`` into ``s3://…`` against a real S3 server.

The S3 server is moto's (``moto.server``, a real HTTP server on 127.0.0.1) behind a small WSGI middleware
that records every request, so the tests count uploads and see what a listing showed mid-upload. The OpenAI
side is the replay server (exact bytes, counted downloads) and, for the magic, the local emulator.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from openai_artifacts_nb.errors import ArtifactsError
from openai_artifacts_nb.fetching import fetch
from openai_artifacts_nb.manifest import Manifest
from openai_artifacts_nb.markup import link_allowed, sanitize
from openai_artifacts_nb.object_store import PART_BYTES, ObjectStore, is_object_url
from tests.plugins.engine import TEST_API_KEY, ReplayServer
from tests.test_fetching import _png, _reply


def _require(module: str) -> None:
    """Skip without ``module`` (the [s3] extra, moto), except in CI (``CI=true``): fail there."""
    import importlib.util

    if importlib.util.find_spec(module) is not None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must test object storage: {module} is not installed")
    pytest.skip(f"{module} is not installed", allow_module_level=True)


for _module in ("s3fs", "moto", "boto3"):
    _require(_module)

CANARY_SECRET = "CANARY-aws-secret-5f1d2c9e7b"
ACCESS_KEY = "AKIAOPENAIARTIFACTS"


@dataclass
class S3Server:
    """moto's S3 server on 127.0.0.1 with every request it answered (method, path, query)."""

    endpoint: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    before: list[Callable[[str, str, str], None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> Any:
        """A boto3 S3 client on the server (the test's own view, not the engine's)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=CANARY_SECRET,
            region_name="us-east-1",
        )

    def writes(self) -> list[tuple[str, str, str]]:
        """The requests that would create or change an object (PUT, POST, DELETE)."""
        with self.lock:
            return [item for item in self.requests if item[0] in {"PUT", "POST", "DELETE"}]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free port of 127.0.0.1, recording requests, stopped after the module."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    app = DomainDispatcherApplication(create_backend_app)
    server_box: dict[str, Any] = {}

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        item = (environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
        for hook in list(state.before):
            hook(*item)
        with state.lock:
            state.requests.append(item)
        return app(environ, start_response)

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """Keep the test output free of one line per request."""

    httpd = make_server("127.0.0.1", 0, recording, threaded=True, request_handler=QuietHandler)
    host, port = httpd.server_address[:2]
    state = S3Server(endpoint=f"http://{host}:{port}")
    server_box["httpd"] = httpd
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the AWS variables point s3fs (and subprocesses) at the server with a canary secret."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"art-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    s3_server.before.clear()
    s3_server.reset()
    return name


def _objects(server: S3Server, bucket: str, prefix: str) -> dict[str, bytes]:
    client = server.client()
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def _manifest_name(tmp_path: Path) -> str:
    """Where the manifest sits below the output folder (it follows the manifest module)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    return Manifest(probe).path.relative_to(probe).as_posix()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def two_files(replay_server: ReplayServer) -> dict[str, bytes]:
    """A container with a cited CSV with a hostile name and an uncited, assistant-made PNG."""
    replay_server.container("cntr_f")
    files = {"cfile_csv": b"month,revenue\n1,10\n2,12\n", "cfile_png": _png()}
    replay_server.container_file(
        "cntr_f",
        "cfile_csv",
        "/mnt/data/../sales: 2024 (final).csv",
        files["cfile_csv"],
        created_at=1_760_000_003,
    )
    replay_server.container_file(
        "cntr_f", "cfile_png", "/mnt/data/chart", files["cfile_png"], created_at=1_760_000_004
    )
    return files


def _content_requests(server: ReplayServer) -> int:
    return sum(1 for path in server.paths_requested() if path.endswith("/content"))


def _reply_citing_csv() -> dict[str, Any]:
    target = "sandbox:/mnt/data/../sales: 2024 (final).csv"
    return _reply(f"Here: [the data]({target}) and a chart.", [("cfile_csv", target)])


def test_fetch_publishes_files_then_the_manifest_with_presigned_links(
    tmp_path: Path,
    s3_server: S3Server,
    bucket: str,
    replay_server: ReplayServer,
    replay_client: Any,
    two_files: dict[str, bytes],
) -> None:
    result = fetch(
        _reply_citing_csv(),
        out_dir=f"s3://{bucket}/run1",
        client=replay_client,
        turn_started_at=1_760_000_000,
    )
    assert result.ok, [failure.message for failure in result.failures]
    assert result.location == f"s3://{bucket}/run1"
    manifest_key = f"run1/{_manifest_name(tmp_path)}"
    objects = _objects(s3_server, bucket, "run1/")
    csv_key, png_key = "run1/sales_ 2024 (final).csv", "run1/chart.png"
    assert sorted(objects) == sorted([csv_key, png_key, manifest_key])
    assert _sha(objects[csv_key]) == _sha(two_files["cfile_csv"])
    assert _sha(objects[png_key]) == _sha(two_files["cfile_png"])

    # The manifest is written last, and lists both files with their bytes.
    puts = [path for method, path, query in s3_server.writes() if method == "PUT"]
    assert puts[-1].endswith(manifest_key) and len(puts) == 3
    document = json.loads(objects[manifest_key])
    entries = {entry["path"]: entry for entry in document["artifacts"]}
    assert entries["sales_ 2024 (final).csv"]["sha256"] == _sha(two_files["cfile_csv"])
    assert entries["chart.png"]["bytes"] == len(two_files["cfile_png"])
    assert CANARY_SECRET not in objects[manifest_key].decode()

    csv, png = result.artifacts
    assert csv.stored_at == f"s3://{bucket}/{csv_key}" and csv.link_lifetime == 3600
    for artifact, key in ((csv, csv_key), (png, png_key)):
        url = urlsplit(artifact.relative_path)
        assert (url.scheme, url.netloc) == ("http", urlsplit(s3_server.endpoint).netloc)
        query = parse_qs(url.query)
        assert {"Signature", "X-Amz-Signature"} & set(query), "a presigned URL"
        assert link_allowed(artifact.relative_path)
        with urllib.request.urlopen(artifact.relative_path) as response:  # the presigned URL alone
            assert response.read() == objects[key]
        assert not artifact.path.exists(), "the temporary staging copy is removed after publishing"
    assert CANARY_SECRET not in csv.relative_path

    # The reply's link points at the object, survives the sanitizer, and still fetches the bytes.
    assert "sandbox:" not in result.text
    linked = result.text.split("](", 1)[1].split(")", 1)[0]
    assert linked.startswith(f"{s3_server.endpoint}/{bucket}/run1/sales_%202024%20%28final%29.csv?")
    html = sanitize(f'<a href="{linked.replace("&", "&amp;")}">the data</a>')
    assert "href=" in html and "Signature=" in html
    with urllib.request.urlopen(linked) as response:
        assert response.read() == two_files["cfile_csv"]


def test_a_rerun_downloads_nothing_and_uploads_nothing(
    tmp_path: Path,
    s3_server: S3Server,
    bucket: str,
    replay_server: ReplayServer,
    replay_client: Any,
    two_files: dict[str, bytes],
) -> None:
    out = f"s3://{bucket}/again"
    first = fetch(_reply_citing_csv(), out_dir=out, client=replay_client, turn_started_at=1_760_000_000)
    assert first.ok and len(first.artifacts) == 2
    downloads = _content_requests(replay_server)
    assert downloads == 2
    s3_server.reset()

    second = fetch(_reply_citing_csv(), out_dir=out, client=replay_client, turn_started_at=1_760_000_000)
    assert second.ok
    assert _content_requests(replay_server) == downloads, "nothing downloaded from the API again"
    assert s3_server.writes() == [], "nothing uploaded again"
    assert sorted(a.filename for a in second.skipped) == ["chart.png", "sales_ 2024 (final).csv"]
    with urllib.request.urlopen(second.artifacts[0].relative_path) as response:
        assert response.read() == two_files["cfile_csv"]


def test_a_kept_staging_folder_gets_a_copy_of_what_an_earlier_run_published(
    tmp_path: Path,
    s3_server: S3Server,
    bucket: str,
    replay_server: ReplayServer,
    replay_client: Any,
    two_files: dict[str, bytes],
) -> None:
    first = ObjectStore(f"s3://{bucket}/kept", staging_dir=tmp_path / "kernel-1")
    fetch(_reply_citing_csv(), out_dir=first, client=replay_client, turn_started_at=1_760_000_000)
    assert (tmp_path / "kernel-1" / "chart.png").read_bytes() == two_files["cfile_png"], "kept, not removed"
    downloads = _content_requests(replay_server)
    s3_server.reset()
    second = ObjectStore(f"s3://{bucket}/kept", staging_dir=tmp_path / "kernel-2")  # a restarted kernel
    result = fetch(_reply_citing_csv(), out_dir=second, client=replay_client, turn_started_at=1_760_000_000)
    assert len(result.skipped) == 2 and _content_requests(replay_server) == downloads
    assert s3_server.writes() == []
    for artifact in result.skipped:
        assert artifact.path.parent == tmp_path / "kernel-2"
        assert _sha(artifact.path.read_bytes()) == artifact.sha256


def test_a_key_holding_other_bytes_is_never_overwritten(
    s3_server: S3Server, bucket: str, replay_server: ReplayServer, replay_client: Any
) -> None:
    replay_server.container("cntr_f")
    replay_server.container_file("cntr_f", "cfile_r", "/mnt/data/report.csv", b"new,bytes\n", created_at=1)
    s3_server.client().put_object(Bucket=bucket, Key="p/report.csv", Body=b"someone else's\n")
    target = "sandbox:/mnt/data/report.csv"
    result = fetch(
        _reply(f"[r]({target})", [("cfile_r", target)]), out_dir=f"s3://{bucket}/p", client=replay_client
    )
    assert result.ok
    objects = _objects(s3_server, bucket, "p/")
    assert objects["p/report.csv"] == b"someone else's\n"
    assert objects["p/report (1).csv"] == b"new,bytes\n"
    assert result.artifacts[0].filename == "report (1).csv"
    assert "report%20%281%29.csv?" in result.text


def test_nothing_is_visible_under_the_final_key_until_the_upload_is_whole(
    s3_server: S3Server, bucket: str, replay_server: ReplayServer, replay_client: Any
) -> None:
    size = 3 * PART_BYTES + 12345  # four parts
    block = bytes(range(256)) * 4096

    def chunks() -> Iterator[bytes]:
        left = size
        while left:
            piece = block[: min(len(block), left)]
            left -= len(piece)
            yield piece

    digest = hashlib.sha256()
    for piece in chunks():
        digest.update(piece)
    replay_server.container("cntr_f")
    replay_server.listing("cntr_f", [])
    replay_server.stream("/v1/containers/cntr_f/files/cfile_big/content", size, chunks)
    replay_server.json(
        "/v1/containers/cntr_f/files/cfile_big",
        {"id": "cfile_big", "object": "container.file", "bytes": size, "container_id": "cntr_f",
         "path": "/mnt/data/big.bin", "source": "assistant", "created_at": 1},
    )  # fmt: skip
    key = "big/big.bin"
    seen: list[tuple[str, bool]] = []
    viewer = s3_server.client()

    def look(method: str, path: str, query: str) -> None:
        if path == f"/{bucket}/{key}" and method in {"PUT", "POST"} and "uploadId" in query:
            step = "part" if "partNumber" in query else "complete"
            listed = viewer.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0)
            seen.append((step, listed > 0))

    s3_server.before.append(look)
    target = "sandbox:/mnt/data/big.bin"
    result = fetch(
        _reply(f"[big]({target})", [("cfile_big", target)]),
        out_dir=f"s3://{bucket}/big",
        client=replay_client,
    )
    s3_server.before.clear()
    assert result.ok, [failure.message for failure in result.failures]
    assert [step for step, _ in seen] == ["part"] * 4 + ["complete"], seen
    assert not any(visible for _, visible in seen), "a listing mid-upload showed the object"
    head = viewer.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == size and head["Metadata"] == {"sha256": digest.hexdigest()}
    assert result.artifacts[0].sha256 == digest.hexdigest()


def test_public_links_are_the_plain_object_url(
    s3_server: S3Server,
    bucket: str,
    replay_client: Any,
    replay_server: ReplayServer,
    two_files: dict[str, bytes],
) -> None:
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3_server.client().put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read))
    store = ObjectStore(f"s3://{bucket}/pub", links="public")
    result = fetch(_reply_citing_csv(), out_dir=store, client=replay_client, turn_started_at=1_760_000_000)
    csv = result.artifacts[0]
    assert csv.relative_path == f"{s3_server.endpoint}/{bucket}/pub/sales_%202024%20%28final%29.csv"
    assert csv.link_lifetime is None
    with urllib.request.urlopen(csv.relative_path) as response:
        assert response.read() == two_files["cfile_csv"]


def test_secrets_never_reach_a_message_or_a_repr(
    s3_server: S3Server,
    bucket: str,
    replay_client: Any,
    replay_server: ReplayServer,
    two_files: dict[str, bytes],
) -> None:
    options = {"key": ACCESS_KEY, "secret": CANARY_SECRET, "endpoint_url": s3_server.endpoint}
    store = ObjectStore(f"s3://no-such-bucket-{bucket}/x", storage_options=options)
    assert CANARY_SECRET not in repr(store)
    assert store.redact(f"signature for {CANARY_SECRET} failed") == "signature for [redacted] failed"
    try:
        result = fetch(
            _reply_citing_csv(), out_dir=store, client=replay_client, turn_started_at=1_760_000_000
        )
    except ArtifactsError as error:
        assert CANARY_SECRET not in str(error)
    else:
        assert len(result.failures) == 2
        for failure in result.failures:
            assert "could not be uploaded to s3://no-such-bucket-" in failure.message
            assert CANARY_SECRET not in failure.message
        assert CANARY_SECRET not in result.text


def test_object_urls_are_told_from_folders() -> None:
    assert is_object_url("s3://bucket/prefix") and is_object_url(" gs://b ")
    assert not is_object_url("/tmp/s3:/x") and not is_object_url("file:///tmp") and not is_object_url("s3://")
    assert not is_object_url(Path("s3://bucket")) and not is_object_url("C://Users/ada")


def test_the_cli_fetches_into_object_storage(
    s3_server: S3Server, bucket: str, replay_server: ReplayServer, two_files: dict[str, bytes]
) -> None:
    reply = _reply_citing_csv()
    reply["created_at"] = 1_760_000_000
    replay_server.json("/v1/responses/resp_f", reply)
    env = {**os.environ, "OPENAI_API_KEY": TEST_API_KEY}
    out = subprocess.run(
        [sys.executable, "-m", "openai_artifacts_nb", "fetch", "resp_f", "--out", f"s3://{bucket}/cli",
         "--base-url", replay_server.base_url],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert CANARY_SECRET not in out.stdout + out.stderr
    objects = _objects(s3_server, bucket, "cli/")
    assert objects["cli/sales_ 2024 (final).csv"] == two_files["cfile_csv"]
    assert objects["cli/chart.png"] == two_files["cfile_png"]
    text = objects["cli/resp_f.md"].decode()
    assert f"{s3_server.endpoint}/{bucket}/cli/sales_%202024%20%28final%29.csv?" in text
    lines = out.stdout.splitlines()
    assert any(line.startswith(f"{s3_server.endpoint}/{bucket}/cli/chart.png?") for line in lines), lines


@pytest.mark.slow
def test_a_256_mib_file_goes_to_object_storage_in_bounded_memory(
    tmp_path: Path, s3_server: S3Server, bucket: str, replay_server: ReplayServer
) -> None:
    size = 256 * 1024 * 1024
    block = os.urandom(1024 * 1024)

    def chunks() -> Iterator[bytes]:
        for _ in range(size // len(block)):
            yield block

    digest = hashlib.sha256()
    for piece in chunks():
        digest.update(piece)
    replay_server.container("cntr_f")
    replay_server.json(
        "/v1/containers/cntr_f/files/cfile_huge",
        {"id": "cfile_huge", "object": "container.file", "bytes": size, "container_id": "cntr_f",
         "path": "/mnt/data/huge.bin", "source": "assistant", "created_at": 1},
    )  # fmt: skip
    replay_server.stream("/v1/containers/cntr_f/files/cfile_huge/content", size, chunks)
    replay_server.listing("cntr_f", [])
    target = "sandbox:/mnt/data/huge.bin"
    reply_path = tmp_path / "reply.json"
    reply_path.write_text(json.dumps(_reply(f"[h]({target})", [("cfile_huge", target)])), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "bench.object_store_big", "child", str(reply_path), replay_server.base_url,
         f"s3://{bucket}/huge"],
        capture_output=True, text=True, timeout=280, check=False, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["failures"] == [] and report["sha256"] == [digest.hexdigest()]
    rise_mib = (report["after"] - report["before"]) / 2**20
    assert rise_mib < 80, f"peak RSS rose {rise_mib:.0f} MiB for a 256 MiB file"
    head = s3_server.client().head_object(Bucket=bucket, Key="huge/huge.bin")
    assert head["ContentLength"] == size and head["Metadata"]["sha256"] == digest.hexdigest()


@pytest.mark.kernel
def test_the_magic_saves_to_object_storage_and_shows_files_inline(
    ip: Any, s3_server: S3Server, bucket: str, notebook_dir: Path
) -> None:
    from tests.plugins.notebook import run_ok
    from tests.test_magic import CHART_AND_TABLE

    run_ok(ip, f'%config OpenAIMagics.artifacts_dir = "s3://{bucket}/nb"')
    run = run_ok(ip, "%%openai --out result\n" + CHART_AND_TABLE)
    result = ip.user_ns["result"]
    objects = _objects(s3_server, bucket, "nb/")
    assert {"nb/squares.png", "nb/squares.csv"} <= set(objects)
    assert objects["nb/squares.csv"] == b"x,y\n1,1\n2,4\n3,9\n"
    assert not (notebook_dir / "analysis_artifacts").exists(), "nothing is written beside the notebook"

    # Shown inline from the staged copies: the chart as image/png, the table as a preview.
    images = run.mime("image/png")
    assert len(images) == 1
    tables = [html for html in run.mime("text/html") if "oai-table-preview" in html]
    assert len(tables) == 1 and "3 of 3 rows" in tables[0]
    # A terminal shell shows one output per file: the image's text and the table's card carry the links.
    (card,) = [html for html in run.mime("text/html") if "oai-artifact-card" in html]
    assert f'href="{s3_server.endpoint}/{bucket}/nb/squares.csv?' in card
    assert "link valid for 1 h" in card and f"s3://{bucket}/nb/squares.csv" in card
    (chart,) = [text for text in run.mime("text/plain") if text.startswith("[image] squares.png")]
    assert f"saved to s3://{bucket}/nb/squares.png · link valid for 1 h: {s3_server.endpoint}/" in chart
    for artifact in result.artifacts:
        with urllib.request.urlopen(artifact.relative_path) as response:
            assert response.read() == objects[f"nb/{artifact.filename}"]
        assert artifact.path.read_bytes() == objects[f"nb/{artifact.filename}"], "the staged copy"
    usage = [text for text in run.mime("text/plain") if "tokens" in text]
    assert len(usage) == 1 and f"saved to s3://{bucket}/nb" in usage[0]
    status = run_ok(ip, "%openai status").all_text()
    assert f"files go to s3://{bucket}/nb" in status
    assert CANARY_SECRET not in run.all_text() + status


def test_cards_and_the_download_control_keep_a_presigned_url_whole(tmp_path: Path) -> None:
    from openai_artifacts_nb.file_views import ArtifactView, lifetime_text
    from openai_artifacts_nb.links import markdown_url
    from openai_artifacts_nb.widgets import download_link_html

    url = "https://bucket.s3.amazonaws.com/run/a%20b.csv?X-Amz-Credential=AK%2F1&X-Amz-Signature=ab12"
    path = tmp_path / "a b.csv"
    path.write_bytes(b"x\n1\n")
    view = ArtifactView(
        path, url, "a b.csv", "text/csv", 4, stored_at="s3://bucket/run/a b.csv", link_lifetime=900
    )
    card = view.caption_html()
    assert (
        'href="https://bucket.s3.amazonaws.com/run/a%20b.csv?X-Amz-Credential=AK%2F1&amp;X-Amz-Signature=ab12"'
        in card
    )
    assert "link valid for 15 min" in card and ">s3://bucket/run/a b.csv</a>" in card
    assert markdown_url(url) == url
    assert markdown_url("https://h/a (1).csv?x=1") == "https://h/a%20%281%29.csv?x=1"
    assert url.replace("&", "&amp;") in download_link_html(url, "a b.csv")
    assert (lifetime_text(3600), lifetime_text(86400 * 7), lifetime_text(90)) == ("1 h", "7 days", "90 s")


@pytest.mark.kernel
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_display_hook_saves_a_plain_sdk_reply_and_a_live_stream_to_object_storage(
    ip: Any, s3_server: S3Server, bucket: str, notebook_dir: Path
) -> None:
    from tests.plugins.notebook import run_ok
    from tests.test_display_hook import CODE, SETUP, TABLE

    ip.user_ns.update(TABLE=TABLE, CODE=CODE)
    run_ok(ip, SETUP)
    run_ok(ip, f'%config OpenAIMagics.artifacts_dir = "s3://{bucket}/hook"')
    run = run_ok(ip, "client.responses.create(model='gpt-5', input=TABLE, tools=[CODE], include=INCLUDE)")
    objects = _objects(s3_server, bucket, "hook/")
    assert objects["hook/squares.csv"] == b"x,y\n1,1\n2,4\n3,9\n"
    (reply,) = [html for html in run.mime("text/html") if "oai-reply" in html]
    assert f'href="{s3_server.endpoint}/{bucket}/hook/squares.csv?' in reply
    tables = [html for html in run.mime("text/html") if "oai-table-preview" in html]
    assert len(tables) == 1 and "3 of 3 rows" in tables[0] and "link valid for 1 h" in tables[0]
    (usage,) = [text for text in run.mime("text/plain") if "tokens" in text]
    assert f"1 file saved to s3://{bucket}/hook" in usage

    # A stream displayed while it runs: shown live, its files published once the reply is whole.
    run_ok(ip, f'%config OpenAIMagics.artifacts_dir = "s3://{bucket}/live"')
    run_ok(
        ip,
        "manager = client.responses.stream(model='m', input=TABLE, tools=[CODE], include=INCLUDE)\n"
        "stream = manager.__enter__()\n",
    )
    run = run_ok(ip, "stream")
    run_ok(ip, "manager.__exit__(None, None, None)")
    assert _objects(s3_server, bucket, "live/")["live/squares.csv"] == b"x,y\n1,1\n2,4\n3,9\n"
    (reply,) = [html for html in run.mime("text/html") if "oai-reply" in html]
    assert f'href="{s3_server.endpoint}/{bucket}/live/squares.csv?' in reply
    (usage,) = [text for text in run.mime("text/plain") if "tokens" in text]
    assert f"1 file saved to s3://{bucket}/live" in usage
    assert not (notebook_dir / "analysis_artifacts").exists()
