"""The emulator's hosted shell and image generation tools, driven by the unchanged ``openai`` SDK."""

from __future__ import annotations

import base64
import struct
from typing import Any

import openai
import pytest

from openai_artifacts_nb.local.turns import NO_SHELL_REPLY

SHELL = {"type": "shell", "environment": {"type": "container_auto"}}
CODE = {"type": "code_interpreter", "container": {"type": "auto"}}
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def bash(command: str, info: str = "") -> str:
    """Return a prompt whose only block is a bash block with ``command``."""
    return f"Run this.\n\n```bash{info}\n{command}\n```\n"


def image(prompt: str) -> str:
    """Return a prompt whose only block is an image prompt."""
    return f"```image\n{prompt}\n```\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Return the width and height in a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_bash_block_runs_as_a_hosted_shell_call_and_its_file_is_cited(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-5",
        input=bash("printf 'a,b\\n1,2\\n' > table.csv && echo wrote && pwd"),
        tools=[SHELL],
    )
    call, result, message = response.output
    assert call.type == "shell_call" and result.type == "shell_call_output" and message.type == "message"
    assert call.id.startswith("sh_") and result.id.startswith("sho_")
    assert call.call_id == result.call_id and call.call_id.startswith("call_")
    assert call.action.commands == ["printf 'a,b\\n1,2\\n' > table.csv && echo wrote && pwd"]
    assert call.environment is not None and call.environment.type == "container_reference"
    container_id = call.environment.container_id
    (content,) = result.output
    assert content.outcome.type == "exit" and content.outcome.exit_code == 0
    assert content.stdout == "wrote\n/mnt/data\n" and content.stderr == ""
    (annotation,) = message.content[0].annotations
    assert annotation.type == "container_file_citation" and annotation.container_id == container_id
    text = message.content[0].text
    assert text[annotation.start_index : annotation.end_index] == "sandbox:/mnt/data/table.csv"
    saved = client.containers.files.content.retrieve(annotation.file_id, container_id=container_id)
    assert saved.read() == b"a,b\n1,2\n"
    listed = client.containers.files.list(container_id)
    assert [(f.path, f.source) for f in listed.data] == [("/mnt/data/table.csv", "assistant")]
    (tool,) = response.tools
    assert tool.type == "shell" and tool.environment is not None
    assert tool.environment.type == "container_reference" and tool.environment.container_id == container_id


def test_stderr_exit_code_timeout_and_output_limit(client: openai.OpenAI) -> None:
    failed = client.responses.create(model="m", input=bash("echo out; echo oops >&2; exit 3"), tools=[SHELL])
    (content,) = failed.output[1].output
    assert (content.stdout, content.stderr) == ("out\n", "oops\n")
    assert content.outcome.type == "exit" and content.outcome.exit_code == 3
    slow = client.responses.create(
        model="m", input=bash("echo started; sleep 30; echo never", " timeout_ms=300"), tools=[SHELL]
    )
    assert slow.output[0].action.timeout_ms == 300
    (content,) = slow.output[1].output
    assert content.outcome.type == "timeout" and content.stdout == "started\n"
    loud = client.responses.create(
        model="m", input=bash("yes 0123456789 | head -c 100000", " max_output_length=100"), tools=[SHELL]
    )
    assert loud.output[0].action.max_output_length == 100 and loud.output[1].max_output_length == 100
    (content,) = loud.output[1].output
    assert content.stdout == ("0123456789\n" * 10)[:100]


def test_background_jobs_end_with_the_call_and_floods_are_cut(client: openai.OpenAI) -> None:
    started = client.responses.create(model="m", input=bash("sleep 600 & echo $!"), tools=[SHELL])
    pid = started.output[1].output[0].stdout.strip()
    assert pid.isdigit()
    probe = client.responses.create(
        model="m",
        input=bash(f"awk '{{print $3}}' /proc/{pid}/stat 2>/dev/null || echo gone"),
        tools=[SHELL],
        previous_response_id=started.id,
    )
    # Killed: gone, or a zombie (Z) when the machine's init does not reap orphans.
    assert probe.output[1].output[0].stdout in {"gone\n", "Z\n"}
    flood = client.responses.create(
        model="m", input=bash("head -c 50000000 /dev/zero | tr '\\0' x; echo done >&2"), tools=[SHELL]
    )
    (content,) = flood.output[1].output
    assert content.stdout == "x" * 64 * 1024 and content.stderr == "done\n"
    assert content.outcome.type == "exit" and content.outcome.exit_code == 0


