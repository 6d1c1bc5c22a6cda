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
import sys
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "LinkTable",
    "LinkTarget",
    "Span",
    "escape_markdown",
    "is_web_url",
    "markdown_url",
    "rewrite_links",
    "sandbox_relative_name",
]

_SCHEME = "sandbox:"
_OCCURRENCE = re.compile(r"sandbox:(?=[^\s)\]>\"'`,;.!?])", re.IGNORECASE)
_LINK_OPENING = re.compile(r"\]\(")
_BLANKS = re.compile(r"[ \t]*")
_BARE_STOP = re.compile(r"[\s<>\"'`\[\]{}|]")
_TITLE = re.compile(r"^(?P<target>.*?\S)\s+(?P<title>\"[^\"]*\"|'[^']*'|\([^()]*\))\s*$", re.DOTALL)
_MARKDOWN_ESCAPES = {ord(char): "\\" + char for char in "\\`*_[]<>|"}
_MOUNT_PREFIX = "mnt/data/"
#: Matched at a line's start: where it ends is where the definition's target starts.
_REFERENCE_DEFINITION = re.compile(r" {0,3}\[[^\]\n]+\]:[ \t]*")
#: Runs of the brackets that count when matching a label's ``[``, and the blank lines that end a paragraph.
_BRACKETS_OR_BREAK = re.compile(r"(?<!\\)(?:\[+|\]+)|\n\n+")
_ESCAPE_PAIR = re.compile(r"\\.", re.DOTALL)
_PARENS_AND_NEWLINES = (re.compile(r"\("), re.compile(r"\)"), re.compile(r"\n"))
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def escape_markdown(text: str) -> str:
    """Escape the characters that would start Markdown syntax inside link labels and plain text."""
    return text.translate(_MARKDOWN_ESCAPES)


def is_web_url(target: str) -> bool:
    """Whether ``target`` is an absolute ``http(s)://`` URL (an object in storage), not a relative path."""
    return target.startswith(("https://", "http://")) and bool(urlsplit(target).netloc)


def markdown_url(relative_path: str) -> str:
    """Percent-encode a POSIX relative path for a Markdown link target (spaces, parentheses, non-ASCII).

    An absolute ``http(s)`` URL (a saved object's, maybe presigned) keeps its query and its escapes.
    """
    if is_web_url(relative_path):
        return quote(relative_path, safe="/-._~!$&'*+,;=:@?#%")
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
    """What one sandbox file became: a saved file's relative path (or its object's ``https://`` URL), or the
    reason it could not be saved."""

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
        self._by_name: dict[str, dict[LinkTarget, None]] = {}

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
        self._by_name.setdefault(key, {}).setdefault(target, None)

    def lookup(self, target: str) -> LinkTarget | None:
        """Return the file a ``sandbox:`` target points at, or ``None`` when no known file has that name."""
        relative = sandbox_relative_name(target)
        if relative in self._by_path:
            return self._by_path[relative]
        basename = relative.rsplit("/", 1)[-1]
        bucket = self._by_name.get(basename.casefold())
        return next(iter(bucket)) if bucket else None


@dataclass
class _Edit:
    """Replace ``text[start:end]`` with ``replacement``: strings and the edits of links nested in a label."""

    start: int
    end: int
    replacement: list[str | _Edit]


