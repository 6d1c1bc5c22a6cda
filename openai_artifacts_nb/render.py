"""What a reply looks like: MIME bundles for its text, the code it ran, its usage, notices and errors.

Every object here reads the :mod:`~openai_artifacts_nb.reply` model and has
``_repr_mimebundle_(include, exclude)`` that always offers ``text/plain``, so JupyterLab, nbconvert, a
terminal and tests all see something sensible. Each saved file has its own view in
:mod:`~openai_artifacts_nb.file_views`. Nothing here imports IPython or ipywidgets.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openai_artifacts_nb.markup import code_fence, escape_markdown_html
from openai_artifacts_nb.reply import CodeRun, Usage

__all__ = [
    "ErrorLine",
    "MimeBundle",
    "Notice",
    "ReplyView",
    "UsageLine",
    "code_run_markdown",
    "code_run_plain",
    "filter_bundle",
    "human_size",
]

MimeBundle = dict[str, Any]


def human_size(size: int) -> str:
    """Return ``size`` bytes as ``"18.3 KB"``-style text (powers of 1000, like file browsers)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def filter_bundle(
    bundle: MimeBundle, include: Iterable[str] | None, exclude: Iterable[str] | None
) -> MimeBundle:
    if include:
        bundle = {key: value for key, value in bundle.items() if key in set(include)}
    if exclude:
        bundle = {key: value for key, value in bundle.items() if key not in set(exclude)}
    return bundle


def code_run_markdown(run: CodeRun, *, open_block: bool = False, note: str = "") -> str:
    """Return a code run as a collapsible Markdown block (``<details>``) with its logs."""
    lines = sum(1 for _ in run.code.splitlines()) if run.code else 0
    title = f"Code ({lines} line{'s' if lines != 1 else ''})"
    if note:
        title += f" · {note}"
    elif run.status == "failed":
        title += " · failed"
    parts = [f"<details{' open' if open_block else ''}><summary>{html.escape(title)}</summary>", ""]
    parts.append(code_fence(run.code or "# (no code yet)", "python"))
    if run.logs:
        parts += ["", "Output:", "", code_fence(run.logs)]
    if run.images:
        parts += ["", f"*{run.images} image{'s' if run.images != 1 else ''} shown below.*"]
    parts += ["", "</details>"]
    return "\n".join(parts)


def code_run_plain(run: CodeRun) -> str:
    """Return a code run as indented plain text."""
    out = ["[code]"] + [f"    {line}" for line in run.code.splitlines()]
    if run.logs:
        out += ["[output]"] + [f"    {line}" for line in run.logs.rstrip().splitlines()]
    return "\n".join(out)


@dataclass
class ReplyView:
    """The reply: the code the model ran (collapsed, with logs) and then its text as Markdown."""

    text: str
    code_runs: Sequence[CodeRun] = ()
    footer: str = ""

    def markdown(self) -> str:
        """Return the reply as Markdown."""
        parts = [code_run_markdown(run) for run in self.code_runs]
        if self.text:
            parts.append(escape_markdown_html(self.text))
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(parts) if parts else "*(no text in the reply)*"

    def plain(self) -> str:
        """Return the reply as plain text."""
        parts = [code_run_plain(run) for run in self.code_runs]
        parts.append(self.text or "(no text in the reply)")
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(parts)

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> MimeBundle:
        return filter_bundle({"text/plain": self.plain(), "text/markdown": self.markdown()}, include, exclude)


@dataclass
class UsageLine:
    """One line under each cell: model, tokens, response id, time taken, where the files went."""

    model: str
    usage: Usage | None
    response_id: str = ""
    seconds: float | None = None
    saved: int = 0
    folder: str = ""

    def plain(self) -> str:
        """Return the line as text."""
        parts = [self.model or "model ?"]
        if self.usage is not None:
            tokens = f"{self.usage.input_tokens:,} in / {self.usage.output_tokens:,} out tokens"
            if self.usage.cached_tokens:
                tokens += f" ({self.usage.cached_tokens:,} cached)"
            parts.append(tokens)
        else:
            parts.append("usage not reported")
        if self.saved:
            parts.append(f"{self.saved} file{'s' if self.saved != 1 else ''} saved to {self.folder}")
        if self.response_id:
            parts.append(self.response_id)
        if self.seconds is not None:
            parts.append(f"{self.seconds:.1f} s")
        return " · ".join(parts)

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> MimeBundle:
        text = self.plain()
        markup = f'<div class="oai-usage" style="color:#777;font-size:0.85em">{html.escape(text)}</div>'
        return filter_bundle({"text/plain": text, "text/html": markup}, include, exclude)


@dataclass
class Notice:
    """A one-line message to the user (for example: the container expired and a new one was started)."""

    message: str
    css_class: str = "oai-notice"
    prefix: str = "Note:"

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> MimeBundle:
        text = f"{self.prefix} {self.message}"
        color = "#b00020" if self.css_class == "oai-error" else "#555"
        markup = f'<div class="{self.css_class}" style="color:{color}">{html.escape(text)}</div>'
        return filter_bundle({"text/plain": text, "text/html": markup}, include, exclude)


class ErrorLine(Notice):
    """A one-line error: an artifact that failed to save, an API error. Never a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message, css_class="oai-error", prefix="Error:")


def __getattr__(name: str) -> Any:
    """Names that moved to :mod:`~openai_artifacts_nb.file_views`, still importable from here."""
    if name in {"ArtifactView", "ArtifactCard", "PreviewLimits"}:
        from openai_artifacts_nb import file_views

        return getattr(file_views, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
