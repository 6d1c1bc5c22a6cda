"""What a saved file looks like: an image, a table, text or a file card, within a size budget.

Previews stay small whatever the file: images are downscaled to a byte budget (the full file stays on disk),
tables show the first rows and say "N of M rows", text shows the first lines. A file is never embedded twice:
the saved file is reached through a relative link, and only small non-image files also get a data-URI link.
Every view has ``_repr_mimebundle_(include, exclude)`` and always offers ``text/plain``. Nothing here
imports IPython or ipywidgets.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from openai_artifacts_nb.links import is_web_url, markdown_url
from openai_artifacts_nb.markup import sanitize
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
from openai_artifacts_nb.render import MUTED, MimeBundle, filter_bundle

__all__ = ["ArtifactCard", "ArtifactView", "PreviewLimits", "SavedFile", "lifetime_text"]

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


def _storage_facts(artifact: object) -> tuple[str | None, int | None]:
    """Where an artifact in object storage is (``s3://…``) and how long its link lasts (engine extras)."""
    stored_at = getattr(artifact, "stored_at", None)
    lifetime = getattr(artifact, "link_lifetime", None)
    return (stored_at if isinstance(stored_at, str) else None), (
        lifetime if isinstance(lifetime, int) else None
    )


def lifetime_text(seconds: int) -> str:
    """``3600`` -> ``"1 h"``, ``900`` -> ``"15 min"``, ``86400`` -> ``"1 day"``: a link's stated lifetime."""
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day" + ("s" if days != 1 else "")
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


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
    stored_at: str | None = None
    link_lifetime: int | None = None
    _bundle: MimeBundle | None = field(default=None, init=False, repr=False)
    _metadata: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_saved(cls, artifact: SavedFile, *, limits: PreviewLimits | None = None) -> ArtifactView:
        """Build from the engine's ``SavedArtifact`` (in object storage: its link is the object's URL)."""
        stored_at, lifetime = _storage_facts(artifact)
        return cls(
            path=Path(artifact.path),
            relative_path=artifact.relative_path,
            filename=artifact.filename,
            mime_type=artifact.mime_type,
            size=artifact.size,
            limits=limits or PreviewLimits(),
            stored_at=stored_at,
            link_lifetime=lifetime,
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
        """The relative link to the saved file (or its object's URL), URL-encoded."""
        if is_web_url(self.relative_path):
            return markdown_url(self.relative_path)
        return quote(self.relative_path, safe="/")

    @property
    def saved_to(self) -> str:
        """Where the file is, for people: its relative path, or its ``s3://…`` URL in object storage."""
        return self.stored_at or self.relative_path

    def _link_note(self) -> str:
        if self.link_lifetime is None:
            return ""
        return f"link valid for {lifetime_text(self.link_lifetime)}"

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **kwargs: Any
    ) -> tuple[MimeBundle, dict[str, Any]]:
        if self._bundle is None:
            self._bundle = _sanitized(self._build())
        return filter_bundle(dict(self._bundle), include, exclude), dict(self._metadata)

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
            f'target="_blank">{html.escape(self.saved_to)}</a>'
        ]
        if self._link_note():
            links.append(f'<span class="oai-artifact-expiry">{html.escape(self._link_note())}</span>')
        if self.kind not in {"image", "svg"} and self.size <= self.limits.data_uri_max_bytes:
            encoded = base64.b64encode(self.path.read_bytes()).decode("ascii")
            links.append(
                # octet-stream: the copy is for saving (``download`` names it), never for opening in the page
                f'<a class="oai-artifact-datauri" href="data:application/octet-stream;base64,{encoded}" '
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
        expiry = f" · {self._link_note()}: {self.relative_path}" if self._link_note() else ""
        return f"[{self.kind}] {self.filename} · {self._described()} · saved to {self.saved_to}{expiry}"

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
            f'<div class="oai-table-footer" style="color:{MUTED};font-size:0.85em">{footer}</div>'
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
            f'<div class="oai-text-footer" style="color:{MUTED};font-size:0.85em">{html.escape(footer)}</div>'
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
        bundle = _sanitized(
            {
                "text/plain": f"saved to {self.artifact.saved_to}",
                "text/html": self.artifact.caption_html(),
            }
        )
        return filter_bundle(bundle, include, exclude)


def _sanitized(bundle: MimeBundle) -> MimeBundle:
    """The bundle with its HTML through the allowlist sanitizer: the last step of every file view."""
    if isinstance(bundle.get("text/html"), str):
        bundle = {**bundle, "text/html": sanitize(bundle["text/html"])}
    return bundle
