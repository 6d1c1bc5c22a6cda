"""Fixtures for the emulator tests: one emulator per session, an SDK client on it, faults reset per test.

``emulator`` is a started :class:`~openai_artifacts_nb.local.LocalServer` on 127.0.0.1 shared by the whole
session (stopped, kernels and all, at the end). ``client`` is an ``openai.OpenAI`` pointed at it. Any test
that uses ``emulator`` gets its faults switched off again afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import openai

    from openai_artifacts_nb.local import LocalServer


@pytest.fixture(scope="session")
def emulator() -> Iterator[LocalServer]:
    """The session's local OpenAI emulator (30 s per code call, so a runaway test fails fast)."""
    from openai_artifacts_nb.local import LocalServer

    with LocalServer(exec_timeout=30.0) as server:
        yield server


@pytest.fixture
def client(emulator: LocalServer) -> openai.OpenAI:
    """An ``openai.OpenAI`` client on the session emulator (any key works there)."""
    import openai

    return openai.OpenAI(base_url=emulator.base_url, api_key="sk-test-emulator")


@pytest.fixture(autouse=True)
def _reset_emulator_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Switch the session emulator's faults off after every test that used it."""
    yield
    if "emulator" in request.fixturenames:
        server: LocalServer = request.getfixturevalue("emulator")
        server.faults.reset()
