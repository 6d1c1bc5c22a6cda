"""Fixtures for the emulator tests: one emulator per session, an SDK client on it, faults reset per test.

``emulator`` is a started :class:`~openai_artifacts_nb.local.LocalServer` on 127.0.0.1 shared by the whole
session (stopped, kernels and all, at the end). ``client`` is an ``openai.OpenAI`` pointed at it. Any test
that uses ``emulator`` gets its faults switched off again afterwards. ``openapi_schemas`` validates JSON
against OpenAI's own ``openapi.yaml`` (loaded once per session).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import openai

    from openai_artifacts_nb.local import LocalServer


def require_bwrap() -> None:
    """Skip the calling test where bubblewrap cannot confine code, except in CI (``CI=true``): fail there."""
    from openai_artifacts_nb.local.confinement import probe

    problem = probe()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must confine container code: {problem}")
    pytest.skip(f"no confinement here: {problem}")


@pytest.fixture(scope="session")
def emulator() -> Iterator[LocalServer]:
    """The session's local OpenAI emulator (30 s per code call, so a runaway test fails fast)."""
    from openai_artifacts_nb.local import LocalServer

    with LocalServer(exec_timeout=30.0) as server:
        yield server


@pytest.fixture
def client(emulator: LocalServer) -> Iterator[openai.OpenAI]:
    """An ``openai.OpenAI`` client on the session emulator (any key works there), closed after the test."""
    import openai

    with openai.OpenAI(base_url=emulator.base_url, api_key="sk-test-emulator") as client:
        yield client


@pytest.fixture(autouse=True)
def _reset_emulator_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Switch the session emulator's faults off after every test that used it."""
    yield
    if "emulator" in request.fixturenames:
        server: LocalServer = request.getfixturevalue("emulator")
        server.faults.reset()


# OpenAI's own artefacts (openapi.yaml, recorded replies): ``../shared/reference`` beside the repository,
# or wherever OPENAI_ARTIFACTS_REFERENCE points. Tests that need them skip when they are absent.
REFERENCE = Path(
    os.environ.get("OPENAI_ARTIFACTS_REFERENCE")
    or Path(__file__).resolve().parents[3] / "shared" / "reference"
)


# field: why. Nulls the real service sends where the SPEC's type has no null.
RECORDED_NULLS = {
    "user": "every recorded response carries user: null",
    "usage": "the recorded response.created/in_progress events carry usage: null",
}


def _recorded_null(problem: str) -> bool:
    path, _, message = problem.partition(": ")
    return message.startswith("None is not of type") and path.rsplit("/", 1)[-1] in RECORDED_NULLS


def _with_nullable_as_null(node: Any) -> Any:
    """Return ``node`` with OpenAPI 3.0's ``nullable: true`` (still used in the 3.1 document) as JSON Schema.

    The SPEC means those fields may be null; plain 2020-12 validation would ignore the keyword.
    """
    if isinstance(node, list):
        return [_with_nullable_as_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _with_nullable_as_null(value) for key, value in node.items()}
    if converted.pop("nullable", False) is not True:
        return converted
    if isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
        return converted
    return {"anyOf": [converted, {"type": "null"}]}


class OpenApiSchemas:
    """Validators for the schemas of OpenAI's own ``openapi.yaml`` (OpenAPI 3.1 = JSON Schema 2020-12)."""

    def __init__(self, document: dict[str, Any]) -> None:
        """Index ``document`` so ``$ref`` anywhere in it resolves through one registry."""
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.document = _with_nullable_as_null(document)
        self._registry: Registry[Any] = Registry().with_resource(
            "urn:openai:openapi", Resource.from_contents(self.document, default_specification=DRAFT202012)
        )
        self._validator_class = Draft202012Validator
        self._validators: dict[str, Any] = {}

    @property
    def schemas(self) -> dict[str, Any]:
        """The ``components.schemas`` of the document."""
        return dict(self.document["components"]["schemas"])

    def errors(self, schema_name: str, instance: Any) -> list[str]:
        """Return every validation error of ``instance`` against ``components.schemas[schema_name]``."""
        validator = self._validators.get(schema_name)
        if validator is None:
            ref = {"$ref": f"urn:openai:openapi#/components/schemas/{schema_name}"}
            validator = self._validator_class(ref, registry=self._registry)
            self._validators[schema_name] = validator
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)
        ]

    def check(self, schema_name: str, instance: Any) -> None:
        """Fail the test if ``instance`` does not validate against ``schema_name``.

        Fields the real service sends as ``null`` although the SPEC types them without ``null`` (proven by the
        recorded traffic in ``shared/reference/recorded/``) are let through: the emulator copies the service.
        """
        problems = [p for p in self.errors(schema_name, instance) if not _recorded_null(p)]
        assert not problems, f"{schema_name}: " + "; ".join(problems[:5])


@pytest.fixture(scope="session")
def openapi_schemas() -> OpenApiSchemas:
    """OpenAI's official OpenAPI document, loaded once per session (``shared/reference/openapi.yaml``)."""
    import yaml

    path = REFERENCE / "openapi.yaml"
    if not path.is_file():
        pytest.skip(f"the OpenAPI reference is not at {path}")
    with path.open("rb") as handle:
        document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return OpenApiSchemas(document)
