"""The display hook: plain SDK cells in a real IPython shell, against the emulator, show and save files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from openai_artifacts_nb.display_hook import HOOKED_TYPES
from openai_artifacts_nb.magic import OpenAIMagics
from openai_artifacts_nb.manifest import MANIFEST_PATH, TOOL_DIR
from tests.plugins.notebook import CellRun, run_ok

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TABLE = """Save a table and link it.
```python
with open("/mnt/data/squares.csv", "w") as handle:
    handle.write("x,y\\n1,1\\n2,4\\n3,9\\n")
print("saved")
```
```reply
Here is [the table](sandbox:/mnt/data/squares.csv).
```
"""
SHELL_TABLE = """Count with the shell.
```bash
printf 'n\\n1\\n2\\n' > counts.csv && echo wrote
```
```reply
The shell wrote [counts](sandbox:/mnt/data/counts.csv).
```
"""
PICTURE = "```image\na lighthouse at dusk\n```\n"
CODE = {"type": "code_interpreter", "container": {"type": "auto"}}

SETUP = (
    "import openai\n"
    "client = openai.OpenAI(api_key='sk-test-hook')\n"
    "INCLUDE = ['code_interpreter_call.outputs']\n"
)


@pytest.fixture
def hooked(ip: InteractiveShell) -> Iterator[InteractiveShell]:
    """The shell with the prompts in its namespace and an SDK client on the emulator."""
    ip.user_ns.update(TABLE=TABLE, SHELL_TABLE=SHELL_TABLE, PICTURE=PICTURE, CODE=CODE)
    run_ok(ip, SETUP)
    yield ip


def _magics(ip: InteractiveShell) -> OpenAIMagics:
    magics = ip.magics_manager.registry["OpenAIMagics"]
    assert isinstance(magics, OpenAIMagics)
    return magics


def _folder(notebook_dir: Path) -> Path:
    return notebook_dir / "analysis_artifacts"


def _saved(notebook_dir: Path) -> list[str]:
    folder = _folder(notebook_dir)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _reply_html(run: CellRun) -> list[str]:
    return [html for html in run.mime("text/html") if "oai-reply" in html]


def _usage(run: CellRun) -> list[str]:
    return [text for text in run.mime("text/plain") if "tokens" in text]


def _count_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path of every request the hook's clients send (an httpx event hook on their real client)."""
    import openai

    from openai_artifacts_nb import client as client_module

    seen: list[str] = []
    original = client_module.make_client

    def counting(**options: Any) -> Any:
        hooks = {"request": [lambda request: seen.append(request.url.path)]}
        return original(**{**options, "http_client": openai.DefaultHttpxClient(event_hooks=hooks)})

    monkeypatch.setattr(client_module, "make_client", counting)
    return seen


