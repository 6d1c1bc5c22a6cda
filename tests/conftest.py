"""Fixtures shared by the whole suite.

Each area keeps its own fixtures in a plugin module under ``tests/plugins/`` so that parallel work on the
emulator, the engine and the magic never edits the same file.
"""

pytest_plugins = [
    "tests.plugins.emulator",
    "tests.plugins.engine",
    "tests.plugins.notebook",
]
