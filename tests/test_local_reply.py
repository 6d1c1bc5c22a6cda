"""The emulator's final message: links in each style and citations that cover exactly their targets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openai_artifacts_nb.local.reply import (
    LINK_STYLES,
    NO_CODE_REPLY,
    MadeFile,
    compose_text,
    find_citations,
    image_citations,
    sandbox_target,
)

NAMES = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"], blacklist_characters="()[]/\\\n"),
    min_size=1,
    max_size=30,
).filter(lambda name: name.strip() == name and name not in {".", ".."})


@given(names=st.lists(NAMES, min_size=1, max_size=4, unique=True), style=st.sampled_from(LINK_STYLES[:-1]))
def test_every_linked_file_is_cited_over_exactly_its_target(names: list[str], style: str) -> None:
    files = [MadeFile(path=f"/mnt/data/{name}", file_id=f"cfile_{n}") for n, name in enumerate(names)]
    text = compose_text(files, images=0, ran_code=True, style=style)
    citations = find_citations(text, files)
    assert [c.file_id for c in citations] == [f.file_id for f in files]
    for citation, made in zip(citations, files, strict=True):
        assert text[citation.start : citation.end] == sandbox_target(made.name, style)
        assert citation.filename == made.name


def test_citations_count_characters_not_bytes() -> None:
    files = [MadeFile(path="/mnt/data/plot.png", file_id="cfile_a")]
    text = "I plotted y = x² and saved it as a PNG: [Download plot.png](sandbox:/mnt/data/plot.png)"
    (citation,) = find_citations(text, files)
    assert (citation.start, citation.end) == (60, 86)


def test_bare_mentions_and_subfolders_are_cited() -> None:
    files = [MadeFile(path="/mnt/data/out/t.csv", file_id="cfile_t")]
    text = "See sandbox:/mnt/data/out/t.csv and [again](sandbox:/mnt/data/out/t.csv)."
    assert [(c.start, c.end) for c in find_citations(text, files)] == [(4, 31), (44, 71)]
    assert find_citations("sandbox:/mnt/data/other.txt", files) == []


def test_fixed_texts() -> None:
    assert compose_text([], images=0, ran_code=False, style="standard") == NO_CODE_REPLY
    assert (
        compose_text([], images=1, ran_code=True, style="standard")
        == "I ran the code and displayed the chart above."
    )
    assert compose_text([MadeFile("/mnt/data/a", "cfile_a")], images=0, ran_code=True, style="none") == (
        "I ran the code and saved 1 file in the sandbox."
    )


def test_image_citations_are_zero_width() -> None:
    (citation,) = image_citations(["cfile_9"])
    assert (citation.start, citation.end, citation.filename) == (0, 0, "cfile_9.png")
