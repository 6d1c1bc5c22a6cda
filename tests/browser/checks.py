"""What a user must see and get from an executed quickstart, checked in a live notebook page.

Shared by the JupyterLab and the Notebook 7 tests: same outputs, same buttons, same ``/files/`` route.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

from playwright.sync_api import Locator, Page

from openai_artifacts_nb.manifest import MANIFEST_PATH
from tests.browser.jupyter_server import JupyterServer
from tests.browser.lab import NotebookPage, sha256_bytes, sha256_file

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


def saved_artifacts(folder: Path) -> dict[str, Path]:
    """Every file the run saved in the artifacts ``folder``, by file name, as its manifest lists them."""
    manifest = json.loads((folder / MANIFEST_PATH).read_text(encoding="utf-8"))
    files = {Path(entry["path"]).name: folder / entry["path"] for entry in manifest["artifacts"]}
    assert files, f"{folder} holds no saved file"
    for name, path in files.items():
        assert path.is_file(), f"the manifest lists {name}, but {path} is not on disk"
    return files


def check_images_loaded(notebook: NotebookPage, saved: dict[str, Path]) -> int:
    """Every image in the outputs has decoded, and there is one at least per saved image; return the count."""
    images = notebook.outputs.locator("img")
    saved_images = [name for name, path in saved.items() if path.suffix.lower() in IMAGE_SUFFIXES]
    assert saved_images, "the run saved no image"
    assert images.count() >= len(saved_images), f"{images.count()} images shown for {saved_images}"
    for index in range(images.count()):
        assert notebook.wait_for_image_loaded(images.nth(index)) > 0
    return images.count()


def check_table_preview(notebook: NotebookPage) -> None:
    """The first table preview is visible, has rows and says how many of how many it shows."""
    preview = notebook.outputs.locator(".oai-table-preview").first
    preview.scroll_into_view_if_needed()
    assert preview.is_visible()
    assert preview.locator("tbody tr").count() > 0
    assert " of " in notebook.outputs.locator(".oai-table-footer").first.inner_text()


def check_no_sandbox_link(notebook: NotebookPage) -> None:
    """No ``sandbox:`` in what the outputs say, nor in any link they hold; and they hold links."""
    assert "sandbox:" not in notebook.output_text()
    hrefs = notebook.output_hrefs()
    assert hrefs, "the outputs offer no link at all"
    assert [href for href in hrefs if "sandbox:" in href] == []


def check_download_buttons(notebook: NotebookPage, saved: dict[str, Path]) -> dict[str, str]:
    """Click every download button; each must start a browser download of exactly the saved bytes.

    Returns the SHA-256 of each file downloaded, by name; every saved file must have been delivered.
    """
    buttons = notebook.outputs.locator("button.oai-artifact-download")
    assert buttons.count() >= len(saved), f"{buttons.count()} download buttons for {len(saved)} files"
    delivered: dict[str, str] = {}
    for index in range(buttons.count()):
        button = buttons.nth(index)
        button.scroll_into_view_if_needed()
        with notebook.page.expect_download(timeout=60_000) as download_info:
            button.click()
        download = download_info.value
        assert download.failure() is None, f"button {index}: {download.failure()}"
        name = download.suggested_filename
        assert name in saved, f"button {index} downloaded {name!r}, which the run did not save"
        delivered[name] = sha256_bytes(Path(download.path()).read_bytes())
        assert delivered[name] == sha256_file(saved[name]), f"{name}: downloaded bytes differ from disk"
    assert sorted(delivered) == sorted(saved), "some saved files have no working download button"
    return delivered


def check_links_served(
    notebook: NotebookPage, server: JupyterServer, saved: dict[str, Path], folder_name: str
) -> set[str]:
    """Follow every output link into ``folder_name``: same origin, ``/files/`` route, the saved bytes.

    Returns the names reached; every saved file must be reached by one link at least.
    """
    links = notebook.outputs.locator(f'a[href*="{folder_name}/"]')
    in_reply_text = notebook.outputs.locator(f'.oai-reply a[href*="{folder_name}/"]')
    assert in_reply_text.count() > 0, "the reply's text links to no saved file (were its links rewritten?)"
    hrefs = sorted(set(links.evaluate_all("(links) => links.map((a) => a.href)")))
    assert hrefs, f"no output links into {folder_name}/"
    reached: set[str] = set()
    for href in hrefs:
        url = urlsplit(href)
        assert f"{url.scheme}://{url.netloc}/" == server.base_url, f"{href} is not same-origin"
        assert url.path.startswith("/files/"), f"{href} does not use Jupyter's file route"
        name = Path(unquote(url.path)).name
        assert name in saved, f"{href} points at {name!r}, which the run did not save"
        reply = notebook.page.request.get(href)
        assert reply.ok, f"{href}: HTTP {reply.status}"
        assert sha256_bytes(reply.body()) == sha256_file(saved[name]), f"{href} serves other bytes"
        reached.add(name)
    assert reached == set(saved), f"saved files without a working link: {sorted(set(saved) - reached)}"
    return reached


#: What a widget view shows when no model is behind it, and what the plain-text fallback of a button says.
WIDGET_ERROR_TEXTS = ("Error displaying widget", "[download button")


def check_download_links(page: Page, outputs: Locator, saved: dict[str, Path]) -> dict[str, str]:
    """Click every ``a.oai-artifact-link[download]``: each delivers a browser download of the saved bytes.

    The link is what a saved notebook (no kernel, no widget model) offers for each file. Returns the
    SHA-256 of each file delivered, by name; every saved file must have one.
    """
    text = "\n".join(outputs.all_inner_texts())
    for error in WIDGET_ERROR_TEXTS:
        assert error not in text, f"the outputs say {error!r}"
    links = outputs.locator("a.oai-artifact-link[download]")
    assert links.count() >= len(saved), f"{links.count()} download links for {len(saved)} files"
    delivered: dict[str, str] = {}
    for index in range(links.count()):
        link = links.nth(index)
        link.scroll_into_view_if_needed()
        with page.expect_download(timeout=60_000) as download_info:
            link.click()
        download = download_info.value
        assert download.failure() is None, f"link {index}: {download.failure()}"
        name = download.suggested_filename
        assert name in saved, f"link {index} downloaded {name!r}, which the run did not save"
        delivered[name] = sha256_bytes(Path(download.path()).read_bytes())
        assert delivered[name] == sha256_file(saved[name]), f"{name}: downloaded bytes differ from disk"
    assert sorted(delivered) == sorted(saved), "some saved files have no working download link"
    return delivered
