"""The legacy Assistants v2 path: object bodies, and running a thread's run in the background.

A run reads the thread's last user message with the prompt conventions of
:mod:`~openai_artifacts_nb.local.prompt`, runs the code in the thread's own sandbox (a hidden container,
one per thread, so state persists across runs as upstream) and answers with an assistant message: one
``image_file`` part per displayed image, then a ``text`` part whose ``sandbox:`` links carry ``file_path``
annotations. Every file the code wrote is copied into Files with purpose ``assistants_output``; as upstream,
such a file's ``filename`` is its full sandbox path (``/mnt/data/plot.png``), and an image's is its bare
file id (no extension: clients have to sniff the type). Files attached to messages are copied into the
sandbox as ``/mnt/data/<file id>``, as upstream names them.
"""

from __future__ import annotations

import threading
from typing import Any

from openai_artifacts_nb.local.ids import new_id
from openai_artifacts_nb.local.prompt import content_text, plan_from_text
from openai_artifacts_nb.local.reply import MadeFile, compose_text, find_citations
from openai_artifacts_nb.local.service import EmulatorService
from openai_artifacts_nb.local.state import Container, ContainerFile, Record
from openai_artifacts_nb.local.workspace import copy_stream

TERMINAL_STATUSES = {"completed", "failed", "cancelled", "expired", "incomplete", "requires_action"}


def assistant_json(assistant_id: str, body: dict[str, Any], *, created_at: int) -> dict[str, Any]:
    """Return an ``assistant`` object built from its create request."""
    return {
        "id": assistant_id,
        "object": "assistant",
        "created_at": created_at,
        "name": body.get("name"),
        "description": body.get("description"),
        "model": body.get("model"),
        "instructions": body.get("instructions"),
        "tools": body.get("tools") or [],
        "tool_resources": body.get("tool_resources") or {},
        "metadata": body.get("metadata") or {},
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "response_format": body.get("response_format", "auto"),
    }


def thread_json(thread_id: str, body: dict[str, Any], *, created_at: int) -> dict[str, Any]:
    """Return a ``thread`` object."""
    return {
        "id": thread_id,
        "object": "thread",
        "created_at": created_at,
        "metadata": body.get("metadata") or {},
        "tool_resources": body.get("tool_resources") or {},
    }


def content_parts(content: Any) -> list[dict[str, Any]]:
    """Return message content parts from a create request's ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    parts: list[dict[str, Any]] = []
    for part in content or []:
        if part.get("type") == "text":
            parts.append({"type": "text", "text": {"value": str(part.get("text", "")), "annotations": []}})
        else:
            parts.append(dict(part))
    return parts


def message_json(
    *,
    thread_id: str,
    role: str,
    content: list[dict[str, Any]],
    created_at: int,
    attachments: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    assistant_id: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Return a ``thread.message`` object."""
    return {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": created_at,
        "thread_id": thread_id,
        "role": role,
        "status": "completed",
        "assistant_id": assistant_id,
        "run_id": run_id,
        "completed_at": created_at,
        "incomplete_at": None,
        "incomplete_details": None,
        "attachments": attachments or [],
        "metadata": metadata or {},
        "content": content,
    }


