"""Fixtures shared by the whole suite, and the test tiers.

Each area keeps its own fixtures in a plugin module under ``tests/plugins/`` so that parallel work on the
emulator, the engine and the magic never edits the same file.

Tiers: a test that uses the emulator (whose containers are real kernels) or starts a kernel itself is
marked ``kernel``; the browser tests are marked ``browser``. ``make test-fast`` runs the rest
(``-m "not kernel and not browser"``). Without Playwright the browser tests are not collected, except in
CI (``CI=true``), where a missing Playwright must fail loudly.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

pytest_plugins = [
    "tests.plugins.emulator",
    "tests.plugins.engine",
    "tests.plugins.notebook",
]

#: Fixtures whose use means real kernels: an emulator runs every container's code in one.
KERNEL_FIXTURES = frozenset({"emulator", "short_lived"})
#: Modules whose tests start kernels or emulators of their own (KernelSandbox, LocalServer, nbclient).
KERNEL_MODULES = frozenset({"test_local_kernels", "test_local_server", "test_notebooks", "test_runner"})

collect_ignore_glob: list[str] = []
if importlib.util.find_spec("playwright") is None and os.environ.get("CI", "").lower() != "true":
    collect_ignore_glob.append("browser/*")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs kernels ``kernel``, so the fast tier can leave it out."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if getattr(item, "module", None) else ""
        if KERNEL_FIXTURES & set(getattr(item, "fixturenames", ())) or module in KERNEL_MODULES:
            item.add_marker(pytest.mark.kernel)
