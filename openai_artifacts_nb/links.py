"""Rewrite every ``sandbox:`` link in a reply's Markdown to the file saved for it.

Models write links to their files as ``sandbox:/mnt/data/x``, ``sandbox://mnt/data/x``, ``sandbox:/x`` or
``sandbox://x``; in Markdown links and images, in angle brackets, in HTML attributes, in code spans and as
bare text; sometimes percent-encoded, sometimes with spaces, parentheses or non-ASCII letters in the name.
None of them opens anything outside the sandbox. :func:`rewrite_links` replaces each with the saved file's
relative path, percent-encoded so that any Markdown renderer follows it, and replaces links to files that
could not be saved with a visible marker instead of a dead link.

A link is matched to its file by the annotation span that covers it when the reply has one (spans count
characters), and by its file name otherwise. Build a :class:`LinkTable` with the saved files (and the
failures), then call :func:`rewrite_links` for each text part with that part's spans.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = [
    "LinkTable",
    "LinkTarget",
    "Span",
    "escape_markdown",
    "markdown_url",
    "rewrite_links",
    "sandbox_relative_name",
]

_SCHEME = "sandbox:"
_OCCURRENCE = re.compile(r"sandbox:(?=[^\s)\]>\"'`,;.!?])", re.IGNORECASE)
_LINK_OPENING = re.compile(r"\]\([ \t]*(<?)[ \t]*(?=sandbox:)", re.IGNORECASE)
_BARE_STOP = re.compile(r"[\s<>\"'`\[\]{}|]")
_TITLE = re.compile(r"^(?P<target>.*?\S)\s+(?P<title>\"[^\"]*\"|'[^']*'|\([^()]*\))\s*$", re.DOTALL)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_MOUNT_PREFIX = "mnt/data/"
_REFERENCE_DEFINITION = re.compile(r" {0,3}\[[^\]\n]+\]:[ \t]*$")


def escape_markdown(text: str) -> str:
    """Escape the characters that would start Markdown syntax inside link labels and plain text."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_url(relative_path: str) -> str:
    """Percent-encode a POSIX relative path for a Markdown link target (spaces, parentheses, non-ASCII)."""
    return quote(relative_path, safe="/-._~!$&'*+,;=:@")


def sandbox_relative_name(target: str) -> str:
    """Return the file's path inside ``/mnt/data`` that a ``sandbox:`` target names, decoded and NFC.

    ``sandbox:/mnt/data/a%20b.csv``, ``sandbox://mnt/data/a b.csv``, ``sandbox:/a b.csv`` and
    ``sandbox://a b.csv`` all give ``"a b.csv"``.
    """
    text = target.strip().strip("<>").strip()
    if text.lower().startswith(_SCHEME):
        text = text[len(_SCHEME) :]
    text = unquote(text)
    text = unicodedata.normalize("NFC", text).lstrip("/")
    if text.startswith(_MOUNT_PREFIX):
        text = text[len(_MOUNT_PREFIX) :]
    elif text == _MOUNT_PREFIX.rstrip("/"):
        text = ""
    return text


@dataclass(frozen=True)
class LinkTarget:
    """What one sandbox file became: a saved file's relative path, or the reason it could not be saved."""

    filename: str
    relative_path: str | None = None
    problem: str | None = None

    @property
    def saved(self) -> bool:
        """Whether the file was saved (so the link can point at it)."""
        return self.relative_path is not None


@dataclass(frozen=True)
class Span:
    """An annotation's ``[start, end)`` character span over a ``sandbox:`` target, and the file it names."""

    start: int
    end: int
    target: LinkTarget


class LinkTable:
    """The files a reply's links may point at, found by their path in the sandbox or their name."""

    def __init__(self) -> None:
        """Start with no files."""
        self._by_path: dict[str, LinkTarget] = {}
        self._by_name: dict[str, list[LinkTarget]] = {}

    def add(self, target: LinkTarget, *, sandbox_path: str | None = None, names: Iterable[str] = ()) -> None:
        """Register ``target`` under its sandbox path (``/mnt/data/x``) and any other names it goes by."""
        if sandbox_path:
            key = sandbox_relative_name(sandbox_path)
            if key:
                self._by_path.setdefault(key, target)
                self._add_name(key.rsplit("/", 1)[-1], target)
        for name in (target.filename, *names):
            if name:
                self._add_name(name, target)

    def _add_name(self, name: str, target: LinkTarget) -> None:
        key = unicodedata.normalize("NFC", name).casefold()
        bucket = self._by_name.setdefault(key, [])
        if target not in bucket:
            bucket.append(target)

    def lookup(self, target: str) -> LinkTarget | None:
        """Return the file a ``sandbox:`` target points at, or ``None`` when no known file has that name."""
        relative = sandbox_relative_name(target)
        if relative in self._by_path:
            return self._by_path[relative]
        basename = relative.rsplit("/", 1)[-1]
        bucket = self._by_name.get(basename.casefold(), [])
        if bucket:
            return bucket[0]
        return None


