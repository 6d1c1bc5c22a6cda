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
stderr and a non-zero exit. Messages never contain an API key.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "ArtifactsError",
    "ConfigurationError",
    "ContainerExpiredError",
    "DownloadError",
    "FileMissingError",
    "ReplyError",
]


class ArtifactsError(Exception):
    """Root of every error this package raises."""


class ConfigurationError(ArtifactsError):
    """The client cannot be set up: no API key or base URL, or a setting has a bad value."""


class ReplyError(ArtifactsError):
    """A reply, id or JSON document could not be understood."""


class ApiError(ArtifactsError):
    """The API answered with an error.

    ``status`` is the HTTP status (``None`` for connection failures) and ``hint`` says what the user can do.
    """

    def __init__(self, message: str, *, status: int | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} {self.hint}".strip() if self.hint else text


class DownloadError(ArtifactsError):
    """One artifact could not be saved; ``container_id`` and ``file_id`` say which."""

    def __init__(self, message: str, *, container_id: str | None = None, file_id: str | None = None) -> None:
        super().__init__(message)
        self.container_id = container_id
        self.file_id = file_id


class FileMissingError(DownloadError):
    """The file no longer exists (404) in its container or in the Files store."""


class ContainerExpiredError(DownloadError):
    """The container expired after being idle; its files are gone and cannot be recovered."""
