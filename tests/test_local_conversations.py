"""Conversations, input items and container reuse from resent history in the emulator, through the SDK."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from openai_artifacts_nb.local import LocalServer

TOOLS = [{"type": "code_interpreter", "container": {"type": "auto"}}]
INCLUDE = ["code_interpreter_call.outputs"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def code(source: str) -> str:
    """Return a prompt whose only code block is ``source``."""
    return f"```python\n{source}\n```\n"


def user(text: str) -> dict[str, Any]:
    """Return a user message input item."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_conversation_create_retrieve_update_delete(client: openai.OpenAI) -> None:
    conversation = client.conversations.create(metadata={"topic": "demo"}, items=[user("hello")])
    assert conversation.id.startswith("conv_") and conversation.object == "conversation"
    assert conversation.metadata == {"topic": "demo"}
    assert client.conversations.retrieve(conversation.id).created_at == conversation.created_at
    updated = client.conversations.update(conversation.id, metadata={"topic": "other"})
    assert updated.metadata == {"topic": "other"}
    (item,) = client.conversations.items.list(conversation.id).data
    assert item.type == "message" and item.role == "user" and item.id.startswith("msg_")
    assert item.content[0].type == "input_text" and item.content[0].text == "hello"
    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (conversation.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)


def test_items_are_added_listed_paged_retrieved_and_deleted(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    created = client.conversations.items.create(
        conversation.id, items=[user("one"), user("two"), user("three")]
    )
    assert [i.content[0].text for i in created.data] == ["one", "two", "three"]
    newest = client.conversations.items.list(conversation.id, limit=2)
    assert [i.content[0].text for i in newest.data] == ["three", "two"] and newest.has_more is True
    every = [
        i.content[0].text for i in client.conversations.items.list(conversation.id, limit=1, order="asc")
    ]
    assert every == ["one", "two", "three"]
    first = created.data[0]
    assert client.conversations.items.retrieve(first.id, conversation_id=conversation.id).id == first.id
    client.conversations.items.delete(first.id, conversation_id=conversation.id)
    left = client.conversations.items.list(conversation.id, order="asc").data
    assert [i.content[0].text for i in left] == ["two", "three"]
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(first.id, conversation_id=conversation.id)
    with pytest.raises(openai.BadRequestError):
        client.conversations.items.create(conversation.id, items=[user(str(n)) for n in range(21)])


def test_responses_in_a_conversation_share_state_and_record_every_item(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    first = client.responses.create(
        model="m", input=code("secret = 41"), tools=TOOLS, conversation=conversation.id
    )
    assert first.conversation is not None and first.conversation.id == conversation.id
    second = client.responses.create(
        model="m",
        input=code("print(secret + 1)"),
        tools=TOOLS,
        include=INCLUDE,
        conversation={"id": conversation.id},
    )
    assert second.output[0].container_id == first.output[0].container_id
    assert second.output[0].outputs is not None and second.output[0].outputs[0].logs == "42\n"
    items = client.conversations.items.list(conversation.id, order="asc", include=INCLUDE).data
    assert [i.type for i in items] == ["message", "code_interpreter_call", "message"] * 2
    assert [getattr(i, "role", None) for i in items] == ["user", None, "assistant"] * 2
    assert items[1].id == first.output[0].id and items[5].id == second.output[1].id
    assert items[4].outputs is not None and items[4].outputs[0].logs == "42\n"
    assert client.conversations.items.list(conversation.id, order="asc").data[4].outputs is None


def test_conversation_errors(client: openai.OpenAI) -> None:
    first = client.responses.create(model="m", input="hello")
    conversation = client.conversations.create()
    with pytest.raises(openai.BadRequestError) as both:
        client.responses.create(
            model="m", input="x", conversation=conversation.id, previous_response_id=first.id
        )
    assert both.value.param == "conversation"
    with pytest.raises(openai.NotFoundError) as unknown:
        client.responses.create(model="m", input="x", conversation="conv_nope")
    assert unknown.value.param == "conversation"
    assert client.conversations.items.list(conversation.id).data == []


def test_input_items_lists_the_input_of_a_response(client: openai.OpenAI) -> None:
    plain = client.responses.create(model="m", input="just text")
    (item,) = client.responses.input_items.list(plain.id).data
    assert item.type == "message" and item.role == "user" and item.id.startswith("msg_")
    assert item.content[0].type == "input_text" and item.content[0].text == "just text"
    listed = client.responses.create(
        model="m",
        input=[
            {"role": "developer", "content": "be brief"},
            user("first"),
            {"role": "assistant", "content": "noted"},
            user("second"),
        ],
    )
    newest = client.responses.input_items.list(listed.id)
    assert [i.role for i in newest.data] == ["user", "assistant", "user", "developer"]
    assert newest.data[1].content[0].type == "output_text"
    page = client.responses.input_items.list(listed.id, order="asc", limit=2)
    assert [i.role for i in page.data] == ["developer", "user"] and page.has_more is True
    assert [i.role for i in client.responses.input_items.list(listed.id, order="asc", limit=2)] == [
        "developer",
        "user",
        "assistant",
        "user",
    ]
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_nope")


def test_auto_reuses_the_container_named_in_resent_history(client: openai.OpenAI) -> None:
    first = client.responses.create(model="m", input=code("secret = 41"), tools=TOOLS)
    history = [user(code("secret = 41")), *(item.model_dump(exclude_none=True) for item in first.output)]
    second = client.responses.create(
        model="m", input=[*history, user(code("print(secret + 1)"))], tools=TOOLS, include=INCLUDE
    )
    assert second.output[0].container_id == first.output[0].container_id
    assert second.output[0].outputs is not None and second.output[0].outputs[0].logs == "42\n"
    fresh = client.responses.create(model="m", input=code("print('new')"), tools=TOOLS)
    assert fresh.output[0].container_id != first.output[0].container_id


def test_auto_reuses_a_shell_container_from_history_and_refuses_an_expired_one(
    client: openai.OpenAI, emulator: LocalServer
) -> None:
    shell = [{"type": "shell", "environment": {"type": "container_auto"}}]
    first = client.responses.create(model="m", input="```bash\necho 7 > n.txt\n```", tools=shell)
    container_id = first.output[0].environment.container_id
    history = [item.model_dump(exclude_none=True) for item in first.output]
    second = client.responses.create(
        model="m", input=[*history, user(code("print(open('n.txt').read().strip())"))], tools=TOOLS
    )
    assert second.output[0].container_id == container_id
    emulator.faults.expire_container(container_id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input=[*history, user(code("print(1)"))], tools=TOOLS)
    assert caught.value.code == "container_expired" and container_id in caught.value.message
