"""Read just enough of a saved file to preview it: the first rows of a table, the first lines of a text, a
display copy of an image. Nothing is loaded whole: a 50 MB CSV is read for its first rows and its lines
counted in chunks; Excel is read in read-only mode, Parquet one batch; images are downscaled and
re-encoded until they fit a byte budget. Pillow, openpyxl and pyarrow are imported only when needed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PreviewLimits", "Table", "count_lines", "display_image", "read_table", "read_text"]


@dataclass(frozen=True)
class PreviewLimits:
    """How much of each file is shown inline; the notebook never holds more than this per artifact."""

    rows: int = 20
    columns: int = 20
    text_lines: int = 200
    text_bytes: int = 64 * 1024
    image_max_pixels: int = 1600
    image_max_bytes: int = 384 * 1024
    data_uri_max_bytes: int = 64 * 1024
    cell_chars: int = 200


def display_image(
    path: Path, mime: str, size: int, limits: PreviewLimits
) -> tuple[str, bytes, tuple[int, int], str]:
    """Return (mime, bytes, (width, height), note) of a display copy no larger than the limits."""
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
        animated = getattr(image, "is_animated", False)
        fits = width <= limits.image_max_pixels and height <= limits.image_max_pixels
        if mime in {"image/png", "image/jpeg", "image/gif"} and fits and size <= limits.image_max_bytes:
            return mime, path.read_bytes(), (width, height), ""
        image.seek(0)
        frame = image.convert("RGBA" if image.mode in {"RGBA", "LA", "P"} else "RGB")
    frame.thumbnail((limits.image_max_pixels, limits.image_max_pixels))
    first = "first frame " if animated else ""
    for scale in (1.0, 0.75, 0.5, 0.35, 0.25, 0.15):
        candidate = frame
        if scale != 1.0:
            candidate = frame.resize((max(1, int(frame.width * scale)), max(1, int(frame.height * scale))))
        note = (
            f"{first}shown at {candidate.width}×{candidate.height}; the full {width}×{height} file is on disk"
        )
        buffer = io.BytesIO()
        candidate.save(buffer, format="PNG")
        if buffer.tell() <= limits.image_max_bytes:
            return "image/png", buffer.getvalue(), candidate.size, note
        # Photographs and noise do not shrink as PNG: JPEG (on white, for transparency) is the fallback.
        flattened = candidate
        if candidate.mode == "RGBA":
            flattened = Image.new("RGB", candidate.size, "white")
            flattened.paste(candidate, mask=candidate.getchannel("A"))
        buffer = io.BytesIO()
        flattened.save(buffer, format="JPEG", quality=82, optimize=True)
        if buffer.tell() <= limits.image_max_bytes:
            return "image/jpeg", buffer.getvalue(), candidate.size, note
    return "image/jpeg", buffer.getvalue(), candidate.size, note


@dataclass
class Table:
    """The first rows of a table file, and how many it has in all (``None``: unknown)."""

    columns: list[str]
    rows: list[list[str]]
    total_rows: int | None
    total_columns: int
    approximate: bool = False

    def summary(self) -> str:
        """``"20 of 1,000 rows"`` (with "about" when counted by lines, and columns when capped)."""
        if self.total_rows is None:
            rows = f"first {len(self.rows):,} rows"
        else:
            about = "about " if self.approximate else ""
            rows = f"{len(self.rows):,} of {about}{self.total_rows:,} rows"
        if self.total_columns > len(self.columns):
            rows += f", {len(self.columns):,} of {self.total_columns:,} columns"
        return rows

    def plain(self) -> str:
        """The first rows as aligned plain text, with the summary."""
        shown = [self.columns, *self.rows[:10]]
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


def read_table(path: Path, limits: PreviewLimits) -> Table | None:
    """Read the first rows of a table file without loading it whole; ``None`` if it is not a table."""
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


_EXACT_COUNT_MAX_BYTES = 16 * 1024 * 1024


def _read_delimited(path: Path, delimiter: str | None, limits: PreviewLimits) -> Table | None:
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        sample = handle.read(64 * 1024)
        handle.seek(0)
        if delimiter is None:
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
            except csv.Error:
                delimiter = ","
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return None
        rows: list[list[str]] = []
        for row in reader:
            if len(rows) >= limits.rows:
                break
            rows.append([_cell(value, limits.cell_chars) for value in row[: limits.columns]])
        size = path.stat().st_size
        if size <= _EXACT_COUNT_MAX_BYTES:
            total = len(rows) + sum(1 for _ in reader) + (1 if len(rows) >= limits.rows else 0)
            approximate = False
        else:
            total, approximate = count_lines(path) - 1, True
    if len(rows) < limits.rows:
        total = len(rows)
    return Table(
        [_cell(column, limits.cell_chars) for column in header[: limits.columns]],
        rows,
        total,
        len(header),
        approximate,
    )


def count_lines(path: Path) -> int:
    """Count the lines of a file in 1 MiB chunks (a last line without a newline counts)."""
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _read_excel(path: Path, limits: PreviewLimits) -> Table | None:
    try:
        from openpyxl import load_workbook
    except ImportError:
        return None
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows_iter = sheet.iter_rows(values_only=True)
        header = next(rows_iter, None)
        if header is None:
            return None
        rows = [
            [_cell(value, limits.cell_chars) for value in row[: limits.columns]]
            for _, row in zip(range(limits.rows), rows_iter, strict=False)
        ]
        total = max((sheet.max_row or 1) - 1, len(rows))
        columns = [_cell(value, limits.cell_chars) for value in header[: limits.columns]]
    finally:
        workbook.close()
    return Table(columns, rows, total, len(header))


def _read_parquet(path: Path, limits: PreviewLimits) -> Table | None:
    try:
        from pyarrow import parquet
    except ImportError:
        return None
    source = parquet.ParquetFile(path)
    names = source.schema_arrow.names
    batch = next(source.iter_batches(batch_size=limits.rows, columns=names[: limits.columns]), None)
    rows: list[list[str]] = []
    if batch is not None:
        data = batch.to_pylist()
        rows = [
            [_cell(record.get(name), limits.cell_chars) for name in names[: limits.columns]]
            for record in data
        ]
    return Table(names[: limits.columns], rows, source.metadata.num_rows, len(names))


def _read_json_table(path: Path, limits: PreviewLimits) -> Table | None:
    if path.stat().st_size > _EXACT_COUNT_MAX_BYTES:
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
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
        return Table(columns[: limits.columns], rows, total, len(columns))
    if isinstance(data, list) and data and all(isinstance(record, dict) for record in data):
        columns = list(dict.fromkeys(key for record in data[: limits.rows * 5] for key in record))
        rows = [
            [_cell(record.get(column), limits.cell_chars) for column in columns[: limits.columns]]
            for record in data[: limits.rows]
        ]
        return Table([str(column) for column in columns[: limits.columns]], rows, len(data), len(columns))
    return None


def read_text(path: Path, limits: PreviewLimits) -> tuple[str, int, int, bool]:
    """Return (shown text, lines shown, total lines, cut) reading at most ``text_bytes`` for display."""
    with path.open("rb") as handle:
        head = handle.read(limits.text_bytes)
    text = head.decode("utf-8", errors="replace")
    lines = text.splitlines()
    cut = len(head) >= limits.text_bytes
    if cut and lines:
        lines = lines[:-1]
    shown = lines[: limits.text_lines]
    total = count_lines(path) if cut or len(lines) > limits.text_lines else len(lines)
    return "\n".join(shown), len(shown), max(total, len(shown)), cut
