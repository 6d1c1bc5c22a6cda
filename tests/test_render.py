"""Reply views: the text as inert Markdown, code collapsed with its logs, usage, notices and errors."""

from __future__ import annotations

from openai_artifacts_nb.markup import escape_markdown_html
from openai_artifacts_nb.render import ErrorLine, Notice, ReplyView, UsageLine, human_size
from openai_artifacts_nb.reply import CodeRun, Usage


def test_reply_text_is_markdown_with_inert_html_and_collapsible_code() -> None:
    run = CodeRun("ci_1", code="print('<b>')", logs="<b>\n", status="completed")
    reply = ReplyView("Done <img src=x onerror=alert(1)> and `<kbd>` [chart](nb_artifacts/chart.png)", [run])
    data = reply._repr_mimebundle_()
    markdown = data["text/markdown"]
    assert "&lt;img src=x" in markdown and "`<kbd>`" in markdown
    assert markdown.startswith("<details><summary>Code (1 line)</summary>")
    assert "print('<b>')" in markdown and "Output:" in markdown
    assert "[chart](nb_artifacts/chart.png)" in markdown
    assert "[code]" in data["text/plain"] and "Done <img" in data["text/plain"]


def test_escaping_leaves_fenced_code_alone() -> None:
    text = "a <b>\n```html\n<div>x</div>\n```\nc <i>"
    assert escape_markdown_html(text) == "a &lt;b>\n```html\n<div>x</div>\n```\nc &lt;i>"


def test_usage_error_and_notice_lines() -> None:
    line = UsageLine("gpt-4.1", Usage(310, 95, 405, 10), "resp_1", 2.04, 2, "nb_artifacts")
    text = line._repr_mimebundle_()["text/plain"]
    assert (
        text
        == "gpt-4.1 · 310 in / 95 out tokens (10 cached) · 2 files saved to nb_artifacts · resp_1 · 2.0 s"
    )
    assert "usage not reported" in UsageLine("m", None).plain()
    error = ErrorLine("chart.png: the container expired")._repr_mimebundle_()
    assert error["text/plain"] == "Error: chart.png: the container expired"
    assert 'class="oai-error"' in error["text/html"]
    assert Notice("x <y>")._repr_mimebundle_()["text/html"].count("&lt;y&gt;") == 1


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 999, 18_342, 5_000_000)] == [
        "0 bytes",
        "999 bytes",
        "18.3 KB",
        "5.0 MB",
    ]
