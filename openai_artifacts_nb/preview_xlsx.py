"""The first rows of an XLSX workbook's first sheet, read from the zip with a streaming XML parser that stops.

openpyxl is not used here: it loads the whole shared-strings part even in read-only mode, and its
``iter_rows`` parses a whole row before yielding any cell, so a 100 MB string table in a 300 KB file or a
first row of two million cells holds the kernel. Here every part is decompressed in 64 KiB chunks and fed to
expat, counting the bytes that really came out (never the sizes the zip declares), and the parser stops once
the preview has its rows or the part's byte cap is reached. Cells past the column cap are skipped, strings
are cut as they arrive, and only the shared strings the shown cells use are kept. Dates are shown as dates
(from the cell styles), and the other sheets are named.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from openai_artifacts_nb.preview_budget import Budget, PreviewRefused, format_bytes

__all__ = ["SHEET_XML_MAX_BYTES", "STRINGS_XML_MAX_BYTES", "XlsxPreview", "read_xlsx"]

#: How much of the first sheet's XML is parsed (decompressed bytes): about 80,000 cells.
SHEET_XML_MAX_BYTES = 2 * 1024 * 1024
#: How much of wide rows is scanned over (for the end of the row, at C speed) after the column cap.
ROW_SKIP_MAX_BYTES = 128 * 1024 * 1024
#: How much of the shared-strings part is parsed to find the strings the shown cells use.
STRINGS_XML_MAX_BYTES = 4 * 1024 * 1024
_SMALL_PART_MAX_BYTES = 1024 * 1024
_STYLES_MAX_BYTES = 2 * 1024 * 1024
_MAX_ZIP_ENTRIES = 10_000
_MAX_ZIP_DIRECTORY_BYTES = 4 * 1024 * 1024
_MAX_SHEET_NAMES = 1_000
_MAX_STYLES = 65_536
_CHUNK = 64 * 1024
_MISSING = "…"

_DATE_FORMAT_IDS = frozenset({14, 15, 16, 17, 22, *range(27, 37), *range(50, 59)})
_TIME_FORMAT_IDS = frozenset({18, 19, 20, 21, 45, 46, 47})
_QUOTED_OR_BRACKETED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d{1,7})$")
_RANGE_REF = re.compile(r"[A-Za-z]{1,3}(\d{1,7})(?::[A-Za-z]{1,3}(\d{1,7}))?$")


class _Stop(Exception):
    """Raised inside a parser callback once the reader has what it needs."""


class _SkipRow(Exception):
    """Raised in a parser callback at the first cell past the column cap: the rest of the row is skipped."""


@dataclass
class XlsxPreview:
    """What was read of a workbook: the shown rows (header first) and what the caption says about it."""

    rows: list[list[str]]
    total_rows: int | None
    total_columns: int
    sheet: str
    other_sheets: list[str] = field(default_factory=list)
    note: str = ""


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - 64
    return index - 1


def _parse_part(
    archive: zipfile.ZipFile,
    name: str,
    budget: Budget,
    handlers: dict[str, Callable[..., None]],
) -> bool:
    """Feed part ``name`` to expat in chunks until a handler stops it or the budget is spent.

    Returns True when the part was read to its end (or a handler stopped it), False when the cap cut it.
    Documents with a DTD are refused: nothing in an XLSX needs one, and entity tricks live there.
    """
    parser = expat.ParserCreate()
    parser.buffer_text = True
    for key, handler in handlers.items():
        setattr(parser, key, handler)

    def refuse(*_: Any) -> None:
        raise PreviewRefused(f"{name} declares a DTD, which no workbook part needs")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        with archive.open(name) as stream:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    parser.Parse(b"", True)
                    return True
                within = budget.take(len(chunk))
                parser.Parse(chunk, False)
                if not within:
                    return False
    except _Stop:
        return True
    except expat.ExpatError as error:
        raise PreviewRefused(f"{name} is not well-formed XML ({error})") from None


def _local(name: str) -> str:
    return name.rpartition(":")[2]


@dataclass
class _Workbook:
    sheets: list[tuple[str, str]] = field(default_factory=list)  # (name, relationship id)
    date1904: bool = False
    targets: dict[str, str] = field(default_factory=dict)  # relationship id -> part name


def _read_workbook(archive: zipfile.ZipFile, names: set[str], budget: Budget) -> _Workbook:
    book = _Workbook()

    def start(tag: str, attrs: dict[str, str]) -> None:
        tag = _local(tag)
        if tag == "sheet" and len(book.sheets) < _MAX_SHEET_NAMES:
            rid = next((value for key, value in attrs.items() if _local(key) == "id"), "")
            book.sheets.append((attrs.get("name", "")[:100], rid))
        elif tag == "workbookPr":
            book.date1904 = attrs.get("date1904", "").lower() in {"1", "true"}

    if "xl/workbook.xml" in names:
        _parse_part(
            archive,
            "xl/workbook.xml",
            budget.part(_SMALL_PART_MAX_BYTES, "the workbook"),
            {"StartElementHandler": start},
        )
    rels = "xl/_rels/workbook.xml.rels"

    def relation(tag: str, attrs: dict[str, str]) -> None:
        if _local(tag) == "Relationship" and len(book.targets) < _MAX_SHEET_NAMES * 4:
            target = attrs.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
            book.targets[attrs.get("Id", "")] = part

    if rels in names:
        _parse_part(
            archive,
            rels,
            budget.part(_SMALL_PART_MAX_BYTES, "the workbook"),
            {"StartElementHandler": relation},
        )
    return book


def _is_date_format(code: str) -> bool:
    bare = _QUOTED_OR_BRACKETED.sub("", code).lower()
    return bare != "general" and any(letter in bare for letter in "dmyhs")


def _read_date_styles(archive: zipfile.ZipFile, names: set[str], budget: Budget) -> dict[int, str]:
    """Map each cell style index that formats a date or time to ``"date"`` or ``"time"``."""
    if "xl/styles.xml" not in names:
        return {}
    custom: dict[int, str] = {}
    formats: list[int] = []
    where: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        tag = _local(tag)
        where.append(tag)
        if tag == "numFmt" and len(custom) < _MAX_STYLES:
            code = attrs.get("formatCode", "")[:200]
            if attrs.get("numFmtId", "").isdigit() and _is_date_format(code):
                bare = _QUOTED_OR_BRACKETED.sub("", code).lower()
                kind = "date" if any(letter in bare for letter in "dy") or "mmm" in bare else "time"
                custom[int(attrs["numFmtId"][:9])] = kind
        elif tag == "xf" and len(where) >= 2 and where[-2] == "cellXfs" and len(formats) < _MAX_STYLES:
            number = attrs.get("numFmtId", "0")
            formats.append(int(number[:9]) if number.isdigit() else 0)

    def end(tag: str) -> None:
        where.pop()

    _parse_part(
        archive,
        "xl/styles.xml",
        budget.part(_STYLES_MAX_BYTES, "the cell styles"),
        {"StartElementHandler": start, "EndElementHandler": end},
    )
    kinds: dict[int, str] = {}
    for index, number in enumerate(formats):
        if number in custom:
            kinds[index] = custom[number]
        elif number in _DATE_FORMAT_IDS:
            kinds[index] = "date"
        elif number in _TIME_FORMAT_IDS:
            kinds[index] = "time"
    return kinds


def _excel_date(serial: float, kind: str, date1904: bool) -> str | None:
    if not 0 <= serial < 2_958_466:
        return None
    base = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    moment = base + dt.timedelta(milliseconds=round(serial * 86_400_000))
    if kind == "time" and serial < 1:
        return moment.time().isoformat(timespec="seconds")
    if moment.time() == dt.time(0):
        return moment.date().isoformat()
    return moment.isoformat(sep=" ", timespec="seconds")


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.15g}"


@dataclass
class _Cell:
    kind: str
    style: int
    text: list[str] = field(default_factory=list)
    length: int = 0


class _SheetReader:
    """Expat callbacks collecting the first ``rows`` rows and ``columns`` columns of a worksheet."""

    def __init__(self, rows: int, columns: int, cell_chars: int) -> None:
        self.want_rows = rows
        self.columns = columns
        self.cell_chars = cell_chars
        self.rows: list[tuple[int, dict[int, _Cell]]] = []
        self.current: dict[int, _Cell] | None = None
        self.row_number = 0
        self.next_column = 0
        self.widest = 0
        self.cell: _Cell | None = None
        self.capture = False
        self.dimension_rows: int | None = None
        self.first_row: int | None = None
        self.ended = False
        self.row_tag = "row"
        self.sheet_data_tag = "sheetData"
        self.parser: Any = None
        self.skip_at = -1

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.cell is None and self.next_column >= self.columns and (tag == "c" or tag.endswith(":c")):
            self.skip_at = self.parser.CurrentByteIndex  # read here: after the raise it is past the tag
            raise _SkipRow
        qualified = tag
        tag = _local(tag)
        if tag == "c" and self.current is not None:
            column = self.next_column
            match = _CELL_REF.match(attrs.get("r", ""))
            if match:
                column = _column_index(match.group(1))
            self.next_column = column + 1
            self.widest = max(self.widest, column + 1)
            self.cell = None
            if column < self.columns:
                style = attrs.get("s", "0")
                self.cell = _Cell(attrs.get("t", "n")[:12], int(style[:6]) if style.isdigit() else 0)
                self.current[column] = self.cell
        elif tag in {"v", "t"} and self.cell is not None:
            self.capture = True
        elif tag == "row":
            self.row_tag = qualified
            number = attrs.get("r", "")
            self.row_number = int(number) if number.isdigit() and len(number) <= 7 else self.row_number + 1
            if self.first_row is None:
                self.first_row = self.row_number
            self.current = {}
            self.next_column = 0
        elif tag == "sheetData":
            self.sheet_data_tag = qualified
        elif tag == "dimension":
            match = _RANGE_REF.match(attrs.get("ref", ""))
            if match:
                self.dimension_rows = int(match.group(2) or match.group(1))

    def end(self, tag: str) -> None:
        tag = _local(tag)
        if tag in {"v", "t"}:
            self.capture = False
        elif tag == "c":
            self.cell = None
        elif tag == "row":
            self.close_row()
        elif tag == "sheetData":
            self.ended = True
            raise _Stop

    def close_row(self) -> None:
        """Keep the row just read; raise :class:`_Stop` once there are enough."""
        if self.current is not None:
            self.rows.append((self.row_number, self.current))
            self.current = None
            if len(self.rows) > self.want_rows:
                raise _Stop

    def text(self, data: str) -> None:
        cell = self.cell
        if self.capture and cell is not None and cell.length <= self.cell_chars:
            piece = data[: self.cell_chars + 1 - cell.length]
            cell.text.append(piece)
            cell.length += len(piece)


def _sheet_parser(reader: _SheetReader) -> Any:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text

    def refuse(*_: Any) -> None:
        raise PreviewRefused("the sheet declares a DTD, which no workbook part needs")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    reader.parser = parser
    return parser


def _skip_row(stream: Any, rest: bytes, reader: _SheetReader, budget: Budget) -> bytes | None:
    """Scan the bytes for the end of the current row (at C speed); the bytes after it, or None at the cap.

    The cells passed over are counted by their start tags, for the caption's column count.
    """
    closing = f"</{reader.row_tag}>".encode()
    prefix = reader.row_tag[: -len("row")].encode()
    cell_starts = (b"<" + prefix + b"c ", b"<" + prefix + b"c>", b"<" + prefix + b"c/")
    buffer = rest
    skipped = 0
    while True:
        end = buffer.find(closing)
        if end < 0:
            # Cut at a "<": every tag starts with one, so no cell tag or row end straddles the cut.
            cut = buffer.rfind(b"<", 0, max(0, len(buffer) - len(closing)))
            end_of_scan = cut if cut > 0 else max(0, len(buffer) - len(closing))
        scanned = buffer[:end] if end >= 0 else buffer[:end_of_scan]
        skipped += sum(scanned.count(start) for start in cell_starts)
        if end >= 0:
            reader.widest = max(reader.widest, reader.next_column + skipped)
            return buffer[end + len(closing) :]
        buffer = buffer[len(scanned) :]
        chunk = stream.read(16 * _CHUNK)
        if not chunk or not budget.take(len(chunk)):
            reader.widest = max(reader.widest, reader.next_column + skipped)
            return None
        buffer += chunk


def _parse_sheet(archive: zipfile.ZipFile, name: str, reader: _SheetReader, budget: Budget) -> bool:
    """Feed the sheet to expat, skipping the part of each row past the column cap by a byte scan.

    ``budget`` caps the bytes parsed; a part of it caps the bytes scanned over in wide rows. Returns True
    when the sheet was read to its end or the reader has its rows, False when a cap stopped it.
    """
    skipping = budget.part(ROW_SKIP_MAX_BYTES, "the sheet's wide rows")
    parser = _sheet_parser(reader)
    window = b""  # the bytes most recently fed to this parser, so a skip can start at the cell's tag
    base = 0  # the parser's byte index of window[0]
    pending = b""
    try:
        with archive.open(name) as stream:
            while True:
                if pending:
                    chunk, pending, within = pending, b"", True
                else:
                    chunk = stream.read(_CHUNK)
                    if not chunk:
                        parser.Parse(b"", True)
                        return True
                    within = budget.take(len(chunk))
                if len(window) > _CHUNK:
                    base += len(window) - _CHUNK
                    window = window[-_CHUNK:]
                window += chunk
                try:
                    parser.Parse(chunk, False)
                except _SkipRow:
                    at = reader.skip_at - base
                    tail = _skip_row(stream, window[at:], reader, skipping) if at >= 0 else None
                    if tail is None:
                        return False
                    reader.cell = None
                    reader.capture = False
                    reader.close_row()
                    parser = _sheet_parser(reader)
                    opening = f"<{reader.sheet_data_tag}>".encode()
                    parser.Parse(opening, False)
                    window, base, pending = b"", len(opening), tail
                    continue
                if not within:
                    return False
    except _Stop:
        return True
    except expat.ExpatError as error:
        raise PreviewRefused(f"{name} is not well-formed XML ({error})") from None


_SST_ROOT = re.compile(rb"<([A-Za-z_][\w.\-]{0,40}:)?sst[\s>/]")
_FRAGMENT_MAX_BYTES = 64 * 1024


def _locate_strings(
    archive: zipfile.ZipFile, name: str, wanted: set[int], budget: Budget
) -> tuple[bytes, dict[int, int], bytes]:
    """Decompress the part up to its cap and find where each wanted ``<si>`` starts, by scanning bytes.

    Counting ``<si`` markers with a regex runs at C speed; parsing every string with expat would cost a
    Python callback per element (a second per 4 MiB of one-letter strings). Returns the bytes read, the
    start offset of each wanted string found, and the element prefix (``b"x:"`` or ``b""``).
    """
    last = max(wanted)
    data = bytearray()
    starts: dict[int, int] = {}
    marker: re.Pattern[bytes] | None = None
    prefix = b""
    index = -1
    scanned = 0
    with archive.open(name) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            data += chunk
            within = budget.take(len(chunk))
            if marker is None:
                root = _SST_ROOT.search(data[: 4 * _CHUNK])
                if root is None and len(data) < 4 * _CHUNK and chunk:
                    continue
                prefix = (root.group(1) or b"") if root else b""
                marker = re.compile(b"<" + re.escape(prefix) + rb"si[\s/>]")
            # A marker is at most len(prefix) + 4 bytes: ones starting in the last few bytes wait for more.
            limit = len(data) if not chunk or not within else max(scanned, len(data) - len(prefix) - 4)
            for match in marker.finditer(data, scanned, len(data)):
                if match.start() >= limit:
                    break
                index += 1
                scanned = match.end()
                if index in wanted:
                    starts[index] = match.start()
                if index >= last:
                    return bytes(data), starts, prefix
            scanned = max(scanned, limit)
            if not chunk or not within:
                return bytes(data), starts, prefix


def _read_shared_strings(
    archive: zipfile.ZipFile, name: str, wanted: set[int], budget: Budget, cell_chars: int
) -> tuple[dict[int, str], bool]:
    """The shared strings with the indices in ``wanted``; True when every one of them was found.

    Each wanted string's ``<si>`` element (at most 64 KiB of it) is parsed with expat, so entities, rich
    text runs and phonetic guides (``<rPh>``, left out) are read as Excel means them.
    """
    data, starts, prefix = _locate_strings(archive, name, wanted, budget)
    closing = b"</" + prefix + b"si>"
    strings: dict[int, str] = {}
    for index, start in starts.items():
        end = data.find(closing, start, start + _FRAGMENT_MAX_BYTES)
        fragment = data[start : end + len(closing) if end >= 0 else start + _FRAGMENT_MAX_BYTES]
        pieces: list[str] = []
        state = {"rph": 0, "capture": False}

        def begin(tag: str, attrs: dict[str, str], state: dict[str, Any] = state) -> None:
            tag = _local(tag)
            if tag == "rPh":
                state["rph"] += 1
            elif tag == "t" and not state["rph"]:
                state["capture"] = True

        def finish(tag: str, state: dict[str, Any] = state) -> None:
            tag = _local(tag)
            if tag == "rPh":
                state["rph"] -= 1
            elif tag == "t":
                state["capture"] = False

        def text(piece: str, state: dict[str, Any] = state, pieces: list[str] = pieces) -> None:
            have = sum(len(part) for part in pieces)
            if state["capture"] and have <= cell_chars:
                pieces.append(piece[: cell_chars + 1 - have])

        parser = expat.ParserCreate()
        parser.StartElementHandler = begin
        parser.EndElementHandler = finish
        parser.CharacterDataHandler = text
        parser.StartDoctypeDeclHandler = lambda *_: None
        with contextlib.suppress(expat.ExpatError):  # a cut or broken fragment keeps the text read so far
            parser.Parse(fragment, False)
        strings[index] = "".join(pieces)
    return strings, wanted <= set(strings)


def _shown(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def read_xlsx(path: Path, *, rows: int, columns: int, cell_chars: int, budget: Budget) -> XlsxPreview:
    """Read the header and the first ``rows`` rows of the first sheet of the workbook at ``path``.

    Raises :class:`PreviewRefused` when the workbook's zip directory is too large to list, its parts are not
    XML, or the sheet's first rows do not fit the byte cap.
    """
    from openai_artifacts_nb.preview_facts import read_zip_directory

    directory = read_zip_directory(path)
    if directory.directory_size > _MAX_ZIP_DIRECTORY_BYTES:
        raise PreviewRefused(
            f"the workbook's zip directory is {format_bytes(directory.directory_size)} "
            f"(a preview lists at most {format_bytes(_MAX_ZIP_DIRECTORY_BYTES)})"
        )
    if directory.entries > _MAX_ZIP_ENTRIES:
        raise PreviewRefused(
            f"the workbook's zip lists {directory.entries:,} parts "
            f"(a preview reads at most {_MAX_ZIP_ENTRIES:,})"
        )
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise PreviewRefused(f"not a valid XLSX zip ({error})") from None
    with archive:
        names = set(archive.namelist())
        book = _read_workbook(archive, names, budget)
        sheet_name, sheet_part = "", "xl/worksheets/sheet1.xml"
        if book.sheets:
            sheet_name, rid = book.sheets[0]
            sheet_part = book.targets.get(rid, sheet_part)
        if sheet_part not in names:
            raise PreviewRefused("the workbook has no worksheet to show")
        styles = _read_date_styles(archive, names, budget)
        reader = _SheetReader(rows, columns, cell_chars)
        complete = _parse_sheet(archive, sheet_part, reader, budget.part(SHEET_XML_MAX_BYTES, "the sheet"))
        label = sheet_name or "the first sheet"
        if not reader.rows:
            if complete:
                raise PreviewRefused(f"{label} is empty")
            raise PreviewRefused(
                f"row {reader.row_number or 1} of {label} is longer than the "
                f"{format_bytes(SHEET_XML_MAX_BYTES)} of sheet XML a preview reads"
            )
        note = ""
        if not complete:
            note = f"stopped after {format_bytes(SHEET_XML_MAX_BYTES)} of sheet XML"
        wanted = {
            int(cell.text[0][:9])
            for _, cells in reader.rows
            for cell in cells.values()
            if cell.kind == "s" and cell.text and cell.text[0][:9].isdigit()
        }
        strings: dict[int, str] = {}
        strings_part = next(
            (part for part in ("xl/sharedStrings.xml", "xl/sharedstrings.xml") if part in names), ""
        )
        if wanted and strings_part:
            strings, all_found = _read_shared_strings(
                archive,
                strings_part,
                wanted,
                budget.part(STRINGS_XML_MAX_BYTES, "the shared strings"),
                cell_chars,
            )
            if not all_found:
                note = "; ".join(
                    filter(
                        None,
                        [
                            note,
                            f"strings past the first {format_bytes(STRINGS_XML_MAX_BYTES)} "
                            f"shown as {_MISSING}",
                        ],
                    )
                )

    def value(cell: _Cell) -> str:
        text = "".join(cell.text)
        if cell.kind == "s":
            return strings.get(int(text[:9]), _MISSING) if text[:9].isdigit() else ""
        if cell.kind == "b":
            return "TRUE" if text == "1" else "FALSE"
        if cell.kind == "d":
            return text.removesuffix("T00:00:00").replace("T", " ")
        if cell.kind == "n" and cell.style in styles and text:
            try:
                shown = _excel_date(float(text), styles[cell.style], book.date1904)
            except ValueError:
                shown = None
            return shown if shown is not None else _number(text)
        return _number(text) if cell.kind == "n" else text

    width = min(columns, max(max(cells, default=-1) + 1 for _, cells in reader.rows))
    table: list[list[str]] = []
    previous: int | None = None
    for number, cells in reader.rows:
        if previous is not None:
            table.extend([""] * width for _ in range(min(number - previous - 1, rows + 1 - len(table))))
        previous = number
        if len(table) > rows:
            break
        table.append(
            [_shown(value(cells[index]), cell_chars) if index in cells else "" for index in range(width)]
        )
    table = table[: rows + 1]
    total: int | None = None
    if (reader.ended or complete) and len(reader.rows) <= rows:
        span = reader.row_number - reader.first_row if reader.first_row is not None else 0
        total = max(span, len(table) - 1)
    elif reader.dimension_rows is not None and reader.first_row is not None:
        total = max(reader.dimension_rows - reader.first_row, len(table) - 1)
    others = [name for name, _ in book.sheets[1:]]
    return XlsxPreview(table, total, max(reader.widest, width), sheet_name, others, note)
