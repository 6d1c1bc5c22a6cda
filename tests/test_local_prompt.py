"""The emulator's prompt conventions: code blocks, the reply block, and where the prompt text comes from."""

from __future__ import annotations

from openai_artifacts_nb.local.prompt import Step, input_file_ids, last_user_text, plan_from_text


def test_python_blocks_in_order_and_the_reply_block() -> None:
    text = (
        "Intro\n```python\na = 1\n```\nmiddle\n```py\nb = 2\n```\n"
        "```bash\nls\n```\n~~~python3\nc = 3\n~~~\n```reply\nDone: [x](sandbox:/mnt/data/x)\n```\n"
    )
    plan = plan_from_text(text)
    assert plan.code_blocks == ["a = 1\n", "b = 2\n", "c = 3\n"]
    assert plan.reply == "Done: [x](sandbox:/mnt/data/x)"


def test_python_bash_and_image_blocks_become_steps_in_order() -> None:
    text = (
        "```python\na = 1\n```\n```bash timeout_ms=500 max_output_length=10\nls -la\necho hi\n```\n"
        "```image\n  a red fox  \n```\n```sh\npwd\n```\n```image\n\n```\n```shell\n```\n"
    )
    plan = plan_from_text(text)
    assert plan.steps == [
        Step("python", "a = 1\n"),
        Step("shell", "ls -la\necho hi", {"timeout_ms": 500, "max_output_length": 10}),
        Step("image", "a red fox"),
        Step("shell", "pwd"),
    ]
    assert plan.code_blocks == ["a = 1\n"] and plan.bodies("shell") == ["ls -la\necho hi", "pwd"]


def test_longer_fences_may_hold_shorter_ones() -> None:
    plan = plan_from_text("````python\ns = '''\n```\n'''\n````\n")
    assert plan.code_blocks == ["s = '''\n```\n'''\n"]


def test_no_blocks_means_nothing_to_run() -> None:
    plan = plan_from_text("just words, `inline` code")
    assert plan.code_blocks == [] and plan.reply is None


def test_last_user_text_from_strings_and_message_lists() -> None:
    assert last_user_text("hello") == "hello"
    items = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}],
        },
        {"type": "function_call_output", "output": "ignored"},
    ]
    assert last_user_text(items) == "a\nb"
    assert last_user_text(None) == ""


def test_input_file_ids_are_collected() -> None:
    items = [
        {
            "role": "user",
            "content": [{"type": "input_file", "file_id": "file-1"}, {"type": "input_text", "text": "x"}],
        }
    ]
    assert input_file_ids(items) == ["file-1"]
    assert input_file_ids("text") == []
