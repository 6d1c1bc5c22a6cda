"""Issue 9, the key: it never appears in any output, file, manifest, log or exception text.

A real IPython shell runs ``%%openai`` against a real HTTP server that answers with the key echoed back
in every place a server can put text: an HTTP error, a stream ``error`` event, ``response.failed``'s
message, ``response.incomplete``'s reason, the reply text, code logs, a download's error; and an
unexpected exception carries it too. After each, the key is in no displayed bundle, no printed text, no
exception text, no file under the folder and no log record. Two keys: one shaped like an OpenAI key and one
that is not (only the client's own key tells that one apart).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openai_artifacts_nb.redaction import Redacted, RedactingFilter, logger, redacting_display
from tests.plugins.engine import ReplayServer, Route, error_body
from tests.plugins.notebook import CellRun, run_cell

SHAPED = "sk-test-LEAKCANARY0123456789"
PLAIN = "LEAKCANARY-plain-key-987654321"
CONTAINER = "cntr_k"


def _response(status: str, *, text: str, logs: str, **extra: Any) -> dict[str, Any]:
    call = {
        "id": "ci_1",
        "type": "code_interpreter_call",
        "status": "completed",
        "code": "print(key)",
        "container_id": CONTAINER,
        "outputs": [{"type": "logs", "logs": logs}],
    }
    content = {"type": "output_text", "text": text, "annotations": []}
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [content],
    }
    return {
        "id": "resp_k",
        "object": "response",
        "created_at": 1,
        "status": status,
        "model": "gpt-test",
        "output": [call, message],
        "error": None,
        "incomplete_details": None,
        "tools": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        **extra,
    }


def _sse(events: list[dict[str, Any]]) -> bytes:
    frames = []
    for number, event in enumerate(events):
        numbered = {**event, "sequence_number": number}
        frames.append(f"event: {numbered['type']}\ndata: {json.dumps(numbered)}\n\n")
    return "".join(frames).encode()


def _stream(server: ReplayServer, events: list[dict[str, Any]]) -> None:
    server.routes[("POST", "/v1/responses")] = Route(body=_sse(events), content_type="text/event-stream")


@pytest.fixture(params=[SHAPED, PLAIN], ids=["key-shaped", "plain"])
def key(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shell(
    replay_server: ReplayServer, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A real IPython shell with the extension, its client using ``key`` against the replay server."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    notebook = tmp_path / "nb" / "analysis.ipynb"
    notebook.parent.mkdir()
    notebook.write_text("{}", encoding="utf-8")
    monkeypatch.chdir(notebook.parent)
    monkeypatch.setenv("OPENAI_ARTIFACTS_NOTEBOOK", str(notebook))
    monkeypatch.setenv("OPENAI_BASE_URL", replay_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.delenv("OPENAI_ARTIFACTS_BACKEND", raising=False)
    replay_server.container(CONTAINER)
    replay_server.listing(CONTAINER, [])
    config = Config()
    config.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=config)
    ip.run_line_magic("load_ext", "openai_artifacts_nb")
    try:
        yield ip
    finally:
        ip.run_line_magic("unload_ext", "openai_artifacts_nb")
        ip.magics_manager.registry.pop("OpenAIMagics", None)
        ip.config.pop("OpenAIMagics", None)
        ip.reset(new_session=False)


def _assert_nowhere(key: str, run: CellRun, folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert key not in run.all_text()
    assert key not in json.dumps(run.outputs, default=str)
    assert key not in str(run.error) and key not in repr(run.error)
    for path in folder.rglob("*"):
        assert key not in str(path.relative_to(folder)), path
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
    assert key not in caplog.text
    for record in caplog.records:
        assert key not in record.getMessage() and key not in (record.exc_text or "")


def test_a_stream_error_event(
    shell: Any, replay_server: ReplayServer, key: str, tmp_path: Path, caplog: Any
) -> None:
    _stream(
        replay_server,
        [
            {"type": "response.created", "response": _response("in_progress", text="", logs="")},
            {"type": "error", "code": "server_error", "message": f"bad key {key} rejected", "param": None},
        ],
    )
    run = run_cell(shell, "%%openai\nhello")
    assert run.error is not None and "bad key [redacted]" in str(run.error).replace(
        "sk-…[redacted]", "[redacted]"
    )
    _assert_nowhere(key, run, tmp_path, caplog)


def test_a_failed_response(
    shell: Any, replay_server: ReplayServer, key: str, tmp_path: Path, caplog: Any
) -> None:
    failed = _response(
        "failed",
        text=f"partial {key}",
        logs=key,
        error={"code": "server_error", "message": f"key {key} leaked"},
    )
    _stream(
        replay_server,
        [
            {"type": "response.created", "response": _response("in_progress", text="", logs="")},
            {
                "type": "response.output_text.delta",
                "output_index": 1,
                "content_index": 0,
                "item_id": "msg_1",
                "delta": f"streamed {key} text",
            },
            {"type": "response.failed", "response": failed},
        ],
    )
    run = run_cell(shell, "%%openai\nhello")
    assert run.error is not None and "The response failed" in str(run.error)
    _assert_nowhere(key, run, tmp_path, caplog)


def test_an_incomplete_response_with_the_key_in_its_text_logs_and_reason(
    shell: Any, replay_server: ReplayServer, key: str, tmp_path: Path, caplog: Any
) -> None:
    incomplete = _response(
        "incomplete",
        text=f"Here is the key: {key} and `{key}`",
        logs=f"Traceback (most recent call last):\nValueError: {key}\n",
        incomplete_details={"reason": f"max_output_tokens {key}"},
    )
    _stream(
        replay_server,
        [
            {"type": "response.created", "response": _response("in_progress", text="", logs="")},
            {"type": "response.output_item.done", "output_index": 0, "item": incomplete["output"][0]},
            {
                "type": "response.output_text.delta",
                "output_index": 1,
                "content_index": 0,
                "item_id": "msg_1",
                "delta": f"Here is the key: {key}",
            },
            {"type": "response.incomplete", "response": incomplete},
        ],
    )
    run = run_cell(shell, "%%openai --out result\nhello")
    assert run.error is None, run.error
    assert "[redacted]" in run.all_text() and "incomplete" in run.all_text()
    _assert_nowhere(key, run, tmp_path, caplog)


def test_an_http_error_that_echoes_the_key(
    shell: Any, replay_server: ReplayServer, key: str, tmp_path: Path, caplog: Any
) -> None:
    replay_server.routes[("POST", "/v1/responses")] = Route(
        status=401, body=error_body(f"Incorrect API key provided: {key}.", "invalid_request_error")
    )
    run = run_cell(shell, "%%openai\nhello")
    assert run.error is not None and "401" in str(run.error)
    _assert_nowhere(key, run, tmp_path, caplog)


def test_a_download_error_that_echoes_the_key(
    shell: Any, replay_server: ReplayServer, key: str, tmp_path: Path, caplog: Any
) -> None:
    target = "sandbox:/mnt/data/a.txt"
    done = _response("completed", text=f"[a]({target})", logs="")
    done["output"][1]["content"][0]["annotations"] = [
        {
            "type": "container_file_citation",
            "container_id": CONTAINER,
            "file_id": "cfile_a",
            "filename": "a.txt",
            "start_index": done["output"][1]["content"][0]["text"].index(target),
            "end_index": done["output"][1]["content"][0]["text"].index(target) + len(target),
        }
    ]
    _stream(replay_server, [{"type": "response.completed", "response": done}])
    replay_server.routes[("GET", f"/v1/containers/{CONTAINER}/files/cfile_a/content")] = Route(
        status=403, body=error_body(f"key {key} may not read this")
    )
    run = run_cell(shell, "%%openai\nhello")
    assert run.error is None, run.error
    assert "a.txt" in run.all_text() and "403" in run.all_text()
    _assert_nowhere(key, run, tmp_path, caplog)


def test_a_file_the_model_names_after_the_key(
    shell: Any, replay_server: ReplayServer, key: str, tmp_path: Path, caplog: Any
) -> None:
    target = f"sandbox:/mnt/data/{key}.txt"
    done = _response("completed", text=f"[the file]({target})", logs="")
    text = done["output"][1]["content"][0]["text"]
    done["output"][1]["content"][0]["annotations"] = [
        {
            "type": "container_file_citation",
            "container_id": CONTAINER,
            "file_id": "cfile_k",
            "filename": f"{key}.txt",
            "start_index": text.index(target),
            "end_index": text.index(target) + len(target),
        }
    ]
    _stream(replay_server, [{"type": "response.completed", "response": done}])
    replay_server.container_file(
        CONTAINER, "cfile_k", f"/mnt/data/{key}.txt", b"harmless bytes", listed=False
    )
    run = run_cell(shell, "%%openai --out result\nhello")
    assert run.error is None, run.error
    [saved] = shell.user_ns["result"].artifacts
    assert saved.filename == "[redacted].txt" and saved.path.read_bytes() == b"harmless bytes"
    _assert_nowhere(key, run, tmp_path, caplog)


def test_an_unexpected_exception_is_one_redacted_line_and_a_redacted_log(
    shell: Any, replay_server: ReplayServer, key: str, tmp_path: Path, caplog: Any, monkeypatch: Any
) -> None:
    from openai_artifacts_nb import session

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"a bug holding {key}")

    monkeypatch.setattr(session.ConversationSession, "_request", broken)
    caplog.set_level(logging.DEBUG, logger="openai_artifacts_nb")
    run = run_cell(shell, "%%openai\nhello")
    assert run.error is not None and "RuntimeError: a bug holding" in str(run.error)
    assert "Traceback" not in run.all_text() and "\n" not in str(run.error)
    [record] = [r for r in caplog.records if r.name == "openai_artifacts_nb"]
    assert record.exc_text and "RuntimeError" in record.exc_text and "[redacted]" in record.exc_text
    _assert_nowhere(key, run, tmp_path, caplog)


def test_the_cli_redacts_stdout_stderr_and_unexpected_errors(
    replay_server: ReplayServer, key: str, tmp_path: Path, capsys: Any, monkeypatch: Any, caplog: Any
) -> None:
    from openai_artifacts_nb import cli, fetching

    monkeypatch.setenv("OPENAI_API_KEY", key)
    replay_server.routes[("GET", "/v1/responses/resp_k")] = Route(
        status=400, body=error_body(f"no such response for key {key}")
    )
    assert cli.main(["fetch", "resp_k", "--out", str(tmp_path), "--base-url", replay_server.base_url]) == 1

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise ValueError(f"bug {key}")

    monkeypatch.setattr(fetching, "fetch", broken)
    assert cli.main(["fetch", "resp_k", "--out", str(tmp_path), "--base-url", replay_server.base_url]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("openai-artifacts: unexpected error: ValueError: bug")
    assert key not in captured.out + captured.err
    assert key not in caplog.text


def test_the_boundaries_redact_nested_bundles_handles_and_log_records() -> None:
    shown: list[Any] = []

    class Handle:
        def update(self, obj: Any, **_kwargs: Any) -> None:
            shown.append(obj._repr_mimebundle_())

    class Thing:
        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
            return {"text/plain": f"a {PLAIN}", "application/json": {"k": [f"{SHAPED}"]}}

    def display(obj: Any, **_kwargs: Any) -> Handle:
        shown.append(obj._repr_mimebundle_())
        return Handle()

    handle = redacting_display(display, PLAIN)(Thing(), display_id=True)
    handle.update(Thing())
    assert json.dumps(shown).count("[redacted]") == 4 and PLAIN not in json.dumps(shown)
    assert SHAPED not in repr(Redacted(SHAPED))

    record = logging.LogRecord("openai_artifacts_nb.x", logging.ERROR, __file__, 1, "k=%s", (PLAIN,), None)
    assert RedactingFilter(PLAIN).filter(record) and PLAIN not in record.getMessage()
    assert any(isinstance(f, RedactingFilter) for f in logger("openai_artifacts_nb.download").filters)
