"""``%%openai`` and ``%openai`` in a real IPython shell, against the local emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from openai_artifacts_nb.client import MISSING_CREDENTIALS
from openai_artifacts_nb.local import LocalServer
from openai_artifacts_nb.magic import OpenAIMagics
from openai_artifacts_nb.manifest import MANIFEST_PATH
from tests.plugins.notebook import run_cell, run_ok

CHART_AND_TABLE = """Plot the squares and save them as a table.
```python
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9])
plt.savefig("/mnt/data/squares.png")
with open("/mnt/data/squares.csv", "w") as handle:
    handle.write("x,y\\n1,1\\n2,4\\n3,9\\n")
print("made 2 files")
```
"""


def _magics(ip: InteractiveShell) -> OpenAIMagics:
    magics = ip.magics_manager.registry["OpenAIMagics"]
    assert isinstance(magics, OpenAIMagics)
    return magics


def test_load_ext_imports_neither_openai_nor_ipywidgets() -> None:
    # pygments is left out: IPython's shell has imported it already. Our session, rendering, previews and
    # streaming modules wait for the first cell, so that loading the extension stays cheap.
    heavy = (
        "openai",
        "ipywidgets",
        "pandas",
        "PIL",
        "openai_artifacts_nb.session",
        "openai_artifacts_nb.render",
        "openai_artifacts_nb.previews",
        "openai_artifacts_nb.cell_output",
        "openai_artifacts_nb.streaming",
    )
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'openai_artifacts_nb')\n"
        "assert 'openai' in shell.magics_manager.magics['cell']\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_a_cell_saves_shows_and_links_every_file(ip: InteractiveShell, notebook_dir: Path) -> None:
    run = run_ok(ip, "%%openai --out result\n" + CHART_AND_TABLE)
    folder = notebook_dir / "analysis_artifacts"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "squares.csv",
        "squares.png",
    ]
    assert run.mime("image/png"), "the chart is shown as image/png"
    tables = [html for html in run.mime("text/html") if "oai-table-preview" in html]
    assert len(tables) == 1 and "3 of 3 rows" in tables[0]
    assert "sandbox:" not in run.all_text()
    result = ip.user_ns["result"]
    assert [a.filename for a in result.artifacts] == ["squares.png", "squares.csv"] or sorted(
        a.filename for a in result.artifacts
    ) == ["squares.csv", "squares.png"]
    for artifact in result.artifacts:
        assert artifact.path.read_bytes()[:4] in {b"\x89PNG", b"x,y\n"}
        assert f"analysis_artifacts/{artifact.filename}" in result.text
    assert result.response_id.startswith("resp_")
    assert result.usage is not None and result.usage.output_tokens > 0
    assert "made 2 files" in result.code_runs[0].logs
    usage = [text for text in run.mime("text/plain") if "tokens" in text]
    assert len(usage) == 1 and "2 files saved to analysis_artifacts" in usage[0]


def test_follow_up_reuses_the_container(ip: InteractiveShell) -> None:
    run_ok(ip, "%%openai --out first\n```python\nopen('/mnt/data/state.txt', 'w').write('kept')\n```")
    follow = "%%openai --out second\n```python\nprint(open('/mnt/data/state.txt').read())\n```"
    run_ok(ip, follow)
    first, second = ip.user_ns["first"], ip.user_ns["second"]
    assert first.container_id and second.container_id == first.container_id
    assert second.code_runs[0].logs.strip() == "kept"
    assert _magics(ip).session.previous_response_id == second.response_id


def test_new_starts_a_fresh_conversation(ip: InteractiveShell) -> None:
    run_ok(ip, "%%openai --out first\n```python\nprint(1)\n```")
    run_ok(ip, "%%openai --new --out second\n```python\nprint(2)\n```")
    assert ip.user_ns["second"].container_id != ip.user_ns["first"].container_id


def test_expired_container_mid_conversation_is_replaced(ip: InteractiveShell, emulator: LocalServer) -> None:
    Path("numbers.csv").write_text("n\n1\n2\n", encoding="utf-8")
    run_ok(
        ip,
        "%%openai --file numbers.csv --out first\n"
        "```python\nprint(open('/mnt/data/numbers.csv').read())\n```",
    )
    first = ip.user_ns["first"]
    assert emulator.faults.expire_container(first.container_id) == [first.container_id]
    run = run_ok(
        ip, "%%openai --out second\n```python\nprint(open('/mnt/data/numbers.csv').read().split())\n```"
    )
    second = ip.user_ns["second"]
    assert second.container_id != first.container_id
    assert "['n', '1', '2']" in second.code_runs[0].logs
    notes = [text for text in run.mime("text/plain") if "expired" in text]
    assert len(notes) == 1 and first.container_id in notes[0] and "uploaded the inputs again" in notes[0]


def test_file_upload_lands_in_the_container(ip: InteractiveShell) -> None:
    Path("data set.csv").write_text("a,b\n5,6\n", encoding="utf-8")
    run_ok(
        ip,
        "%%openai -f 'data set.csv' --out result\n"
        "```python\nprint(open('/mnt/data/data set.csv').read())\n```",
    )
    result = ip.user_ns["result"]
    assert "a,b\n5,6" in result.code_runs[0].logs
    assert [item.path.name for item in _magics(ip).session.inputs] == ["data set.csv"]


def test_missing_file_is_one_line(ip: InteractiveShell) -> None:
    run = run_cell(ip, "%%openai --file nowhere.csv\nhello")
    assert run.error is not None
    assert "nowhere.csv: no such file" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_interpolation_fills_prose_and_leaves_code_alone(ip: InteractiveShell) -> None:
    ip.user_ns.update({"rows": 3, "name": "squares"})
    cell = (
        "%%openai --out result\nMake {rows} rows called {name}.\n```python\nrows = 7\nprint(f'{rows}')\n```"
    )
    run_ok(ip, cell)
    assert ip.user_ns["result"].code_runs[0].logs.strip() == "7"
    magics = _magics(ip)
    assert magics.prompt_text("", "Make {rows} rows, {{literal}}.") == "Make 3 rows, {literal}."


def test_unknown_variable_is_a_usage_error(ip: InteractiveShell) -> None:
    run = run_cell(ip, "%%openai\nUse {nothing_here}.")
    assert run.error is not None
    assert run.stderr == (
        "UsageError: {nothing_here} in the prompt: no such variable (write {{ and }} for literal braces).\n"
    )


def test_line_is_expanded_like_other_magics(ip: InteractiveShell) -> None:
    ip.user_ns["target"] = "stored"
    run_ok(ip, "%%openai --out {target}\n```python\nprint(2)\n```")
    assert ip.user_ns["stored"].code_runs[0].logs.strip() == "2"


def test_missing_key_is_one_line(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    run = run_cell(ip, "%%openai\nhello")
    assert isinstance(run.error, Exception)
    assert run.stderr.strip() == f"UsageError: {MISSING_CREDENTIALS}"


def test_api_error_is_one_readable_line_without_the_key(
    ip: InteractiveShell, emulator: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-very-secret-key-123456")
    emulator.faults.fail_next(3, status=500, should_retry=False)
    run = run_cell(ip, "%%openai\nhello")
    assert run.error is not None
    line = run.stderr.strip()
    assert line.startswith("UsageError: OpenAI API error 500:") and "run the cell again" in line
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "very-secret" not in run.all_text()


def test_the_key_is_nowhere(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, notebook_dir: Path
) -> None:
    secret = "sk-proj-never-show-this-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    run = run_ok(ip, "%%openai\n```python\nopen('/mnt/data/k.txt', 'w').write('x')\n```")
    config = run_ok(ip, "%config OpenAIMagics")
    status = run_ok(ip, "%openai status")
    everything = run.all_text() + config.all_text() + repr(status.result) + repr(_magics(ip).session.__dict__)
    assert secret not in everything
    for path in (notebook_dir / "analysis_artifacts").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()


def test_traits_are_configurable(ip: InteractiveShell, caplog: pytest.LogCaptureFixture) -> None:
    run_ok(ip, "%config OpenAIMagics.model = 'gpt-test'")
    run_ok(ip, "%config OpenAIMagics.preview_rows = 2")
    magics = _magics(ip)
    assert (magics.model, magics.preview_rows) == ("gpt-test", 2)
    run_cell(ip, "%config OpenAIMagics.preview_rows = 0")
    assert "preview_rows must be at least 1" in caplog.text
    assert magics.preview_rows == 2
    config = run_ok(ip, "%config OpenAIMagics").all_text()
    for name in ("model", "instructions", "artifacts_dir", "stream", "preview_rows", "backend"):
        assert f"OpenAIMagics.{name}" in config


def test_model_flag_and_trait_reach_the_api(ip: InteractiveShell) -> None:
    run_ok(ip, "%config OpenAIMagics.model = 'gpt-from-config'")
    run_ok(ip, "%%openai --out a\nhello")
    run_ok(ip, "%%openai --model gpt-from-flag --out b\nhello")
    assert ip.user_ns["a"].model.startswith("gpt-from-config")
    assert ip.user_ns["b"].model.startswith("gpt-from-flag")


def test_artifacts_dir_and_dir_flag(ip: InteractiveShell, notebook_dir: Path) -> None:
    code = "```python\nopen('/mnt/data/a.txt', 'w').write('hi')\n```"
    run_ok(ip, "%config OpenAIMagics.artifacts_dir = 'outputs'")
    run_ok(ip, "%%openai\n" + code)
    assert (notebook_dir / "outputs" / "a.txt").read_text() == "hi"
    run_ok(ip, "%%openai --dir elsewhere\n" + code)
    assert (notebook_dir / "elsewhere" / "a.txt").read_text() == "hi"


def test_no_stream_gives_the_same_result(ip: InteractiveShell, notebook_dir: Path) -> None:
    run = run_ok(ip, "%%openai --no-stream --out result\n" + CHART_AND_TABLE)
    assert sorted(a.filename for a in ip.user_ns["result"].artifacts) == ["squares.csv", "squares.png"]
    assert run.mime("image/png")


def test_terminal_shell_degrades_to_text(ip: InteractiveShell) -> None:
    run = run_ok(ip, "%%openai\n" + CHART_AND_TABLE)
    assert not any("application/vnd.jupyter.widget-view+json" in bundle for bundle in run.outputs)
    plain = "\n".join(run.mime("text/plain"))
    assert "[image] squares.png" in plain and "(3 of 3 rows)" in plain
    assert "made 2 files" in plain
    assert "running code" in run.stdout


def test_line_magic_commands(ip: InteractiveShell) -> None:
    run_ok(ip, "%%openai --out first\n```python\nprint(1)\n```")
    status = repr(run_ok(ip, "%openai status").result._repr_mimebundle_()["text/plain"])
    assert "continuing resp_" in status and "analysis_artifacts" in status
    run_ok(ip, "%openai reset")
    assert _magics(ip).session.previous_response_id is None
    assert "local" in run_ok(ip, "%openai help").result.message
    bad = run_cell(ip, "%openai fly")
    assert bad.error is not None and "unknown command" in bad.stderr


def test_help_lists_the_flags() -> None:
    doc = OpenAIMagics.openai.__doc__ or ""
    for flag in ("--model", "--file", "--new", "--no-stream", "--out", "--instructions", "--dir"):
        assert flag in doc


def test_empty_prompt_is_a_usage_error(ip: InteractiveShell) -> None:
    run = run_cell(ip, "%%openai\n\n")
    assert run.error is not None and "needs a prompt" in run.stderr


def test_local_backend_starts_and_close_stops_the_embedded_emulator(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx2

    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv("OPENAI_ARTIFACTS_BACKEND", "local")
    run_ok(ip, "%%openai --out result\n```python\nprint('embedded')\n```")
    magics = _magics(ip)
    base_url = magics.local_server.base_url
    assert ip.user_ns["result"].code_runs[0].logs.strip() == "embedded"
    assert httpx2.get(base_url.removesuffix("/v1") + "/_emulator/health").status_code == 200
    assert magics.session.previous_response_id is not None
    magics.close()
    assert magics.local_server is None
    assert magics.session.previous_response_id is None, "the stopped server's conversation is gone"
    with pytest.raises(httpx2.HTTPError):
        httpx2.get(base_url.removesuffix("/v1") + "/_emulator/health", timeout=2)


def test_after_stop_the_next_cell_says_it_starts_a_new_emulator(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv("OPENAI_ARTIFACTS_BACKEND", "local")
    run_ok(ip, "%%openai\n```python\nprint(1)\n```")
    ip.run_line_magic("openai", "stop")
    captured = run_ok(ip, "%%openai --out again\n```python\nprint(2)\n```")
    magics = _magics(ip)
    notes = [text for text in captured.mime("text/plain") if text.startswith("Note:")]
    assert notes == [
        f"Note: Started a new local emulator at {magics.local_server.base_url}; "
        "the conversation starts fresh."
    ]
    assert ip.user_ns["again"].code_runs[0].logs.strip() == "2"
    later = run_ok(ip, "%%openai\n```python\nprint(3)\n```")
    assert "Started a new" not in later.all_text(), "said once"
    magics.close()


def test_manifest_lists_what_the_cell_showed(ip: InteractiveShell, notebook_dir: Path) -> None:
    run_ok(ip, "%%openai --out result\n" + CHART_AND_TABLE)
    manifest = json.loads((notebook_dir / "analysis_artifacts" / MANIFEST_PATH).read_text())
    assert "squares.png" in json.dumps(manifest) and "squares.csv" in json.dumps(manifest)


def test_unknown_flag_is_one_line(ip: InteractiveShell) -> None:
    run = run_cell(ip, "%%openai --bogus\nhello")
    assert run.stderr == "UsageError: unrecognized arguments: --bogus\n"
    doc = OpenAIMagics.openai.__doc__ or ""
    assert "%%openai [--model MODEL]" in doc


def test_the_unknown_notebook_note_only_when_files_go_to_the_fallback_folder(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENAI_ARTIFACTS_NOTEBOOK")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("__vsc_ipynb_file__", raising=False)
    ip.user_ns.pop("__vsc_ipynb_file__", None)
    note = "Could not tell which notebook this is"
    assert note not in run_ok(ip, "%%openai\n```python\nprint(1)\n```").all_text(), "no files, no note"
    with_dir = run_ok(ip, "%%openai --dir elsewhere\n```python\nopen('/mnt/data/a.txt', 'w').write('a')\n```")
    assert note not in with_dir.all_text(), "--dir chose the folder"
    assert (tmp_path / "elsewhere" / "a.txt").read_bytes() == b"a"
    fallback = run_ok(ip, "%%openai\n```python\nopen('/mnt/data/b.txt', 'w').write('b')\n```")
    assert sum(text.count(note) for text in fallback.mime("text/plain")) == 1
    assert (tmp_path / "openai_artifacts" / "b.txt").read_bytes() == b"b"
    again = run_ok(ip, "%%openai\n```python\nopen('/mnt/data/c.txt', 'w').write('c')\n```")
    assert note not in again.all_text(), "said once"
