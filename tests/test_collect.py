"""Tests for openai_artifacts_nb.collect: every way a reply refers to a file, in every shape it arrives."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from openai_artifacts_nb.collect import (
    ArtifactRef,
    add_container_listing,
    collect,
    collect_id,
    id_kind,
)
from openai_artifacts_nb.errors import ReplyError
from tests.plugins.engine import RECORDED, ReplayServer, Route

JSON_CONTAINER = "cntr_6903bf2c0470819090b2b1e63e0b66800c139a5d654a42ec"
JSON_FILE = "cfile_6903bf45e3288191af3d56e6d23c3a4d"
STREAM_CONTAINER = "cntr_68c2e6f380d881908a57a82d394434ff02f484f5344062e9"
STREAM_FILE = "cfile_68c2e7084ab48191a67824aa1f4c90f1"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _message(text: str, annotations: list[Any]) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}],
    }


def _response(*items: dict[str, Any], response_id: str = "resp_test") -> dict[str, Any]:
    return {"id": response_id, "object": "response", "created_at": 1760000000, "output": list(items)}


def _citation(container: str, file_id: str, filename: str, start: int, end: int) -> dict[str, Any]:
    return {
        "type": "container_file_citation",
        "container_id": container,
        "file_id": file_id,
        "filename": filename,
        "start_index": start,
        "end_index": end,
    }


def test_recorded_json_reply(recorded_json: dict[str, Any]) -> None:
    collection = collect(recorded_json)
    assert collection.source_id == "resp_024ee52fc1900767006903bf276a60819395647a8a01d4a3d8"
    assert collection.container_ids == [JSON_CONTAINER]
    [ref] = collection.artifacts
    assert ref == ArtifactRef(
        store="container",
        container_id=JSON_CONTAINER,
        file_id=JSON_FILE,
        filename="two_dice_sums_10000.txt",
        sandbox_path="/mnt/data/two_dice_sums_10000.txt",
        found_by=("citation",),
    )
    [part] = collection.texts
    [citation] = part.citations
    assert part.text[citation.start : citation.end] == "sandbox:/mnt/data/two_dice_sums_10000.txt"
    assert citation.key == (JSON_CONTAINER, JSON_FILE)


def test_recorded_json_as_text_and_bytes(recorded_json: dict[str, Any]) -> None:
    text = (RECORDED / "openai-code-interpreter-tool.1.json").read_text(encoding="utf-8")
    assert collect(text).artifacts == collect(recorded_json).artifacts
    assert collect(text.encode()).artifacts == collect(recorded_json).artifacts


def test_recorded_stream_events(recorded_events: list[dict[str, Any]]) -> None:
    collection = collect(recorded_events)
    assert collection.source_id == "resp_68c2e6efa238819383d5f52a2c2a3baa02d3a5742c7ddae9"
    assert collection.container_ids == [STREAM_CONTAINER]
    [ref] = collection.artifacts
    assert (ref.container_id, ref.file_id, ref.filename) == (
        STREAM_CONTAINER,
        STREAM_FILE,
        "roll2dice_sums_10000.csv",
    )
    [part] = collection.texts
    [citation] = part.citations
    assert part.text[citation.start : citation.end] == "sandbox:/mnt/data/roll2dice_sums_10000.csv"


def test_recorded_stream_as_jsonl_text_and_sse_text() -> None:
    lines = (RECORDED / "openai-code-interpreter-tool.1.chunks.txt").read_text(encoding="utf-8")
    assert [ref.file_id for ref in collect(lines).artifacts] == [STREAM_FILE]
    sse = "\n\n".join("data: " + line for line in lines.splitlines() if line.strip())
    assert [ref.file_id for ref in collect(sse).artifacts] == [STREAM_FILE]


def test_stream_cut_before_completion_still_finds_citations(recorded_events: list[dict[str, Any]]) -> None:
    # Stop right after the annotation event: no output_text.done, no response.completed.
    cut = next(
        i for i, e in enumerate(recorded_events) if e["type"] == "response.output_text.annotation.added"
    )
    collection = collect(recorded_events[: cut + 1])
    assert [ref.file_id for ref in collection.artifacts] == [STREAM_FILE]
    [part] = collection.texts
    [citation] = part.citations
    assert part.text[citation.start : citation.end] == "sandbox:/mnt/data/roll2dice_sums_10000.csv"
    assert collection.container_ids == [STREAM_CONTAINER]


def test_sdk_models_from_a_real_client(
    replay_server: ReplayServer, replay_client: Any, recorded_json: dict[str, Any]
) -> None:
    replay_server.json(f"/v1/responses/{recorded_json['id']}", recorded_json)
    response = replay_client.responses.retrieve(recorded_json["id"])
    annotation = response.output[-1].content[0].annotations[0]
    assert type(annotation).__name__ == "AnnotationContainerFileCitation"
    assert collect(response).artifacts == collect(recorded_json).artifacts


def test_sdk_stream_event_models(replay_server: ReplayServer, replay_client: Any) -> None:
    lines = (RECORDED / "openai-code-interpreter-tool.1.chunks.txt").read_text(encoding="utf-8").splitlines()
    sse = "".join(f"event: {json.loads(line)['type']}\ndata: {line}\n\n" for line in lines if line.strip())
    replay_server.routes[("POST", "/v1/responses")] = Route(
        body=sse.encode(), content_type="text/event-stream"
    )
    events = list(replay_client.responses.create(model="gpt-5-nano", input="roll dice", stream=True))
    assert len(events) == 393
    assert [ref.file_id for ref in collect(events).artifacts] == [STREAM_FILE]


def test_annotations_as_models_inside_dicts(recorded_json: dict[str, Any]) -> None:
    from openai.types.responses.response_output_text import AnnotationContainerFileCitation

    reply = copy.deepcopy(recorded_json)
    content = reply["output"][-1]["content"][0]
    content["annotations"] = [AnnotationContainerFileCitation(**content["annotations"][0])]
    assert collect(reply).artifacts == collect(recorded_json).artifacts


def test_image_outputs_and_zero_width_citations() -> None:
    data_uri = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    call = {
        "id": "ci_1",
        "type": "code_interpreter_call",
        "status": "completed",
        "code": "plt.show()",
        "container_id": "cntr_a",
        "outputs": [{"type": "logs", "logs": "ok"}, {"type": "image", "url": data_uri}],
    }
    zero_width = {**_citation("cntr_a", "cfile_img", "cfile_img.png", 0, 0), "index": None}
    collection = collect(_response(call, _message("Here is the chart.", [zero_width])))
    inline, cited = collection.artifacts
    assert (inline.store, inline.data, inline.filename, inline.mime_type) == (
        "inline",
        PNG_1PX,
        "image_1.png",
        "image/png",
    )
    assert inline.found_by == ("image_output",)
    assert (cited.file_id, cited.found_by, cited.sandbox_path) == ("cfile_img", ("image_citation",), None)
    assert collection.texts[0].citations == []


def test_non_data_image_urls_are_ignored() -> None:
    call = {
        "type": "code_interpreter_call",
        "container_id": "c",
        "outputs": [{"type": "image", "url": "https://x/y.png"}],
    }
    assert collect(_response(call)).artifacts == []


def test_one_reference_per_file_however_often_cited() -> None:
    text = "[a](sandbox:/mnt/data/a.csv) and again [a](sandbox:/mnt/data/a.csv)"
    first = text.index("sandbox:")
    second = text.index("sandbox:", first + 1)
    length = len("sandbox:/mnt/data/a.csv")
    annotations = [
        _citation("cntr_a", "cfile_a", "a.csv", first, first + length),
        _citation("cntr_a", "cfile_a", "a.csv", second, second + length),
        _citation("cntr_a", "cfile_a", "a.csv", 0, 0),
    ]
    collection = collect(_response(_message(text, annotations)))
    [ref] = collection.artifacts
    assert ref.found_by == ("citation", "image_citation")
    assert len(collection.texts[0].citations) == 2


def test_several_messages_and_parts_keep_their_text() -> None:
    collection = collect(_response(_message("one", []), _message("two", [])))
    assert collection.text == "one\n\ntwo"


ASSISTANT_TEXT = (
    "The rows of the CSV file have been shuffled and saved to a new CSV file. You can download the "
    "shuffled CSV file from the following link:\n\n"
    "[Download Shuffled CSV File](sandbox:/mnt/data/shuffled_file.csv)"
)


def _assistant_message(**overrides: Any) -> dict[str, Any]:
    message = {
        "id": "msg_abc123",
        "object": "thread.message",
        "created_at": 1699073585,
        "thread_id": "thread_abc123",
        "role": "assistant",
        "status": "completed",
        "assistant_id": "asst_abc123",
        "run_id": "run_abc123",
        "completed_at": 1699073585,
        "incomplete_at": None,
        "incomplete_details": None,
        "attachments": [{"file_id": "file-att", "tools": [{"type": "code_interpreter"}]}],
        "metadata": {},
        "content": [
            {"type": "image_file", "image_file": {"file_id": "file-img123"}},
            {
                "type": "text",
                "text": {
                    "value": ASSISTANT_TEXT,
                    "annotations": [
                        {
                            "type": "file_path",
                            "text": "sandbox:/mnt/data/shuffled_file.csv",
                            "start_index": 167,
                            "end_index": 202,
                            "file_path": {"file_id": "file-abc123"},
                        }
                    ],
                },
            },
        ],
    }
    message.update(overrides)
    return message


def test_assistants_messages() -> None:
    user = _assistant_message(
        id="msg_user", role="user", attachments=[{"file_id": "file-upload"}], content=[]
    )
    collection = collect([user, _assistant_message()])
    assert collection.source_kind == "thread"
    assert collection.source_id == "thread_abc123"
    image, csv, attachment = collection.artifacts
    assert (image.store, image.file_id, image.found_by, image.filename) == (
        "files",
        "file-img123",
        ("image_file",),
        None,
    )
    assert (csv.file_id, csv.filename, csv.sandbox_path) == (
        "file-abc123",
        "shuffled_file.csv",
        "/mnt/data/shuffled_file.csv",
    )
    assert csv.found_by == ("file_path",)
    assert (attachment.file_id, attachment.found_by) == ("file-att", ("attachment",))
    [part] = collection.texts
    [citation] = part.citations
    assert part.text[citation.start : citation.end] == "sandbox:/mnt/data/shuffled_file.csv"


def test_assistants_message_models() -> None:
    from openai._models import construct_type
    from openai.types.beta.threads import Message

    model = construct_type(type_=Message, value=_assistant_message())
    assert [ref.file_id for ref in collect([model]).artifacts] == ["file-img123", "file-abc123", "file-att"]
    assert [ref.file_id for ref in collect(model).artifacts] == ["file-img123", "file-abc123", "file-att"]


@pytest.mark.parametrize(
    "bad",
    ["", "hello world", "{not json", 42, [1, 2], {"object": "thing"}, [{"type": "x"}, 3]],
)
def test_unreadable_sources_raise_reply_error(bad: object) -> None:
    with pytest.raises(ReplyError, match="not a reply"):
        collect(bad)


def test_id_kind() -> None:
    assert id_kind("resp_abc") == "response"
    assert id_kind(" cntr_abc ") == "container"
    assert id_kind("thread_x") == "thread"
    assert id_kind("file-XYZ") == "file"
    assert id_kind("resp_") is None
    assert id_kind("resp_a b") is None
    assert id_kind("cfile_1") is None


def test_container_listing_adds_uncited_assistant_files(
    replay_server: ReplayServer, replay_client: Any
) -> None:
    created = 1760000000
    text = "[a](sandbox:/mnt/data/a.csv)"
    reply = _response(
        {"type": "code_interpreter_call", "container_id": "cntr_l", "outputs": []},
        _message(text, [_citation("cntr_l", "cfile_a", "a.csv", 4, len(text) - 1)]),
    )
    replay_server.container_file("cntr_l", "cfile_a", "/mnt/data/a.csv", b"1,2\n", created_at=created + 1)
    replay_server.container_file("cntr_l", "cfile_new", "/mnt/data/new.png", PNG_1PX, created_at=created + 2)
    replay_server.container_file(
        "cntr_l", "cfile_up", "/mnt/data/in.csv", b"x", source="user", created_at=created + 2
    )
    replay_server.container_file("cntr_l", "cfile_old", "/mnt/data/old.txt", b"x", created_at=created - 60)

    collection = collect(reply)
    add_container_listing(collection, replay_client, since=created + 0.7)
    cited, new = collection.artifacts
    assert (cited.file_id, cited.found_by, cited.size) == ("cfile_a", ("citation",), 4)
    assert (new.file_id, new.filename, new.sandbox_path) == ("cfile_new", "new.png", "/mnt/data/new.png")
    assert (new.found_by, new.size) == (("container_listing",), len(PNG_1PX))

    # Without ``since``, the reply's own created_at is the threshold: still not the old file.
    again = collect(reply)
    add_container_listing(again, replay_client)
    assert [ref.file_id for ref in again.artifacts] == ["cfile_a", "cfile_new"]


def test_collect_id_container_and_file(replay_server: ReplayServer, replay_client: Any) -> None:
    replay_server.container_file("cntr_all", "cfile_1", "/mnt/data/one.txt", b"1", source="user")
    replay_server.container_file("cntr_all", "cfile_2", "/mnt/data/two.txt", b"22")
    collection = collect_id("cntr_all", replay_client)
    assert collection.source_kind == "container"
    assert [(r.file_id, r.filename, r.found_by) for r in collection.artifacts] == [
        ("cfile_1", "one.txt", ("container",)),
        ("cfile_2", "two.txt", ("container",)),
    ]
    replay_server.json(
        "/v1/files/file-9",
        {
            "id": "file-9",
            "object": "file",
            "bytes": 3,
            "created_at": 1,
            "filename": "x.csv",
            "purpose": "assistants_output",
            "status": "processed",
        },
    )
    [ref] = collect_id("file-9", replay_client).artifacts
    assert (ref.store, ref.file_id, ref.filename, ref.size, ref.found_by) == (
        "files",
        "file-9",
        "x.csv",
        3,
        ("file",),
    )


def test_collect_id_response_and_thread(
    replay_server: ReplayServer, replay_client: Any, recorded_json: dict[str, Any]
) -> None:
    replay_server.json(f"/v1/responses/{recorded_json['id']}", recorded_json)
    collection = collect_id(recorded_json["id"], replay_client)
    assert [ref.file_id for ref in collection.artifacts] == [JSON_FILE]
    assert any("include%5B%5D=code_interpreter_call.outputs" in target for target in replay_server.targets)

    replay_server.json(
        "/v1/threads/thread_abc123/messages",
        {
            "object": "list",
            "data": [_assistant_message()],
            "first_id": "msg_abc123",
            "last_id": "msg_abc123",
            "has_more": False,
        },
    )
    thread = collect_id("thread_abc123", replay_client)
    assert (thread.source_kind, thread.source_id) == ("thread", "thread_abc123")
    assert [ref.file_id for ref in thread.artifacts] == ["file-img123", "file-abc123", "file-att"]
    [method_path] = [h for m, p, h in replay_server.requests if p.endswith("/messages")]
    assert {name.lower(): value for name, value in method_path.items()}["openai-beta"] == "assistants=v2"


def test_collect_id_rejects_other_text(replay_client: Any) -> None:
    with pytest.raises(ReplyError, match="not an id"):
        collect_id("msg_123", replay_client)