@dataclass
class _Edit:
    start: int
    end: int
    replacement: str


def _checked_span(text: str, span: Span) -> tuple[int, int] | None:
    """Return the span as indexes into ``text`` if it covers a ``sandbox:`` target.

    Spans count characters; if they were counted in UTF-16 units (astral characters before the span), map
    them back. ``None`` when neither reading lands on a ``sandbox:`` target.
    """
    if span.end <= span.start:
        return None
    if text[span.start : span.start + len(_SCHEME)].lower() == _SCHEME:
        return span.start, span.end
    if any(ord(char) > 0xFFFF for char in text):
        units = 0
        mapping: dict[int, int] = {}
        for index, char in enumerate(text):
            mapping[units] = index
            units += 2 if ord(char) > 0xFFFF else 1
        mapping[units] = len(text)
        start, end = mapping.get(span.start), mapping.get(span.end)
        if start is not None and end is not None and text[start : start + len(_SCHEME)].lower() == _SCHEME:
            return start, end
    return None


def _find_label_start(text: str, close_bracket: int) -> int | None:
    """Return the index of the ``[`` matching the ``]`` at ``close_bracket`` (on the same paragraph)."""
    depth = 0
    index = close_bracket
    while index >= 0:
        char = text[index]
        escaped = index > 0 and text[index - 1] == "\\"
        if char == "]" and not escaped:
            depth += 1
        elif char == "[" and not escaped:
            depth -= 1
            if depth == 0:
                return index
        elif char == "\n" and index + 1 < len(text) and text[index + 1] == "\n":
            return None
        index -= 1
    return None


def _find_target_ends(text: str, start: int, angled: bool) -> list[tuple[int, int]]:
    """Return the possible (end of destination, index past the closing ``)``) of a link target, best first.

    The first is where CommonMark ends it (balanced parentheses). Models also write unbalanced parentheses
    in unencoded names (``a).csv``, ``(draft.csv``), so every later ``)`` on the line is offered too; the
    caller keeps the first one that names a known file.
    """
    if angled:
        close = text.find(">", start)
        newline = text.find("\n", start)
        if close < 0 or (0 <= newline < close):
            return []
        after = close + 1
        while after < len(text) and text[after] in " \t":
            after += 1
        title_end = _skip_title(text, after)
        return [(close, title_end + 1)] if title_end < len(text) and text[title_end] == ")" else []
    balanced: tuple[int, int] | None = None
    others: list[tuple[int, int]] = []
    depth = 0
    index = start
    while index < len(text) and text[index] != "\n" and len(others) < 8:
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0 and balanced is None:
                balanced = (index, index + 1)
            else:
                others.append((index, index + 1))
            depth = max(depth - 1, 0)
        index += 1
    return ([balanced] if balanced is not None else []) + others


def _skip_title(text: str, index: int) -> int:
    if index < len(text) and text[index] in "\"'":
        close = text.find(text[index], index + 1)
        if close > 0:
            index = close + 1
            while index < len(text) and text[index] in " \t":
                index += 1
    return index


def _clean_label(label: str, table: LinkTable, spans_target: LinkTarget | None) -> str:
    """Return a link label with any ``sandbox:`` text in it replaced by the file's name."""
    if not _OCCURRENCE.search(label):
        return label

    def name_for(match: re.Match[str]) -> str:
        """The escaped file name to show instead of one ``sandbox:`` target."""
        found = spans_target or table.lookup(match.group(0))
        name = found.filename if found is not None else sandbox_relative_name(match.group(0))
        return escape_markdown(name or "file")

    return re.sub(r"sandbox:[^\s\]]*", name_for, label, flags=re.IGNORECASE)


def _marker(target: LinkTarget | None, raw_target: str) -> str:
    """The visible text that replaces a link to a file we do not have."""
    if target is None:
        name = sandbox_relative_name(raw_target).rsplit("/", 1)[-1] or "file"
        return f"⚠ {escape_markdown(name)} was not among the files this reply produced"
    reason = f": {target.problem}" if target.problem else ""
    text = f"⚠ {target.filename} could not be saved{reason}"
    return escape_markdown(_strip_scheme(text))


def _strip_scheme(text: str) -> str:
    return re.sub("sandbox:", "sandbox ", text, flags=re.IGNORECASE)


def _span_target(
    spans: Sequence[tuple[int, int, LinkTarget]], start: int, end: int, *, whole: bool = False
) -> LinkTarget | None:
    """Return the file of the span overlapping ``[start, end)`` (with ``whole``: a span ending inside it)."""
    for span_start, span_end, target in spans:
        if span_start < end and start < span_end and (not whole or span_end <= end):
            return target
    return None


def _inside_code_span(text: str, position: int) -> bool:
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("`", line_start, position) % 2 == 1


def _bare_end(text: str, start: int) -> int:
    stop = _BARE_STOP.search(text, start)
    end = stop.start() if stop else len(text)
    while end > start and text[end - 1] in ".,;:!?":
        end -= 1
    while end > start and text[end - 1] == ")" and text.count("(", start, end) < text.count(")", start, end):
        end -= 1
    return end


