"""Every tool that makes files: the request's tool specs, the reply model of shell and image calls, the
streamed image preview, and ``%%openai --tools`` / ``--container-memory`` / ``--network-policy`` /
``conversation_state`` against the emulator."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import openai
import pytest
from IPython.core.interactiveshell import InteractiveShell

from openai_artifacts_nb.errors import ConfigurationError
from openai_artifacts_nb.magic import OpenAIMagics
from openai_artifacts_nb.reply import Reply
from openai_artifacts_nb.streaming import ReplyStream
from openai_artifacts_nb.tools import ToolOptions, parse_network_policy, parse_tools
from tests.plugins.notebook import run_cell, run_ok

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SHELL = {"type": "shell", "environment": {"type": "container_auto"}}
SHELL_FILE = (
    "```bash\nprintf 'a\\n' > out.txt && echo made\n```\n"
    "```reply\nSee [out](sandbox:/mnt/data/out.txt).\n```\n"
)
PICTURE = "```image\na red fox\n```\n"


def _magics(ip: InteractiveShell) -> OpenAIMagics:
    magics = ip.magics_manager.registry["OpenAIMagics"]
    assert isinstance(magics, OpenAIMagics)
    return magics


def _bodies(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the JSON body of every ``POST /v1/responses`` the magic's clients send."""
    from openai_artifacts_nb import client as client_module

    bodies: list[dict[str, Any]] = []
    original = client_module.make_client

    def record(request: Any) -> None:
        if request.method == "POST" and request.url.path.endswith("/responses"):
            bodies.append(json.loads(request.content))

    def counting(**options: Any) -> Any:
        client = openai.DefaultHttpxClient(event_hooks={"request": [record]})
        return original(**{**options, "http_client": client})

    monkeypatch.setattr(client_module, "make_client", counting)
    return bodies


# -- the tool specs ----------------------------------------------------------------------------------------


def test_tool_names_policies_and_specs() -> None:
    assert parse_tools("code_interpreter, shell,image-generation,shell") == (
        "code_interpreter",
        "shell",
        "image_generation",
    )
    with pytest.raises(ConfigurationError, match="unknown tool"):
        parse_tools("browser")
    assert parse_network_policy("disabled") == {"type": "disabled"}
    assert parse_network_policy("allowlist:pypi.org, example.com") == {
        "type": "allowlist",
        "allowed_domains": ["pypi.org", "example.com"],
    }
    with pytest.raises(ConfigurationError, match="network-policy"):
        parse_network_policy("open")
    with pytest.raises(ConfigurationError, match="container-memory"):
        ToolOptions(memory_limit="2g")
    options = ToolOptions(
        names=("code_interpreter", "shell", "image_generation"),
        memory_limit="4g",
        network_policy={"type": "disabled"},
    )
    auto = {"memory_limit": "4g", "network_policy": {"type": "disabled"}}
    assert options.specs(None) == [
        {"type": "code_interpreter", "container": {"type": "auto", **auto}},
        {"type": "shell", "environment": {"type": "container_auto", **auto}},
        {"type": "image_generation", "partial_images": 2},
    ]
    assert options.specs("cntr_1", stream=False) == [
        {"type": "code_interpreter", "container": "cntr_1"},
        {"type": "shell", "environment": {"type": "container_reference", "container_id": "cntr_1"}},
        {"type": "image_generation"},
    ]


# -- the reply model ---------------------------------------------------------------------------------------


def test_a_shell_call_is_a_code_run_and_its_container_is_listed(client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input=SHELL_FILE, tools=[SHELL])
    reply = Reply.from_response(response)
    (run,) = reply.code_runs
    container = response.output[0].environment.container_id  # type: ignore[union-attr]
    assert (run.kind, run.code, run.logs, run.outcome, run.error) == (
        "shell",
        "printf 'a\\n' > out.txt && echo made",
        "made\n",
        "exit 0",
        "",
    )
    assert run.container_id == container and reply.container_ids == (container,)
    (ref,) = reply.artifacts
    assert ref.container_id == container and ref.filename == "out.txt" and "citation" in ref.found_by
    failed = client.responses.create(model="m", input="```bash\necho no >&2; exit 3\n```", tools=[SHELL])
    (bad,) = Reply.from_response(failed).code_runs
    assert bad.error == "exit 3" and bad.logs == "no\n"


