"""The Files API of the emulator: multipart upload, purpose filter, pagination, content, delete, expiry."""

from __future__ import annotations

import openai
import pytest

from openai_artifacts_nb.local import LocalServer


def test_upload_retrieve_content_delete(client: openai.OpenAI) -> None:
    created = client.files.create(file=("report.pdf", b"%PDF-1.4 fake"), purpose="assistants")
    assert created.id.startswith("file-") and created.object == "file"
    assert (created.filename, created.bytes, created.purpose, created.status) == (
        "report.pdf",
        13,
        "assistants",
        "processed",
    )
    assert created.expires_at is None
    assert client.files.retrieve(created.id).filename == "report.pdf"
    assert client.files.content(created.id).read() == b"%PDF-1.4 fake"
    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "file")
    with pytest.raises(openai.NotFoundError) as caught:
        client.files.retrieve(created.id)
    assert caught.value.body == {
        "message": f"No such File object: {created.id}",
        "type": "invalid_request_error",
        "param": "id",
        "code": None,
    }


def test_list_filters_by_purpose_and_paginates(client: openai.OpenAI) -> None:
    ids = [client.files.create(file=(f"v{n}.png", b"x"), purpose="vision").id for n in range(3)]
    client.files.create(file=("other.jsonl", b"{}"), purpose="batch")
    vision = [f.id for f in client.files.list(purpose="vision", order="asc")]
    assert vision[-3:] == ids
    page = client.files.list(purpose="vision", limit=2)
    assert page.has_more and [f.id for f in page.data] == ids[::-1][:2]
    assert [f.id for f in client.files.list(purpose="vision", limit=2, order="asc")][-3:] == ids


def test_expires_after_sets_expires_at_and_is_checked(client: openai.OpenAI, emulator: LocalServer) -> None:
    created = client.files.create(
        file=("short.txt", b"soon"),
        purpose="user_data",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert created.expires_at == created.created_at + 3600
    with pytest.raises(openai.BadRequestError):
        client.files.create(
            file=("bad.txt", b"x"), purpose="user_data", expires_after={"anchor": "created_at", "seconds": 5}
        )
    emulator.service.state.files[created.id].expires_at = created.created_at - 1
    with pytest.raises(openai.NotFoundError):
        client.files.content(created.id)


def test_bad_purpose_and_missing_file_are_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("a.txt", b"a"), purpose="nonsense")  # type: ignore[arg-type]
    assert caught.value.param == "purpose"
    with pytest.raises(openai.BadRequestError):
        client.post("/files", body={"purpose": "assistants"}, cast_to=object)
