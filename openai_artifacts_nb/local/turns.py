"""One Responses API turn: check the request, pick the containers, run the tools, write the reply.

:class:`ResponseTurn` checks everything that can fail with an HTTP error in its constructor (so a streamed
request still gets a plain 400/404 before any event), then :meth:`ResponseTurn.events` yields the events in
exactly the order upstream streams them (WIRE.md §3.7) while the tools run. The JSON reply is the
``response`` of the last event, so both forms always agree.

Tools, as the prompt conventions of :mod:`~openai_artifacts_nb.local.prompt` ask for them: python blocks run
as ``code_interpreter_call`` items, bash blocks as hosted ``shell_call`` + ``shell_call_output`` items (in
the container's kernel, see :mod:`~openai_artifacts_nb.local.shell`), image blocks as
``image_generation_call`` items (:mod:`~openai_artifacts_nb.local.images`), each only when its tool is in
the request.

Container choice, as upstream: an explicit ``"cntr_…"`` (or a shell's ``container_reference``) is used as is
(unknown: 404; expired: 400). ``{"type": "auto"}`` (a shell's ``container_auto``) reuses the latest container
named in the model's context: ``code_interpreter_call`` and ``shell_call`` items in ``input`` (clients that
resend history instead of ``previous_response_id``), then the conversation's items, then along the
``previous_response_id`` chain. If that container has expired the request fails with 400 (upstream answers
"Container is expired. Expected container_id: cntr_…" for a context that names an expired container); a new
container is made only when the context names none alive (or they were deleted). One turn makes at most one
automatic container, shared by both tools.

Conversations: ``conversation`` (an id or ``{"id": …}``) puts the turn in a conversation; its items are the
context, and the turn's input and output items are appended when it completes. It cannot be combined with
``previous_response_id``.
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
from openai_artifacts_nb.local.history import container_ids, input_items
from openai_artifacts_nb.local.ids import new_id
from openai_artifacts_nb.local.images import FORMATS, ImageSpec, parse_size, render
from openai_artifacts_nb.local.objects import (
    code_call_json,
    container_citation_json,
    image_call_json,
    message_json,
    output_text_json,
    response_json,
    shell_call_json,
    shell_output_json,
    usage_json,
)
from openai_artifacts_nb.local.prompt import Step, input_file_ids, last_user_text, plan_from_text
from openai_artifacts_nb.local.reply import MadeFile, compose_text, find_citations, image_citations
from openai_artifacts_nb.local.service import EmulatorService
from openai_artifacts_nb.local.shell import DEFAULT_MAX_CHARS, read_outcome, shell_program
from openai_artifacts_nb.local.state import Container, ContainerFile, StoredConversation, StoredResponse

INCLUDE_OUTPUTS = "code_interpreter_call.outputs"
NO_TOOL_REPLY = "The code_interpreter tool is not enabled for this request, so no code ran."
NO_SHELL_REPLY = "No hosted shell tool is enabled for this request, so no command ran."
NO_IMAGE_TOOL_REPLY = "The image_generation tool is not enabled for this request, so no image was made."
NETWORK_POLICIES = ("disabled", "allowlist")
_ALPHANUMERIC = string.ascii_letters + string.digits
_WORDS = re.compile(r"\s*\S+\s*|\s+")
_IMAGE_TOOL_DEFAULTS = {
    "background": "auto",
    "moderation": "auto",
    "output_compression": 100,
    "output_format": "png",
    "quality": "auto",
    "size": "auto",
}


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


def _conversation_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise ApiFailure(400, "Invalid 'conversation': expected a conversation id.", param="conversation")
    return value


def conversation_not_found(conversation_id: str, *, param: str | None = "conversation") -> ApiFailure:
    """Return the 404 for an unknown conversation."""
    return ApiFailure(404, f"Conversation with id '{conversation_id}' not found.", param=param)


class ResponseTurn:
    """A checked ``POST /v1/responses`` request, ready to run."""

    def __init__(self, service: EmulatorService, body: dict[str, Any]) -> None:
        """Check ``body`` and resolve its containers; raise :class:`ApiFailure` for a bad request."""
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
        self.streamed = bool(body.get("stream"))
        stream_options = body.get("stream_options") or {}
        self.obfuscate = stream_options.get("include_obfuscation", True) is not False
        self.conversation = self._conversation(body)
        self.input_items = input_items(body.get("input"))
        self.prompt = last_user_text(body.get("input"))
        self.plan = plan_from_text(self.prompt)
        self.chain = self._previous_chain(body.get("previous_response_id"))
        self.tools: list[Any] = copy.deepcopy(body.get("tools") or [])
        self.code_index = self._code_interpreter_index(self.tools)
        self.shell_index = self._hosted_shell_index(self.tools)
        self.image_index = self._image_tool_index(self.tools)
        self._auto: Container | None = None
        self._auto_created = False
        self.code_container: Container | None = None
        self.shell_container: Container | None = None
        kinds = {step.kind for step in self.plan.steps}
        if self.code_index is not None and "python" in kinds:
            self.code_container = self._container_for(
                self.tools[self.code_index]["container"],
                param=f"tools[{self.code_index}].container",
                auto_type="auto",
            )
        if self.shell_index is not None and "shell" in kinds:
            environment = self.tools[self.shell_index]["environment"]
            self.shell_container = self._container_for(
                environment, param=f"tools[{self.shell_index}].environment", auto_type="container_auto"
            )
            self.tools[self.shell_index]["environment"] = {
                "type": "container_reference",
                "container_id": self.shell_container.id,
            }
        for container in self.containers:
            for file_id in input_file_ids(body.get("input")):
                stored = self.state.find_file(file_id)
                if stored is None:
                    raise ApiFailure(400, f"File not found: {file_id}", param="input")
                self.service.copy_file_into(container, stored)

    @property
    def containers(self) -> list[Container]:
        """The distinct containers this turn runs tools in."""
        found: list[Container] = []
        for container in (self.code_container, self.shell_container):
            if container is not None and container not in found:
                found.append(container)
        return found

    # Checks -----------------------------------------------------------------------------------------------

    def _conversation(self, body: dict[str, Any]) -> StoredConversation | None:
        conversation_id = _conversation_id(body.get("conversation"))
        if conversation_id is None:
            return None
        if body.get("previous_response_id"):
            raise ApiFailure(
                400,
                "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' "
                "or 'conversation'.",
                param="conversation",
                code="mutually_exclusive_parameters",
            )
        conversation = self.state.find_conversation(conversation_id)
        if conversation is None:
            raise conversation_not_found(conversation_id)
        return conversation

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

    @staticmethod
    def _hosted_shell_index(tools: list[Any]) -> int | None:
        """Return the index of a ``shell`` tool run in a container (a local shell runs on the client)."""
        for index, tool in enumerate(tools):
            if isinstance(tool, dict) and tool.get("type") == "shell":
                environment = tool.get("environment")
                if isinstance(environment, dict) and environment.get("type") in {
                    "container_auto",
                    "container_reference",
                }:
                    return index
        return None

    @staticmethod
    def _image_tool_index(tools: list[Any]) -> int | None:
        for index, tool in enumerate(tools):
            if not (isinstance(tool, dict) and tool.get("type") == "image_generation"):
                continue
            param = f"tools[{index}]"
            if parse_size(tool.get("size")) is None:
                size = tool.get("size")
                raise ApiFailure(400, f"Invalid value for 'size': {size!r}.", param=f"{param}.size")
            if tool.get("output_format", "png") not in FORMATS:
                raise ApiFailure(
                    400,
                    f"Invalid value for 'output_format': {tool.get('output_format')!r}. "
                    "Expected one of 'png', 'webp' or 'jpeg'.",
                    param=f"{param}.output_format",
                )
            partial = tool.get("partial_images", 0)
            if not isinstance(partial, int) or isinstance(partial, bool) or not 0 <= partial <= 3:
                raise ApiFailure(
                    400,
                    f"Invalid value for 'partial_images': {partial!r}. Expected an integer from 0 to 3.",
                    param=f"{param}.partial_images",
                )
            tools[index] = {**_IMAGE_TOOL_DEFAULTS, **tool}
            return index
        return None

    # Containers -------------------------------------------------------------------------------------------

    def _explicit_container(self, container_id: str, param: str) -> Container:
        container = self.state.find_container(container_id)
        if container is None:
            raise ApiFailure(404, f"Container with id '{container_id}' not found.", param=param)
        if not container.active:
            raise container_expired(container_id, param=param)
        return container

    def _container_for(self, spec: Any, *, param: str, auto_type: str) -> Container:
        if isinstance(spec, str) and auto_type == "auto":
            return self._explicit_container(spec, param)
        if isinstance(spec, dict) and spec.get("type") == "container_reference" and auto_type != "auto":
            container_id = spec.get("container_id")
            if not isinstance(container_id, str) or not container_id:
                raise missing_parameter(f"{param}.container_id")
            return self._explicit_container(container_id, param)
        if not isinstance(spec, dict) or spec.get("type") != auto_type:
            expected = (
                "a container id or {'type': 'auto'}"
                if auto_type == "auto"
                else "{'type': 'container_auto'} or {'type': 'container_reference', 'container_id': …}"
            )
            raise ApiFailure(400, f"Invalid value for '{param}': expected {expected}.", param=param)
        self._check_auto_options(spec, param)
        return self._auto_container(spec, param)

    @staticmethod
    def _check_auto_options(spec: dict[str, Any], param: str) -> None:
        """Accept ``memory_limit`` and ``network_policy`` as the SPEC defines them; refuse other values."""
        memory_limit = spec.get("memory_limit")
        if memory_limit is not None and memory_limit not in MEMORY_LIMITS:
            raise ApiFailure(
                400,
                f"Invalid value for 'memory_limit': {memory_limit!r}. "
                f"Expected one of {', '.join(MEMORY_LIMITS)}.",
                param=f"{param}.memory_limit",
            )
        policy = spec.get("network_policy")
        if policy is None:
            return
        if not isinstance(policy, dict) or policy.get("type") not in NETWORK_POLICIES:
            raise ApiFailure(
                400,
                "Invalid value for 'network_policy': expected {'type': 'disabled'} or "
                "{'type': 'allowlist', 'allowed_domains': [...]}.",
                param=f"{param}.network_policy",
            )
        domains = policy.get("allowed_domains")
        if policy["type"] == "allowlist" and not (
            isinstance(domains, list) and domains and all(isinstance(d, str) and d for d in domains)
        ):
            raise missing_parameter(f"{param}.network_policy.allowed_domains")

    def _context_container_ids(self) -> list[str]:
        """Return the containers the model's context names, newest first."""
        newest_first = list(reversed(container_ids(self.input_items)))
        if self.conversation is not None:
            newest_first += reversed(container_ids(self.state.conversation_items(self.conversation)))
        for stored in self.chain:
            newest_first += reversed(stored.container_ids)
            newest_first += reversed(container_ids(stored.input_items))
        return newest_first

    def _auto_container(self, spec: dict[str, Any], param: str) -> Container:
        if self._auto is None:
            for container_id in self._context_container_ids():
                container = self.state.find_container(container_id)
                if container is None:
                    continue
                if not container.active:
                    raise container_expired(container_id)
                self._auto = container
                return container
            self._auto = self.state.create_container(
                name=f"Container for {self.response_id}", memory_limit=str(spec.get("memory_limit") or "1g")
            )
            self._auto_created = True
        if self._auto_created:
            for file_id in spec.get("file_ids") or []:
                stored_file = self.state.find_file(str(file_id))
                if stored_file is None:
                    self.state.delete_container(self._auto.id)
                    raise ApiFailure(400, f"File not found: {file_id}", param=f"{param}.file_ids")
                self.service.copy_file_into(self._auto, stored_file)
        return self._auto

    # Events -----------------------------------------------------------------------------------------------

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
            tools=self.tools,
            conversation_id=self.conversation.id if self.conversation is not None else None,
        )

    def events(self) -> Iterator[dict[str, Any]]:
        """Run the turn, yielding each streaming event (without ``sequence_number``) as it happens."""
        started = self._response("in_progress", [], None)
        yield {"type": "response.created", "response": started}
        yield {"type": "response.in_progress", "response": copy.deepcopy(started)}
        output: list[dict[str, Any]] = []
        made: dict[str, ContainerFile] = {}
        images: list[ContainerFile] = []
        for step in self.plan.steps:
            if step.kind == "python" and self.code_container is not None:
                yield from self._code_call(self.code_container, step.body, output, made, images)
            elif step.kind == "shell" and self.shell_container is not None:
                yield from self._shell_call(self.shell_container, step, output, made)
            elif step.kind == "image" and self.image_index is not None:
                yield from self._image_call(step.body, output)
        yield from self._message(output, list(made.values()), images)
        usage = usage_json(
            (self.request.get("instructions") or "") + self.prompt,
            "".join(self._item_text(item) for item in output),
        )
        full = self._response("completed", output, usage)
        if self.store:
            self.state.store_response(
                StoredResponse(self.response_id, full, [c.id for c in self.containers], self.input_items)
            )
        if self.conversation is not None:
            self.state.add_conversation_items(self.conversation, self.input_items + copy.deepcopy(output))
        expire = self.service.faults.take_response_expiry()
        for container in self.containers if expire else []:
            self.state.expire_container(container.id)
        rendered = dict(full, output=render_output(output, include_outputs=self.include_outputs))
        yield {"type": "response.completed", "response": rendered}

    @staticmethod
    def _item_text(item: dict[str, Any]) -> str:
        """Return what the "model" wrote for an output item (counted as output tokens)."""
        if item["type"] == "message":
            return "".join(part["text"] for part in item["content"])
        if item["type"] == "code_interpreter_call":
            return str(item.get("code") or "")
        if item["type"] == "shell_call":
            return "".join(item["action"]["commands"])
        return ""

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

    def _shell_call(
        self, container: Container, step: Step, output: list[dict[str, Any]], made: dict[str, ContainerFile]
    ) -> Iterator[dict[str, Any]]:
        """Stream one hosted shell call and its output as upstream does (two items, command then output)."""
        command = step.body
        timeout_ms = step.options.get("timeout_ms")
        max_length = step.options.get("max_output_length")
        call_id, index, item_id = new_id("call"), len(output), new_id("sh")

        def call_item(commands: list[str], status: str) -> dict[str, Any]:
            return shell_call_json(
                item_id=item_id,
                call_id=call_id,
                container_id=container.id,
                commands=commands,
                status=status,
                timeout_ms=timeout_ms,
                max_output_length=max_length,
            )

        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": call_item([], "in_progress"),
        }
        where: dict[str, Any] = {"command_index": 0, "output_index": index}
        yield {"type": "response.shell_call_command.added", **where, "command": ""}
        for delta in _chunks(command):
            padding = self._padding(delta)
            yield {"type": "response.shell_call_command.delta", **where, "delta": delta, **padding}
        yield {"type": "response.shell_call_command.done", **where, "command": command}
        done = call_item([command], "completed")
        output.append(done)
        yield {"type": "response.output_item.done", "output_index": index, "item": copy.deepcopy(done)}

        index, output_id = len(output), new_id("sho")

        def output_item(status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
            return shell_output_json(
                item_id=output_id,
                call_id=call_id,
                status=status,
                output=content,
                max_output_length=max_length,
            )

        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": output_item("in_progress", []),
        }
        limit = self.service.exec_timeout * 0.8
        timeout = min(limit, timeout_ms / 1000) if timeout_ms else limit
        program = shell_program(command, timeout=timeout, max_chars=max_length or DEFAULT_MAX_CHARS)
        run = self.service.run_code(container, program)
        for record in run.files:
            made.pop(record.path, None)
            made[record.path] = record
        outcome = read_outcome(run.result.logs, timed_out=run.result.timed_out)
        where = {"command_index": 0, "item_id": output_id, "output_index": index}
        streams = {"stdout": outcome.stdout, "stderr": outcome.stderr}
        captured = {name: text for name, text in streams.items() if text}
        if captured:
            yield {"type": "response.shell_call_output_content.delta", **where, "delta": captured}
        content = [outcome.content_json()]
        yield {"type": "response.shell_call_output_content.done", **where, "output": copy.deepcopy(content)}
        finished = output_item("completed", content)
        output.append(finished)
        yield {"type": "response.output_item.done", "output_index": index, "item": copy.deepcopy(finished)}

    def _image_call(self, prompt: str, output: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Stream one image generation: in progress, generating, partial images (streamed only), done."""
        assert self.image_index is not None
        tool = self.tools[self.image_index]
        width, height = parse_size(tool.get("size")) or (1024, 1024)
        spec = ImageSpec(width, height, str(tool.get("output_format") or "png"))
        quality = "medium" if tool.get("quality") in (None, "auto") else str(tool["quality"])
        background = "opaque" if tool.get("background") in (None, "auto") else str(tool["background"])
        index, item_id = len(output), new_id("ig")
        where = {"output_index": index, "item_id": item_id}
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": image_call_json(item_id=item_id, status="in_progress"),
        }
        yield {"type": "response.image_generation_call.in_progress", **where}
        yield {"type": "response.image_generation_call.generating", **where}
        partials = int(tool.get("partial_images") or 0) if self.streamed else 0
        for number in range(partials):
            data, used_format = render(prompt, spec, revealed=(number + 1) / (partials + 1))
            yield {
                "type": "response.image_generation_call.partial_image",
                **where,
                "partial_image_index": number,
                "partial_image_b64": base64.b64encode(data).decode("ascii"),
                "size": spec.size,
                "quality": quality,
                "background": background,
                "output_format": used_format,
            }
        data, used_format = render(prompt, spec)
        details = {
            "background": background,
            "output_format": used_format,
            "quality": quality,
            "result": base64.b64encode(data).decode("ascii"),
            "revised_prompt": prompt,
            "size": spec.size,
        }
        done = image_call_json(item_id=item_id, status="completed", details=details)
        output.append(done)
        yield {"type": "response.image_generation_call.completed", **where}
        yield {"type": "response.output_item.done", "output_index": index, "item": copy.deepcopy(done)}

    def _text(self, files: list[MadeFile], images: list[ContainerFile], output: list[dict[str, Any]]) -> str:
        """Return the reply: the prompt's reply block, else a sentence about what ran and what it made."""
        if self.plan.reply is not None:
            return self.plan.reply
        kinds = {step.kind for step in self.plan.steps}
        missing = [
            reply
            for kind, index, reply in (
                ("python", self.code_index, NO_TOOL_REPLY),
                ("shell", self.shell_index, NO_SHELL_REPLY),
                ("image", self.image_index, NO_IMAGE_TOOL_REPLY),
            )
            if kind in kinds and index is None
        ]
        generated = sum(1 for item in output if item["type"] == "image_generation_call")
        ran = bool(self.containers)
        parts = []
        if ran or not generated:
            parts.append(
                compose_text(files, images=len(images), ran_code=ran, style=self.service.faults.link_style)
            )
        if generated:
            parts.append("I generated the image." if generated == 1 else f"I generated {generated} images.")
        if missing and not ran and not generated:
            parts = []
        return "\n\n".join(parts + missing)

    def _message(
        self, output: list[dict[str, Any]], files: list[ContainerFile], images: list[ContainerFile]
    ) -> Iterator[dict[str, Any]]:
        faults = self.service.faults
        made = [MadeFile(path=f.path, file_id=f.id) for f in files]
        text = self._text(made, images, output)
        annotations: list[dict[str, Any]] = []
        if faults.annotations and self.containers:
            by_id = {f.id: f.container_id for f in [*files, *images]}
            default_container = self.containers[0].id
            citations = image_citations([i.id for i in images]) + find_citations(text, made)
            annotations = [
                container_citation_json(
                    container_id=by_id.get(c.file_id, default_container),
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
