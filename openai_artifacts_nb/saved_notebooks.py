"""A saved notebook keeps a working download link where a live download button was.

JupyterLab does not save widget state, so a widget output reopened without its kernel shows "Error displaying
widget: model not found". Our download button only works with its kernel anyway, so its output is marked
live-only (output metadata ``{"openai_artifacts_nb": {"live_only": true}}``) and carries a ``text/html``
fallback: a plain ``<a download>`` link to the same saved file. :func:`strip_live_widgets` drops the widget
view from such outputs, leaving the link.

It runs as a Jupyter server pre-save hook (this module is the server extension that
``jupyter_server_config.d/openai_artifacts_nb.json`` enables), so the file on disk, and so a reopened
notebook, ``jupyter nbconvert`` and nbviewer, show the link, while the notebook open in the browser keeps its
live button. ``openai-artifacts run`` applies it to the notebooks it writes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WIDGET_VIEW", "pre_save_hook", "strip_live_widgets"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_MARK = "openai_artifacts_nb"


def strip_live_widgets(notebook: Any) -> int:
    """Drop the widget view of every live-only output in ``notebook`` (a dict or ``NotebookNode``).

    Returns how many outputs changed. Outputs of other tools, and ours without the mark, are left alone.
    """
    changed = 0
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        for output in outputs if isinstance(outputs, list) else []:
            if not isinstance(output, dict):
                continue
            metadata = output.get("metadata")
            mark = metadata.get(_MARK) if isinstance(metadata, dict) else None
            data = output.get("data")
            if (
                isinstance(mark, dict)
                and mark.get("live_only")
                and isinstance(data, dict)
                and WIDGET_VIEW in data
            ):
                del data[WIDGET_VIEW]
                changed += 1
    return changed


def pre_save_hook(*, model: dict[str, Any], path: str, contents_manager: Any = None, **kwargs: Any) -> None:
    """Jupyter server pre-save hook: strip live-only widget views from a notebook before it is written."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        strip_live_widgets(model["content"])


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register :func:`pre_save_hook` with the server's contents manager."""
    serverapp.contents_manager.register_pre_save_hook(pre_save_hook)