def test_an_image_generation_call_is_an_inline_file(client: openai.OpenAI) -> None:
    tool = {"type": "image_generation", "output_format": "webp", "size": "256x256"}
    response = client.responses.create(model="m", input=PICTURE, tools=[tool])
    (ref,) = Reply.from_response(response).artifacts
    item = response.output[0]
    assert ref.store == "inline" and ref.found_by == ("image_generation",)
    assert (ref.filename, ref.mime_type) == (f"{item.id}.webp", "image/webp")
    assert ref.data == base64.b64decode(item.result or "")  # type: ignore[union-attr]
    hostile = Reply.from_response(
        {"output": [{"type": "image_generation_call", "id": "../../x", "result": "AAAA"}]}
    )
    assert hostile.artifacts[0].filename == "x.png"


class _Handle:
    def __init__(self, shown: list[Any]) -> None:
        self.shown = shown

    def update(self, content: Any) -> None:
        self.shown.append(content)


def test_streamed_partial_images_update_one_preview_then_the_file(client: openai.OpenAI) -> None:
    shown: list[Any] = []
    displays: list[Any] = []

    def display(content: Any, display_id: bool = False) -> Any:
        displays.append(content)
        shown.append(content)
        return _Handle(shown)

    view = ReplyStream(live=True, min_interval=0.0, max_interval=0.0, display=display)
    view.start()
    tool = {"type": "image_generation", "size": "256x256", "partial_images": 2}
    revealed = []
    with client.responses.stream(model="m", input=PICTURE, tools=[tool]) as stream:
        partials = []
        for event in stream:
            revealed += view.handle(event)
            if event.type == "response.image_generation_call.partial_image":
                partials.append(event.partial_image_b64)
                html = shown[-1]._repr_mimebundle_()["text/html"]
                assert f'src="data:image/png;base64,{event.partial_image_b64}"' in html
                assert html.count("<img") == 1
    assert len(displays) == 1, "one output, updated in place"
    assert len(partials) == 2
    final = stream.get_final_response()
    assert [ref.filename for ref in revealed] == [f"{final.output[0].id}.png"]
    assert view.reply.partial_image is None  # the finished image replaced the preview
    assert "<img" not in view.view()._repr_mimebundle_()["text/html"]


def test_the_stream_shows_a_shell_command_while_it_runs(client: openai.OpenAI) -> None:
    view = ReplyStream(live=False)
    with client.responses.stream(model="m", input=SHELL_FILE, tools=[SHELL]) as stream:
        for event in stream:
            view.handle(event)
    (run,) = view.code_runs
    assert run.kind == "shell" and run.code == "printf 'a\\n' > out.txt && echo made" and run.logs == "made\n"
    assert "Shell (1 command)" in view.view().html()


# -- the magic ---------------------------------------------------------------------------------------------


