"""The Responses API of the emulator, driven by the unchanged ``openai`` SDK."""

from __future__ import annotations

import openai
import pytest

TOOLS = [{"type": "code_interpreter", "container": {"type": "auto"}}]
INCLUDE = ["code_interpreter_call.outputs"]


def code(source: str) -> str:
    """Return a prompt whose only code block is ``source``."""
    return f"Please run this.\n\n```python\n{source}\n```\n"


def test_json_reply_runs_code_and_cites_the_file(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4.1",
        input=code("open('/mnt/data/report.txt', 'w').write('hello')\nprint('done')"),
        tools=TOOLS,
        include=INCLUDE,
    )
    call, message = response.output
    assert call.type == "code_interpreter_call"
    assert call.status == "completed"
    assert call.id.startswith("ci_") and call.container_id.startswith("cntr_")
    assert call.outputs is not None and call.outputs[0].type == "logs"
    assert call.outputs[0].logs == "done\n"
    assert message.type == "message"
    text = message.content[0].text
    (annotation,) = message.content[0].annotations
    assert annotation.type == "container_file_citation"
    assert text[annotation.start_index : annotation.end_index] == "sandbox:/mnt/data/report.txt"
    assert annotation.filename == "report.txt"
    assert "[report.txt](sandbox:/mnt/data/report.txt)" in text
    content = client.containers.files.content.retrieve(annotation.file_id, container_id=call.container_id)
    assert content.read() == b"hello"
    assert response.usage is not None and response.usage.total_tokens > 0
    assert response.status == "completed"
    assert response._request_id is not None and response._request_id.startswith("req_")


def test_outputs_are_null_unless_included(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4.1", input=code("print(6 * 7)"), tools=TOOLS)
    assert response.output[0].type == "code_interpreter_call"
    assert response.output[0].outputs is None
    again = client.responses.retrieve(response.id, include=INCLUDE)
    assert again.output[0].outputs[0].logs == "42\n"
    assert client.responses.retrieve(response.id).output[0].outputs is None


def test_stream_accumulates_with_the_sdk_helper(client: openai.OpenAI) -> None:
    prompt = code("open('/mnt/data/a.csv', 'w').write('x,y\\n1,2\\n')")
    with client.responses.stream(model="gpt-4.1", input=prompt, tools=TOOLS, include=INCLUDE) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    (annotation,) = final.output[1].content[0].annotations
    assert final.output_text[annotation.start_index : annotation.end_index] == "sandbox:/mnt/data/a.csv"
    stored = client.responses.retrieve(final.id)
    assert stored.output_text == final.output_text


def test_state_persists_and_auto_container_is_reused_through_the_chain(client: openai.OpenAI) -> None:
    first = client.responses.create(model="m", input=code("secret = 41"), tools=TOOLS)
    second = client.responses.create(
        model="m",
        input=code("print(secret + 1)"),
        tools=TOOLS,
        include=INCLUDE,
        previous_response_id=first.id,
    )
    assert second.output[0].container_id == first.output[0].container_id
    assert second.output[0].outputs[0].logs == "42\n"
    assert second.previous_response_id == first.id


def test_explicit_container_runs_there(client: openai.OpenAI) -> None:
    container = client.containers.create(name="explicit")
    response = client.responses.create(
        model="m",
        input=code("import os\nprint(os.getcwd())\nopen('rel.txt','w').write('r');"),
        tools=[{"type": "code_interpreter", "container": container.id}],
        include=INCLUDE,
    )
    assert response.output[0].container_id == container.id
    assert response.output[0].outputs[0].logs == "/mnt/data\n"
    paths = [f.path for f in client.containers.files.list(container.id)]
    assert paths == ["/mnt/data/rel.txt"]


def test_unknown_and_unstored_previous_response_are_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="hi", previous_response_id="resp_missing")
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"
    unstored = client.responses.create(model="m", input="hi", store=False)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="m", input="again", previous_response_id=unstored.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)


def test_delete_response(client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input="hello")
    deleted = client.responses.delete(response.id)
    assert deleted is None or getattr(deleted, "deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_no_code_gives_a_short_fixed_reply(client: openai.OpenAI) -> None:
    first = client.responses.create(model="m", input="What is 2 + 2?", tools=TOOLS)
    second = client.responses.create(model="m", input="And 3 + 3?", tools=TOOLS)
    assert first.output_text == second.output_text
    assert "```python" in first.output_text
    assert [item.type for item in first.output] == ["message"]
    assert first.output[0].content[0].annotations == []


def test_input_as_message_list_uses_last_user_message(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="m",
        input=[
            {"role": "user", "content": code("print('old')")},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "input_text", "text": code("print('new')")}]},
        ],
        tools=TOOLS,
        include=INCLUDE,
    )
    assert response.output[0].outputs[0].logs == "new\n"


def test_reply_block_gives_exact_text_and_citations(client: openai.OpenAI) -> None:
    reply = "Files: [résumé](sandbox:/mnt/data/r%C3%A9sum%C3%A9%201.csv) and sandbox://mnt/data/b.txt ok"
    prompt = code("open('/mnt/data/résumé 1.csv','w').write('1')\nopen('/mnt/data/b.txt','w').write('2')")
    response = client.responses.create(model="m", input=prompt + f"\n```reply\n{reply}\n```\n", tools=TOOLS)
    assert response.output_text == reply
    annotations = response.output[1].content[0].annotations
    spans = [(a.filename, reply[a.start_index : a.end_index]) for a in annotations]
    assert spans == [
        ("résumé 1.csv", "sandbox:/mnt/data/r%C3%A9sum%C3%A9%201.csv"),
        ("b.txt", "sandbox://mnt/data/b.txt"),
    ]


def test_missing_model_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="", input="hi")
    assert caught.value.body == {
        "message": "Missing required parameter: 'model'.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "missing_required_parameter",
    }


def test_code_without_the_tool_does_not_run(client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input=code("print('no')"))
    assert [item.type for item in response.output] == ["message"]
    assert (
        response.output_text == "The code_interpreter tool is not enabled for this request, so no code ran."
    )


def test_files_given_to_the_auto_container_and_as_input_are_in_mnt_data(client: openai.OpenAI) -> None:
    table = client.files.create(file=("table.csv", b"a,b\n1,2\n"), purpose="user_data")
    notes = client.files.create(file=("notes.txt", b"remember"), purpose="user_data")
    response = client.responses.create(
        model="m",
        input=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": code("print(open('/mnt/data/table.csv').read().split()[1])"),
                    },
                    {"type": "input_file", "file_id": notes.id},
                ],
            }
        ],
        tools=[{"type": "code_interpreter", "container": {"type": "auto", "file_ids": [table.id]}}],
        include=INCLUDE,
    )
    assert response.output[0].outputs[0].logs == "1,2\n"
    listed = {f.path: f.source for f in client.containers.files.list(response.output[0].container_id)}
    assert listed == {"/mnt/data/table.csv": "user", "/mnt/data/notes.txt": "user"}
    created = client.containers.create(name="with-files", file_ids=[notes.id])
    assert [f.path for f in client.containers.files.list(created.id)] == ["/mnt/data/notes.txt"]
    with pytest.raises(openai.BadRequestError):
        client.responses.create(
            model="m",
            input=code("1"),
            tools=[{"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file-x"]}}],
        )
