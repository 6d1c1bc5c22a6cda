"""Text to HTML that cannot carry script: the one place where what the model wrote becomes markup.

The model is untrusted: a prompt injection hidden in an uploaded CSV can make it write anything. So no text
it controls reaches the page as markup except through this module, and the rule is built in, not matched:

* :func:`markdown_html` parses Markdown with a real CommonMark parser (markdown-it-py, raw HTML *off*, so
  ``<script>`` is text), decides every link and image in one place (:func:`link_allowed`,
  :func:`image_allowed`), keeps ``$…$``, ``$$…$$``, ``\\(…\\)`` and ``\\[…\\]`` math as literal text that
  JupyterLab's MathJax typesets, and then sanitizes its own output.
* :func:`sanitize` is the last step of everything the package emits as HTML (replies, cards, previews,
  notices): an allowlist sanitizer (nh3, the Ammonia crate) that keeps only the tags, attributes, classes,
  style properties and URL forms listed here. It is never looser than JupyterLab's own sanitizer for
  untrusted output, because a cell's own outputs are trusted by Lab and shown unsanitized.
* :func:`escape` makes any text inert inside HTML (element content and quoted attribute values).

Only images we saved ourselves are loaded: an image in the reply must have a relative path (a saved file) or
a data URI of a raster type; an ``https`` image becomes a plain link, so a reply cannot make the browser send
a request by being shown. Math is typeset only inside the spans this module marks (the rest of the reply is
``mathjax_ignore``), and a formula using one of MathJax's commands that reach the DOM (links, classes,
styles, ids, extension loading) is shown as text instead.
"""

from __future__ import annotations

import html
import re
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "MATH_IGNORE",
    "MATH_PROCESS",
    "escape",
    "image_allowed",
    "link_allowed",
    "markdown_fragment",
    "markdown_html",
    "markdown_plain",
    "sanitize",
]

#: The classes that tell MathJax where to look (MathJax 3: ``mathjax_*``; 2, in nbconvert: ``tex2jax_*``).
MATH_IGNORE = "mathjax_ignore tex2jax_ignore"
MATH_PROCESS = "mathjax_process tex2jax_process"

_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_IMAGE_DATA = re.compile(
    r"data:image/(?:png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*\Z", re.IGNORECASE
)
_DOWNLOAD_DATA = re.compile(
    r"data:(?:application/octet-stream|image/(?:png|jpeg|gif|webp));base64,[A-Za-z0-9+/=\s]*\Z", re.IGNORECASE
)
# MathJax's own ``safe`` extension filters exactly these: the TeX commands whose output reaches the DOM
# (links, CSS classes, inline styles, ids, data attributes) or loads code (``\require``).
_MATH_DOM_COMMANDS = re.compile(r"\\(?:href|url|class|cssId|style|data|require|html\w*|mmlToken)(?![A-Za-z])")

_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt",
        "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li",
        "mark", "ol", "p", "pre", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
_ATTRIBUTES = {
    "*": {"title", "style", "data-filename", "data-kind"},
    "a": {"href", "download", "target"},
    "img": {"src", "alt", "width", "height"},
    "details": {"open"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# Properties that cannot name a URL (no background, list-style-image, cursor, content, border-image, mask).
_STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font-size", "font-weight", "font-style", "font-family", "text-align",
        "text-decoration", "vertical-align", "white-space", "line-height", "margin", "margin-top",
        "margin-bottom", "margin-left", "margin-right", "padding", "padding-top", "padding-bottom",
        "padding-left", "padding-right", "border", "border-top", "border-bottom", "border-left",
        "border-right", "border-color", "border-radius", "border-collapse", "max-width", "max-height",
        "min-width", "width", "height", "overflow", "overflow-x", "overflow-y", "display", "gap", "opacity",
        "word-break", "overflow-wrap",
    }
)  # fmt: skip


def escape(text: object) -> str:
    """Return ``text`` inert inside HTML: safe as element content and as a quoted attribute value."""
    return html.escape(str(text), quote=True)


