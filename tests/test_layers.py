"""The layers point one way: what the core, rendering and the emulator import, transitively.

Two checks. Statically, every import a module holds (at the top or inside a function, but not under
``TYPE_CHECKING``) is followed through the package, so a lazy import counts too. At run time, a fresh
interpreter imports each layer and reports which top-level packages came with it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "openai_artifacts_nb"
NAME = "openai_artifacts_nb"

CORE = [
    "api_errors",
    "client",
    "collect",
    "download",
    "errors",
    "fetching",
    "filetypes",
    "interpolation",
    "links",
    "manifest",
    "naming",
    "notebook_path",
    "object_store",
    "reply",
    "session",
    "tools",
]
RENDERING = [
    "file_views",
    "markup",
    "previews",
    "preview_budget",
    "preview_facts",
    "preview_parquet",
    "preview_xlsx",
    "render",
]
NOTEBOOK_SIDE = {"magic", "widgets", "cell_output", "streaming", "display_hook"}
LOCAL = sorted(f"local.{path.stem}" for path in (PACKAGE / "local").glob("*.py") if path.stem != "__init__")


def _file_of(module: str) -> Path | None:
    relative = module.removeprefix(NAME).lstrip(".").replace(".", "/")
    for candidate in (PACKAGE / f"{relative}.py", PACKAGE / relative / "__init__.py"):
        if relative and candidate.is_file():
            return candidate
    return PACKAGE / "__init__.py" if not relative else None


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, lazily or not, except under ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if node.module.startswith(NAME) and _file_of(f"{node.module}.{alias.name}") is not None
            )
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _closure(modules: list[str]) -> tuple[set[str], set[str]]:
    """(our modules reached, outside top-level packages reached) from ``modules``, transitively."""
    ours: set[str] = set()
    outside: set[str] = set()
    todo = [f"{NAME}.{module}" for module in modules]
    while todo:
        module = todo.pop()
        if module in ours:
            continue
        ours.add(module)
        path = _file_of(module)
        assert path is not None, module
        for imported in _imports(path):
            if imported == NAME or imported.startswith(f"{NAME}."):
                if _file_of(imported) is not None and imported != NAME:
                    todo.append(imported)
            else:
                outside.add(imported.split(".", 1)[0])
    return {module.removeprefix(f"{NAME}.") for module in ours}, outside


def test_the_core_needs_no_notebook() -> None:
    ours, outside = _closure(CORE)
    assert not outside & {"IPython", "ipywidgets", "traitlets", "ipykernel", "starlette", "uvicorn"}
    assert not ours & (NOTEBOOK_SIDE | set(RENDERING))
    assert not any(module.startswith("local") for module in ours)


def test_rendering_builds_bundles_without_ipython() -> None:
    ours, outside = _closure(RENDERING)
    assert not outside & {"IPython", "ipywidgets", "traitlets", "openai"}
    assert ours <= {*RENDERING, "reply", "errors", "links", "naming"}, ours


def test_the_emulator_imports_nothing_from_the_client_side() -> None:
    ours, outside = _closure(LOCAL)
    assert all(module.startswith("local") for module in ours), sorted(ours)
    assert not outside & {"IPython", "ipywidgets"}


@pytest.mark.parametrize(
    ("layer", "modules", "forbidden"),
    [
        # Object storage's backends come only with an s3:// folder.
        ("core", CORE, ["IPython", "ipywidgets", "traitlets", "starlette", "fsspec", "s3fs", "botocore"]),
        ("rendering", RENDERING, ["IPython", "ipywidgets", "openai"]),
        ("local", LOCAL, ["IPython", "ipywidgets"]),
    ],
)
def test_importing_a_layer_brings_only_what_it_may(
    layer: str, modules: list[str], forbidden: list[str]
) -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {[f'{NAME}.{module}' for module in modules]!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert NAME in loaded
    assert not loaded & set(forbidden), (layer, sorted(loaded & set(forbidden)))