def rewrite_links(text: str, table: LinkTable, spans: Sequence[Span] = ()) -> str:
    """Return ``text`` with every ``sandbox:`` link pointing at its saved file, or replaced by a marker.

    ``spans`` are the text's annotation spans; a link covered by one points at that span's file whatever
    its text says. The rest of the Markdown is left exactly as it was.
    """
    checked = []
    for span in spans:
        indexes = _checked_span(text, span)
        if indexes is not None:
            checked.append((indexes[0], indexes[1], span.target))
    edits: list[_Edit] = []
    covered: list[tuple[int, int]] = []
    for match in _LINK_OPENING.finditer(text):
        edit = _rewrite_markdown_link(text, match, table, checked)
        if edit is not None:
            edits.append(edit)
            covered.append((edit.start, edit.end))
    for match in _OCCURRENCE.finditer(text):
        position = match.start()
        if any(start <= position < end for start, end in covered):
            continue
        edit = _rewrite_other(text, position, table, checked)
        edits.append(edit)
        covered.append((edit.start, edit.end))
    result = text
    for edit in sorted(edits, key=lambda item: item.start, reverse=True):
        result = result[: edit.start] + edit.replacement + result[edit.end :]
    return result


def _rewrite_markdown_link(
    text: str, match: re.Match[str], table: LinkTable, spans: Sequence[tuple[int, int, LinkTarget]]
) -> _Edit | None:
    """Rewrite ``[label](sandbox:…)`` or ``![alt](sandbox:…)``; ``None`` if it is not a well-formed link."""
    close_bracket = match.start()
    label_start = _find_label_start(text, close_bracket)
    angled = bool(match.group(1))
    target_start = match.end()
    candidates = _find_target_ends(text, target_start, angled)
    if label_start is None or not candidates:
        return None
    chosen: tuple[int, str, str, LinkTarget | None] | None = None
    for destination_end, link_end in candidates:
        destination = text[target_start:destination_end]
        title = ""
        if not angled:
            titled = _TITLE.match(destination)
            if titled is not None:
                destination = titled.group("target")
                title = " " + titled.group("title")
        destination_stop = target_start + len(destination)
        found = _span_target(spans, target_start, destination_stop, whole=True) or table.lookup(destination)
        if found is not None:
            chosen = (link_end, destination, title, found)
            break
        if chosen is None:
            chosen = (link_end, destination, title, None)
    assert chosen is not None
    link_end, destination, title, found = chosen
    image = label_start > 0 and text[label_start - 1] == "!"
    start = label_start - 1 if image else label_start
    label = _clean_label(text[label_start + 1 : close_bracket], table, found)
    if found is None or found.relative_path is None:
        marker = _marker(found, destination)
        replacement = f"*{marker}*" if image or not label.strip() else f"{label} (*{marker}*)"
        return _Edit(start, link_end, replacement)
    bang = "!" if image else ""
    return _Edit(start, link_end, f"{bang}[{label}]({markdown_url(found.relative_path)}{title})")


def _rewrite_other(
    text: str, position: int, table: LinkTable, spans: Sequence[tuple[int, int, LinkTarget]]
) -> _Edit:
    """Rewrite a ``sandbox:`` target that is not a Markdown link: HTML attribute, autolink, code or bare."""
    before = text[position - 1] if position > 0 else ""
    line_start = text.rfind("\n", 0, position) + 1
    if before and before in "\"'":
        close = text.find(before, position)
        end = close if close > 0 else _bare_end(text, position)
        kind = "attribute"
    elif _REFERENCE_DEFINITION.match(text, line_start, position):
        end = _bare_end(text, position)
        kind = "attribute"
    elif before == "<" and text.find(">", position) > 0:
        end = text.find(">", position)
        kind = "autolink"
    elif _inside_code_span(text, position):
        stop = text.find("`", position)
        end = stop if stop > 0 else _bare_end(text, position)
        kind = "code"
    else:
        end = _bare_end(text, position)
        kind = "bare"
    raw = text[position:end]
    found = _span_target(spans, position, end) or table.lookup(raw)
    saved = found is not None and found.relative_path is not None
    if kind == "attribute":
        if saved and found is not None and found.relative_path is not None:
            return _Edit(position, end, markdown_url(found.relative_path))
        return _Edit(position, end, "#" + quote(_strip_scheme(_marker(found, raw))))
    if kind == "code":
        if found is not None and found.relative_path is not None:
            return _Edit(position, end, found.relative_path.replace("`", "'"))
        return _Edit(position, end, _strip_scheme(_marker(found, raw)).replace("`", "'"))
    start, stop = (position - 1, end + 1) if kind == "autolink" else (position, end)
    if found is not None and found.relative_path is not None:
        return _Edit(start, stop, f"[{escape_markdown(found.filename)}]({markdown_url(found.relative_path)})")
    return _Edit(start, stop, f"*{_marker(found, raw)}*")
