"""The reply model: one parse of a Response, its JSON, its events or Assistants messages, the same answer."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from openai_artifacts_nb.errors import ReplyError
from openai_artifacts_nb.reply import (
    ITEM_READERS,
    TERMINAL_EVENTS,
    ArtifactRef,
    CodeRun,
    Reply,
    ReplyBuilder,
    Usage,
)


def _shape(reply: Reply) -> tuple[Any, ...]:
    return (
        reply.id,
        reply.text,
        [(ref.key, ref.found_by, ref.filename, ref.sandbox_path) for ref in reply.artifacts],
        [(run.item_id, run.code, run.logs, run.images) for run in reply.code_runs],
        reply.container_ids,
    )


def test_usage_from_the_sdk_shape() -> None:
    usage = Usage.from_response_usage(
        {
            "input_tokens": 3,
            "output_tokens": 4,
            "total_tokens": 7,
            "input_tokens_details": {"cached_tokens": 1},
        }
    )
    assert usage == Usage(3, 4, 7, 1)
    assert Usage.from_response_usage(None) is None


def test_the_response_its_json_its_sdk_model_and_its_events_make_one_reply(
    recorded_json: dict[str, Any], recorded_events: list[dict[str, Any]]
) -> None:
    # How the SDK itself builds the models it returns (it tolerates fields a newer API adds or drops).
    from openai._models import construct_type
    from openai.types.responses import Response

    from_dict = Reply.from_response(recorded_json)
    assert _shape(Reply.from_response(json.dumps(recorded_json))) == _shape(from_dict)
    assert _shape(Reply.from_response(construct_type(type_=Response, value=recorded_json))) == _shape(
        from_dict
    )
    streamed = Reply.from_events(recorded_events)
    assert streamed.status == "completed" and from_dict.status == "completed"
    assert [run.code for run in streamed.code_runs] == [
        item["code"]
        for item in recorded_events[-1]["response"]["output"]
        if item["type"] == "code_interpreter_call"
    ]
    assert (
        from_dict.usage is not None and from_dict.usage.total_tokens == recorded_json["usage"]["total_tokens"]
    )
    assert Reply.from_source(recorded_json) == from_dict


def test_events_without_the_final_response_are_rebuilt(recorded_events: list[dict[str, Any]]) -> None:
    cut = [event for event in recorded_events if event["type"] not in TERMINAL_EVENTS]
    final = Reply.from_events(recorded_events)
    rebuilt = Reply.from_events(cut)
    assert rebuilt.text == final.text
    assert [ref.key for ref in rebuilt.artifacts] == [ref.key for ref in final.artifacts]
    assert rebuilt.container_ids == final.container_ids


def test_the_builder_reports_each_cited_file_once_as_its_annotation_arrives() -> None:
    builder = ReplyBuilder()
    text = "See [a](sandbox:/mnt/data/a.csv)."
    events = [
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "content": []}},
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": text},
    ]
    annotation = {
        "type": "container_file_citation",
        "container_id": "cntr_1",
        "file_id": "cfile_a",
        "filename": "a.csv",
        "start_index": text.index("sandbox:"),
        "end_index": text.index(")"),
    }
    for event in events:
        assert builder.feed(event) == []
    added = {
        "type": "response.output_text.annotation.added",
        "output_index": 0,
        "content_index": 0,
        "annotation": annotation,
    }
    [found] = builder.feed(added)
    assert (found.key, found.found_by, found.sandbox_path) == (
        ("cntr_1", "cfile_a"),
        ("citation",),
        "/mnt/data/a.csv",
    )
    message = {
        "type": "message",
        "content": [{"type": "output_text", "text": text, "annotations": [annotation]}],
    }
    assert builder.feed({"type": "response.output_item.done", "output_index": 0, "item": message}) == []
    assert builder.feed(copy.deepcopy(added)) == []
    reply = builder.build()
    assert reply.cited_keys == {("cntr_1", "cfile_a")}
    assert reply.texts[0].citations[0].key == ("cntr_1", "cfile_a")


def test_an_image_output_is_reported_when_its_run_is_done() -> None:
    builder = ReplyBuilder()
    item = {
        "type": "code_interpreter_call",
        "id": "ci_1",
        "container_id": "cntr_1",
        "code": "",
        "outputs": [],
    }
    assert builder.feed({"type": "response.output_item.added", "output_index": 0, "item": item}) == []
    done = {
        **item,
        "code": "show()",
        "status": "completed",
        "outputs": [{"type": "image", "url": "data:image/png;base64,iVBORw0K"}],
    }
    [image] = builder.feed({"type": "response.output_item.done", "output_index": 0, "item": done})
    assert (image.store, image.filename, image.mime_type, image.data) == (
        "inline",
        "image_1.png",
        "image/png",
        b"\x89PNG\r\n",
    )
    assert builder.code_runs == [CodeRun.from_item(done)]


def test_failed_and_incomplete_replies_say_why() -> None:
    failed = Reply.from_response(
        {"id": "resp_1", "status": "failed", "error": {"message": "boom"}, "output": []}
    )
    assert (failed.status, failed.error) == ("failed", "boom")
    cut = Reply.from_response(
        {
            "id": "resp_2",
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [],
        }
    )
    assert (cut.status, cut.incomplete_reason) == ("incomplete", "max_output_tokens")


def test_an_unknown_item_kind_is_skipped_and_known_kinds_have_one_reader() -> None:
    assert set(ITEM_READERS) == {
        "code_interpreter_call",
        "message",
        "shell_call",
        "shell_call_output",
        "image_generation_call",
    }
    reply = Reply.from_response({"id": "resp_3", "output": [{"type": "web_search_call", "id": "ws_1"}]})
    assert (reply.texts, reply.code_runs, reply.artifacts) == ((), (), ())


def test_assistants_messages() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": {"value": "hi", "annotations": []}}]},
        {
            "role": "assistant",
            "thread_id": "thread_1",
            "content": [{"type": "image_file", "image_file": {"file_id": "file-img"}}],
            "attachments": [{"file_id": "file-att"}],
        },
    ]
    reply = Reply.from_messages(messages)
    assert (reply.kind, reply.id) == ("messages", "thread_1")
    assert [(ref.key, ref.found_by) for ref in reply.artifacts] == [
        (("files", "file-img"), ("image_file",)),
        (("files", "file-att"), ("attachment",)),
    ]


def test_what_is_not_a_reply() -> None:
    with pytest.raises(ReplyError, match="cannot read a int"):
        Reply.from_source(3)
    assert ArtifactRef(store="files", file_id="file-1").display_name == "file-1"