def test_shell_and_python_share_the_auto_container_within_and_across_turns(client: openai.OpenAI) -> None:
    first = client.responses.create(
        model="m",
        input=(
            "```python\nopen('/mnt/data/n.txt', 'w').write('41')\n```\n"
            "```bash\ncat n.txt; ls /mnt/data\n```\n"
        ),
        tools=[CODE, SHELL],
    )
    code_call, shell_call, shell_output, _message = first.output
    assert code_call.type == "code_interpreter_call" and shell_call.type == "shell_call"
    assert shell_call.environment is not None
    assert shell_call.environment.container_id == code_call.container_id
    assert shell_output.output[0].stdout == "41n.txt\n"
    second = client.responses.create(
        model="m", input=bash("echo $(( $(cat n.txt) + 1 ))"), tools=[SHELL], previous_response_id=first.id
    )
    assert second.output[0].environment.container_id == code_call.container_id
    assert second.output[1].output[0].stdout == "42\n"


def test_container_reference_runs_in_that_container(client: openai.OpenAI) -> None:
    container = client.containers.create(name="for-shell")
    client.containers.files.create(container.id, file=("in.txt", b"hello from upload"))
    tool = {"type": "shell", "environment": {"type": "container_reference", "container_id": container.id}}
    response = client.responses.create(model="m", input=bash("cat in.txt"), tools=[tool])
    assert response.output[0].environment.container_id == container.id
    assert response.output[1].output[0].stdout == "hello from upload"
    missing = {"type": "shell", "environment": {"type": "container_reference", "container_id": "cntr_nope"}}
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="m", input=bash("true"), tools=[missing])


def test_bash_without_a_hosted_shell_runs_nothing(client: openai.OpenAI) -> None:
    for tools in ([], [{"type": "shell", "environment": {"type": "local"}}], [CODE]):
        response = client.responses.create(model="m", input=bash("touch /mnt/data/x"), tools=tools)
        assert [item.type for item in response.output] == ["message"]
        assert response.output_text == NO_SHELL_REPLY


