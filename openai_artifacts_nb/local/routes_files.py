"""``/v1/files``: multipart upload with ``purpose`` and ``expires_after``, list, retrieve, content, delete."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openai_artifacts_nb.local.failures import ApiFailure, missing_parameter, not_found
from openai_artifacts_nb.local.objects import deleted_json, file_json, list_page
from openai_artifacts_nb.local.state import StoredFile
from openai_artifacts_nb.local.wire import FileDownload, json_reply, page_params, service_of
from openai_artifacts_nb.local.workspace import copy_stream, safe_filename

UPLOAD_PURPOSES = {"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}


def _stored(request: Request) -> StoredFile:
    file_id = request.path_params["file_id"]
    stored = service_of(request).state.find_file(file_id)
    if stored is None:
        raise not_found("File", file_id, param="id")
    return stored


def _expires_at(anchor: object, seconds: object, *, now: int) -> int | None:
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise ApiFailure(
            400, "Invalid 'expires_after[anchor]': expected 'created_at'.", param="expires_after[anchor]"
        )
    try:
        count = int(str(seconds))
    except ValueError as error:
        raise ApiFailure(400, "Invalid 'expires_after[seconds]'.", param="expires_after[seconds]") from error
    if not 3600 <= count <= 2592000:
        raise ApiFailure(
            400, "Invalid 'expires_after[seconds]': expected 3600 to 2592000.", param="expires_after[seconds]"
        )
    return now + count


async def create_file(request: Request) -> Response:
    """``POST /v1/files`` (multipart: ``file``, ``purpose``, optional ``expires_after[...]``)."""
    state = service_of(request).state
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiFailure(400, "Expected a multipart/form-data body.")
    async with request.form(max_files=1) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise missing_parameter("file")
        purpose = form.get("purpose")
        if not isinstance(purpose, str) or not purpose:
            raise missing_parameter("purpose")
        if purpose not in UPLOAD_PURPOSES:
            raise ApiFailure(400, f"Invalid value for 'purpose': {purpose!r}.", param="purpose")
        expires_at = _expires_at(
            form.get("expires_after[anchor]"), form.get("expires_after[seconds]"), now=state.now()
        )
        disk_path = state.new_file_path()
        await run_in_threadpool(copy_stream, upload.file, disk_path)
        filename = safe_filename(upload.filename or "upload")
    stored = state.add_file(filename=filename, purpose=purpose, disk_path=disk_path, expires_at=expires_at)
    return json_reply(file_json(stored))


async def list_files(request: Request) -> Response:
    """``GET /v1/files`` (``purpose`` filter, cursor pagination; default ``limit`` 10000)."""
    params = page_params(request, default_limit=10000)
    files = service_of(request).state.list_files()
    purpose = request.query_params.get("purpose")
    if purpose:
        files = [f for f in files if f.purpose == purpose]
    return json_reply(
        list_page(files, to_json=file_json, sort_key=lambda f: (f.created_at, f.ordinal), **params)
    )


async def retrieve_file(request: Request) -> Response:
    """``GET /v1/files/{file_id}``."""
    return json_reply(file_json(_stored(request)))


async def file_content(request: Request) -> Response:
    """``GET /v1/files/{file_id}/content``: the bytes, streamed from disk."""
    stored = _stored(request)
    faults = service_of(request).faults
    stall = faults.take_stall()
    stop = faults.take_truncation() if stall is None else None
    return FileDownload(stored.disk_path, filename=stored.filename, stop_fraction=stop, stall_after=stall)


async def delete_file(request: Request) -> Response:
    """``DELETE /v1/files/{file_id}``."""
    stored = _stored(request)
    service_of(request).state.delete_file(stored.id)
    return json_reply(deleted_json(stored.id, "file"))


ROUTES = [
    Route("/v1/files", create_file, methods=["POST"]),
    Route("/v1/files", list_files, methods=["GET"]),
    Route("/v1/files/{file_id}", retrieve_file, methods=["GET"]),
    Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
]
