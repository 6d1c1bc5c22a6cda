"""Drive a notebook in JupyterLab (or Notebook 7) the way a user does: open it, run all, look, click.

Every wait is on a condition in the page (kernel idle, every code cell numbered, an element visible or an
image decoded), bounded by a timeout; none is a fixed sleep.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Error, Locator, Page, Response

RUN_TIMEOUT_MS = 240_000

# True when every code cell of the current notebook has run (or one raised), the kernel is idle and no
# cell is queued. Returns a short status string so the caller can tell success from a failed cell.
_RUN_FINISHED_JS = """
() => {
  if (document.querySelector('.jp-Dialog')) return 'dialog';
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  if (indicator && indicator.getAttribute('data-status') !== 'idle') return false;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .map((p) => p.textContent.trim());
  if (prompts.some((p) => p.includes('*'))) return false;
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  if (widget && widget.content && widget.content.model) {
    for (const cell of widget.content.model.cells) {
      if ((cell.toJSON().outputs || []).some((o) => o.output_type === 'error')) return 'error';
    }
  }
  if (prompts.every((p) => /\\[\\d+\\]/.test(p))) return 'done';
  return false;
}
"""

# True once the current notebook's kernel has started, connected and gone idle.
_KERNEL_READY_JS = """
() => {
  if (document.querySelector('.jp-Dialog')) return 'dialog';
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  const session = widget && widget.sessionContext;
  if (!session || !session.isReady || !widget.context.isReady) return false;
  const kernel = session.session && session.session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}
"""

# The height the notebook's content needs, and whether its scroller now shows all of it.
_NOTEBOOK_HEIGHT_JS = """
(panel) => Math.max(...[...panel.querySelectorAll('.jp-WindowedPanel-outer')].map((el) => el.scrollHeight))
"""
_NOTEBOOK_FITS_JS = """
(selector) => [...document.querySelectorAll(selector + ' .jp-WindowedPanel-outer')]
  .every((el) => el.scrollHeight <= el.clientHeight + 1)
"""
_CLOSE_LEFT_SIDEBAR_JS = """
() => {
  const app = window.jupyterapp;
  if (app && app.shell.leftCollapsed === false) app.shell.collapseLeft();
}
"""

# Resolves with the image's natural width once it has loaded, 0 on error or after the given milliseconds.
_IMAGE_WIDTH_JS = """
(img, ms) => new Promise((resolve) => {
  if (img.complete) return resolve(img.naturalWidth);
  img.addEventListener('load', () => resolve(img.naturalWidth), { once: true });
  img.addEventListener('error', () => resolve(0), { once: true });
  setTimeout(() => resolve(img.naturalWidth), ms);
})
"""

# The JSON of every error output in the current notebook (needs LabApp.expose_app_in_browser).
_ERRORS_JS = """
() => {
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  if (!widget || !widget.content || !widget.content.model) return [];
  const errors = [];
  for (const cell of widget.content.model.cells) {
    const outputs = cell.toJSON().outputs || [];
    for (const output of outputs) {
      if (output.output_type === 'error') errors.push(output.ename + ': ' + output.evalue);
    }
  }
  return errors;
}
"""


def image_natural_width(image: Locator, *, timeout_ms: int = 30_000) -> int:
    """The natural width of an ``<img>`` once it has loaded; 0 if it fails or does not load in time."""
    return int(image.evaluate(_IMAGE_WIDTH_JS, timeout_ms))


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of the file at ``path``."""
    return sha256_bytes(path.read_bytes())


