"""Read a bounded prefix of a saved file to preview it: the first rows of a table, the first lines of a text,
a display copy of an image. Every reader stops within its budget whatever the file holds or claims.

- CSV/TSV and text: at most ``table_bytes`` / ``text_bytes`` are read and only that prefix is parsed (a line
  longer than it is cut); the delimiter is found by counting candidates in a small sample (linear, unlike
  ``csv.Sniffer``, whose regexes can go super-linear); lines are counted in at most ``count_bytes`` and the
  rest estimated. A prefix with NUL bytes is binary (this is what a sparse file reads as), so sizes are judged
  by the bytes really read, never ``st_size``.
- JSON tables: only files whose whole text fits in ``json_bytes`` are parsed.
- XLSX: :mod:`openai_artifacts_nb.preview_xlsx` streams the zip parts with byte caps.
- Parquet: the footer's length and every column chunk's sizes are checked before any value is read; a column
  too large to read is left out and named.
- Images: the header gives the size (Pillow opens lazily); JPEGs are decoded at a reduced scale, and anything
  that would still decode to more than ``image_decode_pixels`` is refused before decoding.

A preview that would exceed its budget raises :class:`PreviewRefused`; the file card shows its message.
Pillow, pyarrow and openpyxl are imported only when a preview needs them.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openai_artifacts_nb.preview_budget import Budget, PreviewRefused, format_bytes

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "PreviewLimits",
    "PreviewRefused",
    "Table",
    "TextPreview",
    "count_lines",
    "display_image",
    "guess_delimiter",
    "highlight_html",
    "read_table",
    "read_text",
    "read_text_preview",
]

MiB = 1024 * 1024


@dataclass(frozen=True)
class PreviewLimits:
    """How much of each file is read and shown inline; nothing holds more than this per artifact."""

    rows: int = 20
    columns: int = 20
    text_lines: int = 200
    text_bytes: int = 64 * 1024
    image_max_pixels: int = 1600
    image_max_bytes: int = 384 * 1024
    data_uri_max_bytes: int = 64 * 1024
    cell_chars: int = 200
    #: Bytes of a CSV/TSV read for its header and rows.
    table_bytes: int = 1 * MiB
    #: Bytes scanned to count lines; past that the count is estimated.
    count_bytes: int = 64 * MiB
    #: Largest JSON file parsed as a table.
    json_bytes: int = 1 * MiB
    #: Pixels an image may decode to (after a JPEG's reduced-scale decode): 16 megapixels is 64 MiB as RGBA.
    image_decode_pixels: int = 16_000_000
    #: Largest Parquet footer read.
    parquet_footer_bytes: int = 8 * MiB
    #: Largest column chunk (uncompressed) read for a preview, and the sum over the columns read.
    parquet_column_bytes: int = 64 * MiB
    parquet_total_bytes: int = 128 * MiB
    #: Backstop deadline, checked between chunks; the byte caps keep readers well within it.
    seconds: float = 1.5
    #: Text is highlighted only when no line is longer than this (regex lexers slow down on huge tokens).
    highlight_line_chars: int = 2000
    #: Highlighting stops (and the text is shown plain) past this; checked between tokens.
    highlight_seconds: float = 0.5


@dataclass
class Table:
    """The first rows of a table file, and how many it has in all (``None``: unknown)."""

    columns: list[str]
    rows: list[list[str]]
    total_rows: int | None
    total_columns: int
    approximate: bool = False
    note: str = ""
    sheet: str = ""
    other_sheets: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``"20 of 1,000 rows"`` (with "about" when estimated), columns when capped, sheets and notes."""
        if self.total_rows is None:
            rows = f"first {len(self.rows):,} rows" if self.rows else "no rows read"
        else:
            about = "about " if self.approximate else ""
            rows = f"{len(self.rows):,} of {about}{self.total_rows:,} rows"
        if self.total_columns > len(self.columns):
            rows += f", {len(self.columns):,} of {self.total_columns:,} columns"
        parts = [rows]
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.other_sheets:
            names = ", ".join(self.other_sheets[:10])
            more = f" and {len(self.other_sheets) - 10:,} more" if len(self.other_sheets) > 10 else ""
            parts.append(f"other sheets: {names}{more}")
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)

    def plain(self) -> str:
        """Every row read as aligned plain text, with the summary: it shows as many rows as it says."""
        shown = [self.columns, *self.rows]
        widths = [
            min(24, max(len(row[index]) if index < len(row) else 0 for row in shown))
            for index in range(len(self.columns))
        ]
        lines = [
            "    " + "  ".join(cell[:24].ljust(width) for cell, width in zip(row, widths, strict=False))
            for row in shown
        ]
        return "\n".join([*lines, f"    ({self.summary()})"])


