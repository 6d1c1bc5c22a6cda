"""The package's errors, one tree.

::

    ArtifactsError                  root: catch this to catch everything we raise
    ├── ConfigurationError          no API key or base URL, a bad setting or flag value
    ├── ReplyError                  a reply, id or JSON we cannot read
    ├── ApiError                    the API answered with an error (status, message, what to do)
    └── DownloadError               one file could not be saved (the others still are)
        ├── FileMissingError        the file is gone from its container or from Files
        └── ContainerExpiredError   the container expired, and its files with it

Core code raises these; the magic turns them into a one-line ``UsageError``; the CLI into one line on
stderr and a non-zero exit. :mod:`~openai_artifacts_nb.api_errors` maps the SDK's exceptions onto this tree.

Every message is made one line and redacted here, once: :class:`ArtifactsError` runs its text through
:func:`redact_secrets` (the ``secret`` given, and anything shaped like an OpenAI key), so no error raised
by this package can carry a key into an output, a file or a log.
"""

from __future__ import annotations

import re

# ``__all__`` is the tree itself; the redaction helpers the tree uses are importable too.
__all__ = [
    "ApiError",
    "ArtifactsError",
    "ConfigurationError",
    "ContainerExpiredError",
    "DownloadError",
    "FileMissingError",
    "ReplyError",
]

#: What a key becomes in an error message: it says a key was there and that it is hidden.
REDACTED = "sk-…[redacted]"
_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,})")


def redact_secrets(text: str, api_key: object = None, *, marker: str = "[redacted]") -> str:
    """Return ``text`` with ``api_key`` and anything shaped like an OpenAI key replaced by ``marker``.

    Every error message passes through here (see :class:`ArtifactsError`), so a key echoed back by a
    server (or pasted into a prompt) never reaches an output, a file or a log.
    """
    if isinstance(api_key, str) and len(api_key) >= 4:
        text = text.replace(api_key, marker)
    return _KEY_LIKE.sub(marker, text)


def one_line(text: str) -> str:
    """Return ``text`` with every run of whitespace (line breaks included) made one space."""
    return " ".join(text.split())


class ArtifactsError(Exception):
    """Root of every error this package raises.

    The message is made one line and redacted (``secret``, and anything shaped like a key) on the way in.
    """

    def __init__(self, message: str = "", *, secret: object = None) -> None:
        super().__init__(one_line(redact_secrets(str(message), secret, marker=REDACTED)))


class ConfigurationError(ArtifactsError):
    """The client cannot be set up: no API key or base URL, or a setting has a bad value."""


class ReplyError(ArtifactsError):
    """A reply, id or JSON document could not be understood."""


class ApiError(ArtifactsError):
    """The API answered with an error.

    ``status`` is the HTTP status (``None`` for connection failures), ``code`` the API's error code (such
    as ``previous_response_not_found``) and ``hint`` says what the user can do.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        hint: str = "",
        code: str | None = None,
        secret: object = None,
    ) -> None:
        super().__init__(message, secret=secret)
        self.status = status
        self.hint = one_line(redact_secrets(hint, secret, marker=REDACTED))
        self.code = code

    def with_hint(self, hint: str) -> ApiError:
        """Return the same error with ``hint`` added after the hint it has (the magic adds its own)."""
        joined = f"{self.hint} {hint}".strip() if hint else self.hint
        return ApiError(str(self.args[0]), status=self.status, hint=joined, code=self.code)

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} {self.hint}".strip() if self.hint else text


class DownloadError(ArtifactsError):
    """One artifact could not be saved; ``container_id`` and ``file_id`` say which."""

    def __init__(
        self,
        message: str,
        *,
        container_id: str | None = None,
        file_id: str | None = None,
        secret: object = None,
    ) -> None:
        super().__init__(message, secret=secret)
        self.container_id = container_id
        self.file_id = file_id


class FileMissingError(DownloadError):
    """The file no longer exists (404) in its container or in the Files store."""


class ContainerExpiredError(DownloadError):
    """The container expired after being idle; its files are gone and cannot be recovered."""
