"""``/v1/containers`` and their files: create, list, retrieve, delete, and streamed file content.

Any use of a running container (retrieve, or anything on its files) refreshes ``last_active_at``. After
expiry the container stays retrievable with ``status: "expired"``, its file list is empty, its files answer
404 (``code: "container_expired"``) and adding files answers 400. User uploads land at
``/mnt/data/<original name>`` (upstream prefixes 32 hex digits; a plain name lets code open it predictably).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openai_artifacts_nb.local.confinement import MEMORY_LIMITS
from openai_artifacts_nb.local.failures import ApiFailure, container_expired, missing_parameter, not_found
from openai_artifacts_nb.local.objects import container_file_json, container_json, deleted_json, list_page
from openai_artifacts_nb.local.state import Container, ContainerFile
from openai_artifacts_nb.local.wire import FileDownload, json_reply, page_params, read_json, service_of
from openai_artifacts_nb.local.workspace import copy_stream, safe_filename


def _container(request: Request) -> Container:
    """Return the container named in the path (expiry applied), or raise 404."""
    container_id = request.path_params["container_id"]
    container = service_of(request).state.find_container(container_id)
    if container is None or container.internal:
        raise ApiFailure(404, f"Container with id '{container_id}' not found.", param="container_id")
    return container


def _live_container(request: Request, *, status: int = 404) -> Container:
    """Return the named container if it is still running (refreshing its activity), else raise."""
    container = _container(request)
    if not container.active:
        raise container_expired(container.id, status=status)
    service_of(request).state.touch(container)
    return container


def _container_file(request: Request) -> tuple[Container, ContainerFile]:
    container = _live_container(request)
    file_id = request.path_params["file_id"]
    record = container.files.get(file_id)
    if record is None:
        raise not_found("Container File", file_id, param="file_id")
    return container, record


async def create_container(request: Request) -> Response:
    """``POST /v1/containers``."""
    service = service_of(request)
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise missing_parameter("name")
    memory_limit = str(body.get("memory_limit") or "1g")
    if memory_limit not in MEMORY_LIMITS:
        raise ApiFailure(
            400,
            f"Invalid value for 'memory_limit': {memory_limit!r}. "
            f"Expected one of {', '.join(MEMORY_LIMITS)}.",
            param="memory_limit",
        )
    minutes = None
    expires_after = body.get("expires_after")
    if expires_after is not None:
        if not isinstance(expires_after, dict) or expires_after.get("anchor") != "last_active_at":
            raise ApiFailure(
                400, "Invalid 'expires_after': anchor must be 'last_active_at'.", param="expires_after"
            )
        if not isinstance(expires_after.get("minutes"), int) or not 1 <= expires_after["minutes"] <= 20:
            raise ApiFailure(
                400, "Invalid 'expires_after.minutes': expected 1 to 20.", param="expires_after.minutes"
            )
        minutes = int(expires_after["minutes"])
    stored_files = []
    for file_id in body.get("file_ids") or []:
        stored = service.state.find_file(str(file_id))
        if stored is None:
            raise not_found("File", str(file_id), param="file_ids")
        stored_files.append(stored)
    container = service.state.create_container(name=name, expires_minutes=minutes, memory_limit=memory_limit)
    for stored in stored_files:
        await run_in_threadpool(service.copy_file_into, container, stored)
    return json_reply(container_json(container))


async def list_containers(request: Request) -> Response:
    """``GET /v1/containers`` (cursor pagination, optional ``name`` filter)."""
    params = page_params(request, default_limit=20)
    containers = service_of(request).state.list_containers()
    name = request.query_params.get("name")
    if name is not None:
        containers = [c for c in containers if c.name == name]
    page = list_page(
        containers, to_json=container_json, sort_key=lambda c: (c.created_at, c.ordinal), **params
    )
    return json_reply(page)


async def retrieve_container(request: Request) -> Response:
    """``GET /v1/containers/{container_id}``."""
    container = _container(request)
    service_of(request).state.touch(container)
    return json_reply(container_json(container))


async def delete_container(request: Request) -> Response:
    """``DELETE /v1/containers/{container_id}``: the container, its files and its kernel go."""
    container = _container(request)
    await run_in_threadpool(service_of(request).state.delete_container, container.id)
    return json_reply(deleted_json(container.id, "container.deleted"))


async def create_container_file(request: Request) -> Response:
    """``POST /v1/containers/{container_id}/files``: a multipart upload, or JSON ``{"file_id": …}``."""
    service = service_of(request)
    container = _live_container(request, status=400)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise missing_parameter("file")
            name = safe_filename(upload.filename or "upload")
            await run_in_threadpool(copy_stream, upload.file, container.data_dir / name)
        record = service.state.register_container_file(container, name, source="user")
        return json_reply(container_file_json(record))
    body = await read_json(request)
    file_id = body.get("file_id")
    if not file_id:
        raise missing_parameter("file_id")
    stored = service.state.find_file(str(file_id))
    if stored is None:
        raise not_found("File", str(file_id), param="file_id")
    record = await run_in_threadpool(service.copy_file_into, container, stored)
    return json_reply(container_file_json(record))


async def list_container_files(request: Request) -> Response:
    """``GET /v1/containers/{container_id}/files`` (empty once the container expired)."""
    params = page_params(request, default_limit=20)
    container = _container(request)
    state = service_of(request).state
    state.touch(container)
    with state.lock:
        files = list(container.files.values())
    page = list_page(
        files, to_json=container_file_json, sort_key=lambda f: (f.created_at, f.ordinal), **params
    )
    return json_reply(page)


async def retrieve_container_file(request: Request) -> Response:
    """``GET /v1/containers/{container_id}/files/{file_id}``."""
    _container, record = _container_file(request)
    return json_reply(container_file_json(record))


async def container_file_content(request: Request) -> Response:
    """``GET /v1/containers/{container_id}/files/{file_id}/content``: the bytes, streamed from disk."""
    _container, record = _container_file(request)
    if not record.disk_path.is_file():
        raise not_found("Container File", record.id, param="file_id")
    faults = service_of(request).faults
    stall = faults.take_stall()
    stop = faults.take_truncation() if stall is None else None
    return FileDownload(record.disk_path, filename=record.path, stop_fraction=stop, stall_after=stall)


async def delete_container_file(request: Request) -> Response:
    """``DELETE /v1/containers/{container_id}/files/{file_id}``."""
    container, record = _container_file(request)
    service_of(request).state.remove_container_file(container, record.id)
    return json_reply(deleted_json(record.id, "container.file.deleted"))


ROUTES = [
    Route("/v1/containers", create_container, methods=["POST"]),
    Route("/v1/containers", list_containers, methods=["GET"]),
    Route("/v1/containers/{container_id}", retrieve_container, methods=["GET"]),
    Route("/v1/containers/{container_id}", delete_container, methods=["DELETE"]),
    Route("/v1/containers/{container_id}/files", create_container_file, methods=["POST"]),
    Route("/v1/containers/{container_id}/files", list_container_files, methods=["GET"]),
    Route("/v1/containers/{container_id}/files/{file_id}", retrieve_container_file, methods=["GET"]),
    Route("/v1/containers/{container_id}/files/{file_id}", delete_container_file, methods=["DELETE"]),
    Route("/v1/containers/{container_id}/files/{file_id}/content", container_file_content, methods=["GET"]),
]