def _is_relative(url: str) -> bool:
    parts = urlsplit(url)
    # ``//host`` and ``\\host`` are network addresses to a browser, though they carry no scheme.
    return not parts.scheme and not parts.netloc and not url.lstrip().startswith(("//", "\\", "/\\"))


def link_allowed(url: str) -> bool:
    """Whether a link the reply wrote may stay a link: ``http(s)``, ``mailto`` or a relative path only."""
    parts = urlsplit(url.strip())
    if parts.scheme:
        return parts.scheme.lower() in _LINK_SCHEMES
    return _is_relative(url)


def image_allowed(src: str) -> bool:
    """Whether an image may be loaded: a relative path (a file we saved) or a raster/SVG data URI.

    Remote images are refused: showing one would send a request, which is how an injected reply leaks data.
    """
    src = src.strip()
    return bool(_IMAGE_DATA.match(src)) or _is_relative(src)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "src":
        return value if tag == "img" and image_allowed(value) else None
    if attribute == "href":
        stripped = value.strip()
        if stripped.lower().startswith("data:"):
            return value if _DOWNLOAD_DATA.match(stripped) else None
        return value if link_allowed(value) else None
    if attribute == "target":
        return "_blank"
    return value


@cache
def _cleaner() -> Any:
    import nh3

    return nh3.Cleaner(
        tags=set(_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties=set(_STYLE_PROPERTIES),
        strip_comments=True,
        allowed_classes={
            "div": _OUR_CLASSES,
            "span": _OUR_CLASSES,
            "a": _OUR_CLASSES,
            "b": _OUR_CLASSES,
            "img": _OUR_CLASSES,
            "table": _OUR_CLASSES,
            "pre": _OUR_CLASSES,
            "code": _OUR_CLASSES,
            "details": _OUR_CLASSES,
            "summary": _OUR_CLASSES,
            "p": _OUR_CLASSES,
        },
    )


_OUR_CLASSES = {
    "oai-reply", "oai-math", "oai-code-run", "oai-code-failed", "oai-code-error", "oai-notice", "oai-error",
    "oai-usage", "oai-artifact-card", "oai-artifact-name", "oai-artifact-link", "oai-artifact-datauri",
    "oai-artifact-note", "oai-artifact-image", "oai-artifact-svg", "oai-table-preview", "oai-table-footer",
    "oai-artifact-text", "oai-text-footer", "oai-marker", "oai-streaming", "oai-artifact-type", "oai-code",
    "oai-status", "dataframe", "highlight",
    "mathjax_ignore", "mathjax_process", "tex2jax_ignore", "tex2jax_process",
}  # fmt: skip


def sanitize(markup: str) -> str:
    """Return ``markup`` with everything outside the allowlist removed (the last step of all our HTML)."""
    result: str = _cleaner().clean(markup)
    return result


def _math(content: str, *, display: bool) -> str:
    delimiter = "$$" if display else "$"
    text = escape(f"{delimiter}{content}{delimiter}")
    tag = "div" if display else "span"
    if _MATH_DOM_COMMANDS.search(content):
        return f'<{tag} class="oai-math">{text}</{tag}>'
    return f'<{tag} class="oai-math {MATH_PROCESS}">{text}</{tag}>'


def _render_math_inline(
    self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return _math(tokens[idx].content, display=False)


def _render_math_block(
    self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return _math(tokens[idx].content.strip(), display=True) + "\n"


def _render_image(
    self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    if image_allowed(src) and not src.strip().lower().startswith("data:"):
        return f'<img src="{escape(src)}" alt="{escape(alt)}" style="max-width:100%">'
    # A remote image is offered as a link: it is loaded only if the user chooses to open it.
    label = escape(alt or src)
    return f'<a href="{escape(src)}">{label}</a>' if link_allowed(src) else label


@cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.texmath import texmath_plugin

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # ``$5 and $10`` is money, not math: no digit or space just inside the dollars (pandoc's rule).
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, allow_labels=False)
    md.use(texmath_plugin, delimiters="brackets")
    md.validateLink = link_allowed  # type: ignore[method-assign]
    for name in ("math_inline", "math_inline_double"):
        md.add_render_rule(name, _render_math_inline)
    for name in ("math_block", "math_block_label", "math_block_eqno", "math_single"):
        md.add_render_rule(name, _render_math_block)
    md.add_render_rule("image", _render_image)
    return md


def markdown_fragment(text: str) -> str:
    """Return the Markdown ``text`` as sanitized HTML, without a wrapper (pieces of one reply join safely).

    Raw HTML in ``text`` is shown as text; links keep only ``http(s)``, ``mailto`` and relative targets
    (anything else becomes plain text); images load only from relative paths; math stays for MathJax.
    """
    return sanitize(_parser().render(text))


def markdown_html(text: str, *, css_class: str = "oai-reply") -> str:
    """Return the Markdown ``text`` as sanitized HTML in one ``<div>``; nothing in it can run or load.

    Outside the math spans :func:`markdown_fragment` marks, MathJax is told to leave the text alone, so a
    ``$`` in prose never becomes a formula.
    """
    return sanitize(f'<div class="{css_class} {MATH_IGNORE}">{markdown_fragment(text)}</div>')


def _inline_plain(children: list[Token]) -> str:
    out: list[str] = []
    links: list[tuple[str, int]] = []
    for child in children:
        kind = child.type
        if kind in {"text", "html_inline"}:
            out.append(child.content)
        elif kind == "code_inline":
            out.append(f"`{child.content}`")
        elif kind in {"math_inline", "math_inline_double"}:
            out.append(f"${child.content}$")
        elif kind in {"softbreak", "hardbreak"}:
            out.append("\n")
        elif kind == "link_open":
            links.append((str(child.attrGet("href") or ""), len(out)))
        elif kind == "link_close" and links:
            target, start = links.pop()
            if target and "".join(out[start:]) != target:
                out.append(f" ({target})")
        elif kind == "image":
            out.append(f"{child.content or 'image'} ({child.attrGet('src') or ''})")
    return "".join(out)


def markdown_plain(text: str) -> str:
    """Return the Markdown ``text`` as readable plain text: no escapes, links as ``label (target)``.

    For terminals and other ``text/plain`` readers: headings, list bullets, quotes, code blocks and table
    rows stay recognisable; nothing is interpreted as markup (the result is never HTML).
    """
    lines: list[str] = []
    prefix: list[str] = []
    counters: list[int | None] = []
    row: list[str] = []
    in_cell = False
    pending_item = ""
    for token in _parser().parse(text):
        kind = token.type
        if kind == "bullet_list_open":
            counters.append(None)
        elif kind == "ordered_list_open":
            counters.append(int(token.attrGet("start") or 1))
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            counters.pop()
            lines.append("")
        elif kind == "list_item_open":
            number = counters[-1] if counters else None
            pending_item = "- " if number is None else f"{number}. "
            if number is not None:
                counters[-1] = number + 1
        elif kind == "blockquote_open":
            prefix.append("> ")
        elif kind == "blockquote_close":
            prefix.pop()
        elif kind == "heading_open":
            pending_item = "#" * int(token.tag[1:]) + " "
        elif kind in {"fence", "code_block"}:
            lines.extend("".join(prefix) + "    " + line for line in token.content.rstrip("\n").split("\n"))
            lines.append("")
        elif kind in {"math_block", "math_block_label", "math_block_eqno", "math_single"}:
            lines.append("".join(prefix) + f"$${token.content.strip()}$$")
        elif kind == "hr":
            lines.append("".join(prefix) + "---")
        elif kind in {"th_open", "td_open"}:
            in_cell = True
        elif kind in {"th_close", "td_close"}:
            in_cell = False
        elif kind == "tr_close":
            lines.append("".join(prefix) + " | ".join(row))
            row = []
        elif kind == "inline":
            content = _inline_plain(token.children or [])
            if in_cell:
                row.append(content)
                continue
            indent = "  " * max(0, len(counters) - 1)
            first, *rest = content.split("\n") or [""]
            lines.append("".join(prefix) + indent + pending_item + first)
            lines.extend("".join(prefix) + indent + " " * len(pending_item) + line for line in rest)
            pending_item = ""
        elif kind in {"paragraph_close", "heading_close", "table_close"} and not counters:
            lines.append("")
    return "\n".join(lines).strip("\n")
