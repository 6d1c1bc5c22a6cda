"""Short facts for a file card, each read cheaply and within a bound: PDF pages, ZIP entries, PPTX slides.

Also the card's short type name (``XLSX``, not the whole MIME type). A fact that cannot be read cheaply is
left out; reading facts never raises.
"""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openai_artifacts_nb.preview_budget import PreviewRefused, format_bytes

__all__ = [
    "ZipDirectory",
    "describe_file",
    "file_facts",
    "pdf_page_count",
    "read_zip_directory",
    "type_label",
]

_ZIP_TAIL = 22 + 65_535 + 20
_ZIP_DIRECTORY_MAX_BYTES = 4 * 1024 * 1024
_ZIP_ENTRIES_LISTED = 20_000
_PDF_HEAD_BYTES = 1024 * 1024
_PDF_TAIL_BYTES = 1024 * 1024
_PDF_COUNTS_CHECKED = 10_000
_COUNT = re.compile(rb"/Count\s{1,8}(\d{1,7})")
_PAGE = re.compile(rb"/Type\s{0,8}/Page(?![A-Za-z])")
_SLIDE = re.compile(r"ppt/slides/slide\d+\.xml")
_SHEET = re.compile(r"xl/worksheets/sheet\d+\.xml")
_SHORT_SUFFIX = re.compile(r"\.([A-Za-z0-9]{1,8})")
_MIME_LABELS = {
    "text/csv": "CSV",
    "text/tab-separated-values": "TSV",
    "text/plain": "text",
    "text/markdown": "Markdown",
    "text/html": "HTML",
    "application/json": "JSON",
    "application/pdf": "PDF",
    "application/zip": "ZIP",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/svg+xml": "SVG",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PPTX",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
}


def type_label(filename: str, mime_type: str) -> str:
    """The short type name a caption shows: ``XLSX``, ``CSV``, ``PNG`` (from the name, else the MIME type)."""
    match = _SHORT_SUFFIX.fullmatch(Path(filename).suffix)
    if match:
        suffix = match.group(1).upper()
        return {"JPG": "JPEG", "WEBP": "WebP", "MD": "Markdown", "TXT": "text"}.get(suffix, suffix)
    return _MIME_LABELS.get(mime_type, "file")


@dataclass(frozen=True)
class ZipDirectory:
    """What a zip's end-of-central-directory record claims: how many entries, and the directory's size."""

    entries: int
    directory_size: int


def read_zip_directory(path: Path) -> ZipDirectory:
    """Read the end record of the zip at ``path`` (its last 64 KiB at most), zip64 included.

    Raises :class:`PreviewRefused` when there is no end record.
    """
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        start = max(0, size - _ZIP_TAIL)
        handle.seek(start)
        tail = handle.read(_ZIP_TAIL)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise PreviewRefused("not a zip file (no central directory)")
        entries, directory_size = struct.unpack_from("<HI", tail, at + 10)
        if (entries == 0xFFFF or directory_size == 0xFFFFFFFF) and at >= 20:
            locator = tail[at - 20 : at]
            if locator[:4] == b"PK\x06\x07":
                (offset,) = struct.unpack_from("<Q", locator, 8)
                handle.seek(min(offset, size))
                record = handle.read(56)
                if len(record) == 56 and record[:4] == b"PK\x06\x06":
                    entries, directory_size = struct.unpack_from("<QQ", record, 32)
    return ZipDirectory(entries, directory_size)


def _zip_names_and_size(path: Path) -> tuple[list[str], int] | None:
    directory = read_zip_directory(path)
    if directory.directory_size > _ZIP_DIRECTORY_MAX_BYTES or directory.entries > _ZIP_ENTRIES_LISTED:
        return None
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    return [info.filename for info in infos], sum(info.file_size for info in infos)


def pdf_page_count(path: Path) -> int | None:
    """The page count of a PDF from its first and last 1 MiB, or ``None`` when it is not there.

    The page tree's ``/Count`` wins (a ``/Count`` within 300 bytes of a ``/Pages``, each ``/Pages`` found by
    plain search, at most 10,000 of them); a PDF without one in reach is counted by its ``/Type /Page``.
    """
    with path.open("rb") as handle:
        head = handle.read(_PDF_HEAD_BYTES)
        size = handle.seek(0, 2)
        tail = b""
        if size > _PDF_HEAD_BYTES:
            handle.seek(max(_PDF_HEAD_BYTES, size - _PDF_TAIL_BYTES))
            tail = handle.read(_PDF_TAIL_BYTES)
    if not head.startswith(b"%PDF"):
        return None
    counts: list[int] = []
    for data in (head, tail):
        at = data.find(b"/Pages")
        for _ in range(_PDF_COUNTS_CHECKED):
            if at < 0:
                break
            counts.extend(int(n) for n in _COUNT.findall(data, max(0, at - 300), at + 300))
            at = data.find(b"/Pages", at + 6)
    if counts:
        return max(counts)
    return len(_PAGE.findall(head)) + len(_PAGE.findall(tail)) or None


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def describe_file(path: Path, filename: str, mime_type: str, size: int, *, facts: bool = True) -> list[str]:
    """What a caption says about a file: ``["PDF", "9.5 MiB", "12 pages"]`` (facts only when ``facts``)."""
    return [
        type_label(filename, mime_type),
        format_bytes(size),
        *(file_facts(path, mime_type) if facts else []),
    ]


def file_facts(path: Path, mime_type: str = "") -> list[str]:
    """Facts for a card: ``["12 pages"]``, ``["3 entries", "1 MiB unpacked"]``, ``["7 slides"]``.

    Empty when none can be read cheaply; never raises.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf" or mime_type == "application/pdf":
            pages = pdf_page_count(path)
            return [_plural(pages, "page")] if pages else []
        if suffix in {".zip", ".pptx", ".xlsx", ".xlsm", ".docx"} or mime_type == "application/zip":
            listing = _zip_names_and_size(path)
            if suffix == ".pptx":
                return (
                    [_plural(sum(bool(_SLIDE.fullmatch(n)) for n in listing[0]), "slide")] if listing else []
                )
            if suffix in {".xlsx", ".xlsm"}:
                return (
                    [_plural(sum(bool(_SHEET.fullmatch(n)) for n in listing[0]), "sheet")] if listing else []
                )
            if suffix == ".docx":
                return []
            if listing is None:
                return [_plural(read_zip_directory(path).entries, "entry").replace("entrys", "entries")]
            names, unpacked = listing
            entries = _plural(len(names), "entry").replace("entrys", "entries")
            return [entries, f"{format_bytes(unpacked)} unpacked"]
    except (OSError, ValueError, PreviewRefused, zipfile.BadZipFile, struct.error):
        return []
    return []
