"""The cassette format: written safely from many threads, bytes stored once, read back in request order."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from openai_artifacts_nb.cassette import (
    FORMAT,
    VERSION,
    Cassette,
    CassetteWriter,
    bearer_token,
    normalise_prompt,
    prompt_text,
    scrub_headers,
    scrub_query,
)
from openai_artifacts_nb.errors import ConfigurationError


def _exchange(seq: int, path: str = "/responses") -> dict[str, object]:
    return {
        "seq": seq,
        "at": 1_700_000_000.0 + seq,
        "request": {"method": "GET", "path": path, "query": [], "headers": {}, "json": None},
        "response": {"status": 200, "headers": {}, "kind": "json", "json": {"n": seq}},
    }


def test_writer_and_loader_round_trip_in_request_order(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "tape", notes=["made by a test"])
    seqs = [writer.next_seq() for _ in range(20)]
    threads = [threading.Thread(target=writer.add, args=(_exchange(seq),)) for seq in reversed(seqs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    folder = writer.close()
    index = json.loads((folder / "cassette.json").read_text())
    assert (index["format"], index["version"], index["exchanges"]) == (FORMAT, VERSION, 20)
    assert index["notes"] == ["made by a test"] and index["base_path"] == "/v1"
    lines = (folder / "exchanges.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(20)), "sorted by request order"
    cassette = Cassette.load(folder)
    assert [e["response"]["json"]["n"] for e in cassette.exchanges] == list(range(20))


def test_file_bytes_are_stored_once_by_hash(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "tape")
    data = b"\x00\x01 the same bytes " * 1000
    digests = []
    for _ in range(3):
        sink = writer.file_sink()
        for start in range(0, len(data), 4096):
            sink.write(data[start : start + 4096])
        digests.append(sink.finish())
    folder = writer.close()
    stored = sorted((folder / "files").iterdir())
    assert [path.name for path in stored] == [hashlib.sha256(data).hexdigest()]
    assert stored[0].read_bytes() == data and set(digests) == {stored[0].name}
    assert json.loads((folder / "cassette.json").read_text())["files"] == 1


def test_writer_redacts_the_bearer_token_and_key_shaped_text(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "tape")
    token = "plain-token-without-prefix-42"
    exchange = _exchange(writer.next_seq(token))
    exchange["response"] = {"kind": "json", "json": {"echo": f"{token} and sk-proj-abcdefghij123"}}
    writer.add(exchange)
    text = (writer.close() / "exchanges.jsonl").read_text()
    assert token not in text and "sk-proj-abcdefghij123" not in text
    assert json.loads(text)["response"]["json"]["echo"] == "[redacted] and [redacted]"


def test_short_bearer_tokens_are_not_treated_as_secrets() -> None:
    assert bearer_token("Bearer local") is None
    assert bearer_token("Bearer sk-test-SECRETSECRET123") == "sk-test-SECRETSECRET123"
    assert bearer_token("Basic abcdefghijkl") is None


def test_headers_pass_an_allowlist_and_query_secrets_are_replaced() -> None:
    headers = [
        ("Authorization", "Bearer sk-x"),
        ("OpenAI-Organization", "org-1"),
        ("OpenAI-Project", "proj_1"),
        ("Cookie", "a=b"),
        ("Content-Type", "application/json"),
        ("X-Stainless-OS", "Linux"),
    ]
    assert scrub_headers(headers, frozenset({"content-type", "authorization"} - {"authorization"})) == {
        "content-type": "application/json"
    }
    assert scrub_query([("api-key", "k"), ("limit", "100"), ("sig", "s")]) == [
        ["api-key", "[redacted]"],
        ["limit", "100"],
        ["sig", "[redacted]"],
    ]


def test_prompt_text_reads_strings_and_message_parts() -> None:
    assert prompt_text({"input": "Plot  it\n"}) == "Plot  it\n"
    parts = {"input": [{"role": "user", "content": [{"type": "input_text", "text": "a"}, {"text": "b"}]}]}
    assert prompt_text(parts) == "a\nb"
    assert prompt_text({"model": "x"}) is None and prompt_text(None) is None
    assert normalise_prompt("  Plot\n\tIT ") == normalise_prompt("plot it") == "plot it"


def test_loading_refuses_foreign_and_newer_folders(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a cassette"):
        Cassette.load(tmp_path)
    folder = CassetteWriter(tmp_path / "tape").close()
    index = json.loads((folder / "cassette.json").read_text())
    (folder / "cassette.json").write_text(json.dumps({**index, "version": VERSION + 1}))
    with pytest.raises(ConfigurationError, match="newer"):
        Cassette.load(folder)
    with pytest.raises(ConfigurationError, match="not a sha256"):
        Cassette(folder, index, []).file_path("../../etc/passwd")


def test_recording_into_a_folder_that_is_not_a_cassette_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigurationError, match="not a cassette"):
        CassetteWriter(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_finalize_sorts_and_counts_an_unclosed_cassette(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "tape")
    for seq in (writer.next_seq(), writer.next_seq())[::-1]:
        writer.add(_exchange(seq))
    folder = CassetteWriter.finalize(writer.folder)
    assert json.loads((folder / "cassette.json").read_text())["exchanges"] == 2
    assert [e["seq"] for e in Cassette.load(folder).exchanges] == [0, 1]
