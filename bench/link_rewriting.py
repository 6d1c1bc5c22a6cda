"""Case 6, link rewriting: ``rewrite_links`` on 1 MB replies shaped to hit every super-linear step it had.

Each shape is a class of hostile reply: 10,000 Markdown links; bare targets, code spans and autolinks on one
line; 10,000 nested labels; backticks before the targets; a line of links that never close; angle targets
that never close; a line that looks like a reference definition; links with nine unbalanced ``)`` each; a
target running into 1 MB of backslashes; 1 MB of ``[`` before a link; a bare target followed by 1 MB of
``)``; ``](`` followed by 1 MB of spaces; 10,000 annotation spans counted in UTF-16 units.

Each is timed at about 1 MB (10,000 links) and at a tenth of that, in turns. Target: under 1 s for the 1 MB
text; the growth ratio shows the shape of the cost (about 10 for linear, 100 for quadratic). Every result
is checked: no ``sandbox:`` target survives, and the expected number of targets are rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.harness import BenchError, Row, Samples, Settings, interleaved, ratio, timed
from openai_artifacts_nb.links import LinkTable, LinkTarget, Span, rewrite_links

NUMBER = 6
TITLE = "link rewriting"
LIMIT_S = 1.0
#: Characters per link in the full-size texts: 10,000 links make about 1 MB.
CHARS_PER_LINK = 100
_FILLER = "The model wrote some prose here, between the links. "


@dataclass(frozen=True)
class Reply:
    """One text to rewrite, what to rewrite it with, and what the result must contain."""

    text: str
    table: LinkTable
    spans: tuple[Span, ...]
    expected: str
    count: int

    def check(self, result: str) -> None:
        """Raise :class:`BenchError` unless ``result`` is a correct rewrite of this reply."""
        if "sandbox:" in result.lower():
            raise BenchError("a sandbox: target survived the rewriting")
        if result.count(self.expected) != self.count:
            found = result.count(self.expected)
            raise BenchError(f"{found} rewritten targets {self.expected!r} instead of {self.count}")


def _padded(text: str, links: int) -> str:
    """``text`` followed by a paragraph of prose, to about ``CHARS_PER_LINK`` characters per link."""
    missing = links * CHARS_PER_LINK - len(text)
    if missing <= 0:
        return text
    return text + "\n\n" + (_FILLER * (missing // len(_FILLER) + 1))[:missing]


def _table(*names: str, saved: bool = True) -> LinkTable:
    table = LinkTable()
    for name in names:
        table.add(LinkTarget(name, f"out/{name}" if saved else None), sandbox_path=f"/mnt/data/{name}")
    return table


def markdown_links(links: int) -> Reply:
    """``[file i](sandbox:/mnt/data/fi.csv)`` links, one file each."""
    text = " ".join(f"[file {i}](sandbox:/mnt/data/f{i}.csv) {_FILLER}" for i in range(links))
    names = [f"f{i}.csv" for i in range(links)]
    return Reply(_padded(text, links), _table(*names), (), "](out/f", links)


def one_line_mix(links: int) -> Reply:
    """Bare targets, code spans and autolinks, all on one line."""
    unit = "sandbox:/mnt/data/f.csv `sandbox:/mnt/data/x` <sandbox:/mnt/data/f.csv> "
    return Reply(_padded(unit * links, links), _table("f.csv"), (), "](out/f.csv)", 2 * links)


def nested_labels(links: int) -> Reply:
    """``[[[…](sandbox:…)](sandbox:…)](sandbox:…)``: every link inside the label of the next."""
    text = "[" * links + "](sandbox:/mnt/data/a.csv)" * links
    return Reply(_padded(text, links), _table("a.csv"), (), "](out/a.csv)", links)


def backticks_first(links: int) -> Reply:
    """Two backticks per link, then the bare targets, on one line."""
    text = "`" * (2 * links) + " sandbox:/a" * links
    return Reply(_padded(text, links), _table("a"), (), "](out/a)", links)


def unclosed_links(links: int) -> Reply:
    """``[a](sandbox:…`` without a closing parenthesis, on one line."""
    text = "[a](sandbox:/mnt/data/a.csv " * links
    return Reply(_padded(text, links), _table("a.csv"), (), "](out/a.csv)", links)


def unclosed_angles(links: int) -> Reply:
    """``[a](<sandbox:…`` without a closing angle bracket, on one line."""
    text = "[a](<sandbox:/mnt/data/a.csv " * links
    return Reply(_padded(text, links), _table("a.csv"), (), "](out/a.csv)", links)


def definition_line(links: int) -> Reply:
    """A line that starts like a reference definition (``[``) and then holds every target."""
    text = "[" + " sandbox:/mnt/data/a.csv" * links
    return Reply(_padded(text, links), _table("a.csv"), (), "](out/a.csv)", links)


def unbalanced_parentheses(links: int) -> Reply:
    """``[b](sandbox:/b c)))))))))``: every ``)`` a possible end, none naming a known file."""
    text = "[b](sandbox:/b c" + ")" * 9 + " "
    return Reply(_padded(text * links, links), _table("a.csv"), (), "was not among the files", links)


def backslashes(links: int) -> Reply:
    """A link whose target runs into ``CHARS_PER_LINK`` backslashes per link."""
    text = "[a](sandbox:/mnt/data/a.csv" + "\\" * (links * CHARS_PER_LINK) + ")"
    return Reply(text, _table("a.csv"), (), "was not among the files", 1)


def opening_brackets(links: int) -> Reply:
    """``CHARS_PER_LINK`` ``[`` per link, then one link."""
    text = "[" * (links * CHARS_PER_LINK) + "](sandbox:/mnt/data/a.csv)"
    return Reply(text, _table("a.csv"), (), "](out/a.csv)", 1)


def closing_parentheses(links: int) -> Reply:
    """One bare target followed by ``CHARS_PER_LINK`` closing parentheses per link."""
    text = "sandbox:/mnt/data/a.csv" + ")" * (links * CHARS_PER_LINK)
    return Reply(text, _table("a.csv"), (), "](out/a.csv)", 1)


def opening_spaces(links: int) -> Reply:
    """``](`` followed by ``CHARS_PER_LINK`` spaces per link, then one link."""
    text = "](" + " " * (links * CHARS_PER_LINK) + "[a](sandbox:/mnt/data/a.csv)"
    return Reply(text, _table("a.csv"), (), "](out/a.csv)", 1)


def utf16_spans(links: int) -> Reply:
    """Links after astral characters, each cited by an annotation span counted in UTF-16 units."""
    # Pieces of a prime length, so that no span's UTF-16 offset is also the character index of a target.
    prefix = "📈" * links + "\n\n"
    pieces, spans = [], []
    for i in range(links):
        piece = f"[c{i}](sandbox:/mnt/data/c{i}.png) {_FILLER}".ljust(97)
        start = len(prefix) + links + len(pieces) * 97 + piece.index("sandbox:")
        target = LinkTarget(f"c{i}.png", f"cited/c{i}.png")
        spans.append(Span(start, start + len(f"sandbox:/mnt/data/c{i}.png"), target))
        pieces.append(piece)
    text = prefix + "".join(pieces)
    return Reply(_padded(text, links), LinkTable(), tuple(spans), "](cited/c", links)


SHAPES: dict[str, Callable[[int], Reply]] = {
    "10,000 [file i](sandbox:/mnt/data/fi.csv) links": markdown_links,
    "10,000 x bare + `code span` + <autolink> targets, one line": one_line_mix,
    "10,000 nested labels [[[…](sandbox:…)](sandbox:…)]…": nested_labels,
    "20,000 backticks, then 10,000 bare targets, one line": backticks_first,
    "10,000 [a](sandbox:… never closed, one line": unclosed_links,
    "10,000 [a](<sandbox:… never closed, one line": unclosed_angles,
    "'[' then 10,000 bare targets, one line": definition_line,
    "10,000 [b](sandbox:/b c))))))))) links, no ')' names a file": unbalanced_parentheses,
    "a link whose target runs into 1 MB of backslashes": backslashes,
    "1 MB of '[', then one link": opening_brackets,
    "a bare target, then 1 MB of ')'": closing_parentheses,
    "'](' then 1 MB of spaces, then a link": opening_spaces,
    "10,000 links after astral characters, spans in UTF-16 units": utf16_spans,
}


def _measure(reply: Reply) -> Callable[[], float]:
    def run() -> float:
        result: list[str] = []
        seconds = timed(lambda: result.append(rewrite_links(reply.text, reply.table, reply.spans)))
        reply.check(result[0])
        return seconds

    return run


def run(settings: Settings) -> list[Row]:
    """Time every shape at full size and at a tenth of it, interleaved, and check every result."""
    links = settings.pick(full=10_000, quick=1_000, smoke=100)
    rows = []
    for what, build in SHAPES.items():
        full, tenth = build(links), build(links // 10)
        times = interleaved(settings.repeat, {"full": _measure(full), "tenth": _measure(tenth)})
        ours = Samples.of(times["full"], "s")
        reference = Samples.of(times["tenth"], "s")
        growth = ratio(ours.median, reference.median)
        passed = ours.median < LIMIT_S
        size_kb = len(full.text.encode()) / 1000
        note = ""
        if not passed:
            note = (
                f"{ours.median:.2f} s for {size_kb:.0f} kB, {growth:.0f}x the time of a tenth of it "
                "(linear would be about 10x): a step of rewrite_links still rescans the text per link."
            )
        rows.append(
            Row(
                case=TITLE,
                what=what if settings.mode == "full" else f"{what} (at {links:,} links)",
                ours=ours,
                reference=reference,
                reference_name="1/10 size",
                ratio=growth,
                ratio_text="× for 10× the text",
                target=f"< {LIMIT_S:.0f} s per 1 MB",
                passed=passed,
                note=note,
                details={"bytes": len(full.text.encode()), "tenth_bytes": len(tenth.text.encode())},
            )
        )
    return rows
