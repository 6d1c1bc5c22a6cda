"""``openai-artifacts fetch``'s messages: each one line that names what went wrong and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openai_artifacts_nb.cli import main

UNREACHABLE = "http://127.0.0.1:9/v1"


def test_an_unreachable_api_is_named_once_with_a_full_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["fetch", "resp_123", "--out", str(out), "--base-url", UNREACHABLE]) == 1
    assert capsys.readouterr().err == (
        f"openai-artifacts: resp_123: cannot reach the API at {UNREACHABLE}. "
        "Check the base URL and the network.\n"
    )
    assert not out.exists(), "a failed fetch leaves no empty --out folder"


def test_a_failed_fetch_keeps_an_out_folder_that_was_there(tmp_path: Path) -> None:
    assert main(["fetch", "resp_123", "--out", str(tmp_path), "--base-url", UNREACHABLE]) == 1
    assert tmp_path.is_dir()


def test_an_argument_that_is_neither_id_nor_file_says_what_fetch_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["fetch", "hello", "--out", str(out), "--base-url", UNREACHABLE]) == 1
    assert capsys.readouterr().err == (
        "openai-artifacts: hello: not an id or a file; fetch takes resp_…, conv_…, cntr_…, thread_… "
        "or file-… ids, or the path of a saved Response JSON file.\n"
    )
    assert not out.exists()


def test_the_no_key_message_names_the_clis_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    out = tmp_path / "out"
    assert main(["fetch", "resp_1", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("openai-artifacts: No OpenAI API key: set OPENAI_API_KEY, or give --base-url")
    assert "openai-artifacts serve" in err and "%openai" not in err
    assert not out.exists()


def test_a_saved_response_file_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "reply.json"
    saved.write_text(
        json.dumps(
            {
                "id": "resp_saved",
                "object": "response",
                "status": "completed",
                "output": [
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": "hi"}],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["fetch", str(saved), "--out", str(out), "--base-url", UNREACHABLE]) == 0
    # The text lives in the tool's own folder, so a model's own reply.md could never be overwritten.
    assert capsys.readouterr().out == ".openai-artifacts/reply.md\ttext with rewritten links\n"
    assert (out / ".openai-artifacts" / "reply.md").read_text(encoding="utf-8") == "hi\n"
