"""Input items as upstream stores them, and the containers that earlier tool calls name."""

from __future__ import annotations

from openai_artifacts_nb.local.history import container_ids, input_items


def test_a_string_is_one_user_message_with_an_id() -> None:
    (item,) = input_items("hello")
    assert item["id"].startswith("msg_") and len(item["id"]) == 4 + 48
    assert {k: v for k, v in item.items() if k != "id"} == {
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": "hello"}],
    }


def test_messages_get_ids_and_parts_other_items_are_kept() -> None:
    call = {
        "type": "code_interpreter_call",
        "id": "ci_1",
        "container_id": "cntr_a",
        "code": "",
        "outputs": [],
    }
    items = input_items(
        [
            {"role": "system", "content": "rules"},
            {"type": "message", "role": "assistant", "id": "msg_keep", "content": "ok"},
            {"type": "item_reference", "id": "msg_elsewhere"},
            call,
            "not an item",
        ]
    )
    assert [i["type"] for i in items] == ["message", "message", "code_interpreter_call"]
    assert items[0]["content"] == [{"type": "input_text", "text": "rules"}]
    assert items[1]["id"] == "msg_keep"
    assert items[1]["content"] == [{"type": "output_text", "text": "ok", "annotations": [], "logprobs": []}]
    assert items[2] == call and items[2] is not call


def test_containers_named_by_code_and_shell_calls_in_order() -> None:
    items = [
        {"type": "code_interpreter_call", "container_id": "cntr_a"},
        {"type": "message", "role": "user", "content": "x"},
        {"type": "shell_call", "environment": {"type": "container_reference", "container_id": "cntr_b"}},
        {"type": "shell_call", "environment": {"type": "local"}},
        {"type": "code_interpreter_call", "container_id": None},
    ]
    assert container_ids(items) == ["cntr_a", "cntr_b"]
