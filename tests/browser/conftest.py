"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a real JupyterLab on 127.0.0.1.

Chromium is the system one (``/usr/bin/chromium``; no browser can be downloaded here), launched headless with
background networking off. Without it the tests skip, except in CI (``CI=true``), where a missing browser is
a failure: CI installs it.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.jupyter_server import REPO, JupyterServer, copy_notebooks, running_server

OUTPUT_DIR = REPO / "tests" / "output"
CHROMIUM = Path(os.environ.get("OAI_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps dialling out on this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 60_000
_OUTPUTS_SINCE = pytest.StashKey[float]()


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """The system Chromium; skip without it, but fail in CI, which must have installed it."""
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM} (install Debian's package: apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must install it", pytrace=False)
    pytest.skip(reason)


# Package scope, not session: Playwright's sync API keeps an asyncio loop running in the main thread
# while it lives, and the tests after the browser tests (IPython cells with top-level await) need it free.
@pytest.fixture(scope="package")
def playwright_driver(chromium_executable: Path) -> Iterator[Playwright]:
    """The Playwright driver for the browser tests."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright, chromium_executable: Path) -> Iterator[Browser]:
    """Headless Chromium; Playwright gives it a fresh, empty profile folder on every launch."""
    browser = playwright_driver.chromium.launch(
        executable_path=str(chromium_executable), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary copy of ``notebooks/``: the folder JupyterLab serves, so runs never touch the repo."""
    return copy_notebooks(tmp_path_factory.mktemp("lab-root"))


@pytest.fixture(scope="session")
def jupyter_server(
    lab_root: Path, tmp_path_factory: pytest.TempPathFactory, chromium_executable: Path
) -> Iterator[JupyterServer]:
    """JupyterLab on 127.0.0.1 (a free port, a token), serving ``lab_root``, shut down after the session."""
    with running_server(lab_root, tmp_path_factory.mktemp("jupyter-home")) as server:
        yield server
    if server.leftovers:
        warnings.warn(
            f"processes still alive after the Jupyter server shut down (ended now): {server.leftovers}",
            stacklevel=1,
        )


def _new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context


@pytest.fixture
def browser_context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser context (own cookies, downloads accepted) for one test."""
    context = _new_context(browser)
    yield context
    context.close()


@pytest.fixture(scope="module")
def module_page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context shared by one module's tests (one expensive "run all", many checks)."""
    context = _new_context(browser)
    yield context.new_page()
    context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Page:
    """A page in the test's browser context."""
    return browser_context.new_page()


@pytest.fixture(scope="session")
def output_dir(pytestconfig: pytest.Config) -> Path:
    """``tests/output/`` (gitignored): where screenshots and other test outputs are kept."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    pytestconfig.stash[_OUTPUTS_SINCE] = time.time()
    return OUTPUT_DIR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Say where this run's screenshots landed."""
    since = config.stash.get(_OUTPUTS_SINCE, None)
    if since is None:
        return
    shots = sorted(path for path in OUTPUT_DIR.glob("*.png") if path.stat().st_mtime >= since)
    for shot in shots:
        terminalreporter.write_line(f"browser screenshot: {shot.relative_to(REPO)}")
