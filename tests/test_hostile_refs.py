"""Issue 9, hostile references: one malformed reference is one failure line, everything else is saved.

A property test mixes good citations with generated hostile ones (ids that are ``..``, ``.``, ``/``,
empty or not strings, file names that are lists, spans that are text) against a real HTTP server: every good
file is saved with its bytes, the manifest is written, there is exactly one failure per distinct bad
reference, no request names a bad id, and nothing raises.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openai_artifacts_nb.fetching import fetch
from openai_artifacts_nb.manifest import Manifest
from openai_artifacts_nb.reply import Reply, valid_id
from tests.plugins.engine import TEST_API_KEY, ReplayServer

GOOD = {"cfile_a": b"alpha,1\n", "cfile_b": b"beta\x00\x01\x02", "cfile_c": b"gamma " * 50}
NAMES = {"cfile_a": "a.csv", "cfile_b": "b.bin", "cfile_c": "c.txt"}
CONTAINER = "cntr_good"

_HOSTILE_IDS = ["..", ".", "/", "", " ", "../etc/passwd", "a/b", "%2e%2e", "cfile_a/../x", "cfile\n", "é"]
bad_ids = st.one_of(
    st.sampled_from(_HOSTILE_IDS),
    st.text(max_size=12).filter(lambda text: not valid_id(text)),
    st.none(),
    st.booleans(),
    st.integers(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
bad_names = st.one_of(
    st.lists(st.text(max_size=5), max_size=3), st.integers(), st.dictionaries(st.text(), st.text())
)
bad_indexes = st.one_of(
    st.sampled_from(["abc", "3", None, 1.5, -1, True]), st.lists(st.integers(), max_size=2)
)


@st.composite
def hostile_annotation(draw: st.DrawFn) -> dict[str, Any]:
    """A ``container_file_citation`` with at least one hostile field."""
    annotation: dict[str, Any] = {
        "type": "container_file_citation",
        "container_id": CONTAINER,
        "file_id": draw(st.sampled_from(sorted(GOOD))),
        "filename": "x.txt",
        "start_index": 0,
        "end_index": 0,
    }
    broken = draw(
        st.lists(
            st.sampled_from(["file_id", "container_id", "filename", "start_index", "end_index"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    for name in broken:
        if name in ("file_id", "container_id"):
            annotation[name] = draw(bad_ids)
        elif name == "filename":
            annotation[name] = draw(bad_names)
        else:
            annotation[name] = draw(bad_indexes)
    return annotation


def _good_annotations(text: str) -> list[dict[str, Any]]:
    notes = []
    for file_id, name in NAMES.items():
        target = f"sandbox:/mnt/data/{name}"
        start = text.index(target)
        notes.append(
            {
                "type": "container_file_citation",
                "container_id": CONTAINER,
                "file_id": file_id,
                "filename": name,
                "start_index": start,
                "end_index": start + len(target),
            }
        )
    return notes


@pytest.fixture(scope="module")
def server() -> Any:
    """One replay server serving the three good files."""
    replay = ReplayServer().start()
    for file_id, data in GOOD.items():
        replay.container_file(CONTAINER, file_id, f"/mnt/data/{NAMES[file_id]}", data, listed=False)
    yield replay
    replay.stop()


def _reply(annotations: list[Any]) -> dict[str, Any]:
    text = " ".join(f"[{name}](sandbox:/mnt/data/{name})" for name in NAMES.values())
    content = {"type": "output_text", "text": text, "annotations": annotations}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [content]}
    return {"id": "resp_hostile", "object": "response", "created_at": 1, "output": [message]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bad=st.lists(hostile_annotation(), min_size=1, max_size=5),
    junk=st.lists(st.one_of(st.integers(), st.text(max_size=4), st.none()), max_size=2),
    order=st.randoms(use_true_random=False),
)
def test_each_hostile_reference_is_one_failure_and_the_rest_is_saved(
    server: ReplayServer, bad: list[dict[str, Any]], junk: list[Any], order: Any
) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0, timeout=10)
    text = " ".join(f"[{name}](sandbox:/mnt/data/{name})" for name in NAMES.values())
    annotations: list[Any] = [*_good_annotations(text), *bad, *junk]
    order.shuffle(annotations)
    before = len(server.requests)
    with tempfile.TemporaryDirectory() as directory:
        result = fetch(_reply(annotations), out_dir=directory, client=client)
        saved = {artifact.file_id: artifact for artifact in result.artifacts}
        assert set(saved) == set(GOOD)
        for file_id, artifact in saved.items():
            assert artifact.path.read_bytes() == GOOD[file_id]
            assert artifact.filename == NAMES[file_id]
        distinct_bad = {repr(annotation) for annotation in bad}
        assert len(result.failures) == len(distinct_bad)
        for failure in result.failures:
            assert "\n" not in failure.message and "cannot be fetched" in failure.message
            assert (failure.container_id, failure.file_id) == (None, None)
        entries = Manifest(directory).entries
        assert sorted(entry.file_id or "" for entry in entries.values()) == sorted(GOOD)
        assert json.loads(result.manifest_path.read_text())["artifacts"]
        assert not list(Path(directory).glob("**/*.part"))
    paths = [path for _, path, _ in server.requests[before:]]
    assert sorted(paths) == sorted(f"/v1/containers/{CONTAINER}/files/{fid}/content" for fid in GOOD)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("file_id", ".."),
        ("file_id", "."),
        ("file_id", {"id": "cfile_a"}),
        ("container_id", ".."),
        ("start_index", "abc"),
        ("filename", ["a", "b"]),
    ],
)
def test_the_listed_payloads_become_malformed_refs(field: str, value: Any) -> None:
    annotation = {
        "type": "container_file_citation",
        "container_id": CONTAINER,
        "file_id": "cfile_a",
        "filename": "a.csv",
        "start_index": 0,
        "end_index": 0,
        field: value,
    }
    reply = Reply.from_source(_reply([annotation]))
    (ref,) = reply.artifacts
    expected = {
        "file_id": "file id",
        "container_id": "container id",
        "start_index": "span",
        "filename": "name",
    }
    assert ref.problem is not None and expected[field] in ref.problem
    assert reply.texts[0].citations == []


def test_hostile_ids_in_a_listing_and_in_assistants_messages_are_failures(tmp_path: Path) -> None:
    messages = [
        {
            "role": "assistant",
            "created_at": 1,
            "content": [
                {"type": "image_file", "image_file": {"file_id": "../x"}},
                {"type": "image_file", "image_file": ["nope"]},
                {"type": "text", "text": {"value": "hi", "annotations": "not a list"}},
            ],
            "attachments": [{"file_id": None}],
        }
    ]
    result = fetch(messages, out_dir=tmp_path)
    assert result.artifacts == [] and len(result.failures) == 3
    assert all("cannot be fetched" in failure.message for failure in result.failures)
    assert Manifest(tmp_path).entries == {}
