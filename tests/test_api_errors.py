"""SDK exceptions mapped once: wording, hints, the expired-container rule, and keys never in a message."""

from __future__ import annotations

import httpx2
import openai
import pytest

from openai_artifacts_nb.api_errors import file_error, from_sdk_error, is_container_expired
from openai_artifacts_nb.errors import (
    ApiError,
    ArtifactsError,
    ContainerExpiredError,
    DownloadError,
    FileMissingError,
)
from openai_artifacts_nb.reply import ArtifactRef

SECRET = "sk-proj-abcdefghijklmnop"


def _status_error(status: int, message: str, code: str | None = None) -> openai.APIStatusError:
    request = httpx2.Request("GET", "http://127.0.0.1/v1/containers/cntr_1/files")
    body = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    response = httpx2.Response(status, request=request, json={"error": body})
    cls = {400: openai.BadRequestError, 401: openai.AuthenticationError, 404: openai.NotFoundError}.get(
        status, openai.APIStatusError
    )
    return cls(f"Error code: {status}", response=response, body=body)


def test_a_request_error_is_one_line_with_status_code_and_hint() -> None:
    error = from_sdk_error(_status_error(401, f"Incorrect API key\nprovided: {SECRET}"), secret=SECRET)
    assert isinstance(error, ApiError) and (error.status, error.code) == (401, None)
    assert (
        str(error) == "OpenAI API error 401: Incorrect API key provided: sk-…[redacted] Check OPENAI_API_KEY."
    )
    missing = from_sdk_error(_status_error(404, "No such Response object"), what="resp_x")
    assert str(missing).startswith("resp_x was not found (OpenAI API error 404: No such Response object)")
    server = from_sdk_error(_status_error(503, "busy"))
    assert str(server) == "OpenAI API error 503: busy The service had a problem; try again."
    assert "%openai" not in str(error) + str(missing) + str(server), "notebook hints are the magic's"


def test_a_connection_error_names_where() -> None:
    request = httpx2.Request("GET", "http://127.0.0.1:9/v1/responses")
    error = from_sdk_error(openai.APIConnectionError(request=request), base_url="http://127.0.0.1:9/v1/")
    assert str(error) == "Cannot reach the API at http://127.0.0.1:9/v1. Check the base URL and the network."
    assert error.status is None


def test_one_rule_for_an_expired_container() -> None:
    assert is_container_expired(_status_error(400, "Container is expired.", code="container_expired"))
    assert is_container_expired(_status_error(404, "Container cntr_1 expired"))
    assert is_container_expired(_status_error(400, "Container not found"))
    assert not is_container_expired(_status_error(404, "No such File object: cfile_1"))
    assert not is_container_expired(_status_error(500, "container expired?"))
    assert not is_container_expired(RuntimeError("container expired"))


def test_a_file_error_names_the_file_and_its_container() -> None:
    ref = ArtifactRef(store="container", container_id="cntr_1", file_id="cfile_1", filename="a.csv")
    expired = file_error(_status_error(400, "Container is expired.", code="container_expired"), ref)
    assert isinstance(expired, ContainerExpiredError)
    assert (expired.container_id, expired.file_id) == ("cntr_1", "cfile_1")
    asked: list[bool] = []
    missing = file_error(
        _status_error(404, "No such object"), ref, container_expired=lambda: asked.append(True) or False
    )
    assert isinstance(missing, FileMissingError) and asked == [True]
    assert (
        str(missing)
        == "a.csv (cfile_1) no longer exists in container cntr_1: run the code again to make it anew."
    )
    with pytest.raises(RuntimeError):
        file_error(RuntimeError("a bug"), ref)


def test_the_error_tree_redacts_and_makes_one_line_itself() -> None:
    for error in (
        ArtifactsError(f"key {SECRET}\nleaked"),
        DownloadError(f"custom secret-value-1234 in\n{SECRET}", secret="secret-value-1234"),
        ApiError(f"line one\nline two {SECRET}", hint="do\nthis"),
    ):
        text = str(error)
        assert SECRET not in text and "secret-value-1234" not in text and "\n" not in text
        assert "sk-…[redacted]" in text