def _cell(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _budget(path: Path, limits: PreviewLimits, max_bytes: int) -> Budget:
    return Budget(max_bytes, limits.seconds, path.name)


def read_table(path: Path, limits: PreviewLimits) -> Table | None:
    """Read the first rows of a table file within the limits; ``None`` if it is not a table.

    Raises :class:`PreviewRefused` when the file cannot be previewed within its budget.
    """
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv", ".tab"}:
        return _read_delimited(path, "\t" if suffix in {".tsv", ".tab"} else None, limits)
    if suffix in {".xlsx", ".xlsm"}:
        return _read_excel(path, limits)
    if suffix in {".parquet", ".pq"}:
        return _read_parquet(path, limits)
    if suffix == ".json":
        return _read_json_table(path, limits)
    return _read_delimited(path, None, limits)


def _read_prefix(path: Path, max_bytes: int) -> tuple[bytes, bool]:
    """Up to ``max_bytes`` from the start of ``path``, and whether that was the whole file (by bytes read)."""
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    return data[:max_bytes], len(data) <= max_bytes


def _refuse_binary(data: bytes, path: Path) -> None:
    if b"\x00" in data:
        raise PreviewRefused(
            f"binary content: NUL bytes in the first {format_bytes(len(data))} of {path.name}"
        )


_QUOTED = re.compile(r'"[^"]*(?:"|$)')
_DELIMITERS = (",", "\t", ";", "|")


def guess_delimiter(sample: str, candidates: tuple[str, ...] = _DELIMITERS, max_lines: int = 50) -> str:
    """The delimiter of a CSV sample: the candidate that appears the same non-zero number of times per line.

    Linear in the sample: quoted fields are dropped by one non-backtracking regex, then each candidate is
    counted per line. Ties go to the candidate that appears most often, then to the order of ``candidates``.
    """
    lines = [line for line in _QUOTED.sub("", sample).splitlines() if line.strip()][:max_lines]
    if not lines:
        return candidates[0]
    best: tuple[int, int, int] | None = None
    choice = candidates[0]
    for order, candidate in enumerate(candidates):
        counts = [line.count(candidate) for line in lines]
        common = max(set(counts), key=counts.count)
        if common == 0:
            continue
        score = (counts.count(common), common, -order)
        if best is None or score > best:
            best, choice = score, candidate
    return choice


def _count_newlines(path: Path, limits: PreviewLimits, budget: Budget) -> tuple[int, bool] | None:
    """(lines, exact) from scanning at most ``count_bytes``; estimated from the file size past that.

    ``None`` when the scan meets NUL bytes: a file with holes or binary data has no line count worth showing.
    """
    count = 0
    read = 0
    last = b"\n"
    with path.open("rb") as handle:
        while read < limits.count_bytes:
            chunk = handle.read(min(MiB, limits.count_bytes - read))
            if not chunk:
                return count + (0 if last == b"\n" else 1), True
            if b"\x00" in chunk:
                return None
            count += chunk.count(b"\n")
            read += len(chunk)
            last = chunk[-1:]
            budget.check_time()
        if not handle.read(1):
            return count + (0 if last == b"\n" else 1), True
        size = handle.seek(0, 2)
    return max(count, round(count * size / read)), False


def count_lines(path: Path, max_bytes: int = 64 * MiB) -> int:
    """Count the lines in the first ``max_bytes`` of a file; a last line without a newline counts."""
    count = 0
    read = 0
    last = b"\n"
    with path.open("rb") as handle:
        while read < max_bytes:
            chunk = handle.read(min(MiB, max_bytes - read))
            if not chunk:
                break
            count += chunk.count(b"\n")
            read += len(chunk)
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _decode_prefix(data: bytes, whole: bool) -> str:
    """UTF-8 text of a prefix; a character cut at its end is left out rather than shown as a replacement."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(data, final=whole)


def _complete_lines(data: bytes, whole: bool) -> tuple[str, bool]:
    """The prefix as text, ending at its last newline unless it is the whole file; True if a line was cut."""
    if whole:
        return _decode_prefix(data, True), False
    end = data.rfind(b"\n")
    if end < 0:
        return _decode_prefix(data, False), True
    return _decode_prefix(data[: end + 1], True), False


def _read_delimited(path: Path, delimiter: str | None, limits: PreviewLimits) -> Table | None:
    budget = _budget(path, limits, limits.count_bytes)
    data, whole = _read_prefix(path, limits.table_bytes)
    _refuse_binary(data, path)
    text, line_cut = _complete_lines(data, whole)
    if delimiter is None:
        delimiter = guess_delimiter(text[: 64 * 1024])
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return None
        rows: list[list[str]] = []
        records = 0
        for row in reader:
            records += 1
            if len(rows) < limits.rows:
                rows.append([_cell(value, limits.cell_chars) for value in row[: limits.columns]])
            elif not whole:
                break
    except csv.Error:  # e.g. a quoted field longer than the csv module's limit: shown as text instead
        return None
    note = f"line 1 is longer than {format_bytes(limits.table_bytes)}: cut" if line_cut else ""
    total: int | None = records
    approximate = False
    if line_cut:
        total = None
    elif not whole:
        counted = _count_newlines(path, limits, budget)
        total, approximate = (None, False) if counted is None else (max(counted[0] - 1, len(rows)), True)
    return Table(
        [_cell(column, limits.cell_chars) for column in header[: limits.columns]],
        rows,
        total,
        len(header),
        approximate,
        note,
    )


def _read_excel(path: Path, limits: PreviewLimits) -> Table | None:
    from openai_artifacts_nb.preview_xlsx import read_xlsx

    preview = read_xlsx(
        path,
        rows=limits.rows,
        columns=limits.columns,
        cell_chars=limits.cell_chars,
        budget=_budget(path, limits, 0),
    )
    header, *rows = preview.rows
    return Table(
        header,
        rows,
        preview.total_rows,
        preview.total_columns,
        note=preview.note,
        sheet=preview.sheet if preview.other_sheets else "",
        other_sheets=preview.other_sheets,
    )


def _read_parquet(path: Path, limits: PreviewLimits) -> Table | None:
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        return None
    from openai_artifacts_nb.preview_parquet import read_parquet, skipped_note

    preview = read_parquet(
        path,
        rows=limits.rows,
        columns=limits.columns,
        cell_chars=limits.cell_chars,
        column_bytes=limits.parquet_column_bytes,
        total_bytes=limits.parquet_total_bytes,
        footer_bytes=limits.parquet_footer_bytes,
    )
    note = skipped_note(preview.skipped)
    return Table(preview.columns, preview.rows, preview.total_rows, preview.total_columns, note=note)


def _read_json_table(path: Path, limits: PreviewLimits) -> Table | None:
    data_bytes, whole = _read_prefix(path, limits.json_bytes)
    if not whole:
        return None
    try:
        data = json.loads(data_bytes.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and data and all(isinstance(value, list) for value in data.values()):
        columns = list(data)
        total = max(len(value) for value in data.values())
        rows = [
            [
                _cell(data[column][index] if index < len(data[column]) else "", limits.cell_chars)
                for column in columns[: limits.columns]
            ]
            for index in range(min(total, limits.rows))
        ]
        return Table(
            [_cell(c, limits.cell_chars) for c in columns[: limits.columns]], rows, total, len(columns)
        )
    if isinstance(data, list) and data and all(isinstance(record, dict) for record in data):
        columns = list(dict.fromkeys(key for record in data[: limits.rows * 5] for key in record))
        rows = [
            [_cell(record.get(column), limits.cell_chars) for column in columns[: limits.columns]]
            for record in data[: limits.rows]
        ]
        return Table(
            [_cell(column, limits.cell_chars) for column in columns[: limits.columns]],
            rows,
            len(data),
            len(columns),
        )
    return None


@dataclass
class TextPreview:
    """The first lines of a text file and what the footer says about the rest."""

    text: str
    shown: int
    total: int | None
    exact: bool
    cut: bool
    highlight: bool

    def footer(self, limits: PreviewLimits) -> str:
        """``"50 of 1,000 lines (first 64 KiB)"``, with "about" when the count is estimated."""
        if self.total is None:
            counted = f"first {self.shown:,} lines"
        else:
            about = "" if self.exact else "about "
            counted = f"{self.shown:,} of {about}{self.total:,} lines"
        return counted + (f" (first {format_bytes(limits.text_bytes)})" if self.cut else "")


def read_text_preview(path: Path, limits: PreviewLimits) -> TextPreview:
    """Read at most ``text_bytes`` of a text file for display and count its lines within ``count_bytes``.

    Raises :class:`PreviewRefused` for binary content (NUL bytes in what was read).
    """
    head, whole = _read_prefix(path, limits.text_bytes)
    _refuse_binary(head, path)
    text = _decode_prefix(head, whole)
    lines = text.splitlines()
    cut = not whole
    if cut and len(lines) > 1:
        lines = lines[:-1]
    shown = lines[: limits.text_lines]
    total: int | None = len(lines)
    exact = True
    if cut:
        counted = _count_newlines(path, limits, _budget(path, limits, limits.count_bytes))
        total, exact = (None, False) if counted is None else (max(counted[0], len(shown)), counted[1])
    highlight = all(len(line) <= limits.highlight_line_chars for line in shown)
    return TextPreview("\n".join(shown), len(shown), total, exact, cut, highlight)


def highlight_html(text: str, filename: str, limits: PreviewLimits) -> str | None:
    """``text`` highlighted as HTML by Pygments (lexer from ``filename``), or ``None`` to show it plain.

    ``None`` when Pygments is missing or lexing passes ``highlight_seconds``: tokens are pulled one by one
    and the deadline checked every 256, so a lexer that slows down on some input cannot hold the kernel.
    """
    try:
        from pygments.lexers import TextLexer, get_lexer_for_filename
        from pygments.util import ClassNotFound
    except ImportError:
        return None
    try:
        lexer = get_lexer_for_filename(filename)
    except ClassNotFound:
        lexer = TextLexer()
    deadline = Budget(0, limits.highlight_seconds, filename)
    pieces = []
    for count, (token_type, value) in enumerate(lexer.get_tokens(text)):
        if count % 256 == 0 and deadline.expired:
            return None
        colour = _token_colour(token_type)
        escaped = html.escape(value, quote=True)
        pieces.append(f'<span style="{colour}">{escaped}</span>' if colour else escaped)
    return f'<pre class="highlight" style="{_CODE_BOX}">{"".join(pieces)}</pre>'


# JupyterLab's own editor colours (so light and dark themes both read well), with light fallbacks.
_CODE_BOX = (
    "background-color:var(--jp-cell-editor-background, #f7f7f7);"
    "color:var(--jp-content-font-color1, #111);padding:4px 6px;margin:0"
)
_TOKEN_COLOURS = (
    ("Comment", "color:var(--jp-mirror-editor-comment-color, #408080);font-style:italic"),
    ("Keyword", "color:var(--jp-mirror-editor-keyword-color, #008000);font-weight:bold"),
    ("Name.Builtin", "color:var(--jp-mirror-editor-builtin-color, #008000)"),
    ("Name.Function", "color:var(--jp-mirror-editor-def-color, #0000ff)"),
    ("Name.Class", "color:var(--jp-mirror-editor-def-color, #0000ff)"),
    ("Name.Tag", "color:var(--jp-mirror-editor-tag-color, #117700)"),
    ("Name.Attribute", "color:var(--jp-mirror-editor-attribute-color, #0000cc)"),
    ("Name.Decorator", "color:var(--jp-mirror-editor-meta-color, #aa22ff)"),
    ("Literal.String", "color:var(--jp-mirror-editor-string-color, #ba2121)"),
    ("Literal.Number", "color:var(--jp-mirror-editor-number-color, #008800)"),
    ("Operator", "color:var(--jp-mirror-editor-operator-color, #aa22ff)"),
    ("Generic.Heading", "color:var(--jp-mirror-editor-header-color, #0000ff);font-weight:bold"),
    ("Generic.Subheading", "color:var(--jp-mirror-editor-header-color, #0000ff)"),
    ("Error", "color:var(--jp-mirror-editor-error-color, #ff0000)"),
)


def _token_colour(token_type: Any) -> str:
    """The inline style of a Pygments token type: the nearest listed ancestor's, else none."""
    name = str(token_type).removeprefix("Token.")
    for prefix, style in _TOKEN_COLOURS:
        if name == prefix or name.startswith(prefix + "."):
            return style
    return ""


def read_text(path: Path, limits: PreviewLimits) -> tuple[str, int, int, bool]:
    """Return (shown text, lines shown, total lines, cut): :func:`read_text_preview` as a tuple."""
    preview = read_text_preview(path, limits)
    total = preview.total if preview.total is not None else preview.shown
    return preview.text, preview.shown, total, preview.cut


def _png_may_fit(frame: Image.Image, budget: int) -> bool:
    """Whether ``frame`` as PNG could fit ``budget``, judged from a PNG of a 400-pixel copy.

    Encoding a 1600-pixel photograph or noise as PNG takes about half a second only to find it too big; the
    small copy takes a fortieth of that. Its bytes per pixel, with a 3x margin, decide whether to try.
    """
    small = frame.copy()
    small.thumbnail((400, 400))
    if small.size == frame.size:
        return True
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    ratio = (frame.width * frame.height) / (small.width * small.height)
    return buffer.tell() * ratio <= 3 * budget


def display_image(
    path: Path, mime: str, size: int, limits: PreviewLimits
) -> tuple[str, bytes, tuple[int, int], str]:
    """Return (mime, bytes, (width, height), note) of a display copy no larger than the limits.

    The size comes from the header before any pixel is decoded: a JPEG is decoded at a reduced scale, and an
    image that would still decode to more than ``image_decode_pixels`` raises :class:`PreviewRefused`.
    """
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError:
            raise PreviewRefused(
                f"over the {limits.image_decode_pixels / 1e6:g}-megapixel preview limit "
                "(Pillow refuses it as a decompression bomb)"
            ) from None
        except UnidentifiedImageError:
            raise PreviewRefused("not an image Pillow can read") from None
    with image:
        width, height = image.size
        fits = width <= limits.image_max_pixels and height <= limits.image_max_pixels
        if mime in {"image/png", "image/jpeg", "image/gif"} and fits and size <= limits.image_max_bytes:
            return mime, path.read_bytes(), (width, height), ""
        if image.format == "JPEG":
            image.draft("RGB", (limits.image_max_pixels, limits.image_max_pixels))
        decoded = image.size[0] * image.size[1]
        if decoded > limits.image_decode_pixels:
            raise PreviewRefused(
                f"{width:,}×{height:,} pixels: over the "
                f"{limits.image_decode_pixels / 1e6:g}-megapixel preview limit"
            )
        # Only now: telling whether a GIF is animated means reading past its first frame.
        animated = getattr(image, "is_animated", False)
        image.seek(0)
        box = (limits.image_max_pixels, limits.image_max_pixels)
        if image.mode in {"RGB", "RGBA"}:
            image.thumbnail(box)  # in place, so the full-size pixels are never copied
            frame = image.copy()
        else:
            frame = image.convert("RGBA" if image.mode in {"LA", "P", "PA"} else "RGB")
            frame.thumbnail(box)
    first = "first frame " if animated else ""
    note = f"{first}shown at {frame.width}×{frame.height}; the full {width}×{height} file is on disk"
    if _png_may_fit(frame, limits.image_max_bytes):
        buffer = io.BytesIO()
        frame.save(buffer, format="PNG")
        if buffer.tell() <= limits.image_max_bytes:
            return "image/png", buffer.getvalue(), frame.size, note
    # Photographs and noise do not shrink as PNG: JPEG (on white, for transparency) is the fallback, scaled
    # down by the square root of how far over budget each try was.
    flattened = frame
    if frame.mode == "RGBA":
        flattened = Image.new("RGB", frame.size, "white")
        flattened.paste(frame, mask=frame.getchannel("A"))
    candidate = flattened
    for _ in range(5):
        buffer = io.BytesIO()
        candidate.save(buffer, format="JPEG", quality=82)
        note = (
            f"{first}shown at {candidate.width}×{candidate.height}; the full {width}×{height} file is on disk"
        )
        if buffer.tell() <= limits.image_max_bytes:
            break
        scale = min(0.9, 0.95 * (limits.image_max_bytes / buffer.tell()) ** 0.5)
        candidate = flattened.resize(
            (max(1, int(candidate.width * scale)), max(1, int(candidate.height * scale)))
        )
    return "image/jpeg", buffer.getvalue(), candidate.size, note
