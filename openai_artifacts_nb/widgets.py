"""Widgets: a download button per saved file, and a progress bar while files are saved.

The button holds no bytes. When clicked, the kernel reads the saved file in chunks and hands each chunk to
the browser through a hidden ``Output`` widget as a tiny script that keeps it; the last one joins them into
a ``Blob`` and clicks a temporary ``<a download>``. The browser so receives exactly the bytes on disk, only
on demand, and the ``Output`` is emptied afterwards so a saved notebook (and its widget state) stays light.
Large files show a progress bar while they are sent. JupyterLab and Notebook 7 run such scripts because
outputs of an ``Output`` widget are trusted. Without a widget manager, the file card's relative link (see
:mod:`openai_artifacts_nb.render`) is the fallback.

Stable CSS classes for front-end tests: ``oai-artifact-download`` (the button), ``oai-download-progress``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import ipywidgets

from openai_artifacts_nb.render import human_size

__all__ = ["LIVE_ONLY_METADATA", "ArtifactDownload", "FetchProgress", "download_link_html"]

#: Output metadata key marking outputs that only work with their kernel (see ``saved_notebooks``).
LIVE_ONLY_METADATA = "openai_artifacts_nb"

_CHUNK_BYTES = 4 * 1024 * 1024
_PROGRESS_OVER_BYTES = 8 * 1024 * 1024

_KEEP_CHUNK = (
    "(function(){{const store=(window.__oaiDownloads=window.__oaiDownloads||{{}});"
    "(store[{token}]=store[{token}]||[]).push({data});}})();"
)
_SAVE = (
    "(function(){{const store=window.__oaiDownloads||{{}};"
    "const chunks=store[{token}]||[];delete store[{token}];"
    "const parts=chunks.map(function(b64){{const bin=atob(b64);const bytes=new Uint8Array(bin.length);"
    "for(let i=0;i<bin.length;i++){{bytes[i]=bin.charCodeAt(i);}}return bytes;}});"
    "const url=URL.createObjectURL(new Blob(parts,{{type:{mime}}}));const a=document.createElement('a');"
    "a.href=url;a.download={name};a.className='oai-download-anchor';a.style.display='none';"
    "document.body.appendChild(a);a.click();"
    "setTimeout(function(){{URL.revokeObjectURL(url);a.remove();}},60000);}})();"
)


def _script_output(script: str) -> dict[str, Any]:
    return {
        "output_type": "display_data",
        "data": {"application/javascript": script, "text/plain": ""},
        "metadata": {},
    }


class ArtifactDownload(ipywidgets.VBox):  # type: ignore[misc]
    """A "Download <name>" button that delivers exactly the bytes saved at ``path``."""

    def __init__(
        self,
        path: str | Path,
        *,
        filename: str | None = None,
        mime_type: str = "application/octet-stream",
        href: str | None = None,
        chunk_bytes: int = _CHUNK_BYTES,
        progress_over: int = _PROGRESS_OVER_BYTES,
    ) -> None:
        self.path = Path(path)
        self.href = href
        self.filename = filename or self.path.name
        self.mime_type = mime_type
        self.chunk_bytes = max(1, chunk_bytes)
        self.progress_over = progress_over
        size = self.path.stat().st_size if self.path.exists() else 0
        self.button = ipywidgets.Button(
            description=f"Download {self.filename}",
            icon="download",
            tooltip=f"{self.filename} · {human_size(size)}",
            layout=ipywidgets.Layout(width="auto"),
        )
        self.button.add_class("oai-artifact-download")
        self.channel = ipywidgets.Output(layout=ipywidgets.Layout(display="none"))
        self.progress: Any = None  # made on the first large download: fewer widgets in a saved notebook
        super().__init__([self.button, self.channel], layout=ipywidgets.Layout(align_items="flex-start"))
        self.add_class("oai-artifact-download-box")
        self.button.on_click(self._deliver)
        self.sent_chunks = 0

    def _progress_bar(self, size: int) -> Any:
        if self.progress is None:
            self.progress = ipywidgets.IntProgress(value=0, min=0, max=max(size, 1))
            self.progress.add_class("oai-download-progress")
            self.children = (self.button, self.progress, self.channel)
        self.progress.max = max(size, 1)
        self.progress.value = 0
        self.progress.layout.display = None
        return self.progress

    def _deliver(self, _button: Any = None) -> None:
        """Send the saved file to the browser, chunk by chunk, then trigger the download."""
        if not self.path.is_file():
            self.button.description = f"{self.filename} is no longer on disk"
            self.button.button_style = "danger"
            return
        token = json.dumps(secrets.token_hex(8))
        size = self.path.stat().st_size
        progress = self._progress_bar(size) if size > self.progress_over else None
        self.button.disabled = True
        self.sent_chunks = 0
        try:
            with self.path.open("rb") as handle:
                sent = 0
                while chunk := handle.read(self.chunk_bytes):
                    data = json.dumps(base64.b64encode(chunk).decode("ascii"))
                    self.channel.outputs = (_script_output(_KEEP_CHUNK.format(token=token, data=data)),)
                    sent += len(chunk)
                    self.sent_chunks += 1
                    if progress is not None:
                        progress.value = sent
            save = _SAVE.format(token=token, mime=json.dumps(self.mime_type), name=json.dumps(self.filename))
            self.channel.outputs = (_script_output(save),)
        finally:
            self.channel.outputs = ()
            self.button.disabled = False
            if progress is not None:
                progress.layout.display = "none"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if not isinstance(bundle, dict):
            return bundle
        # Where no widget can be shown (nbconvert, nbviewer, a reopened notebook once the server extension
        # has dropped the live view), the output falls back to a plain link to the same saved file.
        bundle["text/plain"] = f"Download {self.filename}" + (f": {self.href}" if self.href else "")
        if self.href is not None:
            bundle["text/html"] = download_link_html(self.href, self.filename)
        return bundle, {LIVE_ONLY_METADATA: {"live_only": True}}


def download_link_html(href: str, filename: str) -> str:
    """Return a sanitized ``<a download>`` link to a saved file: the download control without a kernel."""
    from urllib.parse import quote

    from openai_artifacts_nb.links import is_web_url, markdown_url
    from openai_artifacts_nb.markup import escape, sanitize

    target = markdown_url(href) if is_web_url(href) else quote(href, safe="/")
    return sanitize(
        f'<a class="oai-artifact-link" href="{escape(target)}" download="{escape(filename)}" '
        f'target="_blank">Download {escape(filename)}</a>'
    )


class FetchProgress(ipywidgets.VBox):  # type: ignore[misc]
    """A progress bar per large file while the engine saves files; call it as the engine's ``progress`` hook.

    Files under ``min_bytes`` get no bar. Calls may come from the engine's worker threads; updates are
    throttled to ``interval`` seconds per file so a fast download does not flood the front end.
    """

    def __init__(self, *, interval: float = 0.2, min_bytes: int = 1_000_000) -> None:
        super().__init__([])
        self.add_class("oai-fetch-progress")
        self.interval = interval
        self.min_bytes = min_bytes
        self._bars: dict[str, tuple[ipywidgets.FloatProgress, ipywidgets.Label]] = {}
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._rows: list[Any] = []

    def __call__(self, name: str, done: int, total: int | None) -> None:
        """Record that ``done`` of ``total`` bytes of ``name`` are on disk."""
        if name not in self._bars and max(done, total or 0) < self.min_bytes:
            return  # small files arrive before a bar could help; making none keeps the notebook light
        now = time.monotonic()
        with self._lock:
            finished = total is not None and done >= total
            if not finished and now - self._last.get(name, float("-inf")) < self.interval:
                return
            self._last[name] = now
            bar, label = self._bar(name)
        if total:
            bar.max = float(total)
            bar.value = float(min(done, total))
            label.value = f"{name}: {human_size(done)} of {human_size(total)}"
        else:
            bar.bar_style = "info"
            label.value = f"{name}: {human_size(done)}"

    def _bar(self, name: str) -> tuple[ipywidgets.FloatProgress, ipywidgets.Label]:
        if name not in self._bars:
            bar = ipywidgets.FloatProgress(
                value=0.0, min=0.0, max=1.0, layout=ipywidgets.Layout(width="240px")
            )
            # A Label shows its value as text: a file name the model chose can never become markup.
            label = ipywidgets.Label("")
            self._bars[name] = (bar, label)
            self._rows.append(ipywidgets.HBox([bar, label]))
            self.children = tuple(self._rows)
        return self._bars[name]

    def close(self) -> None:
        """Close the bars and their rows too, so none is left in a saved notebook's widget state."""
        for row in self._rows:
            for child in row.children:
                child.close()
            row.close()
        super().close()

    @property
    def bars(self) -> Mapping[str, tuple[ipywidgets.FloatProgress, ipywidgets.HTML]]:
        """Each file's bar and label, by the name it is reported under (read-only)."""
        return MappingProxyType(self._bars)

    @property
    def names(self) -> Iterable[str]:
        """The files seen so far."""
        return list(self._bars)
