"""The quickstart in Notebook 7 (``/notebooks/...``), served by the same Jupyter server as the Lab tests.

One pass with the same checks as in JupyterLab, on its own copy of the notebook (in ``notebook7/``) so its
artifacts never mix with the Lab run's. Screenshot: ``tests/output/quickstart_notebook7.png``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser import checks
from tests.browser.jupyter_server import JupyterServer, copy_notebooks
from tests.browser.lab import NotebookPage

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

FOLDER = "notebook7"


def test_quickstart_in_notebook7(
    jupyter_server: JupyterServer, page: Page, output_dir: Path, request: pytest.FixtureRequest
) -> None:
    folder = copy_notebooks(jupyter_server.root_dir / FOLDER)
    request.addfinalizer(jupyter_server.shut_down_sessions)

    notebook = NotebookPage(page)
    page.goto(jupyter_server.url(f"notebooks/{FOLDER}/quickstart.ipynb", with_token=True))
    notebook.wait_until_ready()
    notebook.run_all()
    notebook.wait_until_run()
    assert notebook.errors() == []

    saved = checks.saved_artifacts(folder / "quickstart_artifacts")
    checks.check_images_loaded(notebook, saved)
    checks.check_table_preview(notebook)
    checks.check_no_sandbox_link(notebook)
    checks.check_download_buttons(notebook, saved)
    checks.check_links_served(notebook, jupyter_server, saved, f"{FOLDER}/quickstart_artifacts")
    # Notebook 7.6 itself throws "reading 'schema'" while it loads (an empty notebook does it too) and
    # gets a 403 for one of its own fonts; so only script errors from the run on are held against us.
    uncaught = [error for error in notebook.script_errors_since_ready if error.startswith("uncaught")]
    assert uncaught == [], "\n".join(notebook.script_errors)
    assert notebook.screenshot(output_dir / "quickstart_notebook7.png").stat().st_size > 10_000
