"""What a reply looks like: MIME bundles for its text, the code it ran, its usage, notices and errors.

Every object here reads the :mod:`~openai_artifacts_nb.reply` model and has
``_repr_mimebundle_(include, exclude)`` that always offers ``text/plain``, so JupyterLab, nbconvert, a
terminal and tests all see something sensible. Each saved file has its own view in
:mod:`~openai_artifacts_nb.file_views`. Nothing here imports IPython or ipywidgets.

What the model wrote reaches the page only as HTML made by :mod:`~openai_artifacts_nb.markup` (a real
Markdown parser, then an allowlist sanitizer): no ``text/markdown`` is emitted, because a cell's own
outputs are trusted by JupyterLab and its Markdown renderer would let raw HTML through. Colours are
JupyterLab's theme variables (with a light fallback), so light and dark themes both read well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openai_artifacts_nb.markup import MATH_IGNORE, escape, markdown_fragment, markdown_plain, sanitize
from openai_artifacts_nb.reply import CodeRun, Usage

__all__ = [
    "ErrorLine",
    "MimeBundle",
    "Notice",
    "ReplyView",
    "UsageLine",
    "code_run_html",
    "code_run_plain",
    "filter_bundle",
    "human_size",
]

MimeBundle = dict[str, Any]

#: Muted and error colours from JupyterLab's theme, with fallbacks for nbconvert and other front ends.
MUTED = "var(--jp-ui-font-color2, #777)"
ERROR = "var(--jp-error-color1, #b00020)"
_TITLE_MAX = 200


def human_size(size: int) -> str:
    """Return ``size`` bytes as ``"1 byte"``, ``"18 KiB"`` or ``"4.8 MiB"``: the one size format we show."""
    from openai_artifacts_nb.preview_budget import format_bytes

    return format_bytes(size)


def filter_bundle(
    bundle: MimeBundle, include: Iterable[str] | None, exclude: Iterable[str] | None
) -> MimeBundle:
    if include:
        bundle = {key: value for key, value in bundle.items() if key in set(include)}
    if exclude:
        bundle = {key: value for key, value in bundle.items() if key not in set(exclude)}
    return bundle


def code_run_title(run: CodeRun, *, note: str = "") -> str:
    """The one-line summary of a code run: ``Code (2 lines) · FileNotFoundError: orders.csv``."""
    lines = sum(1 for _ in run.code.splitlines()) if run.code else 0
    if run.kind == "shell":
        title = f"Shell ({lines} command{'s' if lines != 1 else ''})"
    else:
        title = f"Code ({lines} line{'s' if lines != 1 else ''})"
    if note:
        title += f" · {note}"
    elif run.error:
        title += f" · {run.error}"
    elif run.status == "failed":
        title += " · failed"
    return title if len(title) <= _TITLE_MAX else title[: _TITLE_MAX - 1] + "…"


def code_run_html(run: CodeRun, *, open_block: bool = False, note: str = "") -> str:
    """Return a code run as a collapsible ``<details>`` block with its logs; a failure shows in the title."""
    failed = bool(run.error) and not note
    summary_style = f' style="color:{ERROR}"' if failed else ""
    classes = "oai-code-run oai-code-failed" if failed else "oai-code-run"
    parts = [
        f'<details class="{classes}"{" open" if open_block else ""}>',
        f"<summary{summary_style}>{escape(code_run_title(run, note=note))}</summary>",
        f'<pre class="oai-code"><code>{escape(run.code or "# (no code yet)")}</code></pre>',
    ]
    if run.logs:
        parts.append(
            f'<div style="color:{MUTED}">Output:</div><pre><code>{escape(run.clean_logs)}</code></pre>'
        )
    if run.images:
        parts.append(f"<p><em>{run.images} image{'s' if run.images != 1 else ''} shown below.</em></p>")
    parts.append("</details>")
    return "".join(parts)


def code_run_plain(run: CodeRun) -> str:
    """Return a code run as indented plain text."""
    label = "shell" if run.kind == "shell" else "code"
    head = f"[{label} · {run.error}]" if run.error else f"[{label}]"
    out = [head] + [f"    {line}" for line in run.code.splitlines()]
    if run.logs:
        out += ["[output]"] + [f"    {line}" for line in run.clean_logs.rstrip().splitlines()]
    return "\n".join(out)


@dataclass
class ReplyView:
    """The reply: the code the model ran (collapsed, with logs) and then its text, rendered from Markdown."""

    text: str
    code_runs: Sequence[CodeRun] = ()
    footer: str = ""

    def html(self) -> str:
        """Return the reply as sanitized HTML: code runs, then the text (``footer`` is plain text)."""
        parts = [code_run_html(run) for run in self.code_runs]
        if self.text:
            parts.append(markdown_fragment(self.text))
        if self.footer:
            parts.append(f'<p style="color:{MUTED}">{escape(self.footer)}</p>')
        if not parts:
            parts.append(f'<p style="color:{MUTED}"><em>(no text in the reply)</em></p>')
        return sanitize(f'<div class="oai-reply {MATH_IGNORE}">{"".join(parts)}</div>')

    def plain(self) -> str:
        """Return the reply as plain text."""
        parts = [code_run_plain(run) for run in self.code_runs]
        parts.append(markdown_plain(self.text) if self.text else "(no text in the reply)")
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(parts)

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> MimeBundle:
        return filter_bundle({"text/plain": self.plain(), "text/html": self.html()}, include, exclude)


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
        markup = f'<div class="oai-usage" style="color:{MUTED};font-size:0.85em">{escape(text)}</div>'
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
        color = ERROR if self.css_class == "oai-error" else MUTED
        markup = sanitize(f'<div class="{escape(self.css_class)}" style="color:{color}">{escape(text)}</div>')
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
