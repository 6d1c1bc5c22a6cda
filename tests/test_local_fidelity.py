"""Fidelity of the emulator against OpenAI's own artefacts, not against our client.

Every kind of object the emulator returns validates against the matching schema of the official
``openapi.yaml`` and parses with the SDK's own types; the streamed event sequence of a code-interpreter reply
has the same shape (event order, fields per event, fields per item) as the real recording. Hosted shell calls,
image generation, conversations and input item lists validate and parse the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby
from typing import Any

import openai
import pydantic
import pytest
from openai.types import FileDeleted, FileObject
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message, Run
from openai.types.containers import FileRetrieveResponse
from openai.types.conversations import Conversation, ConversationDeletedResource, ConversationItemList
from openai.types.responses import Response, ResponseItemList, ResponseStreamEvent

from openai_artifacts_nb.local import LocalServer
from tests.plugins.emulator import REFERENCE, OpenApiSchemas

TOOLS = [{"type": "code_interpreter", "container": {"type": "auto"}}]
INCLUDE = "code_interpreter_call.outputs"
PROMPT = (
    "```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\nplt.show()\n"
    "open('/mnt/data/table.csv', 'w').write('a,b\\n1,2\\n')\nprint('ok')\n```\n"
)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def raw_json(call: Any) -> dict[str, Any]:
    """Return the JSON body of a ``with_raw_response`` call."""
    return dict(json.loads(call.text))


def sse_events(client: openai.OpenAI, **params: Any) -> list[dict[str, Any]]:
    """Return the ``data`` JSON of every SSE frame of a streamed ``responses.create``."""
    events = []
    with client.responses.with_streaming_response.create(stream=True, **params) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        for line in raw.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    return events


def recorded_events() -> list[dict[str, Any]]:
    """The real streamed code-interpreter reply (one JSON per line)."""
    path = REFERENCE / "recorded" / "openai-code-interpreter-tool.1.chunks.txt"
    if not path.is_file():
        pytest.skip(f"the recording is not at {path}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def without_reasoning(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the reasoning items a reasoning model adds (the emulator plays a plain model)."""
    return [e for e in events if e.get("item", {}).get("type") != "reasoning"]


