"""The emulator's deliberate misbehaviour, set from Python and over HTTP, and its request gate."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest

from openai_artifacts_nb.local import LocalServer
from openai_artifacts_nb.local.faults import Faults

WRITE = "```python\nopen('/mnt/data/résumé 1.csv', 'w').write('a,b\\n')\n```\n"


@pytest.fixture(scope="module")
def tools(emulator: LocalServer) -> list[dict[str, Any]]:
    """A code-interpreter tool on one container shared by this module (one kernel start, not one per test)."""
    shared = openai.OpenAI(base_url=emulator.base_url, api_key="k").containers.create(name="faults")
    return [{"type": "code_interpreter", "container": shared.id}]


def control(server: LocalServer, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call the ``/_emulator/faults`` control endpoint the way another process would."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{server.root_url}/_emulator/faults",
        data=data,
        method=method,
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return dict(json.loads(reply.read()))


def test_no_annotations_leaves_the_file_only_in_the_listing(
    client: openai.OpenAI, emulator: LocalServer, tools: list[dict[str, Any]]
) -> None:
    emulator.faults.annotations = False
    response = client.responses.create(model="m", input=WRITE, tools=tools)
    message = response.output[-1]
    assert message.content[0].annotations == []
    assert "sandbox:/mnt/data/résumé 1.csv" in message.content[0].text
    container_id = response.output[0].container_id
    listed = [f.path for f in client.containers.files.list(container_id)]
    assert listed == ["/mnt/data/résumé 1.csv"]


@pytest.mark.parametrize(
    ("style", "target"),
    [
        ("standard", "sandbox:/mnt/data/résumé 1.csv"),
        ("double_slash", "sandbox://mnt/data/résumé 1.csv"),
        ("triple_slash", "sandbox:///mnt/data/résumé 1.csv"),
        ("short", "sandbox:/résumé 1.csv"),
        ("percent", "sandbox:/mnt/data/r%C3%A9sum%C3%A9%201.csv"),
    ],
)
def test_link_styles_are_cited_exactly(
    client: openai.OpenAI, emulator: LocalServer, tools: list[dict[str, Any]], style: str, target: str
) -> None:
    emulator.faults.link_style = style
    response = client.responses.create(model="m", input=WRITE, tools=tools)
    part = response.output[-1].content[0]
    (annotation,) = part.annotations
    assert part.text[annotation.start_index : annotation.end_index] == target
    assert annotation.filename == "résumé 1.csv"


def test_link_style_none_mentions_no_link(
    client: openai.OpenAI, emulator: LocalServer, tools: list[dict[str, Any]]
) -> None:
    emulator.faults.link_style = "none"
    part = client.responses.create(model="m", input=WRITE, tools=tools).output[-1].content[0]
    assert "sandbox:" not in part.text and part.annotations == []
    with pytest.raises(ValueError, match="unknown link_style"):
        emulator.faults.link_style = "weird"


def test_delay_applies_to_every_request(client: openai.OpenAI, emulator: LocalServer) -> None:
    emulator.faults.delay = 0.3
    client.containers.list(limit=1)
    client.files.list()
    assert emulator.faults.delayed == 2 and emulator.faults.peak_delayed == 1


def test_injected_500_is_retried_by_the_sdk(client: openai.OpenAI, emulator: LocalServer) -> None:
    emulator.faults.fail_next(2, status=500)
    assert client.containers.list(limit=1).object == "list"
    assert emulator.faults.describe()["pending_failures"] == []
    emulator.faults.fail_next(1, status=500)
    with pytest.raises(openai.InternalServerError) as caught:
        client.with_options(max_retries=0).containers.list()
    assert caught.value.type == "server_error"
    assert caught.value.request_id is not None


def test_injected_429_carries_a_small_retry_after(client: openai.OpenAI, emulator: LocalServer) -> None:
    emulator.faults.fail_next(1, status=429, retry_after=0.05)
    with pytest.raises(openai.RateLimitError) as caught:
        client.with_options(max_retries=0).files.list()
    # Whole seconds in Retry-After (the SPEC's integer >= 1); the exact delay in retry-after-ms.
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.response.headers["retry-after-ms"] == "50"
    assert caught.value.code == "rate_limit_exceeded"
    emulator.faults.fail_next(1, status=429)
    assert client.files.list().object == "list"


def test_truncated_download_announces_full_length_then_stops(
    client: openai.OpenAI, emulator: LocalServer, tmp_path: Path
) -> None:
    container = client.containers.create(name="truncate")
    payload = b"0123456789" * 50_000
    record = client.containers.files.create(container.id, file=("cut.bin", payload))
    emulator.faults.truncate_downloads(1, fraction=0.5)
    received = bytearray()
    with (
        pytest.raises(openai.APIConnectionError),
        client.containers.files.content.with_streaming_response.retrieve(
            record.id, container_id=container.id
        ) as response,
    ):
        assert int(response.headers["content-length"]) == len(payload)
        try:
            for chunk in response.iter_bytes():
                received.extend(chunk)
        except Exception as error:  # the SDK surfaces the broken body as the transport's error
            raise openai.APIConnectionError(request=response.http_response.request) from error
    assert 0 < len(received) < len(payload)
    assert client.containers.files.content.retrieve(record.id, container_id=container.id).read() == payload


def test_container_expires_mid_conversation(client: openai.OpenAI, emulator: LocalServer) -> None:
    auto = [{"type": "code_interpreter", "container": {"type": "auto"}}]
    emulator.faults.expire_after_responses(1)
    first = client.responses.create(model="m", input=WRITE, tools=auto)
    container_id = first.output[0].container_id
    assert client.containers.retrieve(container_id).status == "expired"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input=WRITE, tools=auto, previous_response_id=first.id)
    assert caught.value.code == "container_expired"
    other = client.containers.create(name="expire-now")
    assert emulator.faults.expire_container(other.id) == [other.id]
    assert client.containers.retrieve(other.id).status == "expired"


def test_http_control_endpoint_steers_the_server(client: openai.OpenAI, emulator: LocalServer) -> None:
    shown = control(
        emulator, "POST", {"annotations": False, "link_style": "short", "fail_next": {"status": 503}}
    )
    assert shown["annotations"] is False and shown["pending_failures"] == [503]
    assert emulator.faults.link_style == "short"
    with pytest.raises(openai.InternalServerError):
        client.with_options(max_retries=0).containers.list()
    container = client.containers.create(name="remote-expire")
    assert control(emulator, "POST", {"expire_container": container.id})["expired"] == [container.id]
    assert control(emulator, "DELETE")["annotations"] is True
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(emulator, "POST", {"link_style": "nope"})
    assert caught.value.code == 400


def test_gate_requires_a_bearer_and_stamps_request_ids(emulator: LocalServer) -> None:
    request = urllib.request.Request(f"{emulator.base_url}/containers")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 401
    assert caught.value.headers["x-request-id"].startswith("req_")
    assert json.loads(caught.value.read())["error"]["type"] == "invalid_request_error"
    unknown = urllib.request.Request(f"{emulator.base_url}/nothing", headers={"authorization": "Bearer x"})
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(unknown, timeout=10)
    assert missing.value.code == 404
    assert json.loads(missing.value.read())["error"]["message"] == "Invalid URL (GET /v1/nothing)"


def test_faults_validate_their_arguments() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="HTTP error status"):
        faults.fail_next(1, status=200)
    with pytest.raises(ValueError, match="fraction"):
        faults.truncate_downloads(1, fraction=1.0)
    faults.fail_next(2, status=502)
    faults.reset()
    assert faults.take_failure() is None
