"""What a reply looks like: MIME bundles for the text, the code it ran, each saved file, usage and errors.

Every object here has ``_repr_mimebundle_(include, exclude)`` and always offers ``text/plain``, so JupyterLab,
nbconvert, a terminal and tests all see something sensible. Nothing here imports IPython or ipywidgets.

Previews stay small whatever the file: images are downscaled to a byte budget (the full file stays on disk),
tables show the first rows and say "N of M rows", text shows the first lines. A file is never embedded twice:
the saved file is reached through a relative link, and only small non-image files also get a data-URI link.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from openai_artifacts_nb.preview_facts import describe_file
from openai_artifacts_nb.previews import (
    PreviewLimits,
    PreviewRefused,
    Table,
    display_image,
    highlight_html,
    read_table,
    read_text_preview,
)

__all__ = [
    "ArtifactCard",
    "ArtifactView",
    "CodeRun",
    "ErrorLine",
    "Notice",
    "PreviewLimits",
    "ReplyView",
    "Usage",
    "UsageLine",
    "escape_markdown_html",
    "human_size",
]

MimeBundle = dict[str, Any]

_IMAGE_MIME_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_TABLE_SUFFIXES = {".csv", ".tsv", ".tab", ".xlsx", ".xlsm", ".json", ".parquet", ".pq"}
_TEXT_SUFFIXES = {
    ".txt", ".md", ".py", ".r", ".sql", ".sh", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".log", ".xml",
    ".html", ".htm", ".css", ".js", ".ts", ".tex", ".rst", ".ipynb", ".jsonl", ".c", ".h", ".cpp", ".java",
    ".go", ".rs", ".rb", ".php", ".pl", ".lua", ".m", ".jl", ".scala", ".kt", ".swift", ".dockerfile",
}  # fmt: skip


class SavedFile(Protocol):
    """The parts of the engine's ``SavedArtifact`` that rendering needs."""

    path: Path
    relative_path: str
    filename: str
    mime_type: str
    size: int


def human_size(size: int) -> str:
    """Return ``size`` bytes as ``"18.3 KB"``-style text (powers of 1000, like file browsers)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _filter(bundle: MimeBundle, include: Iterable[str] | None, exclude: Iterable[str] | None) -> MimeBundle:
    if include:
        bundle = {key: value for key, value in bundle.items() if key in set(include)}
    if exclude:
        bundle = {key: value for key, value in bundle.items() if key not in set(exclude)}
    return bundle


_FENCE = re.compile(r"(^|\n)(```|~~~)[^\n]*\n.*?(\n\2[^\n]*(?=\n|$)|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"(`+)[^`].*?\1", re.DOTALL)


def escape_markdown_html(text: str) -> str:
    """Return Markdown with raw HTML outside code made inert, so a reply can never inject live markup.

    Code blocks and code spans are left alone (they are shown literally anyway).
    """
    pieces: list[str] = []
    position = 0
    for fence in _FENCE.finditer(text):
        pieces.append(_escape_outside_inline_code(text[position : fence.start()]))
        pieces.append(fence.group(0))
        position = fence.end()
    pieces.append(_escape_outside_inline_code(text[position:]))
    return "".join(pieces)


def _escape_outside_inline_code(text: str) -> str:
    pieces: list[str] = []
    position = 0
    for span in _INLINE_CODE.finditer(text):
        pieces.append(text[position : span.start()].replace("<", "&lt;"))
        pieces.append(span.group(0))
        position = span.end()
    pieces.append(text[position:].replace("<", "&lt;"))
    return "".join(pieces)


def _fence(code: str, language: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{code.rstrip()}\n{ticks}"


@dataclass
class CodeRun:
    """One ``code_interpreter_call``: the code, what it printed, and how it ended."""

    item_id: str
    code: str = ""
    logs: str = ""
    status: str = "in_progress"
    container_id: str | None = None
    images: int = 0

    def markdown(self, *, open_block: bool = False, note: str = "") -> str:
        """Return the run as a collapsible Markdown block (``<details>``) with its logs."""
        lines = sum(1 for _ in self.code.splitlines()) if self.code else 0
        title = f"Code ({lines} line{'s' if lines != 1 else ''})"
        if note:
            title += f" · {note}"
        elif self.status == "failed":
            title += " · failed"
        parts = [f"<details{' open' if open_block else ''}><summary>{html.escape(title)}</summary>", ""]
        parts.append(_fence(self.code or "# (no code yet)", "python"))
        if self.logs:
            parts += ["", "Output:", "", _fence(self.logs)]
        if self.images:
            parts += ["", f"*{self.images} image{'s' if self.images != 1 else ''} shown below.*"]
        parts += ["", "</details>"]
        return "\n".join(parts)

    def plain(self) -> str:
        """Return the run as indented plain text."""
        out = ["[code]"] + [f"    {line}" for line in self.code.splitlines()]
        if self.logs:
            out += ["[output]"] + [f"    {line}" for line in self.logs.rstrip().splitlines()]
        return "\n".join(out)


@dataclass(frozen=True)
class Usage:
    """Token counts of one response."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    @classmethod
    def from_response_usage(cls, usage: Any) -> Usage | None:
        """Build from the SDK's ``ResponseUsage`` (or a dict); ``None`` stays ``None``."""
        if usage is None:
            return None
        get = (
            usage.get if isinstance(usage, dict) else lambda name, default=None: getattr(usage, name, default)
        )
        details = get("input_tokens_details", None)
        cached = (
            details.get("cached_tokens")
            if isinstance(details, dict)
            else getattr(details, "cached_tokens", 0)
        ) or 0
        return cls(
            input_tokens=int(get("input_tokens", 0) or 0),
            output_tokens=int(get("output_tokens", 0) or 0),
            total_tokens=int(get("total_tokens", 0) or 0),
            cached_tokens=int(cached),
        )