def item_blocks(events: list[dict[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(item type, collapsed event types)`` for each output item's run of events."""
    item_types = {
        e["output_index"]: e["item"]["type"] for e in events if e["type"] == "response.output_item.added"
    }
    with_index = [e for e in events if "output_index" in e]
    for index, group in groupby(with_index, key=lambda e: e["output_index"]):
        yield item_types[index], [kind for kind, _ in groupby(e["type"] for e in group)]


def lifecycle(events: list[dict[str, Any]]) -> list[str]:
    """Return the event types that belong to no output item, in order."""
    return [e["type"] for e in events if "output_index" not in e]


def fields_by_type(events: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Return the top-level fields of each event type (``obfuscation`` on deltas included, as upstream)."""
    fields: dict[str, set[str]] = {}
    for event in events:
        fields.setdefault(event["type"], set()).update(event)
    return fields


@pytest.fixture(scope="module")
def streamed(client_for_module: openai.OpenAI) -> list[dict[str, Any]]:
    """One streamed code-interpreter reply from the emulator (a chart, a CSV, a log line)."""
    return sse_events(
        client_for_module,
        model="gpt-4.1",
        input=PROMPT,
        tools=TOOLS,
        include=["code_interpreter_call.outputs"],
    )


@pytest.fixture(scope="module")
def client_for_module(emulator: LocalServer) -> openai.OpenAI:
    """An SDK client shared by this module's module-scoped fixtures."""
    return openai.OpenAI(base_url=emulator.base_url, api_key="sk-fidelity")


def test_stream_has_the_shape_of_the_real_recording(streamed: list[dict[str, Any]]) -> None:
    real = without_reasoning(recorded_events())
    ours = streamed
    assert [e["sequence_number"] for e in ours] == list(range(len(ours)))
    assert (
        lifecycle(ours)
        == lifecycle(real)
        == ["response.created", "response.in_progress", "response.completed"]
    )
    real_blocks = dict(item_blocks(real))
    our_blocks = list(item_blocks(ours))
    assert [kind for kind, _ in our_blocks] == ["code_interpreter_call", "message"]
    for kind, shape in our_blocks:
        assert shape == real_blocks[kind], kind
    assert {kind for kind, _ in item_blocks(real)} == {"code_interpreter_call", "message"}


def test_stream_events_carry_the_recorded_fields(streamed: list[dict[str, Any]]) -> None:
    real = fields_by_type(without_reasoning(recorded_events()))
    ours = fields_by_type(streamed)
    assert set(ours) == set(real)
    for kind, fields in real.items():
        assert ours[kind] == fields, kind
    real_items = {e["item"]["type"]: set(e["item"]) for e in recorded_events() if "item" in e}
    our_items = {e["item"]["type"]: set(e["item"]) for e in streamed if "item" in e}
    assert our_items["code_interpreter_call"] == real_items["code_interpreter_call"]
    assert our_items["message"] == real_items["message"]
    real_annotation = next(e["annotation"] for e in recorded_events() if "annotation" in e)
    linked = [e["annotation"] for e in streamed if "annotation" in e and e["annotation"]["end_index"] > 0]
    assert linked and set(linked[0]) == set(real_annotation)
    real_response = set(recorded_events()[-1]["response"])
    assert real_response <= set(streamed[-1]["response"])


def test_every_event_validates_against_its_schema(
    streamed: list[dict[str, Any]], openapi_schemas: OpenApiSchemas
) -> None:
    by_type = {}
    for ref in openapi_schemas.schemas["ResponseStreamEvent"]["anyOf"]:
        name = ref["$ref"].rsplit("/", 1)[-1]
        for kind in openapi_schemas.schemas[name]["properties"]["type"].get("enum", []):
            by_type[kind] = name
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
    for event in streamed:
        openapi_schemas.check(by_type[event["type"]], event)
        assert adapter.validate_python(event).type == event["type"]
    final = streamed[-1]["response"]
    openapi_schemas.check("Response", final)
    outputs = final["output"][0]["outputs"]
    assert [o["type"] for o in outputs] == ["logs", "image"]
    assert outputs[1]["url"].startswith("data:image/png;base64,iVBOR")


def test_responses_validate_and_parse(client: openai.OpenAI, openapi_schemas: OpenApiSchemas) -> None:
    created = raw_json(client.responses.with_raw_response.create(model="gpt-4.1", input=PROMPT, tools=TOOLS))
    openapi_schemas.check("Response", created)
    Response.model_validate(created)
    for item in created["output"]:
        openapi_schemas.check(
            "CodeInterpreterToolCall" if item["type"] != "message" else "OutputMessage", item
        )
    retrieved = raw_json(
        client.responses.with_raw_response.retrieve(created["id"], include=["code_interpreter_call.outputs"])
    )
    openapi_schemas.check("Response", retrieved)
    assert Response.model_validate(retrieved).output[0].outputs is not None
    no_code = raw_json(client.responses.with_raw_response.create(model="gpt-4.1", input="hello"))
    openapi_schemas.check("Response", no_code)


def test_containers_and_their_files_validate_and_parse(
    client: openai.OpenAI, openapi_schemas: OpenApiSchemas
) -> None:
    container = raw_json(client.containers.with_raw_response.create(name="schema"))
    openapi_schemas.check("ContainerResource", container)
    openapi_schemas.check(
        "ContainerResource", raw_json(client.containers.with_raw_response.retrieve(container["id"]))
    )
    openapi_schemas.check("ContainerListResource", raw_json(client.containers.with_raw_response.list()))
    uploaded = raw_json(
        client.containers.files.with_raw_response.create(
            container["id"], file=("in.txt", b"abc", "text/plain")
        )
    )
    openapi_schemas.check("ContainerFileResource", uploaded)
    FileRetrieveResponse.model_validate(uploaded)
    listed = raw_json(client.containers.files.with_raw_response.list(container["id"]))
    openapi_schemas.check("ContainerFileListResource", listed)
    assert listed["data"][0]["id"] == uploaded["id"]


def test_files_validate_and_parse(client: openai.OpenAI, openapi_schemas: OpenApiSchemas) -> None:
    created = raw_json(
        client.files.with_raw_response.create(
            file=("data.csv", b"a\n1\n"),
            purpose="user_data",
            expires_after={"anchor": "created_at", "seconds": 3600},
        )
    )
    openapi_schemas.check("OpenAIFile", created)
    assert FileObject.model_validate(created).expires_at == created["created_at"] + 3600
    openapi_schemas.check(
        "ListFilesResponse", raw_json(client.files.with_raw_response.list(purpose="user_data"))
    )
    deleted = raw_json(client.files.with_raw_response.delete(created["id"]))
    openapi_schemas.check("DeleteFileResponse", deleted)
    assert FileDeleted.model_validate(deleted).deleted is True


def test_assistants_objects_validate_and_parse(
    client: openai.OpenAI, openapi_schemas: OpenApiSchemas
) -> None:
    assistant = raw_json(
        client.beta.assistants.with_raw_response.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
    )
    openapi_schemas.check("AssistantObject", assistant)
    Assistant.model_validate(assistant)
    thread = raw_json(client.beta.threads.with_raw_response.create())
    openapi_schemas.check("ThreadObject", thread)
    Thread.model_validate(thread)
    message = raw_json(
        client.beta.threads.messages.with_raw_response.create(thread["id"], role="user", content=PROMPT)
    )
    openapi_schemas.check("MessageObject", message)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread["id"], assistant_id=assistant["id"])
    assert run.status == "completed"
    run_body = raw_json(client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=thread["id"]))
    openapi_schemas.check("RunObject", run_body)
    Run.model_validate(run_body)
    listed = raw_json(client.beta.threads.messages.with_raw_response.list(thread["id"]))
    openapi_schemas.check("ListMessagesResponse", listed)
    answer = Message.model_validate(listed["data"][0])
    assert [part.type for part in answer.content] == ["image_file", "text"]


def test_error_bodies_validate(
    client: openai.OpenAI, emulator: LocalServer, openapi_schemas: OpenApiSchemas
) -> None:
    bodies = []
    for call in (
        lambda: client.responses.create(model="m", input="x", previous_response_id="resp_nope"),
        lambda: client.files.retrieve("file-nope"),
        lambda: client.containers.retrieve("cntr_nope"),
    ):
        with pytest.raises(openai.APIStatusError) as caught:
            call()
        bodies.append(caught.value.response.json())
    emulator.faults.fail_next(1, status=429, should_retry=False)
    with pytest.raises(openai.RateLimitError) as limited:
        client.containers.list()
    assert limited.value.response.headers["retry-after"] == "1"
    assert limited.value.response.headers["retry-after-ms"] == "10"
    bodies.append(limited.value.response.json())
    for body in bodies:
        openapi_schemas.check("ErrorResponse", body)


def test_json_reply_has_the_fields_of_the_real_recording(client: openai.OpenAI) -> None:
    path = REFERENCE / "recorded" / "openai-code-interpreter-tool.1.json"
    if not path.is_file():
        pytest.skip(f"the recording is not at {path}")
    real = json.loads(path.read_text(encoding="utf-8"))
    ours = raw_json(
        client.responses.with_raw_response.create(
            model="gpt-4.1", input=PROMPT, tools=TOOLS, include=["code_interpreter_call.outputs"]
        )
    )
    assert set(real) <= set(ours)
    real_items = {item["type"]: item for item in real["output"] if item["type"] != "reasoning"}
    our_items = {item["type"]: item for item in ours["output"]}
    assert set(our_items) == set(real_items) == {"code_interpreter_call", "message"}
    for kind, item in real_items.items():
        assert set(our_items[kind]) == set(item), kind
    real_part, our_part = real_items["message"]["content"][0], our_items["message"]["content"][0]
    assert set(our_part) == set(real_part)
    real_citation = real_part["annotations"][0]
    our_citation = next(a for a in our_part["annotations"] if a["end_index"] > 0)
    assert set(our_citation) == set(real_citation)
    assert our_part["text"][our_citation["start_index"] : our_citation["end_index"]].startswith(
        "sandbox:/mnt/data/"
    )
    assert set(ours["usage"]) == set(real["usage"])
    assert set(ours["usage"]["input_tokens_details"]) >= set(real["usage"]["input_tokens_details"])


def test_stream_without_obfuscation_has_no_padding(client: openai.OpenAI) -> None:
    events = sse_events(client, model="gpt-4.1", input="hello", stream_options={"include_obfuscation": False})
    deltas = [e for e in events if e["type"].endswith(".delta")]
    assert deltas and not [e for e in deltas if "obfuscation" in e]


TOOL_PROMPT = (
    "```python\nopen('/mnt/data/made.txt', 'w').write('py')\n```\n"
    "```bash\nls /mnt/data && printf 'x\\n' > shell.txt && echo warn >&2\n```\n"
    "```image\na small blue square\n```\n"
)
ALL_TOOLS = [
    *TOOLS,
    {"type": "shell", "environment": {"type": "container_auto"}},
    {"type": "image_generation", "size": "64x64", "partial_images": 1},
]
ITEM_SCHEMAS = {
    "code_interpreter_call": "CodeInterpreterToolCall",
    "shell_call": "FunctionShellCall",
    "shell_call_output": "FunctionShellCallOutput",
    "image_generation_call": "ImageGenToolCall",
    "message": "OutputMessage",
}


def event_schemas(openapi_schemas: OpenApiSchemas) -> dict[str, str]:
    """Return the SPEC schema name of every streamed event type."""
    by_type = {}
    for ref in openapi_schemas.schemas["ResponseStreamEvent"]["anyOf"]:
        name = ref["$ref"].rsplit("/", 1)[-1]
        for kind in openapi_schemas.schemas[name]["properties"]["type"].get("enum", []):
            by_type[kind] = name
    return by_type


def test_shell_and_image_events_and_items_validate_and_parse(
    client: openai.OpenAI, openapi_schemas: OpenApiSchemas
) -> None:
    events = sse_events(client, model="gpt-5", input=TOOL_PROMPT, tools=ALL_TOOLS, include=[INCLUDE])
    by_type = event_schemas(openapi_schemas)
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
    for event in events:
        openapi_schemas.check(by_type[event["type"]], event)
        assert adapter.validate_python(event).type == event["type"]
        if "item" in event:
            openapi_schemas.check(ITEM_SCHEMAS[event["item"]["type"]], event["item"])
    kinds = {e["type"] for e in events}
    assert {
        "response.shell_call_command.added",
        "response.shell_call_command.delta",
        "response.shell_call_command.done",
        "response.shell_call_output_content.delta",
        "response.shell_call_output_content.done",
        "response.image_generation_call.in_progress",
        "response.image_generation_call.generating",
        "response.image_generation_call.partial_image",
        "response.image_generation_call.completed",
    } <= kinds
    final = events[-1]["response"]
    openapi_schemas.check("Response", final)
    parsed = Response.model_validate(final)
    assert [item.type for item in parsed.output] == [
        "code_interpreter_call",
        "shell_call",
        "shell_call_output",
        "image_generation_call",
        "message",
    ]
    for item in final["output"]:
        openapi_schemas.check(ITEM_SCHEMAS[item["type"]], item)
    cited = sorted(a["filename"] for a in final["output"][-1]["content"][0]["annotations"])
    assert cited == ["made.txt", "shell.txt"]
    assert final["output"][2]["output"][0] == {
        "outcome": {"type": "exit", "exit_code": 0},
        "stderr": "warn\n",
        "stdout": "made.txt\n",
    }


def test_conversations_and_input_items_validate_and_parse(
    client: openai.OpenAI, openapi_schemas: OpenApiSchemas
) -> None:
    created = raw_json(
        client.conversations.with_raw_response.create(
            metadata={"k": "v"}, items=[{"type": "message", "role": "user", "content": "hi"}]
        )
    )
    openapi_schemas.check("ConversationResource", created)
    Conversation.model_validate(created)
    response = raw_json(
        client.responses.with_raw_response.create(
            model="gpt-5", input=TOOL_PROMPT, tools=ALL_TOOLS, conversation=created["id"]
        )
    )
    openapi_schemas.check("Response", response)
    assert response["conversation"] == {"id": created["id"]}
    items = raw_json(
        client.conversations.items.with_raw_response.list(created["id"], order="asc", include=[INCLUDE])
    )
    openapi_schemas.check("ConversationItemList", items)
    parsed = ConversationItemList.model_validate(items)
    assert [item.type for item in parsed.data] == [
        "message",
        "message",
        "code_interpreter_call",
        "shell_call",
        "shell_call_output",
        "image_generation_call",
        "message",
    ]
    added = raw_json(
        client.conversations.items.with_raw_response.create(
            created["id"], items=[{"type": "message", "role": "user", "content": "more"}]
        )
    )
    openapi_schemas.check("ConversationItemList", added)
    inputs = raw_json(client.responses.input_items.with_raw_response.list(response["id"]))
    openapi_schemas.check("ResponseItemList", inputs)
    (only,) = ResponseItemList.model_validate(inputs).data
    assert only.type == "message" and only.role == "user"
    deleted = raw_json(client.conversations.with_raw_response.delete(created["id"]))
    openapi_schemas.check("DeletedConversationResource", deleted)
    ConversationDeletedResource.model_validate(deleted)
