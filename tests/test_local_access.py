"""Who may use the emulator: keys as projects that cannot see each other, unknown keys, Host and Origin."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from openai_artifacts_nb.local import LocalServer
from openai_artifacts_nb.local.access import AUTO_KEYS_FILE, HostCheck, KeyRing, load_keys, mask_key

KEY_A = "sk-class-student-a-0001"
KEY_B = "sk-class-student-b-0002"
TOOLS = [{"type": "code_interpreter", "container": {"type": "auto"}}]


@pytest.fixture(scope="module")
def classroom() -> Iterator[LocalServer]:
    """An emulator with two keys, each its own project."""
    with LocalServer(keys=KeyRing([KEY_A, KEY_B]), allow_hosts=("emulator.example",)) as server:
        yield server


def sdk(server: LocalServer, key: str) -> openai.OpenAI:
    """An SDK client with ``key`` and no retries."""
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)


def test_one_projects_objects_are_404_to_another(classroom: LocalServer) -> None:
    with sdk(classroom, KEY_A) as alice, sdk(classroom, KEY_B) as bob:
        response = alice.responses.create(
            model="m", input="```python\nopen('/mnt/data/a.txt', 'w').write('alice')\n```", tools=TOOLS
        )
        call = response.output[0]
        assert call.type == "code_interpreter_call"
        container_id = call.container_id
        (made,) = alice.containers.files.list(container_id)
        uploaded = alice.files.create(file=("notes.txt", b"alice's notes"), purpose="user_data")
        assert alice.containers.files.content.retrieve(made.id, container_id=container_id).read() == b"alice"

        probes = [
            lambda: bob.containers.retrieve(container_id),
            lambda: bob.containers.files.list(container_id),
            lambda: bob.containers.files.retrieve(made.id, container_id=container_id),
            lambda: bob.containers.files.content.retrieve(made.id, container_id=container_id),
            lambda: bob.containers.delete(container_id),
            lambda: bob.files.retrieve(uploaded.id),
            lambda: bob.files.content(uploaded.id),
            lambda: bob.files.delete(uploaded.id),
            lambda: bob.responses.retrieve(response.id),
            lambda: bob.responses.delete(response.id),
        ]
        messages = []
        for probe in probes:
            with pytest.raises(openai.NotFoundError) as caught:
                probe()
            messages.append(caught.value.body["message"])  # type: ignore[index]
        assert messages[0] == f"Container with id '{container_id}' not found."
        assert messages[5] == f"No such File object: {uploaded.id}"
        assert messages[8] == f"Response with id '{response.id}' not found."
        assert [c.id for c in bob.containers.list()] == []
        assert [f.id for f in bob.files.list()] == []
        with pytest.raises(openai.BadRequestError, match="Previous response"):
            bob.responses.create(model="m", input="hi", previous_response_id=response.id)
        with pytest.raises(openai.NotFoundError):
            bob.responses.create(
                model="m",
                input="```python\nprint(1)\n```",
                tools=[{"type": "code_interpreter", "container": container_id}],
            )
        assert [c.id for c in alice.containers.list()] == [container_id]
        assert alice.files.retrieve(uploaded.id).filename == "notes.txt"
        assert alice.responses.retrieve(response.id).id == response.id


def test_an_unknown_key_is_401_as_upstream_words_it(classroom: LocalServer) -> None:
    with (
        sdk(classroom, "sk-not-a-student-key-9999") as stranger,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        stranger.containers.list()
    body = caught.value.body
    assert body == {
        "message": "Incorrect API key provided: sk-******************9999. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }


def test_fault_switches_are_closed_on_a_class_server(classroom: LocalServer) -> None:
    reply = httpx.post(f"{classroom.root_url}/_emulator/faults", json={"delay": 5})
    assert reply.status_code == 403
    assert httpx.get(f"{classroom.root_url}/_emulator/health").json()["ok"] is True


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("[::1]:{port}", 200),
        ("emulator.example:{port}", 200),
        ("evil.example:{port}", 403),
        ("127.0.0.1:1", 403),
        ("", 403),
    ],
)
def test_the_host_header_must_name_this_server(classroom: LocalServer, host: str, status: int) -> None:
    reply = httpx.get(
        f"{classroom.base_url}/containers",
        headers={"host": host.format(port=classroom.port), "authorization": f"Bearer {KEY_A}"},
    )
    assert reply.status_code == status
    if status == 403:
        assert reply.json()["error"]["code"] == "bad_host"


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://127.0.0.1:{port}", 200),
        ("http://evil.example", 403),
        ("null", 403),
        ("http://localhost:1", 403),
    ],
)
def test_a_web_page_elsewhere_is_refused(emulator: LocalServer, origin: str, status: int) -> None:
    reply = httpx.get(
        f"{emulator.base_url}/containers",
        headers={"origin": origin.format(port=emulator.port), "authorization": "Bearer any"},
    )
    assert reply.status_code == status
    if status == 403:
        assert reply.json()["error"]["code"] == "bad_origin"


def test_without_keys_any_key_works_and_dns_rebinding_is_refused(emulator: LocalServer) -> None:
    assert (
        httpx.get(f"{emulator.base_url}/containers", headers={"authorization": "Bearer x"}).status_code == 200
    )
    rebound = httpx.get(
        f"{emulator.base_url}/containers",
        headers={"host": f"attacker.example:{emulator.port}", "authorization": "Bearer x"},
    )
    assert rebound.status_code == 403


def test_key_files_and_auto_keys(tmp_path: Path) -> None:
    listed = tmp_path / "keys.txt"
    listed.write_text("# the class of 2026\nsk-one\n\n  sk-two  \nsk-one\n")
    ring = KeyRing.from_file(listed)
    assert len(ring) == 2
    assert (ring.project_of("sk-one"), ring.project_of("sk-two"), ring.project_of("sk-three")) == (
        "project-1",
        "project-2",
        None,
    )
    auto = load_keys("auto", students=30, folder=tmp_path)
    written = tmp_path / AUTO_KEYS_FILE
    keys = written.read_text().splitlines()
    assert auto is not None and len(auto) == 30 and len(set(keys)) == 30
    assert all(key.startswith("sk-class-") and len(key) > 30 for key in keys)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="exists already"):
        load_keys("auto", students=30, folder=tmp_path)
    assert load_keys(None, students=30) is None
    assert mask_key("sk-abcdefgh1234") == "sk-********1234"


def test_every_interface_allows_the_machines_own_names() -> None:
    check = HostCheck("0.0.0.0", extra=("class.example",))
    check.port = 8765
    assert "0.0.0.0" not in check.allowed
    assert check.host_ok("class.example:8765") and check.host_ok("127.0.0.1:8765")
    assert not check.host_ok("class.example:8766") and not check.host_ok("user@class.example:8765")
