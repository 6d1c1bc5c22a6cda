"""The download button on a file big enough to go in many chunks, with its progress bar, in JupyterLab.

The quickstart's files fit in one chunk; this drives the chunked path of
:class:`openai_artifacts_nb.widgets.ArtifactDownload` (each chunk a script kept by the page, then joined into
one ``Blob``) and checks the browser gets every byte, in order, twice in a row.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page

from tests.browser.jupyter_server import JupyterServer
from tests.browser.lab import NotebookPage, sha256_bytes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SIZE = 3 * 1024 * 1024 + 12_345
CHUNK = 256 * 1024


def payload() -> bytes:
    """Deterministic bytes that differ from chunk to chunk, so a lost or reordered chunk shows."""
    blocks = (hashlib.sha256(index.to_bytes(4, "big")).digest() for index in range(SIZE // 32 + 1))
    return b"".join(blocks)[:SIZE]


def test_a_many_chunk_download_delivers_every_byte(
    jupyter_server: JupyterServer, page: Page, request: pytest.FixtureRequest
) -> None:
    folder = jupyter_server.root_dir / "widget"
    folder.mkdir()
    (folder / "big.bin").write_bytes(payload())
    cell = (
        "from openai_artifacts_nb.widgets import ArtifactDownload\n"
        f"button = ArtifactDownload('big.bin', mime_type='application/octet-stream', chunk_bytes={CHUNK}, "
        "progress_over=0)\nbutton"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "big.ipynb")
    request.addfinalizer(jupyter_server.shut_down_sessions)

    lab = NotebookPage(page)
    page.goto(jupyter_server.url("lab/tree/widget/big.ipynb?reset", with_token=True))
    lab.wait_until_ready()
    lab.run_all()
    lab.wait_until_run()

    button = lab.outputs.locator("button.oai-artifact-download")
    expected = sha256_bytes(payload())
    for _ in range(2):
        with page.expect_download(timeout=60_000) as download_info:
            button.click()
        download = download_info.value
        assert download.suggested_filename == "big.bin"
        data = Path(download.path()).read_bytes()
        assert len(data) == SIZE
        assert sha256_bytes(data) == expected
    assert lab.script_errors == [], "\n".join(lab.script_errors)
