"""The key never leaves: redaction at the few boundaries where text leaves the package.

Text leaves through four doors, and each has one guard here, so no call site has to remember:

* the cell's outputs: :func:`redacting_display` wraps the ``display`` function (and the handles it returns)
  that :mod:`~openai_artifacts_nb.cell_output` and the stream use, so every MIME bundle shown, the reply,
  code logs, notices, failure lines, previews, is redacted on its way out;
* the CLI's stdout and stderr: :func:`redacted_streams` (used by ``openai-artifacts``' ``main``);
* log records: :func:`logger` returns a package logger carrying :class:`RedactingFilter` (message, arguments
  and the formatted traceback);
* exceptions: :class:`~openai_artifacts_nb.errors.ArtifactsError` redacts its own message, and the magic
  turns anything else into one redacted line (:func:`one_line_error`).

What is redacted: the key the client uses (``secret``) and anything shaped like an OpenAI key (``sk-…``),
see :func:`~openai_artifacts_nb.errors.redact_secrets`. Nothing here imports IPython.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from openai_artifacts_nb.errors import REDACTED, one_line, redact_secrets

__all__ = [
    "Redacted",
    "RedactingFilter",
    "RedactingWriter",
    "logger",
    "one_line_error",
    "redact",
    "redacted_streams",
    "redacting_display",
    "unexpected",
]


def redact(value: Any, secret: object = None) -> Any:
    """Return ``value`` with every string in it (nested in dicts, lists and tuples too) redacted."""
    if isinstance(value, str):
        return redact_secrets(value, secret, marker=REDACTED)
    if isinstance(value, dict):
        return {key: redact(item, secret) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item, secret) for item in value)
    return value


class Redacted:
    """A displayable that shows ``obj``'s MIME bundle with every text in it redacted."""

    def __init__(self, obj: Any, secret: object = None) -> None:
        """Wrap ``obj`` (anything with ``_repr_mimebundle_``, or a plain value shown as text)."""
        self.obj = obj
        self._secret = secret

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> Any:
        method = getattr(self.obj, "_repr_mimebundle_", None)
        bundle = (
            method(include=include, exclude=exclude, **kwargs) if method else {"text/plain": str(self.obj)}
        )
        return redact(bundle, self._secret)

    def __repr__(self) -> str:
        return redact_secrets(repr(self.obj), self._secret, marker=REDACTED)


def _is_widget(obj: Any) -> bool:
    # A widget's view is its model id, drawn by the front end; it is shown as it is (our widgets carry file
    # names and bytes the user asked for, never the key).
    return hasattr(obj, "_model_id") or hasattr(obj, "comm")


class _RedactedHandle:
    """A ``DisplayHandle`` whose updates are redacted too."""

    def __init__(self, handle: Any, secret: object) -> None:
        self._handle = handle
        self._secret = secret

    def update(self, obj: Any, **kwargs: Any) -> None:
        self._handle.update(obj if _is_widget(obj) else Redacted(obj, self._secret), **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def redacting_display(display: Callable[..., Any], secret: object = None) -> Callable[..., Any]:
    """Return ``display`` made to redact everything it shows, and every update of the handles it returns."""

    def show(obj: Any, **kwargs: Any) -> Any:
        handle = display(obj if _is_widget(obj) else Redacted(obj, secret), **kwargs)
        return _RedactedHandle(handle, secret) if handle is not None else None

    return show


class RedactingWriter:
    """A text stream that redacts what is written to it, line by line as it comes."""

    def __init__(self, stream: TextIO, secret: object = None) -> None:
        """Write to ``stream``, redacted."""
        self.stream = stream
        self._secret = secret

    def write(self, text: str) -> int:
        """Write ``text``, redacted."""
        self.stream.write(redact_secrets(text, self._secret, marker=REDACTED))
        return len(text)

    def flush(self) -> None:
        """Flush the stream."""
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def redacted_streams(secret: object = None) -> Iterator[None]:
    """Redact everything written to ``sys.stdout`` and ``sys.stderr`` while the block runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout = RedactingWriter(saved[0], secret)
    sys.stderr = RedactingWriter(saved[1], secret)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments and traceback before any handler formats it."""

    def __init__(self, secret: object = None) -> None:
        """Redact ``secret`` and anything key-shaped."""
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` redacted; never drop it."""
        record.msg = redact_secrets(record.getMessage(), self.secret, marker=REDACTED)
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_secrets(text, self.secret, marker=REDACTED)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_secrets(record.stack_info, self.secret, marker=REDACTED)
        return True


def logger(name: str = "openai_artifacts_nb", secret: object = None) -> logging.Logger:
    """The package logger ``name``, with a :class:`RedactingFilter` (one per logger; ``secret`` is added to
    what it redacts). Filters act where a record is made, so every logger of ours is made here."""
    log = logging.getLogger(name)
    package = logging.getLogger("openai_artifacts_nb")
    if not any(isinstance(handler, logging.NullHandler) for handler in package.handlers):
        # A library's records go where the application sends them, never to stderr by default.
        package.addHandler(logging.NullHandler())
    for existing in log.filters:
        if isinstance(existing, RedactingFilter):
            if secret is not None:
                existing.secret = secret
            return log
    log.addFilter(RedactingFilter(secret))
    return log


def one_line_error(error: BaseException, secret: object = None) -> str:
    """``"Type: message"`` of an unexpected exception, one line, redacted (its traceback goes to the log)."""
    text = one_line(f"{type(error).__name__}: {error}")
    return redact_secrets(text[:500], secret, marker=REDACTED)


def unexpected(error: BaseException, secret: object = None) -> str:
    """Log ``error``'s traceback (redacted) and return the one line to show instead of it."""
    logger(secret=secret).error("unexpected error", exc_info=(type(error), error, error.__traceback__))
    line = one_line_error(error, secret)
    return f"Unexpected error (a bug; its traceback is in the openai_artifacts_nb log): {line}"
