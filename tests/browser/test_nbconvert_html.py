"""The static path: the executed quickstart as ``jupyter nbconvert --to html``, opened in Chromium.

No kernel and no widget manager here, so what the reader gets is only what the saved notebook carries: the
images must show, and every saved file must be offered by a link that resolves, relative to the HTML, to
exactly the bytes on disk. The HTML is served from its folder by a small HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from openai_artifacts_nb.manifest import MANIFEST_PATH
from tests.browser.jupyter_server import copy_notebooks, end_processes_of, server_environment
from tests.browser.lab import image_natural_width, sha256_bytes, sha256_file

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

RUN_TIMEOUT = 300


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, chromium_executable: Path) -> Path:
    """A temporary copy of ``notebooks/``, its quickstart run headless and exported; returns the HTML path."""
    folder = copy_notebooks(tmp_path_factory.mktemp("nbconvert"))
    home = tmp_path_factory.mktemp("nbconvert-home")
    env = server_environment(home)
    executed = folder / "quickstart.executed.ipynb"
    cli = Path(sys.executable).with_name("openai-artifacts")
    try:
        run = subprocess.run(
            [str(cli), "run", str(folder / "quickstart.ipynb"), "--local", "--output", str(executed)],
            env=env,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    finally:
        leftovers = end_processes_of(home)
    if leftovers:
        warnings.warn(f"still running after `openai-artifacts run` (ended now): {leftovers}", stacklevel=1)
    assert run.returncode == 0, f"openai-artifacts run failed:\n{run.stdout}\n{run.stderr}"
    convert = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", str(executed), "--output-dir", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert convert.returncode == 0, f"nbconvert failed:\n{convert.stderr}"
    html = folder / "quickstart.executed.html"
    assert html.is_file()
    return html


@pytest.fixture(scope="module")
def served(exported: Path) -> Iterator[str]:
    """The export's folder over HTTP on 127.0.0.1 (a free port); yields the HTML's URL."""
    handler = functools.partial(_QuietHandler, directory=str(exported.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{exported.name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def html_page(browser: Browser, served: str) -> Iterator[Page]:
    """The exported quickstart loaded in Chromium."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(served, wait_until="load")
    yield page
    context.close()


def saved_artifacts(folder: Path) -> dict[str, Path]:
    """Every saved file of the run, by its path relative to the notebook's folder (POSIX)."""
    artifacts = folder / "quickstart_artifacts"
    manifest = json.loads((artifacts / MANIFEST_PATH).read_text(encoding="utf-8"))
    entries = manifest["artifacts"]
    files = {f"{artifacts.name}/{entry['path']}": artifacts / entry["path"] for entry in entries}
    assert files, "the run saved nothing"
    return files


def test_images_show(html_page: Page, exported: Path) -> None:
    images = html_page.locator(".jp-OutputArea-output img")
    image_files = [
        path for path in saved_artifacts(exported.parent).values() if path.suffix.lower() in {".png", ".jpg"}
    ]
    assert images.count() >= len(image_files) >= 1
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        width = image_natural_width(image)
        assert width > 0, f"image {index} did not load: {image.get_attribute('src', timeout=1000)!r:.80}"


def test_no_sandbox_link_is_left(html_page: Page) -> None:
    outputs = html_page.locator(".jp-OutputArea-output")
    assert "sandbox:" not in "\n".join(outputs.all_inner_texts())
    hrefs = outputs.locator("a[href]").evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
    assert [href for href in hrefs if "sandbox:" in href] == []


def test_every_saved_file_is_offered_by_a_link_that_resolves(
    html_page: Page, exported: Path, served: str
) -> None:
    files = saved_artifacts(exported.parent)
    in_reply_text = html_page.locator('.jp-OutputArea-output .oai-reply a[href*="_artifacts/"]')
    assert in_reply_text.count() > 0, "the reply's text links to no saved file"
    links = html_page.locator(".jp-OutputArea-output a[href]").evaluate_all(
        "(links) => links.map((a) => ({href: a.href, raw: a.getAttribute('href')}))"
    )
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(served))
    reached: set[str] = set()
    for link in links:
        href = link["href"]
        if href.startswith("data:") or not href.startswith(origin):
            continue
        relative = unquote(urlsplit(href).path).lstrip("/")
        if relative not in files:
            continue
        reply = html_page.request.get(href)
        assert reply.ok, f"{link['raw']}: HTTP {reply.status}"
        assert sha256_bytes(reply.body()) == sha256_file(files[relative]), f"{link['raw']} serves other bytes"
        reached.add(relative)
    assert reached == set(files), f"saved files no link resolves to: {sorted(set(files) - reached)}"


def test_embedded_copies_hold_the_saved_bytes(html_page: Page, exported: Path) -> None:
    files = {path.name: path for path in saved_artifacts(exported.parent).values()}
    embedded = html_page.locator(".jp-OutputArea-output a[href^='data:'][download]").evaluate_all(
        "(links) => links.map((a) => ({name: a.getAttribute('download'), href: a.getAttribute('href')}))"
    )
    for link in embedded:
        header, _, payload = link["href"].partition(",")
        assert header.endswith(";base64"), header
        assert link["name"] in files, f"embedded copy of an unknown file {link['name']!r}"
        assert sha256_bytes(base64.b64decode(payload)) == sha256_file(files[link["name"]])


def test_each_file_has_a_download_link_and_no_widget_text(html_page: Page, exported: Path) -> None:
    from tests.browser.checks import check_download_links

    files = {path.name: path for path in saved_artifacts(exported.parent).values()}
    check_download_links(html_page, html_page.locator(".jp-OutputArea-output"), files)
