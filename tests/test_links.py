"""Tests for openai_artifacts_nb.links: every sandbox: link form rewritten, markers for failures."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import mistune
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from openai_artifacts_nb.links import (
    LinkTable,
    LinkTarget,
    Span,
    _clean_label,
    _marker,
    _strip_scheme,
    escape_markdown,
    markdown_url,
    rewrite_links,
    sandbox_relative_name,
)

_AST = mistune.create_markdown(renderer="ast")


def _links(markdown: str) -> list[tuple[str, str, str]]:
    """(type, url, plain label) of every link and image a CommonMark parser finds in ``markdown``."""
    found: list[tuple[str, str, str]] = []

    def label(node: dict[str, Any]) -> str:
        return "".join(child.get("raw", "") or label(child) for child in node.get("children", []))

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            if node["type"] in ("link", "image"):
                found.append((node["type"], node["attrs"]["url"], label(node)))
            walk(node.get("children", []) or [])

    walk(_AST(markdown))  # type: ignore[arg-type]
    return found


def _table(*entries: tuple[str, str | None, str | None]) -> LinkTable:
    """A table from (sandbox name, saved relative path or None, problem)."""
    table = LinkTable()
    for name, relative, problem in entries:
        table.add(
            LinkTarget(filename=name.rsplit("/", 1)[-1], relative_path=relative, problem=problem),
            sandbox_path=f"/mnt/data/{name}",
        )
    return table


@pytest.mark.parametrize(
    "target",
    [
        "sandbox:/mnt/data/plot.png",
        "sandbox://mnt/data/plot.png",
        "sandbox:/plot.png",
        "sandbox://plot.png",
        "SANDBOX:/mnt/data/plot.png",
        "sandbox:/mnt/data/pl%6Ft.png",
    ],
)
def test_sandbox_relative_name_reads_every_form(target: str) -> None:
    assert sandbox_relative_name(target) == "plot.png"


def test_sandbox_relative_name_decodes_and_normalises() -> None:
    assert sandbox_relative_name("sandbox:/mnt/data/caf%C3%A9%20%281%29.csv") == "café (1).csv"
    assert sandbox_relative_name("sandbox:/mnt/data/cafe\u0301.csv") == "café.csv"
    assert sandbox_relative_name("sandbox:/mnt/data/out/deep.txt") == "out/deep.txt"


def test_markdown_url_encodes_spaces_parentheses_and_non_ascii() -> None:
    assert markdown_url("art/my plot (1).png") == "art/my%20plot%20%281%29.png"
    assert markdown_url("art/café.csv") == "art/caf%C3%A9.csv"
    assert markdown_url("a/b_c-d.e~f") == "a/b_c-d.e~f"


@pytest.mark.parametrize(
    "form",
    [
        "[plot]({})",
        "![plot]({})",
        '[plot]({} "a title")',
        "[plot](<{}>)",
    ],
)
@pytest.mark.parametrize(
    "target",
    ["sandbox:/mnt/data/plot.png", "sandbox://mnt/data/plot.png", "sandbox:/plot.png", "sandbox://plot.png"],
)
def test_markdown_links_and_images_are_rewritten(form: str, target: str) -> None:
    table = _table(("plot.png", "out/plot.png", None))
    text = "Before " + form.format(target) + " after."
    result = rewrite_links(text, table)
    assert "sandbox:" not in result
    assert result.startswith("Before ") and result.endswith(" after.")
    links = _links(result)
    assert len(links) == 1
    assert links[0][0] == ("image" if form.startswith("!") else "link")
    assert links[0][1] == "out/plot.png"


def test_name_with_spaces_parentheses_and_non_ascii() -> None:
    table = _table(
        ("my plot (1).png", "nb_artifacts/my plot (1).png", None),
        ("résumé.csv", "nb_artifacts/résumé.csv", None),
    )
    text = (
        "A [chart](sandbox:/mnt/data/my plot (1).png), "
        "an encoded ![c](sandbox:/mnt/data/my%20plot%20%281%29.png) "
        "and [data](sandbox:/mnt/data/r%C3%A9sum%C3%A9.csv) or [data2](sandbox:/mnt/data/résumé.csv)."
    )
    result = rewrite_links(text, table)
    assert "sandbox:" not in result
    urls = [unquote(url) for _, url, _ in _links(result)]
    assert urls == [
        "nb_artifacts/my plot (1).png",
        "nb_artifacts/my plot (1).png",
        "nb_artifacts/résumé.csv",
        "nb_artifacts/résumé.csv",
    ]
    assert "nb_artifacts/my%20plot%20%281%29.png" in result
    assert "nb_artifacts/r%C3%A9sum%C3%A9.csv" in result


def test_bare_links_become_markdown_links() -> None:
    table = _table(("data.csv", "out/data.csv", None))
    result = rewrite_links("Download: sandbox:/mnt/data/data.csv. Or sandbox://data.csv, thanks", table)
    assert "sandbox:" not in result
    assert result == "Download: [data.csv](out/data.csv). Or [data.csv](out/data.csv), thanks"


def test_autolink_code_span_and_html_attribute() -> None:
    table = _table(("a b.png", "out/a b.png", None))
    text = (
        'Auto <sandbox:/mnt/data/a%20b.png>, code `sandbox:/mnt/data/a b.png`, <img src="sandbox:/a%20b.png">'
    )
    result = rewrite_links(text, table)
    assert "sandbox:" not in result
    assert result == 'Auto [a b.png](out/a%20b.png), code `out/a b.png`, <img src="out/a%20b.png">'


def test_link_at_the_very_start_and_reference_definitions() -> None:
    table = _table(("d.csv", "out/d.csv", None))
    assert rewrite_links("sandbox:/mnt/data/d.csv is here", table) == "[d.csv](out/d.csv) is here"
    text = "See [the data][1].\n\n[1]: sandbox:/mnt/data/d.csv\n"
    result = rewrite_links(text, table)
    assert result == "See [the data][1].\n\n[1]: out/d.csv\n"
    assert _links(result) == [("link", "out/d.csv", "the data")]


def test_unbalanced_parentheses_in_unencoded_names() -> None:
    table = _table(("a).csv", "out/a).csv", None), ("(draft.csv", "out/(draft.csv", None))
    text = "[a](sandbox:/mnt/data/a).csv) and [d](sandbox:/mnt/data/(draft.csv) end"
    result = rewrite_links(text, table)
    assert result == "[a](out/a%29.csv) and [d](out/%28draft.csv) end"
    # With an annotation span, the span says where the target ends.
    text = "[a](sandbox:/mnt/data/a).csv)"
    span = Span(4, len(text) - 1, LinkTarget("a).csv", "o/a).csv"))
    assert rewrite_links(text, LinkTable(), [span]) == "[a](o/a%29.csv)"


def test_label_that_repeats_the_sandbox_url_is_cleaned() -> None:
    table = _table(("x.csv", "out/x.csv", None))
    result = rewrite_links("[sandbox:/mnt/data/x.csv](sandbox:/mnt/data/x.csv)", table)
    assert result == "[x.csv](out/x.csv)"


def test_failed_file_becomes_a_marker_not_a_dead_link() -> None:
    table = _table(("gone.csv", None, "its container cntr_1 expired"))
    text = (
        "Get [the data](sandbox:/mnt/data/gone.csv) or ![plot](sandbox:/mnt/data/gone.csv) or "
        + "sandbox:/gone.csv"
    )
    result = rewrite_links(text, table)
    assert "sandbox:" not in result
    assert _links(result) == []
    assert result.startswith(
        "Get the data (*⚠ gone.csv could not be saved: its container cntr\\_1 expired*) or "
    )
    assert result.count("could not be saved") == 3


def test_unknown_file_becomes_a_marker() -> None:
    result = rewrite_links("See [it](sandbox:/mnt/data/never.txt).", LinkTable())
    assert result == "See it (*⚠ never.txt was not among the files this reply produced*)."


def test_annotation_span_wins_over_the_name() -> None:
    # The text says one name, the annotation points at another file: trust the annotation.
    text = "Here: [file](sandbox:/mnt/data/old_name.csv)"
    start = text.index("sandbox:")
    end = text.index(")")
    table = _table(("old_name.csv", "out/wrong.csv", None))
    cited = LinkTarget(filename="new.csv", relative_path="out/new.csv")
    result = rewrite_links(text, table, [Span(start, end, cited)])
    assert result == "Here: [file](out/new.csv)"


def test_spans_count_characters_not_bytes() -> None:
    text = "Voilà — ’quoted’ “ok” [f](sandbox:/mnt/data/f.txt)"
    start = text.index("sandbox:")
    span = Span(start, start + len("sandbox:/mnt/data/f.txt"), LinkTarget("f.txt", "o/f.txt"))
    assert rewrite_links(text, LinkTable(), [span]).endswith("[f](o/f.txt)")


def test_spans_in_utf16_units_are_mapped_back() -> None:
    text = "📈 chart: [c](sandbox:/mnt/data/c.png)"
    start16 = len(text[: text.index("sandbox:")].encode("utf-16-le")) // 2
    span = Span(start16, start16 + len("sandbox:/mnt/data/c.png"), LinkTarget("c.png", "o/c.png"))
    assert rewrite_links(text, LinkTable(), [span]) == "📈 chart: [c](o/c.png)"


def test_a_wrong_span_falls_back_to_the_name() -> None:
    table = _table(("c.png", "o/c.png", None))
    span = Span(0, 4, LinkTarget("other.png", "o/other.png"))
    assert rewrite_links("[c](sandbox:/mnt/data/c.png)", table, [span]) == "[c](o/c.png)"


def test_text_without_links_is_unchanged() -> None:
    text = "Nothing here, not even the sandbox: just words. [a](https://example.com) `code`"
    assert rewrite_links(text, LinkTable()) == text


def test_escape_markdown() -> None:
    assert escape_markdown("a_b*c[d]`e`") == "a\\_b\\*c\\[d\\]\\`e\\`"


def test_a_clickable_image_keeps_both_links() -> None:
    # The image is a link nested in the outer link's label: it is rewritten inside it, not cut through.
    table = _table(("a.csv", "out/a.csv", None), ("p.png", "out/p.png", None))
    result = rewrite_links("[![plot](sandbox:/mnt/data/p.png)](sandbox:/mnt/data/a.csv)", table)
    assert result == "[![plot](out/p.png)](out/a.csv)"
    assert _links(result) == [("link", "out/a.csv", "plot"), ("image", "out/p.png", "plot")]
    text = "[see [a](sandbox:/mnt/data/a.csv) and sandbox:/mnt/data/p.png](sandbox:/mnt/data/p.png)"
    assert rewrite_links(text, table) == "[see [a](out/a.csv) and p.png](out/p.png)"


def test_nested_labels_are_rewritten_level_by_level() -> None:
    table = _table(("a.csv", "out/a.csv", None))
    text = "[" * 40 + "](sandbox:/mnt/data/a.csv)" * 40
    assert rewrite_links(text, table) == "[" * 40 + "](out/a.csv)" * 40
    failed = _table(("a.csv", None, "gone"))
    result = rewrite_links("![x [a](sandbox:/mnt/data/a.csv)](sandbox:/mnt/data/a.csv) end", failed)
    assert result == "*⚠ a.csv could not be saved: gone* end"


def test_a_delimited_target_takes_in_the_link_inside_it() -> None:
    # A code span or an HTML attribute ends at its own delimiter; a Markdown link inside it is its text.
    table = _table(("a.csv", "out/a.csv", None))
    code = rewrite_links("`sandbox:/mnt/data/x [a](sandbox:/mnt/data/a.csv)` after", table)
    assert code == "`⚠ a.csv) was not among the files this reply produced` after"
    attribute = rewrite_links('<img src="sandbox:/mnt/data/x [a](sandbox:/mnt/data/a.csv)"> after', table)
    marker = quote("⚠ a.csv) was not among the files this reply produced")
    assert attribute == f'<img src="#{marker}"> after'


def test_a_link_whose_label_cuts_through_an_earlier_link_is_left_to_the_bare_rewriting() -> None:
    table = _table(("a.csv", "out/a.csv", None), ("p.png", "out/p.png", None))
    text = '[a](sandbox:/mnt/data/a.csv "x[t") b](sandbox:/mnt/data/p.png) end'
    assert rewrite_links(text, table) == '[a](out/a.csv "x[t") b]([p.png](out/p.png)) end'


# ---------------------------------------------------------------------------------------------------------
# Property tests

_PROSE = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"),
        blacklist_characters="[]()<>`!*_\\#&|~\"'",
    ),
    max_size=25,
).filter(lambda text: "sandbox" not in text.lower() and text.strip() == text and "  " not in text)
_NAME = (
    st.text(
        alphabet=st.characters(
            whitelist_categories=("Ll", "Lu", "Nd", "Lo"), whitelist_characters=" ()-_.é😀"
        ),
        min_size=1,
        max_size=20,
    )
    .filter(lambda name: name.strip(" .") == name and "  " not in name)
    .map(lambda name: name + ".csv")
)
_FORMS = st.sampled_from(
    ["[label]({})", "![label]({})", "[label](<{}>)", '[label]({} "title")', "{}", "<{}>", "`{}`"]
)
_PREFIXES = st.sampled_from(["sandbox:/mnt/data/", "sandbox://mnt/data/", "sandbox:/", "sandbox://"])


@st.composite
def _documents(draw: st.DrawFn) -> tuple[str, list[str], dict[str, bool], list[tuple[str, str, str]]]:
    names = draw(st.lists(_NAME, min_size=1, max_size=4, unique=True))
    saved = {name: draw(st.booleans()) for name in names}
    prose = [draw(_PROSE) for _ in range(draw(st.integers(1, 5)) + 1)]
    links = []
    for _ in prose[:-1]:
        name = draw(st.sampled_from(names))
        form = draw(_FORMS)
        encoded = draw(st.booleans())
        if " " in name and form in ("{}", "<{}>", '[label]({} "title")'):
            encoded = True
        spelled = quote(name) if encoded else name
        links.append((form, draw(_PREFIXES) + spelled, name))
    parts = []
    for index, text in enumerate(prose):
        parts.append(text)
        if index < len(links):
            form, target, _ = links[index]
            parts.append(draw(st.sampled_from(["", " "])) + form.format(target) + " ")
    return "".join(parts), prose, saved, links


@settings(max_examples=250, deadline=None)
@given(_documents())
def test_property_no_sandbox_link_survives_and_markdown_stays_intact(
    document: tuple[str, list[str], dict[str, bool], list[tuple[str, str, str]]],
) -> None:
    text, prose, saved, links = document
    table = LinkTable()
    for name, ok in saved.items():
        table.add(
            LinkTarget(name, f"nb artifacts/{name}" if ok else None, None if ok else "the download failed"),
            sandbox_path=f"/mnt/data/{name}",
        )
    result = rewrite_links(text, table)

    assert "sandbox:" not in result.lower()
    # The prose around the links is untouched and in order.
    position = 0
    for piece in prose:
        found = result.find(piece, position)
        assert found >= 0, (piece, result)
        position = found + len(piece)
    # Exactly the links to saved files (except in code spans) parse as links, each to its saved file.
    expected = [f"nb artifacts/{name}" for form, _, name in links if saved[name] and form != "`{}`"]
    parsed = [unquote(url) for _, url, _ in _links(result)]
    assert parsed == expected


# ---------------------------------------------------------------------------------------------------------
# The oracle: rewrite_links as it was before every step was made linear (copied unchanged, renamed).
# Where its edits did not overlap, the linear version must give exactly its result.

_OLD_SCHEME = "sandbox:"
_OLD_OCCURRENCE = re.compile(r"sandbox:(?=[^\s)\]>\"'`,;.!?])", re.IGNORECASE)
_OLD_LINK_OPENING = re.compile(r"\]\([ \t]*(<?)[ \t]*(?=sandbox:)", re.IGNORECASE)
_OLD_BARE_STOP = re.compile(r"[\s<>\"'`\[\]{}|]")
_OLD_TITLE = re.compile(r"^(?P<target>.*?\S)\s+(?P<title>\"[^\"]*\"|'[^']*'|\([^()]*\))\s*$", re.DOTALL)
_OLD_REFERENCE_DEFINITION = re.compile(r" {0,3}\[[^\]\n]+\]:[ \t]*$")


@dataclass
class _OldEdit:
    start: int
    end: int
    replacement: str


def _old_checked_span(text: str, span: Span) -> tuple[int, int] | None:
    """Return the span as indexes into ``text`` if it covers a ``sandbox:`` target.

    Spans count characters; if they were counted in UTF-16 units (astral characters before the span), map
    them back. ``None`` when neither reading lands on a ``sandbox:`` target.
    """
    if span.end <= span.start:
        return None
    if text[span.start : span.start + len(_OLD_SCHEME)].lower() == _OLD_SCHEME:
        return span.start, span.end
    if any(ord(char) > 0xFFFF for char in text):
        units = 0
        mapping: dict[int, int] = {}
        for index, char in enumerate(text):
            mapping[units] = index
            units += 2 if ord(char) > 0xFFFF else 1
        mapping[units] = len(text)
        start, end = mapping.get(span.start), mapping.get(span.end)
        if (
            start is not None
            and end is not None
            and text[start : start + len(_OLD_SCHEME)].lower() == _OLD_SCHEME
        ):
            return start, end
    return None


def _old_find_label_start(text: str, close_bracket: int) -> int | None:
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


def _old_find_target_ends(text: str, start: int, angled: bool) -> list[tuple[int, int]]:
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
        title_end = _old_skip_title(text, after)
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


def _old_skip_title(text: str, index: int) -> int:
    if index < len(text) and text[index] in "\"'":
        close = text.find(text[index], index + 1)
        if close > 0:
            index = close + 1
            while index < len(text) and text[index] in " \t":
                index += 1
    return index


def _old_span_target(
    spans: Sequence[tuple[int, int, LinkTarget]], start: int, end: int, *, whole: bool = False
) -> LinkTarget | None:
    """Return the file of the span overlapping ``[start, end)`` (with ``whole``: a span ending inside it)."""
    for span_start, span_end, target in spans:
        if span_start < end and start < span_end and (not whole or span_end <= end):
            return target
    return None


def _old_inside_code_span(text: str, position: int) -> bool:
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("`", line_start, position) % 2 == 1


def _old_bare_end(text: str, start: int) -> int:
    stop = _OLD_BARE_STOP.search(text, start)
    end = stop.start() if stop else len(text)
    while end > start and text[end - 1] in ".,;:!?":
        end -= 1
    while end > start and text[end - 1] == ")" and text.count("(", start, end) < text.count(")", start, end):
        end -= 1
    return end


def _reference_rewrite(text: str, table: LinkTable, spans: Sequence[Span] = ()) -> tuple[str, bool]:
    """The rewriting as it was before it was made linear, and whether its edits overlapped."""
    checked = []
    for span in spans:
        indexes = _old_checked_span(text, span)
        if indexes is not None:
            checked.append((indexes[0], indexes[1], span.target))
    edits: list[_OldEdit] = []
    covered: list[tuple[int, int]] = []
    for match in _OLD_LINK_OPENING.finditer(text):
        edit = _old_rewrite_markdown_link(text, match, table, checked)
        if edit is not None:
            edits.append(edit)
            covered.append((edit.start, edit.end))
    for match in _OLD_OCCURRENCE.finditer(text):
        position = match.start()
        if any(start <= position < end for start, end in covered):
            continue
        edit = _old_rewrite_other(text, position, table, checked)
        edits.append(edit)
        covered.append((edit.start, edit.end))
    ordered = sorted(edits, key=lambda item: item.start)
    overlapped = any(later.start < earlier.end for earlier, later in itertools.pairwise(ordered))
    result = text
    for edit in sorted(edits, key=lambda item: item.start, reverse=True):
        result = result[: edit.start] + edit.replacement + result[edit.end :]
    return result, overlapped


def _old_rewrite_markdown_link(
    text: str, match: re.Match[str], table: LinkTable, spans: Sequence[tuple[int, int, LinkTarget]]
) -> _OldEdit | None:
    """Rewrite ``[label](sandbox:…)`` or ``![alt](sandbox:…)``; ``None`` if it is not a well-formed link."""
    close_bracket = match.start()
    label_start = _old_find_label_start(text, close_bracket)
    angled = bool(match.group(1))
    target_start = match.end()
    candidates = _old_find_target_ends(text, target_start, angled)
    if label_start is None or not candidates:
        return None
    chosen: tuple[int, str, str, LinkTarget | None] | None = None
    for destination_end, link_end in candidates:
        destination = text[target_start:destination_end]
        title = ""
        if not angled:
            titled = _OLD_TITLE.match(destination)
            if titled is not None:
                destination = titled.group("target")
                title = " " + titled.group("title")
        destination_stop = target_start + len(destination)
        found = _old_span_target(spans, target_start, destination_stop, whole=True) or table.lookup(
            destination
        )
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
        return _OldEdit(start, link_end, replacement)
    bang = "!" if image else ""
    return _OldEdit(start, link_end, f"{bang}[{label}]({markdown_url(found.relative_path)}{title})")


def _old_rewrite_other(
    text: str, position: int, table: LinkTable, spans: Sequence[tuple[int, int, LinkTarget]]
) -> _OldEdit:
    """Rewrite a ``sandbox:`` target that is not a Markdown link: HTML attribute, autolink, code or bare."""
    before = text[position - 1] if position > 0 else ""
    line_start = text.rfind("\n", 0, position) + 1
    if before and before in "\"'":
        close = text.find(before, position)
        end = close if close > 0 else _old_bare_end(text, position)
        kind = "attribute"
    elif _OLD_REFERENCE_DEFINITION.match(text, line_start, position):
        end = _old_bare_end(text, position)
        kind = "attribute"
    elif before == "<" and text.find(">", position) > 0:
        end = text.find(">", position)
        kind = "autolink"
    elif _old_inside_code_span(text, position):
        stop = text.find("`", position)
        end = stop if stop > 0 else _old_bare_end(text, position)
        kind = "code"
    else:
        end = _old_bare_end(text, position)
        kind = "bare"
    raw = text[position:end]
    found = _old_span_target(spans, position, end) or table.lookup(raw)
    saved = found is not None and found.relative_path is not None
    if kind == "attribute":
        if saved and found is not None and found.relative_path is not None:
            return _OldEdit(position, end, markdown_url(found.relative_path))
        return _OldEdit(position, end, "#" + quote(_strip_scheme(_marker(found, raw))))
    if kind == "code":
        if found is not None and found.relative_path is not None:
            return _OldEdit(position, end, found.relative_path.replace("`", "'"))
        return _OldEdit(position, end, _strip_scheme(_marker(found, raw)).replace("`", "'"))
    start, stop = (position - 1, end + 1) if kind == "autolink" else (position, end)
    if found is not None and found.relative_path is not None:
        return _OldEdit(
            start, stop, f"[{escape_markdown(found.filename)}]({markdown_url(found.relative_path)})"
        )
    return _OldEdit(start, stop, f"*{_marker(found, raw)}*")


_PIECES = st.sampled_from(
    [
        "[", "]", "(", ")", "\\", "\n", "\n\n", "`", "<", ">", '"', "'", " ", "\t", "!", ":", ".", "x",
        "é", "📈", "%20", "](", "](<", "[l](", "![i](", "[1]: ", ' "t"', " (t)",
        "sandbox:/mnt/data/a.csv", "sandbox://b c.csv", "sandbox:/b%20c.csv", "SANDBOX:/x", "sandbox:/",
        "sandbox:", "a.csv", "b c.csv",
    ]
)  # fmt: skip
_DIFFERENTIAL_TABLE = _table(("a.csv", "out/a.csv", None), ("b c.csv", None, "it was too big"))
_SPAN_TARGET = LinkTarget("s.csv", "out/s (1).csv")


@st.composite
def _hostile(draw: st.DrawFn) -> tuple[str, list[Span]]:
    """Text made of the characters and pieces every step reads, and spans on and off its targets."""
    text = "".join(draw(st.lists(_PIECES, max_size=40)))
    starts = [match.start() for match in _OLD_OCCURRENCE.finditer(text)]
    spans = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.sampled_from(starts)) if starts and draw(st.booleans()) else draw(st.integers(-3, 60))
        end = start + draw(st.integers(-1, 40))
        problem = draw(st.sampled_from([None, "gone"]))
        spans.append(
            Span(start, end, LinkTarget(f"s{len(spans)}.csv", None if problem else "o/s.csv", problem))
        )
    return text, spans


@settings(max_examples=1500, deadline=None)
@given(_hostile())
def test_property_same_result_as_the_quadratic_version(document: tuple[str, list[Span]]) -> None:
    text, spans = document
    expected, overlapped = _reference_rewrite(text, _DIFFERENTIAL_TABLE, spans)
    assume(not overlapped)
    assert rewrite_links(text, _DIFFERENTIAL_TABLE, spans) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join), st.integers(0, 3))
def test_property_spans_in_utf16_units_map_like_before(text: str, shift: int) -> None:
    text = "📈" * shift + text
    spans = []
    for number, match in enumerate(_OLD_OCCURRENCE.finditer(text)):
        start16 = len(text[: match.start()].encode("utf-16-le")) // 2
        spans.append(Span(start16, start16 + 10 + number, _SPAN_TARGET))
    expected, overlapped = _reference_rewrite(text, _DIFFERENTIAL_TABLE, spans)
    assume(not overlapped)
    assert rewrite_links(text, _DIFFERENTIAL_TABLE, spans) == expected
