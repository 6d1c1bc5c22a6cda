"""saved_notebooks: a saved notebook keeps a download link, never a dead widget."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

from openai_artifacts_nb.saved_notebooks import WIDGET_VIEW, pre_save_hook, strip_live_widgets
from openai_artifacts_nb.widgets import ArtifactDownload

LINK = '<a class="oai-artifact-link" href="nb_artifacts/a.csv" download="a.csv">Download a.csv</a>'


def _notebook() -> nbformat.NotebookNode:
    live = nbformat.v4.new_output(
        "display_data",
        data={WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}, "text/html": LINK},
        metadata={"openai_artifacts_nb": {"live_only": True}},
    )
    other_widget = nbformat.v4.new_output(
        "display_data", data={WIDGET_VIEW: {"model_id": "def", "version_major": 2, "version_minor": 0}}
    )
    cell = nbformat.v4.new_code_cell("%%openai\nhi", outputs=[live, other_widget])
    return nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])


def test_live_only_widget_views_are_dropped_and_their_link_kept() -> None:
    notebook = _notebook()
    assert strip_live_widgets(notebook) == 1
    live, other = notebook.cells[0].outputs
    assert WIDGET_VIEW not in live.data and live.data["text/html"] == LINK
    assert WIDGET_VIEW in other.data, "other tools' widgets are not ours to touch"
    assert strip_live_widgets(notebook) == 0
    nbformat.validate(notebook)


def test_the_hook_ignores_other_files_and_malformed_notebooks() -> None:
    text_model = {"type": "file", "content": "x"}
    pre_save_hook(model=text_model, path="a.txt")
    assert text_model == {"type": "file", "content": "x"}
    for content in ({"cells": "nope"}, {"cells": [{"outputs": [None, {"metadata": []}]}]}, {}):
        pre_save_hook(model={"type": "notebook", "content": content}, path="x.ipynb")


def test_a_real_button_output_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"x\n")
    data, metadata = ArtifactDownload(path, href="nb_artifacts/a.csv")._repr_mimebundle_()
    output = nbformat.v4.new_output("display_data", data=data, metadata=metadata)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[output])])
    assert strip_live_widgets(json.loads(nbformat.writes(notebook))) == 1


@pytest.mark.slow
def test_a_real_jupyter_server_saves_the_link_not_the_widget(tmp_path: Path) -> None:
    from tests.browser.jupyter_server import start_server, stop_server

    installed = Path(sys.prefix, "etc", "jupyter", "jupyter_server_config.d", "openai_artifacts_nb.json")
    assert json.loads(installed.read_text())["ServerApp"]["jpserver_extensions"]["openai_artifacts_nb"]
    root = tmp_path / "root"
    root.mkdir()
    server = start_server(root, tmp_path / "home")
    try:
        body = json.dumps({"type": "notebook", "format": "json", "content": _notebook()}).encode()
        server.api("PUT", "api/contents/saved.ipynb", body)
        saved = nbformat.read(root / "saved.ipynb", as_version=4)
        live, other = saved.cells[0].outputs
        assert WIDGET_VIEW not in live.data and live.data["text/html"] == LINK
        assert WIDGET_VIEW in other.data
    finally:
        stop_server(server)