def run_json(
    *, thread_id: str, assistant: dict[str, Any], body: dict[str, Any], created_at: int
) -> dict[str, Any]:
    """Return a new ``thread.run`` object (``status: "queued"``)."""
    instructions = body.get("instructions") or assistant.get("instructions") or ""
    if body.get("additional_instructions"):
        instructions = f"{instructions}\n{body['additional_instructions']}".strip()
    return {
        "id": new_id("run"),
        "object": "thread.run",
        "created_at": created_at,
        "assistant_id": assistant["id"],
        "thread_id": thread_id,
        "status": "queued",
        "started_at": None,
        "expires_at": created_at + 600,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "last_error": None,
        "required_action": None,
        "model": body.get("model") or assistant.get("model") or "gpt-4o",
        "instructions": instructions,
        "tools": body.get("tools") or assistant.get("tools") or [],
        "metadata": body.get("metadata") or {},
        "incomplete_details": None,
        "usage": None,
        "temperature": body.get("temperature", assistant.get("temperature", 1.0)),
        "top_p": body.get("top_p", assistant.get("top_p", 1.0)),
        "max_prompt_tokens": body.get("max_prompt_tokens"),
        "max_completion_tokens": body.get("max_completion_tokens"),
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "response_format": "auto",
        "tool_choice": body.get("tool_choice", "auto"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
    }


class RunExecutor:
    """Carries out runs on background threads, updating the stored run as it goes."""

    def __init__(self, service: EmulatorService) -> None:
        """Run code through ``service``."""
        self.service = service
        self.state = service.state

    def start(self, run: Record) -> None:
        """Begin ``run`` on a background thread."""
        threading.Thread(target=self._execute, args=(run,), daemon=True, name=f"emulator-{run.id}").start()

    def _update(self, run: Record, **changes: Any) -> None:
        run.body = {**run.body, **changes}

    def _execute(self, run: Record) -> None:
        self._update(run, status="in_progress", started_at=self.state.now())
        try:
            message = self._answer(run)
        except Exception as error:  # a failed run is reported on the run, as upstream
            self._update(
                run,
                status="failed",
                failed_at=self.state.now(),
                last_error={"code": "server_error", "message": f"The emulator failed: {error}"},
            )
            return
        prompt_tokens = max(1, len(str(run.body.get("instructions", ""))) // 4)
        completion_tokens = max(1, len(str(message)) // 40)
        self._update(
            run,
            status="completed",
            completed_at=self.state.now(),
            usage={
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        )

    def _answer(self, run: Record) -> dict[str, Any]:
        thread_id = str(run.body["thread_id"])
        messages = [m.body for m in self.state.thread_messages(thread_id)]
        user_messages = [m for m in messages if m["role"] == "user"]
        prompt = _message_text(user_messages[-1]) if user_messages else ""
        plan = plan_from_text(prompt)
        uses_code = any(tool.get("type") == "code_interpreter" for tool in run.body.get("tools") or [])
        made: dict[str, ContainerFile] = {}
        images: list[ContainerFile] = []
        if uses_code and plan.code_blocks:
            container = self.state.thread_container(thread_id)
            self._copy_attachments(container, messages)
            for code in plan.code_blocks:
                code_run = self.service.run_code(container, code)
                for record in code_run.files:
                    made.pop(record.path, None)
                    made[record.path] = record
                images.extend(code_run.images)
        outputs = [MadeFile(path=f.path, file_id=self._publish(f, filename=f.path).id) for f in made.values()]
        image_ids = [self._publish(image, filename=None).id for image in images]
        faults = self.service.faults
        if plan.reply is not None:
            text = plan.reply
        else:
            text = compose_text(
                outputs, images=len(image_ids), ran_code=bool(plan.code_blocks), style=faults.link_style
            )
        annotations = []
        if faults.annotations:
            annotations = [
                {
                    "type": "file_path",
                    "text": text[c.start : c.end],
                    "start_index": c.start,
                    "end_index": c.end,
                    "file_path": {"file_id": c.file_id},
                }
                for c in find_citations(text, outputs)
            ]
        content: list[dict[str, Any]] = [
            {"type": "image_file", "image_file": {"file_id": i}} for i in image_ids
        ]
        content.append({"type": "text", "text": {"value": text, "annotations": annotations}})
        body = message_json(
            thread_id=thread_id,
            role="assistant",
            content=content,
            created_at=self.state.now(),
            assistant_id=str(run.body["assistant_id"]),
            run_id=run.id,
        )
        self.state.add_message(thread_id, body)
        return body

    def _copy_attachments(self, container: Container, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            for attachment in message.get("attachments") or []:
                file_id = str(attachment.get("file_id", ""))
                stored = self.state.find_file(file_id)
                if stored is None or (container.data_dir / file_id).exists():
                    continue
                with stored.disk_path.open("rb") as source:
                    copy_stream(source, container.data_dir / file_id)

    def _publish(self, record: ContainerFile, *, filename: str | None) -> Any:
        """Copy a sandbox file into Files (purpose ``assistants_output``) and return the Files record."""
        disk_path = self.state.new_file_path()
        with record.disk_path.open("rb") as source:
            copy_stream(source, disk_path)
        return self.state.add_file(
            filename=filename or disk_path.name,
            purpose="assistants_output",
            disk_path=disk_path,
            expires_at=None,
        )


def _message_text(message: dict[str, Any]) -> str:
    parts = [p["text"]["value"] for p in message.get("content", []) if p.get("type") == "text"]
    return content_text([{"text": value} for value in parts])