def rewrite_links(text: str, table: LinkTable, spans: Sequence[Span] = ()) -> str:
    """Return ``text`` with every ``sandbox:`` link pointing at its saved file, or replaced by a marker.

    ``spans`` are the text's annotation spans; a link covered by one points at that span's file whatever
    its text says. The rest of the Markdown is left exactly as it was.

    Every step takes time linear in the text (times a logarithm at most), whatever the text holds: each
    question asked of the text (where a label starts, where a target ends, whether a position is in a code
    span, which span covers it) is answered from indexes built once per text, never by rescanning it.
    Edits never overlap: a link nested in another link's label is rewritten inside it, and a delimited
    target (an HTML attribute, an autolink, a code span) takes in any Markdown link that starts inside it.
    """
    lookups = _Lookups(table)
    index = _SpanIndex(_checked_spans(text, spans))
    finder = _NextIndex(text)
    markdown = _markdown_edits(text, lookups, index, finder)
    edits: list[_Edit] = []
    cursor = _LineCursor(text)
    pending = 0
    covered_until = 0
    for match in _OCCURRENCE.finditer(text):
        position = match.start()
        if position < covered_until:
            continue
        while pending < len(markdown) and markdown[pending].end <= position:
            edits.append(markdown[pending])
            pending += 1
        if pending < len(markdown) and markdown[pending].start <= position:
            continue
        edit = _rewrite_other(text, position, lookups, spans=index, finder=finder, cursor=cursor)
        while pending < len(markdown) and markdown[pending].start < edit.end:
            pending += 1
        edits.append(edit)
        covered_until = edit.end
    edits.extend(markdown[pending:])
    return _apply(text, edits)


def _apply(text: str, edits: Sequence[_Edit]) -> str:
    """Return ``text`` with the sorted, disjoint ``edits`` made, joined once."""
    pieces: list[str] = []
    position = 0
    for edit in edits:
        pieces.append(text[position : edit.start])
        stack = [iter(edit.replacement)]
        while stack:
            for part in stack[-1]:
                if isinstance(part, str):
                    pieces.append(part)
                else:
                    stack.append(iter(part.replacement))
                    break
            else:
                stack.pop()
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)


# ---------------------------------------------------------------------------------------------------------
# Indexes built once per text


class _Lookups:
    """``LinkTable.lookup``, remembered for the short targets a text names again and again."""

    _LONGEST = 256
    _MOST = 4096

    def __init__(self, table: LinkTable) -> None:
        self._table = table
        self._seen: dict[str, LinkTarget | None] = {}

    def lookup(self, target: str) -> LinkTarget | None:
        """The file ``target`` points at, as :meth:`LinkTable.lookup` finds it."""
        if target in self._seen:
            return self._seen[target]
        found = self._table.lookup(target)
        if len(target) <= self._LONGEST and len(self._seen) < self._MOST:
            self._seen[target] = found
        return found


class _NextIndex:
    """``text.find(char, position)`` that never scans the same stretch twice while positions only grow."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._last: dict[str, tuple[int, int]] = {}

    def find(self, char: str, position: int) -> int:
        """The index of the first ``char`` at or after ``position``, or -1."""
        last = self._last.get(char)
        if last is not None and last[0] <= position and (last[1] < 0 or position <= last[1]):
            return last[1]
        found = self._text.find(char, position)
        self._last[char] = (position, found)
        return found


class _LineCursor:
    """The line a position is on, its backtick parity and its reference definition, for growing positions."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._position = 0
        self._ticks = 0
        self._definition = (-1, -1)
        self.line_start = 0

    def seek(self, position: int) -> None:
        """Move to ``position`` (counting only the text since the last position or the line start)."""
        text = self._text
        if position < self._position:
            self._position, self._ticks, self.line_start = 0, 0, 0
        newline = text.rfind("\n", self._position, position)
        if newline >= 0:
            self.line_start = newline + 1
            self._ticks = text.count("`", self.line_start, position)
        else:
            self._ticks += text.count("`", self._position, position)
        self._position = position

    @property
    def in_code_span(self) -> bool:
        """Whether an odd number of backticks precede the position on its line."""
        return self._ticks % 2 == 1

    @property
    def definition_target(self) -> int:
        """Where the target of the reference definition (``[x]: …``) on this line starts, or -1."""
        if self._definition[0] != self.line_start:
            found = _REFERENCE_DEFINITION.match(self._text, self.line_start)
            self._definition = (self.line_start, found.end() if found is not None else -1)
        return self._definition[1]