def test_load_ext_registers_by_type_name_and_imports_no_openai() -> None:
    code = (
        "import sys, json\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'openai_artifacts_nb')\n"
        "formatter = shell.display_formatter.ipython_display_formatter\n"
        "print(json.dumps({'openai': 'openai' in sys.modules,\n"
        "                  'deferred': sorted('.'.join(k) for k in formatter.deferred_printers),\n"
        "                  'list': list in formatter.type_printers}))\n"
        "shell.run_line_magic('unload_ext', 'openai_artifacts_nb')\n"
        "print(json.dumps({'deferred': sorted('.'.join(k) for k in formatter.deferred_printers),\n"
        "                  'list': list in formatter.type_printers}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded, unloaded = (json.loads(line) for line in out.stdout.strip().splitlines())
    assert loaded == {
        "openai": False,
        "deferred": sorted(f"{module}.{name}" for module, name in HOOKED_TYPES),
        "list": True,
    }
    assert unloaded == {"deferred": [], "list": False}


def test_a_response_as_the_cell_value_is_saved_shown_and_linked(
    hooked: InteractiveShell, notebook_dir: Path
) -> None:
    run = run_ok(hooked, "client.responses.create(model='gpt-5', input=TABLE, tools=[CODE], include=INCLUDE)")
    assert _saved(notebook_dir) == ["squares.csv"]
    assert (_folder(notebook_dir) / "squares.csv").read_bytes() == b"x,y\n1,1\n2,4\n3,9\n"
    (reply,) = _reply_html(run)
    assert 'href="analysis_artifacts/squares.csv"' in reply
    assert "Code (3 lines)" in reply and "saved" in reply
    assert "sandbox:" not in run.all_text()
    tables = [html for html in run.mime("text/html") if "oai-table-preview" in html]
    assert len(tables) == 1 and "3 of 3 rows" in tables[0]
    (usage,) = _usage(run)
    assert "1 file saved to analysis_artifacts" in usage and "resp_" in usage
    assert run.result is not None  # the response itself is still the cell's value


def test_assigning_shows_nothing_until_displayed_and_twice_downloads_once(
    hooked: InteractiveShell, notebook_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assigned = run_ok(
        hooked, "r = client.responses.create(model='m', input=TABLE, tools=[CODE], include=INCLUDE)"
    )
    assert assigned.outputs == [] and _saved(notebook_dir) == []
    requests = _count_requests(monkeypatch)
    first = run_ok(hooked, "display(r)")
    assert _saved(notebook_dir) == ["squares.csv"]
    assert len(_reply_html(first)) == 1
    downloads = [path for path in requests if path.endswith("/content")]
    assert len(downloads) == 1
    second = run_ok(hooked, "r")
    assert [path for path in requests if path.endswith("/content")] == downloads  # the manifest knew it
    assert _saved(notebook_dir) == ["squares.csv"]
    assert len(_reply_html(second)) == 1 and 'href="analysis_artifacts/squares.csv"' in _reply_html(second)[0]
    assert [html for html in second.mime("text/html") if "oai-table-preview" in html]


def test_switched_off_and_unloaded_give_the_normal_repr(hooked: InteractiveShell, notebook_dir: Path) -> None:
    run_ok(hooked, "r = client.responses.create(model='m', input=TABLE, tools=[CODE], include=INCLUDE)")
    run_ok(hooked, "%config OpenAIMagics.display_hook = False")
    off = run_ok(hooked, "r")
    assert off.outputs == [] and _saved(notebook_dir) == []
    assert str(hooked.user_ns["_"]).startswith("Response(")
    run_ok(hooked, "%config OpenAIMagics.display_hook = True")
    on = run_ok(hooked, "r")
    assert len(_reply_html(on)) == 1 and _saved(notebook_dir) == ["squares.csv"]
    run_ok(hooked, "%unload_ext openai_artifacts_nb")
    formatter = hooked.display_formatter.ipython_display_formatter
    assert list not in formatter.type_printers
    assert formatter.deferred_printers == {} and not any(
        getattr(cls, "__module__", "").startswith("openai") for cls in formatter.type_printers
    )
    unloaded = run_ok(hooked, "r")
    assert unloaded.outputs == []


def test_ordinary_lists_keep_their_repr_and_list_subclasses_their_display(hooked: InteractiveShell) -> None:
    plain = hooked.display_formatter.format([1, 2, 3])
    assert plain[0] == {"text/plain": "[1, 2, 3]"}
    run_ok(
        hooked,
        "class Shown(list):\n"
        "    def _ipython_display_(self):\n"
        "        display({'text/plain': 'shown itself'}, raw=True)\n",
    )
    run = run_ok(hooked, "Shown([1])")
    assert run.mime("text/plain") == ["shown itself"]


def test_async_client_response(hooked: InteractiveShell, notebook_dir: Path) -> None:
    run_ok(hooked, "aclient = openai.AsyncOpenAI(api_key='sk-test-hook')")
    run = run_ok(
        hooked, "await aclient.responses.create(model='m', input=TABLE, tools=[CODE], include=INCLUDE)"
    )
    assert _saved(notebook_dir) == ["squares.csv"]
    assert 'href="analysis_artifacts/squares.csv"' in _reply_html(run)[0]


def test_a_finished_stream_its_manager_and_a_list_of_events(
    hooked: InteractiveShell, notebook_dir: Path
) -> None:
    run_ok(
        hooked,
        "manager = client.responses.stream(model='m', input=TABLE, tools=[CODE], include=INCLUDE)\n"
        "with manager as stream:\n"
        "    events = list(stream)\n"
        "final = stream.get_final_response()\n",
    )
    for expression in ("stream", "manager", "events", "final"):
        run = run_ok(hooked, expression)
        (reply,) = _reply_html(run)
        assert 'href="analysis_artifacts/squares.csv"' in reply, expression
        assert len(_usage(run)) == 1, expression
    assert _saved(notebook_dir) == ["squares.csv"]


def test_an_unfinished_stream_is_left_alone(hooked: InteractiveShell, notebook_dir: Path) -> None:
    run_ok(hooked, "manager = client.responses.stream(model='m', input='hello', tools=[CODE])")
    run = run_ok(hooked, "manager")
    assert _reply_html(run) == [] and _saved(notebook_dir) == []
    assert "ResponseStreamManager" in str(hooked.user_ns["_"].__class__)


def test_a_stream_displayed_while_it_runs_is_shown_live(hooked: InteractiveShell, notebook_dir: Path) -> None:
    run_ok(
        hooked,
        "manager = client.responses.stream(model='m', input=TABLE, tools=[CODE], include=INCLUDE)\n"
        "stream = manager.__enter__()\n",
    )
    run = run_ok(hooked, "stream")
    (reply,) = _reply_html(run)
    assert 'href="analysis_artifacts/squares.csv"' in reply
    assert _saved(notebook_dir) == ["squares.csv"]
    assert len(_usage(run)) == 1
    run_ok(hooked, "manager.__exit__(None, None, None)")


def test_assistants_messages_and_their_page(hooked: InteractiveShell, notebook_dir: Path) -> None:
    run_ok(
        hooked,
        "assistant = client.beta.assistants.create(model='m', tools=[{'type': 'code_interpreter'}])\n"
        "thread = client.beta.threads.create(messages=[{'role': 'user', 'content': TABLE}])\n"
        "client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)\n"
        "page = client.beta.threads.messages.list(thread.id)\n"
        "answer = [m for m in page.data if m.role == 'assistant'][0]\n"
        "question = [m for m in page.data if m.role == 'user'][0]\n",
    )
    run = run_ok(hooked, "page")
    assert _saved(notebook_dir) == ["squares.csv"]
    (reply,) = _reply_html(run)
    assert 'href="analysis_artifacts/squares.csv"' in reply
    assert len(_reply_html(run_ok(hooked, "answer"))) == 1
    assert _reply_html(run_ok(hooked, "question")) == []  # a user's message is not a reply


def test_hosted_shell_files_are_saved_and_its_command_shown(
    hooked: InteractiveShell, notebook_dir: Path
) -> None:
    run = run_ok(
        hooked,
        "client.responses.create(model='m', input=SHELL_TABLE,"
        " tools=[{'type': 'shell', 'environment': {'type': 'container_auto'}}])",
    )
    assert _saved(notebook_dir) == ["counts.csv"]
    assert (_folder(notebook_dir) / "counts.csv").read_bytes() == b"n\n1\n2\n"
    (reply,) = _reply_html(run)
    assert "Shell (1 command)" in reply and "printf" in reply and "wrote" in reply
    assert 'href="analysis_artifacts/counts.csv"' in reply


def test_hosted_shell_uncited_files_come_from_the_container_listing(
    hooked: InteractiveShell, notebook_dir: Path
) -> None:
    hooked.user_ns["QUIET"] = "```bash\necho hidden > quiet.txt\n```\n```reply\nDone.\n```\n"
    run_ok(
        hooked,
        "client.responses.create(model='m', input=QUIET,"
        " tools=[{'type': 'shell', 'environment': {'type': 'container_auto'}}])",
    )
    assert _saved(notebook_dir) == ["quiet.txt"]
    assert (_folder(notebook_dir) / "quiet.txt").read_bytes() == b"hidden\n"


def test_a_generated_image_is_saved_with_a_real_name_and_shown(
    hooked: InteractiveShell, notebook_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = _count_requests(monkeypatch)
    run = run_ok(
        hooked,
        "r = client.responses.create(model='m', input=PICTURE, tools=[{'type': 'image_generation'}])\nr",
    )
    (name,) = _saved(notebook_dir)
    item_id = hooked.user_ns["r"].output[0].id
    assert name == f"{item_id}.png"
    assert (_folder(notebook_dir) / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.mime("image/png"), "the image is shown inline"
    manifest = json.loads((_folder(notebook_dir) / MANIFEST_PATH).read_text())
    entries = manifest["files"] if isinstance(manifest, dict) and "files" in manifest else manifest
    assert "image_generation" in json.dumps(entries)
    assert requests == []  # the bytes were in the reply: nothing asked of the API


def test_a_response_without_files_is_text_and_usage(hooked: InteractiveShell, notebook_dir: Path) -> None:
    run = run_ok(hooked, "client.responses.create(model='m', input='hello')")
    assert _saved(notebook_dir) == []
    assert len(_reply_html(run)) == 1 and len(_usage(run)) == 1


def test_terminal_prints_the_text_form(hooked: InteractiveShell) -> None:
    run = run_ok(hooked, "client.responses.create(model='m', input=TABLE, tools=[CODE], include=INCLUDE)")
    plain = "\n".join(run.mime("text/plain"))
    assert "Here is the table (analysis_artifacts/squares.csv)." in plain
    assert "[code]" in plain


def test_openai_fetch_shows_a_response_made_elsewhere(hooked: InteractiveShell, notebook_dir: Path) -> None:
    run_ok(hooked, "rid = client.responses.create(model='m', input=TABLE, tools=[CODE], include=INCLUDE).id")
    response_id = hooked.user_ns["rid"]
    assert _saved(notebook_dir) == []
    run = run_ok(hooked, f"%openai fetch {response_id}")
    assert _saved(notebook_dir) == ["squares.csv"]
    (reply,) = _reply_html(run)
    assert 'href="analysis_artifacts/squares.csv"' in reply and "Code (3 lines)" in reply
    assert response_id in _usage(run)[0]


def test_openai_fetch_a_container_and_a_bad_id(hooked: InteractiveShell, notebook_dir: Path) -> None:
    run_ok(hooked, "r = client.responses.create(model='m', input=TABLE, tools=[CODE], include=INCLUDE)")
    container = hooked.user_ns["r"].output[0].container_id
    run = run_ok(hooked, f"%openai fetch {container}")
    assert _saved(notebook_dir) == ["squares.csv"] and len(_reply_html(run)) == 1
    from tests.plugins.notebook import run_cell

    run_ok(
        hooked,
        "conversation = client.conversations.create()\n"
        "made = client.responses.create(model='m', input=SHELL_TABLE, conversation=conversation.id,"
        " tools=[{'type': 'shell', 'environment': {'type': 'container_auto'}}])",
    )
    conversation = hooked.user_ns["conversation"].id
    assert _saved(notebook_dir) == ["squares.csv"]
    shown = run_ok(hooked, f"%openai fetch {conversation}")
    assert _saved(notebook_dir) == ["counts.csv", "squares.csv"]
    assert 'href="analysis_artifacts/counts.csv"' in _reply_html(shown)[0]
    assert conversation in shown.mime("text/plain")[-1]
    bad = run_cell(hooked, "%openai fetch nonsense")
    assert bad.error is not None and "not an id" in bad.stderr


def _fetch_conversation(client: Any, tmp_path: Path) -> Any:
    from openai_artifacts_nb.fetching import fetch

    conversation = client.conversations.create()
    client.responses.create(
        model="m",
        input=TABLE,
        tools=[CODE],
        include=["code_interpreter_call.outputs"],
        conversation=conversation.id,
    )
    client.responses.create(
        model="m",
        input="```python\nopen('/mnt/data/later.txt', 'w').write('quiet')\n```",
        tools=[CODE],
        conversation=conversation.id,
    )
    return conversation.id, fetch(conversation.id, out_dir=tmp_path / "out", client=client)


def test_fetch_a_conversation_saves_every_file(
    client: Any, emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conversation_id, result = _fetch_conversation(client, tmp_path)
    assert result.source_kind == "conversation" and result.source_id == conversation_id
    assert sorted(a.filename for a in result.artifacts) == ["later.txt", "squares.csv"]
    assert (tmp_path / "out" / "later.txt").read_bytes() == b"quiet"
    assert "(squares.csv)" in result.text
    from openai_artifacts_nb.cli import fetch_command

    assert fetch_command([conversation_id], out=str(tmp_path / "cli"), base_url=emulator.base_url) == 0
    assert (tmp_path / "cli" / "later.txt").read_bytes() == b"quiet"
    assert "(../squares.csv)" in (tmp_path / "cli" / TOOL_DIR / f"{conversation_id}.md").read_text()
    assert "later.txt" in capsys.readouterr().out


def test_a_list_printer_registered_before_the_hook_keeps_working(ip: InteractiveShell) -> None:
    formatter = ip.display_formatter.ipython_display_formatter
    run_ok(ip, "%unload_ext openai_artifacts_nb")
    shown: list[Any] = []
    formatter.for_type(list, shown.append)
    try:
        run_ok(ip, "%load_ext openai_artifacts_nb")
        run_ok(ip, "[1, 2]")
        assert shown == [[1, 2]]
        run_ok(ip, "%unload_ext openai_artifacts_nb")
        assert formatter.type_printers[list] == shown.append
        run_ok(ip, "%load_ext openai_artifacts_nb")
    finally:
        formatter.pop(list, None)
