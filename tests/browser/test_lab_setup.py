"""The browser rig on a notebook of its own: Lab opens with no dialog, runs, shows widgets, downloads.

When the quickstart test fails, this one tells whether the rig (Chromium, Playwright, JupyterLab, the widget
manager) or the product broke.
"""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page

from tests.browser.jupyter_server import JupyterServer
from tests.browser.lab import NotebookPage, sha256_bytes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

PAYLOAD = bytes(range(256)) * 4

CELLS = [
    "import io\nfrom IPython.display import Image\nfrom PIL import Image as Picture\n"
    "png = io.BytesIO()\nPicture.new('RGB', (96, 48), 'teal').save(png, 'PNG')\nImage(png.getvalue())",
    "import ipywidgets as widgets\nbutton = widgets.Button(description='press me')\n"
    "label = widgets.Label('waiting')\nbutton.on_click(lambda _: setattr(label, 'value', 'pressed'))\n"
    "widgets.VBox([button, label])",
    "from IPython.display import HTML\n"
    f'HTML(\'<a class="rig-download" download="payload.bin" '
    f'href="data:application/octet-stream;base64,{base64.b64encode(PAYLOAD).decode()}">payload</a>\')',
]


def test_lab_runs_a_notebook_with_an_image_a_widget_and_a_download(
    jupyter_server: JupyterServer, page: Page, output_dir: Path, request: pytest.FixtureRequest
) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, jupyter_server.root_dir / "rig.ipynb")

    request.addfinalizer(jupyter_server.shut_down_sessions)
    lab = NotebookPage(page)
    page.goto(jupyter_server.url("lab/tree/rig.ipynb?reset", with_token=True))
    lab.wait_until_ready()
    assert page.locator(".jp-Dialog").count() == 0, "a dialog is covering JupyterLab"
    lab.run_all()
    lab.wait_until_run()

    image = lab.outputs.locator("img").first
    assert lab.wait_for_image_loaded(image) > 0

    button = lab.outputs.locator(".jupyter-widgets button", has_text="press me")
    button.click()
    lab.outputs.locator(".widget-label", has_text="pressed").wait_for()

    with page.expect_download() as download_info:
        lab.outputs.locator("a.rig-download").click()
    download = download_info.value
    assert download.suggested_filename == "payload.bin"
    assert sha256_bytes(Path(download.path()).read_bytes()) == sha256_bytes(PAYLOAD)

    assert lab.script_errors == [], "\n".join(lab.script_errors)
    shot = lab.screenshot(output_dir / "lab_setup.png")
    assert shot.stat().st_size > 0
