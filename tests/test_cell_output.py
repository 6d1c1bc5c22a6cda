"""A cell's output in Jupyter mode: one stream output replaced by the reply, then files, buttons, usage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from openai_artifacts_nb.cell_output import DisplayOptions, run_and_show
from openai_artifacts_nb.errors import ApiError
from openai_artifacts_nb.local import LocalServer
from openai_artifacts_nb.session import ConversationSession
from tests.plugins.engine import ReplayServer

PROMPT = (
    "Here you go.\n```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
    "plt.savefig('/mnt/data/line.png')\nplt.close()\nopen('/mnt/data/t.csv', 'w').write('a\\n1\\n')\n```"
)


def final_cell(outputs: list[Any]) -> list[Any]:
    """The cell as a front end shows it in the end: each update replaces its display, empties vanish."""
    cell: list[Any] = []
    where: dict[str, int] = {}
    for output in outputs:
        display_id = output.transient.get("display_id")
        if output.update and display_id in where:
            cell[where[display_id]] = output
            continue
        if display_id:
            where[display_id] = len(cell)
        cell.append(output)
    return [output for output in cell if output.data != {"text/plain": ""}]


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
    assert "oai-reply" in captured.outputs[0].data.get("text/html", ""), "the stream's output comes first"
    # Files may show early (while the text streams) and are then updated in place: judge the final cell.
    outputs = final_cell(captured.outputs)
    replies = [o.data["text/html"] for o in outputs if "oai-reply" in o.data.get("text/html", "")]
    assert len(replies) == 1
    assert 'href="nb_artifacts/t.csv"' in replies[-1], (
        "the final reply, with working links, replaced the stream"
    )
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.data]
    # One download button per file (the progress bars are emptied at the end).
    assert len(widgets) == len(result.artifacts) == 2
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


def test_a_file_shows_while_the_text_streams_then_once_in_place(
    ip: InteractiveShell, replay_server: ReplayServer, replay_client: Any, tmp_path: Path
) -> None:
    from tests.test_live_fetch import serve_files, turn_events

    serve_files(replay_server)
    holder: dict[str, Any] = {}

    def images_shown() -> bool:
        captured = holder.get("captured")
        return captured is not None and any("image/png" in o.data for o in captured.outputs)

    def keep_writing() -> Iterator[dict[str, Any]]:
        for _ in range(2000):  # bounded: the model writes on until the chart is on screen
            if images_shown():
                return
            yield {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": ""}
            time.sleep(0.005)

    replay_server.events("/v1/responses", lambda: turn_events(before_end=keep_writing))
    with capture_output() as captured:
        holder["captured"] = captured
        result = run_and_show(
            ConversationSession(),
            "plot",
            client=replay_client,
            model="gpt-4.1",
            out_dir=tmp_path / "nb_artifacts",
            link_base=tmp_path,
            options=DisplayOptions(live=True),
        )
    outputs = captured.outputs
    first_image = next(i for i, o in enumerate(outputs) if "image/png" in o.data)
    completed = next(i for i, o in enumerate(outputs) if "saving the files" in o.data.get("text/plain", ""))
    assert first_image < completed, "the chart showed before response.completed was handled"
    cell = final_cell(outputs)
    kinds = [
        "reply"
        if "oai-reply" in o.data.get("text/html", "")
        else "image"
        if "image/png" in o.data
        else "button"
        if "application/vnd.jupyter.widget-view+json" in o.data
        else "table"
        if "oai-table-preview" in o.data.get("text/html", "")
        else "usage"
        if "resp_live" in o.data.get("text/plain", "")
        else "card"
        for o in cell
    ]
    assert kinds == ["reply", "image", "card", "button", "table", "button", "usage"], kinds
    assert [a.filename for a in result.artifacts] == ["chart.png", "table.csv"]
    assert 'href="nb_artifacts/chart.png"' in cell[0].data["text/html"]


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


def test_a_live_sdk_stream_shows_its_files_early_then_once(
    ip: InteractiveShell, replay_server: ReplayServer, replay_client: Any, tmp_path: Path
) -> None:
    from openai_artifacts_nb.cell_output import show_events
    from tests.test_live_fetch import serve_files, turn_events

    serve_files(replay_server)
    holder: dict[str, Any] = {}

    def keep_writing() -> Iterator[dict[str, Any]]:
        for _ in range(2000):  # bounded: the model writes on until the chart is on screen
            captured = holder.get("captured")
            if captured is not None and any("image/png" in o.data for o in captured.outputs):
                return
            yield {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": ""}
            time.sleep(0.005)

    replay_server.events("/v1/responses", lambda: turn_events(before_end=keep_writing))
    stream = replay_client.responses.create(model="gpt-4.1", input="plot", stream=True)
    with capture_output() as captured:
        holder["captured"] = captured
        result = show_events(
            stream, out_dir=tmp_path / "nb_artifacts", link_base=tmp_path, client=replay_client
        )
    outputs = captured.outputs
    first_image = next(i for i, o in enumerate(outputs) if "image/png" in o.data)
    completed = next(i for i, o in enumerate(outputs) if "saving the files" in o.data.get("text/plain", ""))
    assert first_image < completed, "the chart showed before response.completed was handled"
    cell = final_cell(captured.outputs)
    assert [a.filename for a in result.artifacts] == ["chart.png", "table.csv"]
    assert sum("image/png" in o.data for o in cell) == 1
    assert sum("oai-table-preview" in o.data.get("text/html", "") for o in cell) == 1
    assert sum("application/vnd.jupyter.widget-view+json" in o.data for o in cell) == 2
    assert 'href="nb_artifacts/chart.png"' in cell[0].data["text/html"]
    assert "resp_live" in cell[-1].data["text/plain"]
