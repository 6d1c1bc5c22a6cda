"""The conversation session, called directly (no shell): turns, containers, uploads, errors, interpolation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from openai_artifacts_nb.errors import ApiError, ConfigurationError
from openai_artifacts_nb.local import LocalServer
from openai_artifacts_nb.session import ConversationSession, api_error

WRITE = "```python\nopen('/mnt/data/{name}', 'w').write('{text}')\nprint('wrote {name}')\n```"


def run(session: ConversationSession, client: Any, prompt: str, out: Path, **options: Any) -> Any:
    return session.run(prompt, client=client, model="gpt-4.1", out_dir=out, link_base=out.parent, **options)


def test_streamed_and_plain_turns_save_the_same_files(client: openai.OpenAI, tmp_path: Path) -> None:
    events: list[str] = []
    streamed = run(
        ConversationSession(),
        client,
        WRITE.format(name="a.txt", text="A"),
        tmp_path / "s",
        on_event=lambda event: events.append(event.type),
    )
    plain = run(
        ConversationSession(), client, WRITE.format(name="a.txt", text="A"), tmp_path / "p", stream=False
    )
    for result in (streamed, plain):
        assert [artifact.filename for artifact in result.artifacts] == ["a.txt"]
        assert result.artifacts[0].path.read_text() == "A"
        assert "sandbox:" not in result.text
        assert result.code_runs[0].logs == "wrote a.txt\n"
        assert result.usage is not None and result.usage.total_tokens > 0
    assert events[0] == "response.created" and events[-1] == "response.completed"
    assert "response.output_text.delta" in events
    assert "s/a.txt" in streamed.text and "p/a.txt" in plain.text


def test_follow_ups_chain_responses_and_reuse_the_container(client: openai.OpenAI, tmp_path: Path) -> None:
    session = ConversationSession()
    first = run(session, client, WRITE.format(name="one.txt", text="1"), tmp_path / "out")
    second = run(
        session, client, "```python\nimport os\nprint(sorted(os.listdir('/mnt/data')))\n```", tmp_path / "out"
    )
    assert second.container_id == first.container_id
    assert "one.txt" in second.code_runs[0].logs
    stored = client.responses.retrieve(second.response_id)
    assert stored.previous_response_id == first.response_id
    assert second.artifacts == [], "the first turn's file is not shown again"
    session.reset()
    third = run(session, client, WRITE.format(name="x.txt", text="x"), tmp_path / "out")
    assert third.container_id != first.container_id


def test_an_expired_container_is_replaced_and_inputs_uploaded_again(
    client: openai.OpenAI, emulator: LocalServer, tmp_path: Path
) -> None:
    data = tmp_path / "in.csv"
    data.write_text("v\n41\n")
    notices: list[str] = []
    session = ConversationSession()
    first = run(
        session,
        client,
        "```python\nprint(open('/mnt/data/in.csv').read())\n```",
        tmp_path / "o",
        files=[data],
    )
    assert "41" in first.code_runs[0].logs
    assert session.inputs[0].container_path == "/mnt/data/in.csv"
    emulator.faults.expire_after_responses(1)
    second = run(
        session, client, WRITE.format(name="b.txt", text="b"), tmp_path / "o", on_notice=notices.append
    )
    assert second.container_id == first.container_id and notices == []
    third = run(
        session,
        client,
        "```python\nprint(int(open('/mnt/data/in.csv').read().split()[1]) + 1)\n```",
        tmp_path / "o",
        on_notice=notices.append,
    )
    assert third.container_id != first.container_id
    assert third.code_runs[0].logs.strip() == "42"
    assert notices == [
        f"Container {first.container_id} expired; started a new one and uploaded the inputs again."
    ]
    assert third.notices == notices


def test_files_after_the_first_turn_go_into_the_same_container(client: openai.OpenAI, tmp_path: Path) -> None:
    late = tmp_path / "late.txt"
    late.write_text("late")
    session = ConversationSession()
    first = run(session, client, WRITE.format(name="a.txt", text="a"), tmp_path / "o")
    second = run(
        session,
        client,
        "```python\nprint(open('/mnt/data/late.txt').read())\n```",
        tmp_path / "o",
        files=[late],
    )
    assert second.container_id == first.container_id
    assert second.code_runs[0].logs.strip() == "late"


def test_a_missing_input_file_fails_before_any_request(client: openai.OpenAI, tmp_path: Path) -> None:
    session = ConversationSession()
    with pytest.raises(ConfigurationError, match="no such file"):
        run(session, client, "hi", tmp_path, files=[tmp_path / "nope.csv"])
    assert session.previous_response_id is None


def test_api_failures_become_one_line_errors(
    client: openai.OpenAI, emulator: LocalServer, tmp_path: Path
) -> None:
    emulator.faults.fail_next(3, status=429, should_retry=False)
    with pytest.raises(ApiError) as caught:
        run(ConversationSession(), client, "hi", tmp_path)
    assert caught.value.status == 429
    assert str(caught.value).startswith("OpenAI API error 429:") and "\n" not in str(caught.value)
    assert "Wait a moment" in str(caught.value)


def test_unreachable_server(tmp_path: Path) -> None:
    unreachable = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-x", max_retries=0)
    with pytest.raises(ApiError, match=r"^Cannot reach the API at http://127\.0\.0\.1:9/v1\. "):
        run(ConversationSession(), unreachable, "hi", tmp_path)


def _status_error(status: int, body: dict[str, Any]) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/responses")
    response = httpx2.Response(status, request=request, json={"error": body})
    cls = {401: openai.AuthenticationError, 400: openai.BadRequestError}.get(status, openai.APIStatusError)
    return cls(f"Error code: {status}", response=response, body=body)


def test_api_error_hints_and_no_key() -> None:
    secret = "sk-proj-abcdefghijklmnop"
    error = api_error(
        _status_error(401, {"message": f"Incorrect API key provided: {secret}."}), api_key=secret
    )
    assert secret not in str(error) and "sk-…" in str(error) and "OPENAI_API_KEY" in str(error)
    gone = api_error(
        _status_error(400, {"message": "Previous response not found.", "code": "previous_response_not_found"})
    )
    assert "--new" in str(gone)
    assert "sk-…" in str(api_error(RuntimeError("key sk-abcdef123456 leaked")))


def test_a_container_that_expires_between_the_check_and_the_request(
    client: openai.OpenAI, emulator: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    data = tmp_path / "in.txt"
    data.write_text("payload")
    session = ConversationSession()
    first = run(session, client, "```python\nprint(1)\n```", tmp_path / "o", files=[data])
    emulator.faults.expire_container(first.container_id)
    # The liveness check races the expiry: it still saw the container running (nothing real can time that).
    monkeypatch.setattr(client.containers, "retrieve", lambda _id: SimpleNamespace(status="running"))
    notices: list[str] = []
    second = run(
        session,
        client,
        "```python\nprint(open('/mnt/data/in.txt').read())\n```",
        tmp_path / "o",
        on_notice=notices.append,
    )
    assert second.container_id != first.container_id
    assert second.code_runs[0].logs.strip() == "payload"
    assert notices == [
        f"Container {first.container_id} expired; started a new one and uploaded the inputs again."
    ]
