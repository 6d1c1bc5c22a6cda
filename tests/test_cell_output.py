"""A cell's output in Jupyter mode: one stream output replaced by the reply, then files, buttons, usage."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from openai_artifacts_nb.cell_output import DisplayOptions, run_and_show
from openai_artifacts_nb.errors import ApiError
from openai_artifacts_nb.local import LocalServer
from openai_artifacts_nb.session import ConversationSession

PROMPT = (
    "Here you go.\n```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
    "plt.savefig('/mnt/data/line.png')\nplt.close()\nopen('/mnt/data/t.csv', 'w').write('a\\n1\\n')\n```"
)


def test_live_output_streams_then_shows_files_with_buttons(
    ip: InteractiveShell, client: openai.OpenAI, tmp_path: Path
) -> None:
    with capture_output() as captured:
        result = run_and_show(
            ConversationSession(),
            PROMPT,
            client=client,
            model="gpt-4.1",
            out_dir=tmp_path / "nb_artifacts",
            link_base=tmp_path,
            options=DisplayOptions(live=True),
        )
    outputs = captured.outputs
    assert "oai-reply" in outputs[0].data.get("text/html", ""), "the stream's output comes first"
    replies = [o.data["text/html"] for o in outputs if "oai-reply" in o.data.get("text/html", "")]
    assert 'href="nb_artifacts/t.csv"' in replies[-1], (
        "the final reply, with working links, replaced the stream"
    )
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.data]
    # Progress bars, then one download button per file.
    assert len(widgets) == 1 + len(result.artifacts) == 3
    images = [o for o in outputs if "image/png" in o.data]
    assert len(images) == 1
    tables = [o for o in outputs if "oai-table-preview" in o.data.get("text/html", "")]
    assert len(tables) == 1
    assert not any("sandbox:" in str(value) for o in outputs for value in o.data.values())
    assert "tokens" in outputs[-1].data["text/plain"]


def test_quiet_shows_no_previews(ip: InteractiveShell, client: openai.OpenAI, tmp_path: Path) -> None:
    with capture_output() as captured:
        run_and_show(
            ConversationSession(),
            PROMPT,
            client=client,
            model="gpt-4.1",
            out_dir=tmp_path / "out",
            link_base=tmp_path,
            options=DisplayOptions(live=False, quiet=True),
        )
    assert not any("image/png" in o.data for o in captured.outputs)
    assert "2 files saved" in captured.outputs[-1].data["text/plain"]


def test_a_failed_turn_leaves_no_waiting_note(
    ip: InteractiveShell, client: openai.OpenAI, emulator: LocalServer, tmp_path: Path
) -> None:
    emulator.faults.fail_next(3, status=500, should_retry=False)
    with capture_output() as captured, pytest.raises(ApiError):
        run_and_show(
            ConversationSession(),
            "hello",
            client=client,
            model="gpt-4.1",
            out_dir=tmp_path / "out",
            link_base=tmp_path,
            options=DisplayOptions(live=True),
        )
    last_reply_state = [
        o.data
        for o in captured.outputs
        if "oai-reply" in o.data.get("text/html", "") or o.data == {"text/plain": ""}
    ]
    assert last_reply_state[-1] == {"text/plain": ""}
    assert not (tmp_path / "out").exists()


def test_a_terminal_reports_an_image_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from PIL import Image

    from openai_artifacts_nb import cell_output
    from openai_artifacts_nb.file_views import ArtifactView

    path = tmp_path / "chart.png"
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    shown: list[object] = []
    monkeypatch.setattr(cell_output, "_display", lambda obj, **kwargs: shown.append(obj))
    saved = ArtifactView.from_file(path, relative_to=tmp_path)
    cell_output._show_artifact(saved, DisplayOptions(live=False))
    assert len(shown) == 1 and isinstance(shown[0], ArtifactView)
    shown.clear()
    cell_output._show_artifact(saved, DisplayOptions(live=True, buttons=False))
    assert [type(part).__name__ for part in shown] == ["ArtifactView", "ArtifactCard"]
