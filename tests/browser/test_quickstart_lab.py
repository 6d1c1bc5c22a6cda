"""The quickstart in a real JupyterLab in Chromium: run all, then look and click as a user does.

Checks what the user sees (the chart decoded, the table preview, no ``sandbox:`` left) and what they get:
every download button delivers a browser download whose bytes equal the saved file, and every rewritten
link serves the same bytes through Jupyter's ``/files/`` route. A screenshot of the finished notebook is
kept in ``tests/output/quickstart_lab.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser import checks
from tests.browser.jupyter_server import JupyterServer
from tests.browser.lab import NotebookPage

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

NOTEBOOK = "quickstart.ipynb"
ARTIFACTS = "quickstart_artifacts"


@pytest.fixture(scope="module")
def quickstart(jupyter_server: JupyterServer, module_page: Page) -> Iterator[NotebookPage]:
    """The quickstart opened in JupyterLab and run to the end (every cell, kernel idle)."""
    if not (jupyter_server.root_dir / NOTEBOOK).is_file():
        pytest.fail(f"notebooks/{NOTEBOOK} is missing", pytrace=False)
    page = module_page
    lab = NotebookPage(page)
    page.goto(jupyter_server.url(f"lab/tree/{NOTEBOOK}?reset", with_token=True))
    lab.wait_until_ready()
    lab.run_all()
    lab.wait_until_run()
    yield lab
    jupyter_server.shut_down_sessions()


@pytest.fixture(scope="module")
def saved(quickstart: NotebookPage, jupyter_server: JupyterServer) -> dict[str, Path]:
    """The files the run saved beside the notebook, by name."""
    return checks.saved_artifacts(jupyter_server.root_dir / ARTIFACTS)


def test_every_cell_ran_without_error(quickstart: NotebookPage) -> None:
    assert quickstart.errors() == []
    assert quickstart.page.locator(".jp-Dialog").count() == 0


def test_chart_images_have_loaded(quickstart: NotebookPage, saved: dict[str, Path]) -> None:
    assert "revenue.png" in saved
    checks.check_images_loaded(quickstart, saved)


def test_table_preview_is_visible(quickstart: NotebookPage) -> None:
    checks.check_table_preview(quickstart)


def test_no_sandbox_link_is_left(quickstart: NotebookPage) -> None:
    checks.check_no_sandbox_link(quickstart)


def test_every_download_button_delivers_the_saved_bytes(
    quickstart: NotebookPage, saved: dict[str, Path]
) -> None:
    checks.check_download_buttons(quickstart, saved)


def test_rewritten_links_serve_the_saved_bytes(
    quickstart: NotebookPage, jupyter_server: JupyterServer, saved: dict[str, Path]
) -> None:
    checks.check_links_served(quickstart, jupyter_server, saved, ARTIFACTS)


def test_no_script_error_in_the_page(quickstart: NotebookPage) -> None:
    # After the run and every click above: the widget manager and our scripts raised nothing.
    assert quickstart.script_errors == [], "\n".join(quickstart.script_errors)


def test_screenshot_of_the_finished_notebook(quickstart: NotebookPage, output_dir: Path) -> None:
    shot = quickstart.screenshot(output_dir / "quickstart_lab.png")
    assert shot.stat().st_size > 10_000


def test_after_save_and_reopen_each_file_keeps_a_working_download_link(
    quickstart: NotebookPage, jupyter_server: JupyterServer, saved: dict[str, Path]
) -> None:
    # Last in this module: it saves the notebook, ends its kernel and reloads the page.
    page = quickstart.page
    quickstart.click_menu("File", "docmanager:save")
    page.wait_for_function(_SAVED_JS, timeout=60_000, polling=250)
    on_disk = (jupyter_server.root_dir / NOTEBOOK).read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-view+json" not in on_disk, "the server extension keeps no view"
    assert on_disk.count("oai-artifact-link") >= len(saved)
    jupyter_server.shut_down_sessions()
    page.reload()
    quickstart.panel.locator(".jp-Cell").first.wait_for(state="visible", timeout=90_000)
    quickstart.outputs.locator("a.oai-artifact-link").first.wait_for(state="attached", timeout=60_000)
    checks.check_download_links(page, quickstart.outputs, saved)
    assert page.locator(".jp-Dialog").count() == 0


# The notebook's model has been written back: not dirty any more.
_SAVED_JS = """
() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return !!widget && widget.context && widget.context.isReady && !widget.context.model.dirty;
}
"""
