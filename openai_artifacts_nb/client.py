"""Build the official ``openai`` client from explicit settings or the SDK's own environment variables.

``openai`` is imported here, lazily, and nowhere at package import time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from openai_artifacts_nb.errors import ConfigurationError, redact_secrets

__all__ = ["BACKEND_ENV", "MISSING_CREDENTIALS", "PLACEHOLDER_API_KEY", "make_client", "redact_secrets"]

if TYPE_CHECKING:
    from openai import OpenAI

#: ``OPENAI_ARTIFACTS_BACKEND=local`` makes the magic use the embedded emulator with no code in the notebook.
BACKEND_ENV = "OPENAI_ARTIFACTS_BACKEND"

#: Sent as the API key to servers that need none (the local emulator, compatible servers reached by URL).
PLACEHOLDER_API_KEY = "sk-no-key-needed"

MISSING_CREDENTIALS = (
    "No OpenAI API key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server), "
    "or use the local emulator with `%openai local` or OPENAI_ARTIFACTS_BACKEND=local."
)


def make_client(
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    http_client: object = None,
) -> OpenAI:
    """Return an ``openai.OpenAI`` client.

    ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``. A base URL without a
    key is accepted (local and compatible servers); neither raises :class:`ConfigurationError`.
    ``http_client`` (an ``openai.DefaultHttpxClient``) is handed to the SDK: the recorder passes its own.
    """
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
    if api_key is None and base_url is None:
        raise ConfigurationError(MISSING_CREDENTIALS)
    from openai import OpenAI

    options: dict[str, object] = {}
    if max_retries is not None:
        options["max_retries"] = max_retries
    if timeout is not None:
        options["timeout"] = timeout
    if http_client is not None:
        options["http_client"] = http_client
    elif base_url is not None and base_url.lower().startswith("http://"):
        options["http_client"] = _plain_http_client()
    return OpenAI(api_key=api_key or PLACEHOLDER_API_KEY, base_url=base_url, **options)  # type: ignore[arg-type]


def _plain_http_client() -> object:
    """The SDK's HTTP client for a plain ``http://`` server (the emulator, a local compatible server).

    Loading the trusted certificates costs more than a whole download (70 ms on a busy 2-core machine) and
    a plain connection never uses them. Redirects are not followed, so no answer can lead the client to an
    ``https://`` address it would then trust unverified.
    """
    from openai import DefaultHttpxClient

    return DefaultHttpxClient(verify=False, follow_redirects=False)
