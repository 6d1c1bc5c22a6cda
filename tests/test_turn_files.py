"""Files across the turns of one conversation: links to earlier turns' files, each turn's own files only,
the first saving response kept as the source, figures with readable names that re-runs do not copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai

from openai_artifacts_nb.manifest import Manifest
from openai_artifacts_nb.session import ConversationSession

CLEAN = "```python\nopen('/mnt/data/clean.csv', 'w').write('a,b\\n1,2\\n')\n```"
LINK_BACK = "```reply\nThe cleaned table: [clean.csv](sandbox:/mnt/data/clean.csv).\n```"
LINK_BACK_AND_NEW = (
    "```python\nopen('/mnt/data/more.csv', 'w').write('c\\n3\\n')\n```\n"
    "```reply\nTables: [clean.csv](sandbox:/mnt/data/clean.csv) and "
    "[more.csv](sandbox:/mnt/data/more.csv).\n```"
)
FIGURE = "```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\n```"


def run(session: ConversationSession, client: Any, prompt: str, out: Path, **options: Any) -> Any:
    return session.run(prompt, client=client, model="gpt-4.1", out_dir=out, link_base=out.parent, **options)


def files_in(folder: Path) -> list[str]:
    """The saved files in ``folder`` (the manifest, wherever it is kept, left out)."""
    if not folder.is_dir():
        return []
    manifest = Manifest(folder).path
    return sorted(
        path.name
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path != manifest
    )


def manifest_of(folder: Path) -> dict[str, Any]:
    return {entry.path: entry for entry in Manifest(folder).entries.values()}


def test_a_link_to_an_earlier_turns_file_works_and_nothing_is_saved_again(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    session = ConversationSession()
    first = run(session, client, CLEAN, tmp_path / "first")
    assert [artifact.filename for artifact in first.artifacts] == ["clean.csv"]
    second = run(session, client, LINK_BACK, tmp_path / "second")
    assert second.text == "The cleaned table: [clean.csv](first/clean.csv)."
    assert second.failures == [] and second.artifacts == []
    assert files_in(tmp_path / "second") == [], "--dir gets only this turn's new files"
    assert (tmp_path / "first" / "clean.csv").read_bytes() == b"a,b\n1,2\n"


def test_each_turn_saves_its_own_files_and_the_first_source_stays(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    session = ConversationSession()
    out = tmp_path / "out"
    first = run(session, client, CLEAN, out)
    other = tmp_path / "other"
    second = run(session, client, LINK_BACK_AND_NEW, other)
    assert [artifact.filename for artifact in second.artifacts] == ["more.csv"]
    assert files_in(other) == ["more.csv"]
    assert "[clean.csv](out/clean.csv)" in second.text and "[more.csv](other/more.csv)" in second.text
    third = run(session, client, LINK_BACK, out)
    assert third.artifacts == [] and third.failures == []
    entries = manifest_of(out)
    assert entries["clean.csv"].source_id == first.response_id, "never overwritten by a later response"
    assert manifest_of(other)["more.csv"].source_id == second.response_id


def test_figures_get_readable_names_and_a_rerun_reuses_the_file(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    session = ConversationSession()
    out = tmp_path / "out"
    first = run(session, client, FIGURE, out, label="cell-3")
    assert [artifact.filename for artifact in first.artifacts] == ["cell-3-figure-1.png"]
    figure = first.artifacts[0]
    assert figure.mime_type == "image/png" and figure.file_id and figure.file_id.startswith("cfile_")
    rerun = run(session, client, FIGURE, out, label="cell-4")
    assert [artifact.path for artifact in rerun.artifacts] == [figure.path], "same bytes: the same file"
    assert [name for name in files_in(out) if name.endswith(".png")] == ["cell-3-figure-1.png"]
    document = json.loads(Manifest(out).path.read_text(encoding="utf-8"))
    ids = {entry["file_id"] for entry in document["artifacts"] if entry["path"] == "cell-3-figure-1.png"}
    assert ids == {figure.file_id, rerun.artifacts[0].file_id}, "each shown figure's id is kept"
    default = run(ConversationSession(), client, FIGURE, tmp_path / "fresh")
    assert [artifact.filename for artifact in default.artifacts] == ["turn-1-figure-1.png"]
