"""One Responses API turn: check the request, pick the container, run the code, write the reply.

:class:`ResponseTurn` checks everything that can fail with an HTTP error in its constructor (so a streamed
request still gets a plain 400/404 before any event), then :meth:`ResponseTurn.events` yields the events in
exactly the order upstream streams them (WIRE.md §3.7) while the code runs. The JSON reply is the
``response`` of the last event, so both forms always agree.

Container choice, as upstream: an explicit ``"cntr_…"`` is used as is (unknown: 404; expired: 400).
``{"type": "auto"}`` reuses the container of the latest ``code_interpreter_call`` along the
``previous_response_id`` chain; if that container has expired the request fails with 400 (upstream answers
"Container is expired. Expected container_id: cntr_…" for a context that names an expired container), and a
new container is made only when the conversation never had one (or it was deleted).
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
import string
from collections.abc import Iterator
from typing import Any

from openai_artifacts_nb.local.confinement import MEMORY_LIMITS
from openai_artifacts_nb.local.failures import ApiFailure, container_expired, missing_parameter
from openai_artifacts_nb.local.ids import new_id
from openai_artifacts_nb.local.objects import (
    code_call_json,
    container_citation_json,
    message_json,
    output_text_json,
    response_json,
    usage_json,
)
from openai_artifacts_nb.local.prompt import input_file_ids, last_user_text, plan_from_text
from openai_artifacts_nb.local.reply import MadeFile, compose_text, find_citations, image_citations
from openai_artifacts_nb.local.service import EmulatorService
from openai_artifacts_nb.local.state import Container, ContainerFile, StoredResponse

INCLUDE_OUTPUTS = "code_interpreter_call.outputs"
NO_TOOL_REPLY = "The code_interpreter tool is not enabled for this request, so no code ran."
_ALPHANUMERIC = string.ascii_letters + string.digits
_WORDS = re.compile(r"\s*\S+\s*|\s+")


def render_output(items: list[dict[str, Any]], *, include_outputs: bool) -> list[dict[str, Any]]:
    """Return output items as the client sees them: code outputs only when ``include`` asks for them."""
    rendered = copy.deepcopy(items)
    if not include_outputs:
        for item in rendered:
            if item.get("type") == "code_interpreter_call":
                item["outputs"] = None
    return rendered


def _chunks(text: str) -> list[str]:
    """Split text into delta-sized pieces (about a word each, like a tokenizer would)."""
    return _WORDS.findall(text) or [text]


class ResponseTurn:
    """A checked ``POST /v1/responses`` request, ready to run."""

    def __init__(self, service: EmulatorService, body: dict[str, Any]) -> None:
        """Check ``body`` and resolve its container; raise :class:`ApiFailure` for a bad request."""
        self.service = service
        self.state = service.state
        if not body.get("model"):
            raise missing_parameter("model")
        self.request = body
        self.response_id = new_id("resp")
        self.created_at = self.state.now()
        include = body.get("include") or []
        self.include_outputs = INCLUDE_OUTPUTS in include
        self.store = body.get("store", True) is not False
        stream_options = body.get("stream_options") or {}
        self.obfuscate = stream_options.get("include_obfuscation", True) is not False
        self.prompt = last_user_text(body.get("input"))
        self.plan = plan_from_text(self.prompt)
        self.chain = self._previous_chain(body.get("previous_response_id"))
        self.tool_index = self._code_interpreter_index(body.get("tools") or [])
        self.container: Container | None = None
        if self.tool_index is not None and self.plan.code_blocks:
            self.container = self._resolve_container(body["tools"][self.tool_index])
            for file_id in input_file_ids(body.get("input")):
                stored = self.state.find_file(file_id)
                if stored is None:
                    raise ApiFailure(400, f"File not found: {file_id}", param="input")
                self.service.copy_file_into(self.container, stored)

    def _previous_chain(self, previous_id: Any) -> list[StoredResponse]:
        chain: list[StoredResponse] = []
        while previous_id:
            stored = self.state.find_response(str(previous_id))
            if stored is None:
                if not chain:
                    raise ApiFailure(
                        400,
                        f"Previous response with id '{previous_id}' not found.",
                        param="previous_response_id",
                        code="previous_response_not_found",
                    )
                break
            chain.append(stored)
            previous_id = stored.body.get("previous_response_id")
        return chain

    @staticmethod
    def _code_interpreter_index(tools: list[Any]) -> int | None:
        for index, tool in enumerate(tools):
            if isinstance(tool, dict) and tool.get("type") == "code_interpreter":
                if "container" not in tool:
                    raise missing_parameter(f"tools[{index}].container")
                return index
        return None

    def _resolve_container(self, tool: dict[str, Any]) -> Container:
        spec = tool["container"]
        param = f"tools[{self.tool_index}].container"
        if isinstance(spec, str):
            container = self.state.find_container(spec)
            if container is None:
                raise ApiFailure(404, f"Container with id '{spec}' not found.", param=param)
            if not container.active:
                raise container_expired(spec, param=param)
            return container
        if not isinstance(spec, dict) or spec.get("type") != "auto":
            raise ApiFailure(
                400,
                "Invalid value for 'container': expected a container id or {'type': 'auto'}.",
                param=param,
            )
        for stored in self.chain:
            for container_id in reversed(stored.container_ids):
                container = self.state.find_container(container_id)
                if container is None:
                    continue
                if not container.active:
                    raise container_expired(container_id)
                return container
        memory_limit = str(spec.get("memory_limit") or "1g")
        if memory_limit not in MEMORY_LIMITS:
            raise ApiFailure(400, f"Invalid 'memory_limit': {memory_limit!r}.", param=f"{param}.memory_limit")
        container = self.state.create_container(
            name=f"Container for {self.response_id}", memory_limit=memory_limit
        )
        for file_id in spec.get("file_ids") or []:
            stored_file = self.state.find_file(str(file_id))
            if stored_file is None:
                self.state.delete_container(container.id)
                raise ApiFailure(400, f"File not found: {file_id}", param=f"{param}.file_ids")
            self.service.copy_file_into(container, stored_file)
        return container

    def _padding(self, delta: str) -> dict[str, str]:
        """Return the ``obfuscation`` field upstream adds to deltas (random characters evening out sizes)."""
        if not self.obfuscate:
            return {}
        return {"obfuscation": "".join(secrets.choice(_ALPHANUMERIC) for _ in range(max(1, 16 - len(delta))))}

    def _response(
        self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None
    ) -> dict[str, Any]:
        completed_at = self.state.now() if status == "completed" else None
        return response_json(
            response_id=self.response_id,
            created_at=self.created_at,
            request=self.request,
            status=status,
            output=output,
            usage=usage,
            completed_at=completed_at,
        )

    def events(self) -> Iterator[dict[str, Any]]:
        """Run the turn, yielding each streaming event (without ``sequence_number``) as it happens."""
        started = self._response("in_progress", [], None)
        yield {"type": "response.created", "response": started}
        yield {"type": "response.in_progress", "response": copy.deepcopy(started)}
        output: list[dict[str, Any]] = []
        made: dict[str, ContainerFile] = {}
        images: list[ContainerFile] = []
        container = self.container
        if container is not None:
            for code in self.plan.code_blocks:
                yield from self._code_call(container, code, output, made, images)
        yield from self._message(output, list(made.values()), images)
        usage = usage_json(
            (self.request.get("instructions") or "") + self.prompt,
            "".join(item.get("code") or "" for item in output) + self._final_text(output),
        )
        full = self._response("completed", output, usage)
        if self.store:
            container_ids = [container.id] if container is not None else []
            self.state.store_response(StoredResponse(self.response_id, full, container_ids))
        if container is not None and self.service.faults.take_response_expiry():
            self.state.expire_container(container.id)
        elif container is None:
            self.service.faults.take_response_expiry()
        rendered = dict(full, output=render_output(output, include_outputs=self.include_outputs))
        yield {"type": "response.completed", "response": rendered}

    @staticmethod
    def _final_text(output: list[dict[str, Any]]) -> str:
        return "".join(
            part["text"] for item in output if item["type"] == "message" for part in item["content"]
        )

    def _code_call(
        self,
        container: Container,
        code: str,
        output: list[dict[str, Any]],
        made: dict[str, ContainerFile],
        images: list[ContainerFile],
    ) -> Iterator[dict[str, Any]]:
        index, item_id = len(output), new_id("ci")
        item = code_call_json(
            item_id=item_id, container_id=container.id, code="", status="in_progress", outputs=[]
        )
        yield {"type": "response.output_item.added", "output_index": index, "item": item}
        where = {"output_index": index, "item_id": item_id}
        yield {"type": "response.code_interpreter_call.in_progress", **where}
        for delta in code.splitlines(keepends=True) or [code]:
            yield {
                "type": "response.code_interpreter_call_code.delta",
                **where,
                "delta": delta,
                **self._padding(delta),
            }
        yield {"type": "response.code_interpreter_call_code.done", **where, "code": code}
        yield {"type": "response.code_interpreter_call.interpreting", **where}
        run = self.service.run_code(container, code)
        outputs: list[dict[str, Any]] = []
        if run.result.logs:
            outputs.append({"type": "logs", "logs": run.result.logs})
        for image in run.images:
            outputs.append(
                {
                    "type": "image",
                    "url": "data:image/png;base64,"
                    + base64.b64encode(image.disk_path.read_bytes()).decode("ascii"),
                }
            )
        for record in run.files:
            made.pop(record.path, None)
            made[record.path] = record
        images.extend(run.images)
        done = code_call_json(
            item_id=item_id, container_id=container.id, code=code, status="completed", outputs=outputs
        )
        output.append(done)
        yield {"type": "response.code_interpreter_call.completed", **where}
        shown = render_output([done], include_outputs=self.include_outputs)[0]
        yield {"type": "response.output_item.done", "output_index": index, "item": shown}

    def _message(
        self, output: list[dict[str, Any]], files: list[ContainerFile], images: list[ContainerFile]
    ) -> Iterator[dict[str, Any]]:
        faults = self.service.faults
        made = [MadeFile(path=f.path, file_id=f.id) for f in files]
        ran_code = self.container is not None
        if self.plan.reply is not None:
            text = self.plan.reply
        elif self.plan.code_blocks and self.tool_index is None:
            text = NO_TOOL_REPLY
        else:
            text = compose_text(made, images=len(images), ran_code=ran_code, style=faults.link_style)
        annotations: list[dict[str, Any]] = []
        if faults.annotations and self.container is not None:
            citations = image_citations([i.id for i in images]) + find_citations(text, made)
            annotations = [
                container_citation_json(
                    container_id=self.container.id,
                    file_id=c.file_id,
                    filename=c.filename,
                    start=c.start,
                    end=c.end,
                )
                for c in citations
            ]
        index, item_id = len(output), new_id("msg")
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": message_json(item_id, status="in_progress", content=[]),
        }
        yield {"type": "response.content_part.added", **where, "part": output_text_json("", [])}
        for delta in _chunks(text):
            yield {
                "type": "response.output_text.delta",
                **where,
                "delta": delta,
                "logprobs": [],
                **self._padding(delta),
            }
        for number, annotation in enumerate(annotations):
            yield {
                "type": "response.output_text.annotation.added",
                **where,
                "annotation_index": number,
                "annotation": annotation,
            }
        yield {"type": "response.output_text.done", **where, "text": text, "logprobs": []}
        part = output_text_json(text, annotations)
        yield {"type": "response.content_part.done", **where, "part": part}
        message = message_json(item_id, status="completed", content=[copy.deepcopy(part)])
        output.append(message)
        yield {"type": "response.output_item.done", "output_index": index, "item": copy.deepcopy(message)}

    def run_to_end(self) -> dict[str, Any]:
        """Run the turn without streaming and return the final ``response`` object."""
        final: dict[str, Any] = {}
        for event in self.events():
            final = event
        return dict(final["response"])
