"""Tests for openai_artifacts_nb.links: every sandbox: link form rewritten, markers for failures."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import mistune
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_artifacts_nb.links import (
    LinkTable,
    LinkTarget,
    Span,
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
