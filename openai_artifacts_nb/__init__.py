"""Save, show and link every file an OpenAI model makes for you, in a notebook or without one.

``%load_ext openai_artifacts_nb`` registers the ``%%openai`` magic and the display hook (any OpenAI reply a
cell shows is saved, shown and linked). Apps use :func:`fetch`. Importing this
package is cheap: ``openai``, ``ipywidgets`` and ``pandas`` are imported only when first needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openai_artifacts_nb.errors import (
    ApiError,
    ArtifactsError,
    ConfigurationError,
    ContainerExpiredError,
    DownloadError,
    FileMissingError,
    ReplyError,
)

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "ArtifactsError",
    "ConfigurationError",
    "ContainerExpiredError",
    "DownloadError",
    "FileMissingError",
    "Reply",
    "ReplyError",
    "__version__",
    "fetch",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_LAZY = {
    "fetch": "openai_artifacts_nb.fetching",
    "FetchResult": "openai_artifacts_nb.fetching",
    "Reply": "openai_artifacts_nb.reply",
    "LocalServer": "openai_artifacts_nb.local",
}


def __getattr__(name: str) -> Any:
    """Import the heavier public objects on first use, so ``import openai_artifacts_nb`` stays cheap."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension: a pre-save hook that keeps saved notebooks free of dead widgets."""
    return [{"module": "openai_artifacts_nb.saved_notebooks"}]


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register ``%%openai`` and ``%openai`` (called by ``%load_ext openai_artifacts_nb``)."""
    from openai_artifacts_nb.magic import OpenAIMagics

    magics = OpenAIMagics(shell=ipython)
    ipython.register_magics(magics)
    magics.install_display_hook()


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Remove the display hook and stop the embedded emulator, if the magic started one (``%unload_ext``)."""
    from openai_artifacts_nb.magic import OpenAIMagics

    magics = ipython.magics_manager.registry.get(OpenAIMagics.__name__)
    if isinstance(magics, OpenAIMagics):
        magics.remove_display_hook()
        magics.close()