def _skip_blanks(text: str, index: int) -> int:
    blanks = _BLANKS.match(text, index)
    return blanks.end() if blanks is not None else index


def _link_openings(text: str) -> list[tuple[int, int, bool]]:
    """Every ``](`` that opens a ``sandbox:`` target: (its ``]``, where the target starts, angle brackets)."""
    openings = []
    for match in _LINK_OPENING.finditer(text):
        start = _skip_blanks(text, match.end())
        angled = text.startswith("<", start)
        if angled:
            start = _skip_blanks(text, start + 1)
        if text[start : start + len(_SCHEME)].lower() == _SCHEME:
            openings.append((match.start(), start, angled))
    return openings


def _label_starts(text: str, closes: Sequence[int]) -> dict[int, int | None]:
    """For each ``]`` in the sorted ``closes``, the ``[`` opening its label on the same paragraph, or None.

    Reading back from a ``]``, the label opens at the nearest unescaped ``[`` where as many unescaped ``[``
    as ``]`` have been passed; one pass forward finds them all: it keeps, for each bracket depth, the latest
    ``[`` at that depth since the last blank line, and answers each ``]`` with the one at its depth.
    """
    found: dict[int, int | None] = {}
    if not closes:
        return found
    depth = 0
    latest: dict[int, int] = {}
    waiting, upcoming = 0, closes[0]
    # Nothing before the last blank line ahead of the first "]" can open a label.
    paragraph = text.rfind("\n\n", 0, closes[0]) + 1
    for token in _BRACKETS_OR_BREAK.finditer(text, paragraph, closes[-1] + 1):
        position = token.start()
        if upcoming < position:
            while waiting < len(closes) and closes[waiting] < position:
                found[closes[waiting]] = latest.get(depth)
                waiting += 1
            upcoming = closes[waiting]
        char = text[position]
        if char == "[":
            run = token.end() - position
            if run == 1:
                latest[depth] = position
            else:
                depths = range(depth, depth - run, -1)
                latest.update(zip(depths, range(position, position + run), strict=True))
            depth -= run
        elif char == "]":
            depth += token.end() - position
        elif latest:
            latest.clear()
    for close in closes[waiting:]:
        found[close] = latest.get(depth)
    return found


class _TargetEnds:
    """Where each link target may end, from the positions of the text's unescaped parentheses and newlines."""

    def __init__(self, text: str, finder: _NextIndex) -> None:
        self._text = text
        self._finder = finder
        self._tokens: tuple[list[int], list[int], list[int]] | None = None
        self._angled: tuple[int, list[tuple[int, int]]] = (-1, [])

    def _live(self, start: int) -> tuple[list[int], list[int], list[int]]:
        # From any target's start (a letter) on, a backslash escapes the next character whatever came before;
        # one pass from the first target that needs them gives the same tokens as a pass from each target.
        if self._tokens is None:
            text = self._text
            # Escape pairs blanked out (same length), so that only live characters are found below.
            live = _ESCAPE_PAIR.sub("\x00\x00", text) if "\\" in text else text
            opens, closes, newlines = (
                [found.start() for found in pattern.finditer(live, start)] for pattern in _PARENS_AND_NEWLINES
            )
            self._tokens = (opens, closes, newlines)
        return self._tokens

    def find(self, start: int, angled: bool) -> list[tuple[int, int]]:
        """Return the possible (end of destination, index past the closing ``)``) of a target, best first.

        The first is where CommonMark ends it (balanced parentheses). Models also write unbalanced
        parentheses in unencoded names (``a).csv``, ``(draft.csv``), so up to eight later ``)`` on the line
        are offered too; the caller keeps the first one that names a known file.
        """
        if angled:
            return self._find_angled(start)
        opens, closes, newlines = self._live(start)
        line = bisect_left(newlines, start)
        line_end = newlines[line] if line < len(newlines) else len(self._text)
        first_open = bisect_left(opens, start)
        balanced: tuple[int, int] | None = None
        others: list[tuple[int, int]] = []
        passed = 0
        candidate = bisect_left(closes, start)
        while candidate < len(closes) and closes[candidate] < line_end and len(others) < 8:
            close = closes[candidate]
            if balanced is None and bisect_left(opens, close) - first_open == passed:
                balanced = (close, close + 1)
            else:
                others.append((close, close + 1))
            passed += 1
            candidate += 1
        return ([balanced] if balanced is not None else []) + others

    def _find_angled(self, start: int) -> list[tuple[int, int]]:
        text = self._text
        close = self._finder.find(">", start)
        newline = self._finder.find("\n", start)
        if close < 0 or (0 <= newline < close):
            return []
        if self._angled[0] == close:
            return self._angled[1]
        title_end = self._skip_title(_skip_blanks(text, close + 1))
        ends = [(close, title_end + 1)] if title_end < len(text) and text[title_end] == ")" else []
        self._angled = (close, ends)
        return ends

    def _skip_title(self, index: int) -> int:
        text = self._text
        if index < len(text) and text[index] in "\"'":
            close = self._finder.find(text[index], index + 1)
            if close > 0:
                index = _skip_blanks(text, close + 1)
        return index