@dataclass
class NotebookPage:
    """A notebook opened in a browser page, with the actions and looks a user has."""

    page: Page
    panel_selector: str = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    script_errors: list[str] = field(default_factory=list)
    errors_before_ready: int = 0

    def __post_init__(self) -> None:
        """Record uncaught script errors and console errors from the moment the page is wrapped."""
        self.page.on("pageerror", self._on_page_error)
        self.page.on("console", self._on_console)
        self.page.on("response", self._on_response)

    @property
    def script_errors_since_ready(self) -> list[str]:
        """Script errors from the moment the notebook was ready (so: from our run and clicks)."""
        return self.script_errors[self.errors_before_ready :]

    def _on_page_error(self, error: Error) -> None:
        self.script_errors.append(f"uncaught: {error}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.script_errors.append(f"HTTP {response.status} {response.request.method} {response.url}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.script_errors.append(f"console: {message.text}")

    @property
    def panel(self) -> Locator:
        """The visible notebook panel."""
        return self.page.locator(self.panel_selector)

    @property
    def outputs(self) -> Locator:
        """Every output area of the notebook."""
        return self.panel.locator(".jp-OutputArea")

    def wait_until_ready(self, *, timeout_ms: int = 90_000) -> None:
        """Wait for the notebook to render and its kernel to be started and idle."""
        self.panel.locator(".jp-Cell").first.wait_for(state="visible", timeout=timeout_ms)
        status = self.page.wait_for_function(_KERNEL_READY_JS, timeout=timeout_ms, polling=250).json_value()
        if status == "dialog":
            text = self.page.locator(".jp-Dialog").first.inner_text()
            raise AssertionError(f"a dialog stands in front of the notebook: {text!r}")
        self.errors_before_ready = len(self.script_errors)

    def run_all(self) -> None:
        """Clear every output (Edit > Clear Outputs of All Cells), then Run > Run All Cells.

        Clearing first resets every prompt, so "every cell numbered" can only mean this run has finished.
        """
        self.click_menu("Edit", "editmenu:clear-all")
        self.panel.locator(".jp-OutputArea-output").first.wait_for(state="detached")
        self.click_menu("Run", "runmenu:run-all")

    def click_menu(self, menu: str, command: str) -> None:
        """Open ``menu`` in the menu bar and click the item that runs ``command``."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
        self.page.locator(f'.lm-Menu-item[data-command="{command}"]').click()

    def wait_until_run(self, *, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
        """Wait until every code cell has run and the kernel is idle; fail with the error if one broke."""
        status = self.page.wait_for_function(_RUN_FINISHED_JS, timeout=timeout_ms, polling=250).json_value()
        if status == "dialog":
            text = self.page.locator(".jp-Dialog").first.inner_text()
            raise AssertionError(f"a dialog interrupted the run: {text!r}")
        if status != "done":
            errors = self.page.evaluate(_ERRORS_JS)
            raise AssertionError(f"a cell failed while running all: {errors or status}")

    def errors(self) -> list[str]:
        """``ename: evalue`` of every error output in the notebook."""
        return list(self.page.evaluate(_ERRORS_JS))

    def output_text(self) -> str:
        """The text a user reads in the outputs."""
        return "\n".join(self.outputs.all_inner_texts())

    def output_hrefs(self) -> list[str]:
        """The raw ``href`` attribute of every link in the outputs."""
        links = self.outputs.locator("a[href]")
        return list(links.evaluate_all("(links) => links.map((a) => a.getAttribute('href'))"))

    def wait_for_image_loaded(self, image: Locator, *, timeout_ms: int = 30_000) -> int:
        """Wait until ``image`` has loaded (or failed), return its natural width (0 when broken)."""
        image.scroll_into_view_if_needed(timeout=timeout_ms)
        return image_natural_width(image, timeout_ms=timeout_ms)

    def screenshot(self, path: Path) -> Path:
        """Save a picture of the whole notebook (sidebar closed, viewport grown to fit), return its path."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.evaluate(_CLOSE_LEFT_SIDEBAR_JS)
        height = int(self.panel.evaluate(_NOTEBOOK_HEIGHT_JS))
        viewport = self.page.viewport_size or {"width": 1280, "height": 900}
        tall = min(max(height + 200, 900), 16_000)
        self.page.set_viewport_size({"width": viewport["width"], "height": tall})
        self.page.wait_for_function(_NOTEBOOK_FITS_JS, arg=self.panel_selector, polling="raf")
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(viewport)
        return path
