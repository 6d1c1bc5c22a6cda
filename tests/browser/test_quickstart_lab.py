"""The quickstart in a real JupyterLab in Chromium: run all, then look and click as a user does.

Checks what the user sees (the chart decoded, the table preview, no ``sandbox:`` left) and what they get:
every download button delivers a browser download whose bytes equal the saved file, and every rewritten
link serves the same bytes through Jupyter's ``/files/`` route. A screenshot of the finished notebook is
kept in ``tests/output/quickstart_lab.png``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import Page

from tests.browser.jupyter_server import JupyterServer
from tests.browser.lab import NotebookPage, sha256_bytes, sha256_file

pytestmark = pytest.mark.browser

NOTEBOOK = "quickstart.ipynb"
ARTIFACTS = "quickstart_artifacts"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def saved_artifacts(root: Path) -> dict[str, Path]:
    """Every file the run saved, by file name, as the manifest lists them (each must exist on disk)."""
    folder = root / ARTIFACTS
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    files = {Path(entry["path"]).name: folder / entry["path"] for entry in manifest["artifacts"]}
    for name, path in files.items():
        assert path.is_file(), f"the manifest lists {name}, but {path} is not on disk"
    return files


@pytest.fixture(scope="module")
def quickstart(jupyter_server: JupyterServer, module_page: Page) -> Iterator[NotebookPage]:
    """The quickstart opened in JupyterLab and run to the end (every cell, kernel idle)."""
    if not (jupyter_server.root_dir / NOTEBOOK).is_file():
        pytest.fail(f"notebooks/{NOTEBOOK} is missing", pytrace=False)
    page = module_page
    page.goto(jupyter_server.url(f"lab/tree/{NOTEBOOK}?reset", with_token=True))
    lab = NotebookPage(page)
    lab.wait_until_ready()
    lab.run_all()
    lab.wait_until_run()
    yield lab
    jupyter_server.shut_down_sessions()


def test_every_cell_ran_without_error(quickstart: NotebookPage) -> None:
    assert quickstart.errors() == []
    assert quickstart.page.locator(".jp-Dialog").count() == 0


def test_chart_images_have_loaded(quickstart: NotebookPage, jupyter_server: JupyterServer) -> None:
    images = quickstart.outputs.locator("img")
    saved = saved_artifacts(jupyter_server.root_dir)
    saved_images = [name for name, path in saved.items() if path.suffix.lower() in {".png", ".jpg", ".jpeg"}]
    assert "revenue.png" in saved_images
    assert images.count() >= len(saved_images)
    for index in range(images.count()):
        assert quickstart.wait_for_image_loaded(images.nth(index)) > 0


def test_table_preview_is_visible(quickstart: NotebookPage) -> None:
    preview = quickstart.outputs.locator(".oai-table-preview").first
    preview.scroll_into_view_if_needed()
    assert preview.is_visible()
    assert preview.locator("tbody tr").count() > 0
    assert "rows" in quickstart.outputs.locator(".oai-table-footer").first.inner_text()


def test_no_sandbox_link_is_left(quickstart: NotebookPage) -> None:
    assert "sandbox:" not in quickstart.output_text()
    hrefs = quickstart.output_hrefs()
    assert hrefs, "the outputs offer no link at all"
    assert [href for href in hrefs if "sandbox:" in href] == []


def test_every_download_button_delivers_the_saved_bytes(
    quickstart: NotebookPage, jupyter_server: JupyterServer
) -> None:
    saved = saved_artifacts(jupyter_server.root_dir)
    buttons = quickstart.outputs.locator("button.oai-artifact-download")
    assert buttons.count() >= len(saved)
    delivered: dict[str, str] = {}
    for index in range(buttons.count()):
        button = buttons.nth(index)
        button.scroll_into_view_if_needed()
        with quickstart.page.expect_download(timeout=60_000) as download_info:
            button.click()
        download = download_info.value
        assert download.failure() is None
        name = download.suggested_filename
        assert name in saved, f"button {index} downloaded {name!r}, which the run did not save"
        delivered[name] = sha256_bytes(Path(download.path()).read_bytes())
        assert delivered[name] == sha256_file(saved[name]), f"{name}: downloaded bytes differ from disk"
    assert sorted(delivered) == sorted(saved), "some saved files have no working download button"


def test_rewritten_links_serve_the_saved_bytes(
    quickstart: NotebookPage, jupyter_server: JupyterServer
) -> None:
    saved = saved_artifacts(jupyter_server.root_dir)
    links = quickstart.outputs.locator(f'a[href*="{ARTIFACTS}/"]')
    hrefs = sorted(set(links.evaluate_all("(links) => links.map((a) => a.href)")))
    assert hrefs, "no output links to the saved files"
    followed: set[str] = set()
    for href in hrefs:
        url = urlsplit(href)
        assert f"{url.scheme}://{url.netloc}/" == jupyter_server.base_url, f"{href} is not same-origin"
        assert url.path.startswith("/files/"), f"{href} does not use Jupyter's file route"
        name = Path(unquote(url.path)).name
        assert name in saved, f"{href} points at {name!r}, which the run did not save"
        reply = quickstart.page.request.get(href)
        assert reply.ok, f"{href}: HTTP {reply.status}"
        assert sha256_bytes(reply.body()) == sha256_file(saved[name]), f"{href} serves other bytes"
        followed.add(name)
    assert followed == set(saved), f"saved files without a working link: {set(saved) - followed}"


def test_screenshot_of_the_finished_notebook(quickstart: NotebookPage, output_dir: Path) -> None:
    shot = quickstart.screenshot(output_dir / "quickstart_lab.png")
    assert shot.stat().st_size > 10_000