class _Utf16Index:
    """Map UTF-16 unit offsets to character indexes, from the positions of the astral characters."""

    def __init__(self, text: str) -> None:
        self._length = len(text)
        self._astral = [match.start() for match in _ASTRAL.finditer(text)]
        self._units = [index + count for count, index in enumerate(self._astral)]

    @property
    def needed(self) -> bool:
        """Whether any unit offset differs from its character index."""
        return bool(self._astral)

    def index(self, units: int) -> int | None:
        """The index of the character that starts at UTF-16 offset ``units`` (or the end), else None."""
        before = bisect_left(self._units, units)
        index = units - before
        if 0 <= index <= self._length and bisect_left(self._astral, index) == before:
            return index
        return None


def _checked_spans(text: str, spans: Sequence[Span]) -> list[tuple[int, int, LinkTarget]]:
    """The spans that cover a ``sandbox:`` target, as indexes into ``text``, in their given order."""
    checked = []
    utf16: _Utf16Index | None = None
    for span in spans:
        if span.end <= span.start:
            continue
        if text[span.start : span.start + len(_SCHEME)].lower() == _SCHEME:
            checked.append((span.start, span.end, span.target))
            continue
        # Spans count characters; if they were counted in UTF-16 units (astral characters before the
        # span), map them back.
        if utf16 is None:
            utf16 = _Utf16Index(text)
        if not utf16.needed:
            continue
        start, end = utf16.index(span.start), utf16.index(span.end)
        if start is not None and end is not None and text[start : start + len(_SCHEME)].lower() == _SCHEME:
            checked.append((start, end, span.target))
    return checked


class _MinTree:
    """The smallest value over a range of a list, with values removable, each operation O(log n)."""

    _NONE = sys.maxsize

    def __init__(self, values: Sequence[int]) -> None:
        size = 1
        while size < len(values):
            size *= 2
        self._size = size
        tree = [self._NONE] * (2 * size)
        tree[size : size + len(values)] = values
        for node in range(size - 1, 0, -1):
            tree[node] = min(tree[2 * node], tree[2 * node + 1])
        self._tree = tree

    def remove(self, position: int) -> None:
        """Take the value at ``position`` out of every later answer."""
        tree = self._tree
        node = position + self._size
        tree[node] = self._NONE
        while node > 1:
            node //= 2
            tree[node] = min(tree[2 * node], tree[2 * node + 1])

    def smallest(self, low: int, high: int) -> int | None:
        """The smallest value at positions ``[low, high)``, or None when there is none."""
        tree = self._tree
        best = self._NONE
        low += self._size
        high += self._size
        while low < high:
            if low & 1:
                best = min(best, tree[low])
                low += 1
            if high & 1:
                high -= 1
                best = min(best, tree[high])
            low //= 2
            high //= 2
        return None if best == self._NONE else best


