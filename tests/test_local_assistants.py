"""The legacy Assistants v2 path of the emulator: threads, messages, runs polled by the SDK, Files output."""

from __future__ import annotations

import openai
import pytest

PROMPT = (
    "Make a chart and a CSV.\n\n```python\n"
    "import matplotlib.pyplot as plt\n"
    "plt.plot([1, 2, 3], [1, 4, 9])\n"
    "plt.show()\n"
    "open('/mnt/data/squares.csv', 'w').write('x,y\\n1,1\\n2,4\\n')\n"
    "```\n"
)


# The SDK marks every Assistants method deprecated; these tests exercise exactly that legacy path.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_run_creates_image_file_and_file_path_annotation(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread.id, role="user", content=PROMPT)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"
    assert run.usage is not None and run.usage.total_tokens > 0
    messages = client.beta.threads.messages.list(thread.id)
    newest = messages.data[0]
    assert newest.role == "assistant" and newest.run_id == run.id
    kinds = [part.type for part in newest.content]
    assert kinds == ["image_file", "text"]
    image_id = newest.content[0].image_file.file_id
    assert client.files.content(image_id).read()[:8] == b"\x89PNG\r\n\x1a\n"
    text = newest.content[1].text
    (annotation,) = text.annotations
    assert annotation.type == "file_path"
    assert text.value[annotation.start_index : annotation.end_index] == "sandbox:/mnt/data/squares.csv"
    assert annotation.text == "sandbox:/mnt/data/squares.csv"
    stored = client.files.retrieve(annotation.file_path.file_id)
    assert stored.purpose == "assistants_output"
    assert stored.filename == "/mnt/data/squares.csv"
    assert client.files.content(stored.id).read() == b"x,y\n1,1\n2,4\n"
    outputs = [f.id for f in client.files.list(purpose="assistants_output")]
    assert image_id in outputs and stored.id in outputs


def test_state_persists_within_a_thread_and_attachments_are_visible(client: openai.OpenAI) -> None:
    upload = client.files.create(file=("in.txt", b"attached bytes"), purpose="assistants")
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": f"```python\ncount = len(open('/mnt/data/{upload.id}').read())\n```",
                "attachments": [{"file_id": upload.id, "tools": [{"type": "code_interpreter"}]}],
            }
        ]
    )
    first = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert first.status == "completed"
    client.beta.threads.messages.create(
        thread.id, role="user", content="```python\nopen('/mnt/data/n.txt','w').write(str(count))\n```"
    )
    second = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    (message,) = client.beta.threads.messages.list(thread.id, run_id=second.id).data
    (annotation,) = message.content[-1].text.annotations
    assert client.files.content(annotation.file_path.file_id).read() == b"14"


def test_messages_paginate_and_unknown_objects_are_404(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    for number in range(5):
        client.beta.threads.messages.create(thread.id, role="user", content=f"message {number}")
    texts = [
        m.content[0].text.value for m in client.beta.threads.messages.list(thread.id, limit=2, order="asc")
    ]
    assert texts == [f"message {n}" for n in range(5)]
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_missing")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.list("thread_missing")
