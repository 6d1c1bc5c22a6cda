"""JSON bodies of the emulator: cursor pages and the response envelope."""

from __future__ import annotations

from typing import Any

from openai_artifacts_nb.local.objects import error_body, list_page, response_json, usage_json


def page(**options: Any) -> dict[str, Any]:
    """A page over ten items ``it_0``…``it_9`` created in that order."""
    items = list(range(10))
    return list_page(items, to_json=lambda n: {"id": f"it_{n}"}, sort_key=lambda n: n, **options)


def ids(body: dict[str, Any]) -> list[str]:
    """The ids on a page."""
    return [item["id"] for item in body["data"]]


def test_pages_follow_the_cursor_in_both_orders() -> None:
    first = page(limit=4)
    assert ids(first) == ["it_9", "it_8", "it_7", "it_6"]
    assert (first["first_id"], first["last_id"], first["has_more"]) == ("it_9", "it_6", True)
    assert ids(page(limit=4, after="it_6")) == ["it_5", "it_4", "it_3", "it_2"]
    last = page(limit=4, after="it_2")
    assert ids(last) == ["it_1", "it_0"] and last["has_more"] is False
    assert ids(page(limit=3, order="asc", after="it_6")) == ["it_7", "it_8", "it_9"]
    assert ids(page(limit=2, before="it_3", order="asc")) == ["it_1", "it_2"]


def test_empty_page() -> None:
    empty = list_page([], to_json=lambda n: {"id": n}, sort_key=lambda n: n)
    assert empty == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def test_response_envelope_echoes_the_request() -> None:
    request = {
        "model": "gpt-4.1",
        "instructions": "be brief",
        "tools": [],
        "metadata": {"a": "b"},
        "store": False,
    }
    body = response_json(
        response_id="resp_1", created_at=5, request=request, status="in_progress", output=[], usage=None
    )
    assert (body["model"], body["instructions"], body["metadata"], body["store"]) == (
        "gpt-4.1",
        "be brief",
        {"a": "b"},
        False,
    )
    assert body["object"] == "response" and body["completed_at"] is None
    usage = usage_json("x" * 40, "y" * 8)
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (10, 2, 12)
    assert error_body("m", type_="t") == {"error": {"message": "m", "type": "t", "param": None, "code": None}}