class _SpanIndex:
    """The checked spans, answering "the first span (in the given order) that touches ``[a, b)``"."""

    def __init__(self, spans: list[tuple[int, int, LinkTarget]]) -> None:
        self._spans = spans
        by_end = sorted(range(len(spans)), key=lambda number: spans[number][1])
        by_start = sorted(range(len(spans)), key=lambda number: spans[number][0])
        self._ends = [spans[number][1] for number in by_end]
        self._starts = [spans[number][0] for number in by_start]
        self._by_end = by_end
        self._start_rank = {number: rank for rank, number in enumerate(by_start)}
        self._ending = _MinTree(by_end)
        self._starting = _MinTree(by_start)
        self._expired = 0

    def ending_within(self, start: int, end: int) -> LinkTarget | None:
        """The file of the first span overlapping ``[start, end)`` that ends inside it."""
        if not self._spans:
            return None
        low = bisect_right(self._ends, start)
        high = bisect_right(self._ends, end)
        found = self._ending.smallest(low, high)
        return None if found is None else self._spans[found][2]

    def overlapping(self, start: int, end: int) -> LinkTarget | None:
        """The file of the first span overlapping ``[start, end)``; ``start`` must never decrease."""
        if not self._spans:
            return None
        while self._expired < len(self._ends) and self._ends[self._expired] <= start:
            self._starting.remove(self._start_rank[self._by_end[self._expired]])
            self._expired += 1
        found = self._starting.smallest(0, bisect_left(self._starts, end))
        return None if found is None else self._spans[found][2]


# ---------------------------------------------------------------------------------------------------------
# Markdown links


def _markdown_edits(text: str, table: _Lookups, spans: _SpanIndex, finder: _NextIndex) -> list[_Edit]:
    """The edits for every ``[label](sandbox:…)`` and ``![alt](sandbox:…)``, sorted and disjoint.

    Links are taken in the order of their ``](``, so a link nested in another's label comes first; the
    outer link then carries it in its label. A link that would cut through one already taken is left to
    the rewriting of bare targets.
    """
    openings = _link_openings(text)
    label_starts = _label_starts(text, [close for close, _, _ in openings])
    ends = _TargetEnds(text, finder)
    taken: list[_Edit] = []
    taken_ends: list[int] = []
    for close_bracket, target_start, angled in openings:
        label_start = label_starts[close_bracket]
        if label_start is None:
            continue
        image = label_start > 0 and text[label_start - 1] == "!"
        start = label_start - 1 if image else label_start
        inner = bisect_right(taken_ends, start)
        if inner < len(taken) and (taken[inner].start <= label_start or taken_ends[-1] > close_bracket):
            continue
        candidates = ends.find(target_start, angled)
        if not candidates:
            continue
        link = _Link(text, label_start, close_bracket, target_start, angled, image)
        edit = _rewrite_markdown_link(link, candidates, table, spans, taken[inner:])
        del taken[inner:], taken_ends[inner:]
        taken.append(edit)
        taken_ends.append(edit.end)
    return taken


@dataclass(frozen=True)
class _Link:
    """Where one ``[label](sandbox:…)`` is: its label's ``[`` and ``]``, its target's start, its form."""

    text: str
    label_start: int
    close_bracket: int
    target_start: int
    angled: bool
    image: bool


