"""Reply views: the text rendered to inert HTML, code collapsed with its logs, usage, notices and errors."""

from __future__ import annotations

from openai_artifacts_nb.render import ErrorLine, Notice, ReplyView, UsageLine, human_size
from openai_artifacts_nb.reply import CodeRun, Usage


def test_reply_text_is_inert_html_with_collapsible_code() -> None:
    run = CodeRun("ci_1", code="print('<b>')", logs="<b>\n", status="completed")
    reply = ReplyView("Done <img src=x onerror=alert(1)> and `<kbd>` [chart](nb_artifacts/chart.png)", [run])
    data = reply._repr_mimebundle_()
    assert set(data) == {"text/plain", "text/html"}, "no text/markdown: Lab would pass its raw HTML through"
    markup = data["text/html"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup and "<code>&lt;kbd&gt;</code>" in markup
    assert markup.startswith(
        '<div class="oai-reply mathjax_ignore tex2jax_ignore"><details class="oai-code-run">'
    )
    assert "<summary>Code (1 line)</summary>" in markup
    assert "print(&#x27;&lt;b&gt;&#x27;)" in markup or "print('&lt;b&gt;')" in markup
    assert "Output:" in markup
    assert '<a href="nb_artifacts/chart.png" rel="noopener noreferrer nofollow">chart</a>' in markup
    assert "[code]" in data["text/plain"] and "Done <img" in data["text/plain"]


def test_fenced_code_is_shown_as_text() -> None:
    markup = ReplyView("a <b>\n```html\n<div>x</div>\n```\nc <i>").html()
    assert '<pre><code class="">&lt;div&gt;x&lt;/div&gt;' in markup
    assert "a &lt;b&gt;" in markup and "c &lt;i&gt;" in markup


def test_a_failed_run_says_so_in_its_title() -> None:
    logs = 'Traceback (most recent call last):\n  File "<x>", line 1\nFileNotFoundError: orders.csv\n'
    run = CodeRun("ci_1", code="import pandas\npandas.read_csv('orders.csv')", logs=logs)
    markup = ReplyView("", [run]).html()
    assert "<summary" in markup and "Code (2 lines) · FileNotFoundError: orders.csv</summary>" in markup
    assert "oai-code-failed" in markup
    assert "[code · FileNotFoundError: orders.csv]" in ReplyView("", [run]).plain()
    assert CodeRun("ci_2", code="1", logs="fine\n").error == ""


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
    assert [human_size(n) for n in (0, 1, 999, 18_342, 5_000_000)] == [
        "0 bytes",
        "1 byte",
        "999 bytes",
        "18 KiB",
        "4.8 MiB",
    ]
