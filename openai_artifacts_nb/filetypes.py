"""Real file types: sniff the bytes when a name has no extension or the wrong one.

The bytes are identified by ``puremagic`` (a maintained signature database), never by a hand table. The one
thing ``puremagic`` cannot tell apart from the first bytes is which Office Open XML format a ZIP holds, so
:func:`sniff` looks at the archive's member names for that case only.
"""

from __future__ import annotations

import mimetypes
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openai_artifacts_nb.naming import split_extension

__all__ = ["FileType", "detect", "mime_type_for_name", "sniff"]

_SNIFF_BYTES = 8192
_OCTET_STREAM = "application/octet-stream"
_TEXTUAL_MIME_TYPES = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/x-sh", "image/svg+xml"}
)
# Extensions the standard library does not know everywhere (its table follows the host's mime.types).
_EXTRA_TYPES = {
    ".md": "text/markdown",
    ".parquet": "application/vnd.apache.parquet",
    ".jsonl": "application/jsonl",
    ".ipynb": "application/x-ipynb+json",
    ".webp": "image/webp",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_OOXML_PARTS = {"xl/": ".xlsx", "word/": ".docx", "ppt/": ".pptx"}
# A signature this long (3 bytes: JPEG's ``FF D8 FF``) is real evidence; a random file starts with one of
# the few hundred such signatures about once in tens of thousands, against once in a hundred for 1 byte.
_STRONG_CONFIDENCE = 0.3


@dataclass(frozen=True)
class FileType:
    """What a file is: its MIME type, the extension that says so (``""`` when unknown), and how sure.

    ``confidence`` is ``puremagic``'s: a tenth per byte of the signature that matched (``0.1`` for a
    one-byte text hint like ``{``, ``0.8`` for a PNG's eight bytes), ``0.9`` when the name agrees.
    """

    mime_type: str
    extension: str
    confidence: float = 1.0


@dataclass(frozen=True)
class Detection:
    """The outcome of :func:`detect`: the name to save under and the file's type."""

    filename: str
    mime_type: str


def mime_type_for_name(name: str) -> str | None:
    """Return the MIME type the extension of ``name`` stands for, or ``None``."""
    _, ext = split_extension(name)
    if not ext:
        return None
    ext = ext.lower()
    if ext in _EXTRA_TYPES:
        return _EXTRA_TYPES[ext]
    guessed, _ = mimetypes.guess_type("x" + ext, strict=False)
    return guessed


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        return error.start >= len(head) - 3
    return True


def _ooxml_extension(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return ".zip"
    for prefix, ext in _OOXML_PARTS.items():
        if any(name.startswith(prefix) for name in names):
            return ext
    return ".zip"


def sniff(path: Path, *, name_hint: str | None = None) -> FileType | None:
    """Identify the file at ``path`` from its bytes; ``None`` when the bytes match no known signature.

    Several equally likely matches that disagree (a ZIP could be ``.docx``, ``.xlsx``, ...) are resolved by
    ``name_hint``'s extension when it is one of them, by the archive's contents for ZIPs, and otherwise
    count as unknown.
    """
    import puremagic

    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head:
        return None
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    if not matches:
        return None
    best = max(match.confidence for match in matches)
    top = [match for match in matches if match.confidence == best and match.extension]
    if not top:
        return None
    _, hint_ext = split_extension(name_hint or "")
    for match in top:
        if hint_ext and match.extension.lower() == hint_ext.lower():
            mime = str(match.mime_type or mime_type_for_name("x" + match.extension) or _OCTET_STREAM)
            return FileType(mime, str(match.extension), best)
    if head.startswith(b"PK\x03\x04"):
        ext = _ooxml_extension(path)
        if ext is not None:
            return FileType(mime_type_for_name("x" + ext) or "application/zip", ext, best)
    mime_types = {match.mime_type or mime_type_for_name("x" + match.extension) for match in top}
    if len(mime_types) != 1:
        # Equally likely signatures disagree (``.pdf`` or ``.fdf``): keep those whose extension the
        # standard MIME table agrees with, if that settles it.
        top = [match for match in top if mime_type_for_name("x" + match.extension) == match.mime_type]
        mime_types = {match.mime_type for match in top}
        if len(mime_types) != 1:
            return None
    mime = str(mime_types.pop() or _OCTET_STREAM)
    preferred = mimetypes.guess_extension(mime, strict=False)
    extensions = {match.extension.lower() for match in top}
    ext = preferred if preferred in extensions else sorted(extensions)[0]
    return FileType(mime, str(ext), best)


def _is_textual(mime: str | None) -> bool:
    return mime is not None and (mime.startswith("text/") or mime in _TEXTUAL_MIME_TYPES)


def detect(path: Path, name: str) -> Detection:
    """Decide the name to save the file at ``path`` under, and its MIME type.

    A name whose extension agrees with the bytes is kept. A name without an extension (or with one no MIME
    table knows) gets the sniffed one (``.txt`` for plain UTF-8 text). A known extension is replaced only on
    strong evidence: a binary signature of three bytes or more that contradicts it (``chart.txt`` holding a
    PNG becomes ``chart.png``). A text-format hint (a leading ``{`` or ``<``) or a one- or two-byte signature
    never overrides a known extension: random bytes in ``part_13.bin`` that happen to start with ``{`` stay
    ``.bin``. Text formats (CSV, Markdown, code) carry no signature, so text keeps its name too.
    """
    stem, ext = split_extension(name)
    declared = mime_type_for_name(name)
    sniffed = sniff(path, name_hint=name)
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    text = bool(head) and _is_text(head)
    if not ext:
        if sniffed is not None:
            return Detection(name + sniffed.extension, sniffed.mime_type)
        if text:
            return Detection(name + ".txt", "text/plain")
        return Detection(name, _OCTET_STREAM)
    if sniffed is None or declared is None:
        return Detection(name, declared or (sniffed.mime_type if sniffed else None) or _fallback(text))
    if sniffed.extension.lower() == ext.lower() or sniffed.mime_type == declared:
        return Detection(name, declared)
    weak = _is_textual(sniffed.mime_type) or sniffed.confidence < _STRONG_CONFIDENCE
    if weak or (text and _is_textual(declared)):
        # A CSV that happens to start like JSON, random bytes that start with ``{``: trust the name.
        return Detection(name, declared)
    return Detection(stem + sniffed.extension, sniffed.mime_type)


def _fallback(text: bool) -> str:
    return "text/plain" if text else _OCTET_STREAM
