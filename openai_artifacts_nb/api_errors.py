"""The SDK's exceptions mapped onto the package's error tree, in one place.

:func:`from_sdk_error` turns an ``openai`` exception raised by a request into an
:class:`~openai_artifacts_nb.errors.ApiError` (one line, the status, a hint of what to do);
:func:`file_error` turns one raised while saving a file into a
:class:`~openai_artifacts_nb.errors.DownloadError` (or :class:`~openai_artifacts_nb.errors.FileMissingError`,
:class:`~openai_artifacts_nb.errors.ContainerExpiredError`) naming the container and the file;
:func:`is_container_expired` is the one rule for "the error says the container has expired", and
:func:`container_is_gone` the one question to ask the API about it. Redaction and one-line
messages are the error tree's own job. Hints here fit any caller; the magic adds notebook ones
(``%openai local``). ``openai`` is imported only when an error is mapped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from openai_artifacts_nb.errors import ApiError, ContainerExpiredError, DownloadError, FileMissingError

if TYPE_CHECKING:
    from openai import OpenAI

    from openai_artifacts_nb.reply import ArtifactRef

__all__ = ["HINTS", "container_is_gone", "file_error", "from_sdk_error", "is_container_expired", "where_is"]

#: What the user can do about each HTTP status (5xx: :data:`SERVER_HINT`).
HINTS = {
    400: "Check the prompt and the options.",
    401: "Check OPENAI_API_KEY.",
    403: "The key has no access to this model or region.",
    404: "Check the model name and the ids (a reply is found by id only if it was stored).",
    429: "Wait a moment and try again, or check your plan's limits.",
}
SERVER_HINT = "The service had a problem; try again."
CONNECTION_HINT = "Check the base URL and the network."
_GONE = frozenset({"expired", "deleted"})


def _detail(error: BaseException) -> str:
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or getattr(error, "message", "") or error)


def from_sdk_error(
    error: BaseException, *, what: str | None = None, secret: object = None, base_url: str | None = None
) -> ApiError:
    """Return the SDK exception ``error`` (raised by a request about ``what``) as an :class:`ApiError`.

    ``secret`` (the client's key) is redacted from the message; ``base_url`` names where a connection failed.
    """
    import openai

    prefix = f"{what}: " if what else ""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, openai.APIConnectionError):
        where = f"the API at {base_url.rstrip('/')}" if base_url else "the API"
        reach = f"cannot reach {where}" if what else f"Cannot reach {where}"
        return ApiError(f"{prefix}{reach}.", hint=CONNECTION_HINT, secret=secret)
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        code = getattr(error, "code", None)
        detail = _detail(error)
        hint = HINTS.get(status, SERVER_HINT if status >= 500 else "")
        if status == 404 and what:
            message = f"{what} was not found (OpenAI API error 404: {detail})"
        else:
            message = f"{prefix}OpenAI API error {status}: {detail}"
        return ApiError(message, status=status, hint=hint, code=code, secret=secret)
    return ApiError(f"{prefix}{error}" if str(error) else f"{prefix}{type(error).__name__}", secret=secret)


def is_container_expired(error: BaseException) -> bool:
    """Whether the SDK error says the container it was about has expired (or is gone).

    Upstream answers ``code: "container_expired"``; an answer without that code counts when it is a 400 or
    404 whose message speaks of the container being expired or not found.
    """
    import openai

    if getattr(error, "code", None) == "container_expired":
        return True
    if not isinstance(error, (openai.BadRequestError, openai.NotFoundError)):
        return False
    text = _detail(error).lower()
    return "container" in text and ("expired" in text or "not found" in text)


def container_is_gone(client: OpenAI, container_id: str) -> bool:
    """Ask the API whether ``container_id`` has expired or was deleted (its status says so, or it is not
    found). Other API errors propagate."""
    import openai

    try:
        container = client.containers.retrieve(container_id)
    except openai.NotFoundError:
        return True
    return str(getattr(container, "status", "") or "").lower() in _GONE


def file_error(
    error: BaseException,
    ref: ArtifactRef,
    *,
    secret: object = None,
    container_expired: Callable[[], bool] | None = None,
) -> DownloadError:
    """Return the SDK exception ``error``, raised while saving ``ref``, as a :class:`DownloadError`.

    A 404 is an expired container when :func:`is_container_expired` says so or, for a container file,
    when ``container_expired()`` (which may ask the API) does; else the file is missing. Anything that is
    not an SDK error is raised again: it is a bug, not a download failure.
    """
    import openai

    if isinstance(error, DownloadError):
        return error
    name = ref.display_name
    where = where_is(ref)

    def made(kind: type[DownloadError], message: str) -> DownloadError:
        return kind(message, container_id=ref.container_id, file_id=ref.file_id, secret=secret)

    expired_code = getattr(error, "code", None) == "container_expired"
    if isinstance(error, openai.NotFoundError) or (expired_code and isinstance(error, openai.APIStatusError)):
        if ref.store == "container" and (
            is_container_expired(error) or (container_expired is not None and container_expired())
        ):
            return made(
                ContainerExpiredError,
                f"{name} ({ref.file_id}) is gone: container {ref.container_id} has expired "
                "(containers expire after 20 idle minutes, and their files with them); "
                "run the code again to make the file anew.",
            )
        hint = (
            "run the code again to make it anew."
            if ref.store == "container"
            else "it may have been deleted or have expired; run the code again to make it anew."
        )
        return made(FileMissingError, f"{name} ({ref.file_id}) no longer exists{where}: {hint}")
    if isinstance(error, openai.APIStatusError):
        return made(DownloadError, f"{name} ({ref.file_id}{where}) could not be downloaded: {error}")
    if isinstance(error, openai.APIConnectionError):
        return made(
            DownloadError,
            f"{name} ({ref.file_id}{where}) could not be downloaded: cannot reach the API ({error}); "
            "check the base URL and network, then retry.",
        )
    raise error


def where_is(ref: ArtifactRef) -> str:
    """Where ``ref`` lives, as words to put after its id: `` in container cntr_…``, `` in Files``."""
    if ref.store == "container":
        return f" in container {ref.container_id}"
    if ref.store == "files":
        return " in Files"
    return ""