@dataclass
class ReplyView:
    """The reply: the code the model ran (collapsed, with logs) and then its text as Markdown."""

    text: str
    code_runs: Sequence[CodeRun] = ()
    footer: str = ""

    def markdown(self) -> str:
        """Return the reply as Markdown."""
        parts = [run.markdown() for run in self.code_runs]
        if self.text:
            parts.append(escape_markdown_html(self.text))
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(parts) if parts else "*(no text in the reply)*"

    def plain(self) -> str:
        """Return the reply as plain text."""
        parts = [run.plain() for run in self.code_runs]
        parts.append(self.text or "(no text in the reply)")
        if self.footer:
            parts.append(self.footer)
        return "\n\n".join(parts)

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> MimeBundle:
        return _filter({"text/plain": self.plain(), "text/markdown": self.markdown()}, include, exclude)


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
        return _filter({"text/plain": text, "text/html": markup}, include, exclude)


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
        return _filter({"text/plain": text, "text/html": markup}, include, exclude)


class ErrorLine(Notice):
    """A one-line error: an artifact that failed to save, an API error. Never a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message, css_class="oai-error", prefix="Error:")


@dataclass
class ArtifactView:
    """One saved file, shown inline by kind, with a relative link to it (and a data-URI link when small).

    ``kind`` is ``"image"``, ``"svg"``, ``"table"``, ``"text"`` or ``"file"``.
    """

    path: Path
    relative_path: str
    filename: str
    mime_type: str
    size: int
    limits: PreviewLimits = field(default_factory=PreviewLimits)
    _bundle: MimeBundle | None = field(default=None, init=False, repr=False)
    _metadata: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_saved(cls, artifact: SavedFile, *, limits: PreviewLimits | None = None) -> ArtifactView:
        """Build from the engine's ``SavedArtifact``."""
        return cls(
            path=Path(artifact.path),
            relative_path=artifact.relative_path,
            filename=artifact.filename,
            mime_type=artifact.mime_type,
            size=artifact.size,
            limits=limits or PreviewLimits(),
        )

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        relative_to: str | Path | None = None,
        mime_type: str | None = None,
        limits: PreviewLimits | None = None,
    ) -> ArtifactView:
        """Build from a file on disk; the link is relative to ``relative_to`` (default: its own folder)."""
        path = Path(path).resolve()
        base = Path(relative_to).resolve() if relative_to is not None else path.parent
        try:
            relative = path.relative_to(base).as_posix()
        except ValueError:
            relative = path.as_posix()
        if mime_type is None:
            import mimetypes

            mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(path, relative, path.name, mime_type, path.stat().st_size, limits or PreviewLimits())

    @property
    def kind(self) -> str:
        """Which preview this file gets."""
        suffix = self.path.suffix.lower()
        if self.mime_type == "image/svg+xml" or suffix == ".svg":
            return "svg"
        if self.mime_type in _IMAGE_MIME_TYPES:
            return "image"
        if suffix in _TABLE_SUFFIXES or self.mime_type in {"text/csv", "text/tab-separated-values"}:
            return "table"
        if (
            self.mime_type.startswith("text/")
            or suffix in _TEXT_SUFFIXES
            or self.mime_type == "application/json"
        ):
            return "text"
        return "file"

    @property
    def href(self) -> str:
        """The relative link to the saved file, URL-encoded."""
        return quote(self.relative_path, safe="/")

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> tuple[MimeBundle, dict[str, Any]]:
        if self._bundle is None:
            self._bundle = self._build()
        return _filter(dict(self._bundle), include, exclude), dict(self._metadata)

    def displays(self) -> list[Any]:
        """Return what to display for this file, in order: the preview, then (for images) its file card.

        An image is its own output (``image/png`` or ``image/jpeg``, which every front end shows); its card
        with the links is a second output, because a front end shows only one type of a bundle.
        """
        return [self, ArtifactCard(self)] if self.kind == "image" else [self]

    def _build(self) -> MimeBundle:
        kind = self.kind
        try:
            if kind == "image":
                return self._image_bundle()
            if kind == "svg":
                return self._svg_bundle()
            if kind == "table":
                table = read_table(self.path, self.limits)
                if table is not None:
                    return self._table_bundle(table)
                kind = "text" if self.mime_type.startswith("text/") or self.path.suffix == ".json" else "file"
            if kind == "text":
                return self._text_bundle()
        except PreviewRefused as refused:  # over its budget, or not what its name says: the card says why
            return self._card_bundle(note=f"no preview: {refused}"[:300])
        except Exception as error:  # a preview must never lose the file: fall back to the card
            return self._card_bundle(note=f"no preview: {type(error).__name__}: {error}"[:200])
        return self._card_bundle()

    def caption_html(self, note: str = "") -> str:
        """Return the file card: name, type, size, a relative download link and, when small, a data URI."""
        name = html.escape(self.filename)
        links = [
            f'<a class="oai-artifact-link" href="{html.escape(self.href)}" download="{name}" '
            f'target="_blank">{html.escape(self.relative_path)}</a>'
        ]
        if self.kind not in {"image", "svg"} and self.size <= self.limits.data_uri_max_bytes:
            encoded = base64.b64encode(self.path.read_bytes()).decode("ascii")
            links.append(
                f'<a class="oai-artifact-datauri" href="data:{html.escape(self.mime_type)};base64,{encoded}" '
                f'download="{name}">download (embedded copy)</a>'
            )
        extra = f' <span class="oai-artifact-note">· {html.escape(note)}</span>' if note else ""
        return (
            f'<div class="oai-artifact-card" data-filename="{name}" style="font-size:0.9em;margin:2px 0 8px">'
            f'<b class="oai-artifact-name">{name}</b> · <span class="oai-artifact-type" '
            f'title="{html.escape(self.mime_type)}">{html.escape(self._described())}</span> · '
            f"{' · '.join(links)}{extra}</div>"
        )

    def _described(self) -> str:
        """Short type, size and (for other files) cheap facts: ``"PDF · 9.5 MiB · 12 pages"``."""
        return " · ".join(
            describe_file(self.path, self.filename, self.mime_type, self.size, facts=self.kind == "file")
        )

    def caption_plain(self) -> str:
        """Return the file card as one line of text."""
        return f"[{self.kind}] {self.filename} · {self._described()} · saved to {self.relative_path}"

    def _card_bundle(self, note: str = "") -> MimeBundle:
        plain = self.caption_plain() + (f" ({note})" if note else "")
        return {"text/plain": plain, "text/html": self.caption_html(note)}

    def _image_bundle(self) -> MimeBundle:
        mime, data, (width, height), note = display_image(self.path, self.mime_type, self.size, self.limits)
        bundle: MimeBundle = {
            "text/plain": self.caption_plain() + (f" ({note})" if note else ""),
            mime: base64.b64encode(data).decode("ascii"),
        }
        self._metadata = {mime: {"width": width, "height": height}}
        return bundle

    def _svg_bundle(self) -> MimeBundle:
        if self.size <= self.limits.image_max_bytes:
            encoded = base64.b64encode(self.path.read_bytes()).decode("ascii")
            source = f"data:image/svg+xml;base64,{encoded}"
        else:
            source = html.escape(self.href)
        markup = (
            f'<img class="oai-artifact-image oai-artifact-svg" src="{source}" '
            f'alt="{html.escape(self.filename)}" style="max-width:100%">{self.caption_html()}'
        )
        return {"text/plain": self.caption_plain(), "text/html": markup}

    def _table_bundle(self, table: Table) -> MimeBundle:
        head = "".join(f"<th>{html.escape(column)}</th>" for column in table.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
        )
        footer = html.escape(table.summary())
        markup = (
            f'<div class="oai-table-preview" data-filename="{html.escape(self.filename)}" '
            'style="max-height:420px;overflow:auto">'
            f'<table class="dataframe"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
            f'<div class="oai-table-footer" style="color:#777;font-size:0.85em">{footer}</div>'
            f"{self.caption_html()}"
        )
        return {"text/plain": f"{self.caption_plain()}\n{table.plain()}", "text/html": markup}

    def _text_bundle(self) -> MimeBundle:
        preview = read_text_preview(self.path, self.limits)
        text, footer = preview.text, preview.footer(self.limits)
        code = highlight_html(text, self.filename, self.limits) if preview.highlight else None
        if code is None:  # no Pygments, a line too long to lex, or lexing ran past its deadline
            code = f"<pre>{html.escape(text)}</pre>"
        markup = (
            f'<div class="oai-artifact-text" data-filename="{html.escape(self.filename)}" '
            f'style="max-height:420px;overflow:auto">{code}</div>'
            f'<div class="oai-text-footer" style="color:#777;font-size:0.85em">{html.escape(footer)}</div>'
            f"{self.caption_html()}"
        )
        plain_lines = text.splitlines()[:20]
        plain = "\n".join([self.caption_plain(), *(f"    {line}" for line in plain_lines), f"    ({footer})"])
        return {"text/plain": plain, "text/html": markup}


@dataclass
class ArtifactCard:
    """The file card of an artifact on its own: name, type, size and links (used under an image)."""

    artifact: ArtifactView

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> MimeBundle:
        bundle = {
            "text/plain": f"saved to {self.artifact.relative_path}",
            "text/html": self.artifact.caption_html(),
        }
        return _filter(bundle, include, exclude)
