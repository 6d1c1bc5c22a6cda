"""The API errors the emulator answers with, as an exception the routes turn into an error body."""

from __future__ import annotations

from typing import Any

from openai_artifacts_nb.local.objects import error_body


class ApiFailure(Exception):
    """An error reply: HTTP status plus the ``{"error": {message, type, param, code}}`` fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        """Describe an error reply with ``status`` and the error object's fields."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """Return the JSON body of this error."""
        return error_body(self.message, type_=self.type, param=self.param, code=self.code)


def not_found(kind: str, object_id: str, *, param: str | None = None) -> ApiFailure:
    """Return the 404 for an unknown object, worded like upstream (``No such File object: file-…``)."""
    return ApiFailure(404, f"No such {kind} object: {object_id}", param=param)


def missing_parameter(name: str) -> ApiFailure:
    """Return the 400 for a required parameter that was not sent."""
    return ApiFailure(
        400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
    )


def container_expired(container_id: str, *, status: int = 400, param: str | None = None) -> ApiFailure:
    """Return the error for using an expired container (its files are gone, it cannot run code)."""
    return ApiFailure(
        status,
        f"Container is expired. Expected container_id: {container_id}",
        param=param,
        code="container_expired",
    )