def test_streamed_shell_call_has_the_upstream_event_order(client: openai.OpenAI) -> None:
    with client.responses.stream(model="m", input=bash("echo hi"), tools=[SHELL]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    blocks: dict[int, list[str]] = {}
    for event in events:
        index = getattr(event, "output_index", None)
        if index is not None and blocks.get(index, [None])[-1] != event.type:
            blocks.setdefault(index, []).append(event.type)
    # The shapes of the recorded upstream stream (vercel/ai openai-shell-container.1.chunks.txt).
    assert blocks[0] == [
        "response.output_item.added",
        "response.shell_call_command.added",
        "response.shell_call_command.delta",
        "response.shell_call_command.done",
        "response.output_item.done",
    ]
    assert blocks[1] == [
        "response.output_item.added",
        "response.shell_call_output_content.delta",
        "response.shell_call_output_content.done",
        "response.output_item.done",
    ]
    assert [e.type for e in events if getattr(e, "output_index", None) is None] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    deltas = "".join(e.delta for e in events if e.type == "response.shell_call_command.delta")
    assert deltas == "echo hi"
    output_delta = next(e for e in events if e.type == "response.shell_call_output_content.delta")
    assert output_delta.delta.stdout == "hi\n" and output_delta.delta.stderr is None
    assert output_delta.item_id == final.output[1].id
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_image_block_returns_a_deterministic_png_of_the_requested_size(client: openai.OpenAI) -> None:
    tool: dict[str, Any] = {"type": "image_generation", "size": "1536x1024"}
    first = client.responses.create(model="m", input=image("a lighthouse at dusk"), tools=[tool])
    call, message = first.output
    assert call.type == "image_generation_call" and call.id.startswith("ig_") and call.status == "completed"
    assert call.result is not None
    data = base64.b64decode(call.result)
    assert png_size(data) == (1536, 1024)
    assert len(data) < 64 * 1024
    assert (call.size, call.output_format, call.revised_prompt) == (
        "1536x1024",
        "png",
        "a lighthouse at dusk",
    )
    assert message.type == "message" and first.output_text == "I generated the image."
    again = client.responses.create(model="m", input=image("a lighthouse at dusk"), tools=[tool])
    other = client.responses.create(model="m", input=image("a lighthouse at dawn"), tools=[tool])
    assert again.output[0].result == call.result
    assert other.output[0].result != call.result
    default = client.responses.create(model="m", input=image("x"), tools=[{"type": "image_generation"}])
    assert png_size(base64.b64decode(default.output[0].result or "")) == (1024, 1024)
    assert first.tools[0].type == "image_generation" and first.tools[0].output_format == "png"


def test_streamed_image_sends_its_partial_images_first(client: openai.OpenAI) -> None:
    tool = {"type": "image_generation", "size": "256x256", "partial_images": 2}
    with client.responses.stream(model="m", input=image("a red fox"), tools=[tool]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    image_events = [k for k in kinds if k.startswith("response.image_generation_call.")]
    assert image_events == [
        "response.image_generation_call.in_progress",
        "response.image_generation_call.generating",
        "response.image_generation_call.partial_image",
        "response.image_generation_call.partial_image",
        "response.image_generation_call.completed",
    ]
    partials = [e for e in events if e.type == "response.image_generation_call.partial_image"]
    assert [p.partial_image_index for p in partials] == [0, 1]
    item_id = final.output[0].id
    assert {p.item_id for p in partials} == {item_id}
    pictures = [base64.b64decode(p.partial_image_b64) for p in partials]
    assert [png_size(p) for p in pictures] == [(256, 256), (256, 256)]
    result = base64.b64decode(final.output[0].result or "")
    assert len({pictures[0], pictures[1], result}) == 3
    plain = client.responses.create(model="m", input=image("a red fox"), tools=[tool])
    assert plain.output[0].result == final.output[0].result


def test_image_in_webp_and_bad_image_settings(client: openai.OpenAI) -> None:
    pytest.importorskip("PIL")
    webp = client.responses.create(
        model="m", input=image("waves"), tools=[{"type": "image_generation", "output_format": "webp"}]
    )
    data = base64.b64decode(webp.output[0].result or "")
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP" and webp.output[0].output_format == "webp"
    for bad in ({"size": "huge"}, {"output_format": "bmp"}, {"partial_images": 4}):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model="m", input=image("x"), tools=[{"type": "image_generation", **bad}])
        assert caught.value.param == f"tools[0].{next(iter(bad))}"
    response = client.responses.create(model="m", input=image("x"), tools=[])
    assert [item.type for item in response.output] == ["message"]


def test_container_memory_limit_and_network_policy_are_accepted(client: openai.OpenAI) -> None:
    auto = {
        "type": "auto",
        "memory_limit": "4g",
        "network_policy": {"type": "allowlist", "allowed_domains": ["pypi.org"]},
    }
    response = client.responses.create(
        model="m", input="```python\nprint(1)\n```", tools=[{"type": "code_interpreter", "container": auto}]
    )
    container = client.containers.retrieve(response.output[0].container_id)
    assert container.memory_limit == "4g"
    shell = {
        "type": "shell",
        "environment": {
            "type": "container_auto",
            "memory_limit": "16g",
            "network_policy": {"type": "disabled"},
        },
    }
    ran = client.responses.create(model="m", input=bash("echo ok"), tools=[shell])
    assert client.containers.retrieve(ran.output[0].environment.container_id).memory_limit == "16g"
    for bad in ({"memory_limit": "2g"}, {"network_policy": {"type": "open"}}):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(
                model="m",
                input="```python\nprint(1)\n```",
                tools=[{"type": "code_interpreter", "container": {"type": "auto", **bad}}],
            )
        assert caught.value.param == f"tools[0].container.{next(iter(bad))}"