def _rewrite_markdown_link(
    link: _Link,
    candidates: list[tuple[int, int]],
    table: _Lookups,
    spans: _SpanIndex,
    nested: list[_Edit],
) -> _Edit:
    """Rewrite ``[label](sandbox:…)`` or ``![alt](sandbox:…)`` ending at one of the ``candidates``.

    ``nested`` are the links already rewritten inside its label, carried in the new label as they are.
    """
    text, target_start = link.text, link.target_start
    chosen: tuple[int, str, str, LinkTarget | None] | None = None
    for destination_end, link_end in candidates:
        destination = text[target_start:destination_end]
        title = ""
        if not link.angled:
            titled = _TITLE.match(destination)
            if titled is not None:
                destination = titled.group("target")
                title = " " + titled.group("title")
        destination_stop = target_start + len(destination)
        found = spans.ending_within(target_start, destination_stop) or table.lookup(destination)
        if found is not None:
            chosen = (link_end, destination, title, found)
            break
        if chosen is None:
            chosen = (link_end, destination, title, None)
    assert chosen is not None
    link_end, destination, title, found = chosen
    start = link.label_start - 1 if link.image else link.label_start
    label: list[str | _Edit] = []
    position = link.label_start + 1
    for edit in nested:
        label += [_clean_label(text[position : edit.start], table, found), edit]
        position = edit.end
    label.append(_clean_label(text[position : link.close_bracket], table, found))
    if found is None or found.relative_path is None:
        marker = _marker(found, destination)
        blank = not nested and not str(label[0]).strip()
        if link.image or blank:
            return _Edit(start, link_end, [f"*{marker}*"])
        return _Edit(start, link_end, [*label, f" (*{marker}*)"])
    bang = "!" if link.image else ""
    return _Edit(start, link_end, [f"{bang}[", *label, f"]({markdown_url(found.relative_path)}{title})"])


def _clean_label(label: str, table: _Lookups, spans_target: LinkTarget | None) -> str:
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


# ---------------------------------------------------------------------------------------------------------
# Every other sandbox: target


def _bare_end(text: str, start: int) -> int:
    stop = _BARE_STOP.search(text, start)
    end = stop.start() if stop else len(text)
    while end > start and text[end - 1] in ".,;:!?":
        end -= 1
    # Trailing ")" are dropped while they outnumber the "(" before them: as many as the excess, at most.
    excess = text.count(")", start, end) - text.count("(", start, end)
    if excess > 0:
        trailing = end - start - len(text[start:end].rstrip(")"))
        end -= min(trailing, excess)
    return end


def _rewrite_other(
    text: str, position: int, table: _Lookups, *, spans: _SpanIndex, finder: _NextIndex, cursor: _LineCursor
) -> _Edit:
    """Rewrite a ``sandbox:`` target that is not a Markdown link: HTML attribute, autolink, code or bare."""
    before = text[position - 1] if position > 0 else ""
    cursor.seek(position)
    if before and before in "\"'":
        close = finder.find(before, position)
        end = close if close > 0 else _bare_end(text, position)
        kind = "attribute"
    elif cursor.definition_target == position:
        end = _bare_end(text, position)
        kind = "attribute"
    elif before == "<" and finder.find(">", position) > 0:
        end = finder.find(">", position)
        kind = "autolink"
    elif cursor.in_code_span:
        stop = finder.find("`", position)
        end = stop if stop > 0 else _bare_end(text, position)
        kind = "code"
    else:
        end = _bare_end(text, position)
        kind = "bare"
    raw = text[position:end]
    found = spans.overlapping(position, end) or table.lookup(raw)
    if kind == "attribute":
        if found is not None and found.relative_path is not None:
            return _Edit(position, end, [markdown_url(found.relative_path)])
        return _Edit(position, end, ["#" + quote(_strip_scheme(_marker(found, raw)))])
    if kind == "code":
        if found is not None and found.relative_path is not None:
            return _Edit(position, end, [found.relative_path.replace("`", "'")])
        return _Edit(position, end, [_strip_scheme(_marker(found, raw)).replace("`", "'")])
    start, stop = (position - 1, end + 1) if kind == "autolink" else (position, end)
    if found is not None and found.relative_path is not None:
        link = f"[{escape_markdown(found.filename)}]({markdown_url(found.relative_path)})"
        return _Edit(start, stop, [link])
    return _Edit(start, stop, [f"*{_marker(found, raw)}*"])