def test_tools_flag_runs_the_hosted_shell_and_saves_its_files(
    ip: InteractiveShell, notebook_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = _bodies(monkeypatch)
    run = run_ok(ip, "%%openai --tools shell --out result\n" + SHELL_FILE)
    assert (notebook_dir / "analysis_artifacts" / "out.txt").read_bytes() == b"a\n"
    assert bodies[0]["tools"] == [{"type": "shell", "environment": {"type": "container_auto"}}]
    replies = [html for html in run.mime("text/html") if "oai-reply" in html]
    assert "Shell (1 command)" in replies[-1] and 'href="analysis_artifacts/out.txt"' in replies[-1]
    result = ip.user_ns["result"]
    assert result.container_id and result.container_id.startswith("cntr_")
    run_ok(ip, "%%openai --tools shell\n```bash\ncat out.txt\n```")
    assert bodies[1]["tools"] == [
        {"type": "shell", "environment": {"type": "container_reference", "container_id": result.container_id}}
    ]


def test_image_generation_through_the_magic(
    ip: InteractiveShell, notebook_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = _bodies(monkeypatch)
    run = run_ok(ip, "%%openai --tools code_interpreter,image_generation --out result\n" + PICTURE)
    (artifact,) = ip.user_ns["result"].artifacts
    assert artifact.filename.startswith("ig_") and artifact.filename.endswith(".png")
    assert artifact.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and artifact.mime_type == "image/png"
    assert run.mime("image/png")
    assert [tool["type"] for tool in bodies[0]["tools"]] == ["code_interpreter", "image_generation"]
    assert bodies[0]["tools"][1]["partial_images"] == 2


def test_container_memory_and_network_policy_reach_the_api(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = _bodies(monkeypatch)
    run_ok(
        ip,
        "%%openai --container-memory 4g --network-policy allowlist:pypi.org --out result\n"
        "```python\nprint(1)\n```",
    )
    assert bodies[0]["tools"] == [
        {
            "type": "code_interpreter",
            "container": {
                "type": "auto",
                "memory_limit": "4g",
                "network_policy": {"type": "allowlist", "allowed_domains": ["pypi.org"]},
            },
        }
    ]
    container = ip.user_ns["result"].container_id
    assert _magics(ip)._client().containers.retrieve(container).memory_limit == "4g"
    bad = run_cell(ip, "%%openai --network-policy open\nhello")
    assert bad.error is not None and "network-policy" in bad.stderr


def test_tools_trait_is_the_default_and_is_checked(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = _bodies(monkeypatch)
    run_ok(ip, "%config OpenAIMagics.tools = 'shell, image_generation'")
    assert _magics(ip).tools == "shell,image_generation"
    run_ok(ip, "%%openai\nhello")
    assert [tool["type"] for tool in bodies[0]["tools"]] == ["shell", "image_generation"]
    run_cell(ip, "%config OpenAIMagics.tools = 'browser'")
    assert _magics(ip).tools == "shell,image_generation" and "unknown tool" in caplog.text


def test_conversation_state_chains_turns_through_a_conversation(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = _bodies(monkeypatch)
    run_ok(ip, "%config OpenAIMagics.conversation_state = 'conversation'")
    run_ok(ip, "%%openai\n```python\nopen('/mnt/data/kept.txt', 'w').write('kept')\n```")
    run_ok(ip, "%%openai --out second\n```python\nprint(open('/mnt/data/kept.txt').read())\n```")
    session = _magics(ip).session
    assert session.conversation_id and session.conversation_id.startswith("conv_")
    assert [body.get("conversation") for body in bodies] == [session.conversation_id] * 2
    assert all("previous_response_id" not in body for body in bodies)
    assert ip.user_ns["second"].code_runs[0].logs.strip() == "kept"
    status = run_ok(ip, "%openai status")
    assert f"conversation in {session.conversation_id}" in status.all_text()
    items = _magics(ip)._client().conversations.items.list(session.conversation_id)
    assert len([item for item in items if item.type == "code_interpreter_call"]) == 2
    run_ok(ip, "%openai reset")
    assert session.conversation_id is None


def test_a_hostile_partial_image_never_becomes_markup() -> None:
    from types import SimpleNamespace

    view = ReplyStream(live=False)
    view.handle(
        SimpleNamespace(
            type="response.image_generation_call.partial_image",
            item_id="ig_1",
            partial_image_b64='"><script>alert(1)</script>',
            output_format="png",
        )
    )
    html = view.view().html()
    assert "<script" not in html and "alert" not in html and "src=" not in html
