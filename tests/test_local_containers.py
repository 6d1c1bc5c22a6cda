"""Containers and container files: CRUD, pagination, uploads, streamed content, idle expiry."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator

import openai
import pytest

from openai_artifacts_nb.local import LocalServer


def test_create_retrieve_list_delete(client: openai.OpenAI) -> None:
    created = client.containers.create(
        name="crud", expires_after={"anchor": "last_active_at", "minutes": 5}, memory_limit="4g"
    )
    assert created.id.startswith("cntr_") and created.status == "running"
    assert created.expires_after.minutes == 5 and created.memory_limit == "4g"
    assert client.containers.retrieve(created.id).name == "crud"
    assert created.id in [c.id for c in client.containers.list(name="crud")]
    assert client.containers.delete(created.id) is None
    with pytest.raises(openai.NotFoundError):
        client.containers.retrieve(created.id)


def test_memory_limit_defaults_to_1g_and_is_one_of_the_apis_values(client: openai.OpenAI) -> None:
    assert client.containers.create(name="default memory").memory_limit == "1g"
    with pytest.raises(openai.BadRequestError) as created:
        client.containers.create(name="x", memory_limit="2g")  # type: ignore[arg-type]
    assert created.value.param == "memory_limit"
    with pytest.raises(openai.BadRequestError) as auto:
        client.responses.create(
            model="m",
            input="```python\nprint(1)\n```",
            tools=[{"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "2g"}}],  # type: ignore[typeddict-item]
        )
    assert auto.value.param == "tools[0].container.memory_limit"
    assert "Invalid value for 'memory_limit': '2g'. Expected one of 1g, 4g, 16g, 64g." in auto.value.message
    assert "Invalid value for 'memory_limit': '2g'." in created.value.message


def test_missing_name_and_bad_expiry_are_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/containers", body={}, cast_to=object)
    assert caught.value.code == "missing_required_parameter"
    with pytest.raises(openai.BadRequestError):
        client.containers.create(name="x", expires_after={"anchor": "created_at", "minutes": 5})  # type: ignore[typeddict-item]


def test_list_paginates_with_cursor(client: openai.OpenAI) -> None:
    ids = [client.containers.create(name="page-test").id for _ in range(5)]
    first = client.containers.list(name="page-test", limit=2)
    assert first.has_more and [c.id for c in first.data] == ids[::-1][:2]
    every = [c.id for c in client.containers.list(name="page-test", limit=2, order="asc")]
    assert every == ids


def test_files_upload_list_retrieve_content_delete(client: openai.OpenAI) -> None:
    container = client.containers.create(name="files")
    uploaded = client.containers.files.create(container.id, file=("notes.txt", b"hello world", "text/plain"))
    assert (uploaded.path, uploaded.source, uploaded.bytes) == ("/mnt/data/notes.txt", "user", 11)
    stored = client.files.create(file=("from-files.csv", b"1,2\n"), purpose="user_data")
    copied = client.containers.files.create(container.id, file_id=stored.id)
    assert copied.path == "/mnt/data/from-files.csv" and copied.bytes == 4
    listed = client.containers.files.list(container.id, limit=1)
    assert listed.has_more
    assert {f.id for f in client.containers.files.list(container.id, limit=1)} == {uploaded.id, copied.id}
    assert client.containers.files.retrieve(uploaded.id, container_id=container.id).bytes == 11
    content = client.containers.files.content.retrieve(copied.id, container_id=container.id)
    assert content.read() == b"1,2\n"
    assert client.containers.files.delete(uploaded.id, container_id=container.id) is None
    with pytest.raises(openai.NotFoundError):
        client.containers.files.content.retrieve(uploaded.id, container_id=container.id)


def test_large_content_is_streamed_to_disk(client: openai.OpenAI, tmp_path: pytest.TempPathFactory) -> None:
    container = client.containers.create(name="large")
    payload = bytes(range(256)) * (12 * 4096)
    uploaded = client.containers.files.create(container.id, file=("big.bin", payload))
    target = tmp_path / "big.bin"  # type: ignore[operator]
    with client.containers.files.content.with_streaming_response.retrieve(
        uploaded.id, container_id=container.id
    ) as response:
        assert int(response.headers["content-length"]) == len(payload)
        response.stream_to_file(target)
    assert target.read_bytes() == payload


def test_content_of_a_big_file_is_streamed_not_held_in_memory(client: openai.OpenAI) -> None:
    size = 128 * 1024 * 1024
    response = client.responses.create(
        model="m",
        input=f"```python\nwith open('/mnt/data/sparse.bin', 'wb') as f:\n    f.truncate({size})\n```",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
    )
    container_id = response.output[0].container_id
    (annotation,) = response.output[1].content[0].annotations
    received = 0
    tracemalloc.start()
    try:
        with client.containers.files.content.with_streaming_response.retrieve(
            annotation.file_id, container_id=container_id
        ) as download:
            for chunk in download.iter_bytes(1024 * 1024):
                received += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size
    assert peak < 32 * 1024 * 1024, f"peak Python memory {peak} bytes while serving {size} bytes"


def test_use_refreshes_last_active_at(client: openai.OpenAI, emulator: LocalServer) -> None:
    container = client.containers.create(name="touch")
    record = emulator.service.state.containers[container.id]
    record.last_active_at -= 100
    stale = int(record.last_active_at)
    client.containers.files.list(container.id)
    assert client.containers.retrieve(container.id).last_active_at > stale


@pytest.fixture(scope="module")
def short_lived() -> Iterator[LocalServer]:
    """A dedicated emulator whose containers expire after 1.2 idle seconds."""
    with LocalServer(idle_minutes=0.02) as server:
        yield server


def test_idle_container_expires_and_its_files_go(short_lived: LocalServer) -> None:
    client = openai.OpenAI(base_url=short_lived.base_url, api_key="k")
    tools = [{"type": "code_interpreter", "container": {"type": "auto"}}]
    first = client.responses.create(
        model="m", input="```python\nopen('/mnt/data/a.txt','w').write('a')\n```", tools=tools
    )
    container_id = first.output[0].container_id
    (cited,) = first.output[1].content[0].annotations
    pids = short_lived.service.sandboxes.kernel_pids()
    assert len(pids) == 1
    time.sleep(1.8)
    expired = client.containers.retrieve(container_id)
    assert expired.status == "expired"
    with pytest.raises(openai.NotFoundError) as missing:
        client.containers.files.content.retrieve(cited.file_id, container_id=container_id)
    assert missing.value.code == "container_expired"
    assert list(client.containers.files.list(container_id)) == []
    assert short_lived.service.sandboxes.kernel_pids() == []
    with pytest.raises(openai.BadRequestError) as chained:
        client.responses.create(
            model="m", input="```python\nprint(1)\n```", tools=tools, previous_response_id=first.id
        )
    assert container_id in chained.value.message
    with pytest.raises(openai.BadRequestError):
        client.responses.create(
            model="m",
            input="```python\nprint(1)\n```",
            tools=[{"type": "code_interpreter", "container": container_id}],
        )
    fresh = client.responses.create(model="m", input="```python\nprint(1)\n```", tools=tools)
    assert fresh.output[0].container_id != container_id
