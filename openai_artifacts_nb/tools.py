"""The tools a turn asks for: ``code_interpreter``, the hosted ``shell`` and ``image_generation``.

:class:`ToolOptions` turns the names given with ``%%openai --tools code_interpreter,shell,image_generation``
(or ``OpenAIMagics.tools``), a container memory limit (``--container-memory 1g|4g|16g|64g``) and a network
policy (``--network-policy disabled`` or ``allowlist:pypi.org,files.pythonhosted.org``) into the request's
``tools`` list, as the API defines them: the code interpreter's ``container`` (an id, or
``{"type": "auto", "memory_limit": …, "network_policy": …}``), the shell's ``environment``
(``container_reference`` or ``container_auto`` with the same options) and an image tool that streams partial
images. Bad values raise :class:`~openai_artifacts_nb.errors.ConfigurationError`. No SDK import here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from openai_artifacts_nb.errors import ConfigurationError

__all__ = ["MEMORY_LIMITS", "TOOL_NAMES", "ToolOptions", "parse_network_policy", "parse_tools"]

#: The tools a prompt can use, by the name ``--tools`` takes.
TOOL_NAMES = ("code_interpreter", "shell", "image_generation")
#: The container memory limits the API accepts.
MEMORY_LIMITS = ("1g", "4g", "16g", "64g")
#: Partial images asked for while an image streams (one preview, updated in place).
PARTIAL_IMAGES = 2


def parse_tools(text: str | Iterable[str]) -> tuple[str, ...]:
    """Return the tool names in ``"code_interpreter,shell"`` (or a list of names), each once, in order."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    names: list[str] = []
    for part in parts:
        name = part.strip().lower().replace("-", "_")
        if not name:
            continue
        if name not in TOOL_NAMES:
            raise ConfigurationError(f"--tools {part.strip()}: unknown tool; use {', '.join(TOOL_NAMES)}.")
        if name not in names:
            names.append(name)
    if not names:
        raise ConfigurationError(f"--tools needs at least one of {', '.join(TOOL_NAMES)}.")
    return tuple(names)


def parse_network_policy(text: str | None) -> dict[str, Any] | None:
    """Return the API's network policy for ``disabled``, ``allowlist:a.com,b.org`` or its JSON form."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    if value.startswith("{"):
        try:
            policy = json.loads(value)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"--network-policy: not JSON ({error.msg}).") from None
        if not isinstance(policy, dict) or policy.get("type") not in ("disabled", "allowlist"):
            raise ConfigurationError("--network-policy: the JSON needs type 'disabled' or 'allowlist'.")
        return policy
    if value == "disabled":
        return {"type": "disabled"}
    kind, _, domains = value.partition(":")
    allowed = [domain.strip() for domain in domains.split(",") if domain.strip()]
    if kind == "allowlist" and allowed:
        return {"type": "allowlist", "allowed_domains": allowed}
    raise ConfigurationError(f"--network-policy {value}: use 'disabled' or 'allowlist:DOMAIN[,DOMAIN...]'.")


@dataclass(frozen=True)
class ToolOptions:
    """Which tools a turn offers the model, and how its container is made when the API makes one."""

    names: tuple[str, ...] = ("code_interpreter",)
    memory_limit: str | None = None
    network_policy: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        parse_tools(self.names)
        if self.memory_limit is not None and self.memory_limit not in MEMORY_LIMITS:
            raise ConfigurationError(
                f"--container-memory {self.memory_limit}: use one of {', '.join(MEMORY_LIMITS)}."
            )

    @property
    def uses_container(self) -> bool:
        """Whether any tool runs in a container (the code interpreter or the hosted shell)."""
        return "code_interpreter" in self.names or "shell" in self.names

    def container_options(self) -> dict[str, Any]:
        """The memory limit and network policy, as ``containers.create`` and an automatic container take."""
        options: dict[str, Any] = {}
        if self.memory_limit is not None:
            options["memory_limit"] = self.memory_limit
        if self.network_policy is not None:
            options["network_policy"] = dict(self.network_policy)
        return options

    def specs(self, container_id: str | None, *, stream: bool = True) -> list[dict[str, Any]]:
        """The request's ``tools``: in ``container_id`` when there is one, else in an automatic container."""
        tools: list[dict[str, Any]] = []
        for name in self.names:
            if name == "code_interpreter":
                container: Any = container_id or {"type": "auto", **self.container_options()}
                tools.append({"type": "code_interpreter", "container": container})
            elif name == "shell":
                environment = (
                    {"type": "container_reference", "container_id": container_id}
                    if container_id
                    else {"type": "container_auto", **self.container_options()}
                )
                tools.append({"type": "shell", "environment": environment})
            else:
                tool: dict[str, Any] = {"type": "image_generation"}
                if stream:
                    tool["partial_images"] = PARTIAL_IMAGES
                tools.append(tool)
        return tools
