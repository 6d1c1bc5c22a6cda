"""Write the final message: text that links each new file, and the citations that point at them.

Links default to ``[name](sandbox:/mnt/data/name)``; the ``link_style`` fault picks another form. Each
citation's ``start_index``/``end_index`` cover exactly the ``sandbox:`` target in the text, counted in
characters (Python string indices), as upstream. Displayed images get zero-width citations at index 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

from openai_artifacts_nb.local.workspace import SANDBOX_ROOT

LINK_STYLES = ("standard", "double_slash", "triple_slash", "short", "percent", "none")
NO_CODE_REPLY = (
    "This is the local OpenAI emulator. It runs the Python in fenced ```python blocks of your prompt; "
    "this prompt had none, so there was nothing to run."
)
_LINK_TARGET = re.compile(r"\]\((sandbox:[^)\n]+)\)")
_BARE_TARGET = re.compile(r"sandbox:[^\s()\[\]<>\"']+")


@dataclass(frozen=True)
class MadeFile:
    """A file the code wrote, as the reply needs it: sandbox path and the id that serves it."""

    path: str
    file_id: str

    @property
    def name(self) -> str:
        """The path relative to ``/mnt/data`` (``plot.png``, or ``out/table.csv``)."""
        return self.path.removeprefix(SANDBOX_ROOT + "/")


@dataclass(frozen=True)
class Citation:
    """A span of the reply text that cites a file."""

    start: int
    end: int
    file_id: str
    filename: str


def sandbox_target(name: str, style: str) -> str:
    """Return the link target for a file named ``name`` (relative to ``/mnt/data``) in ``style``."""
    if style == "double_slash":
        return f"sandbox://mnt/data/{name}"
    if style == "triple_slash":
        return f"sandbox:///mnt/data/{name}"
    if style == "short":
        return f"sandbox:/{name}"
    if style == "percent":
        return f"sandbox:/mnt/data/{quote(name)}"
    return f"sandbox:/mnt/data/{name}"


def compose_text(files: Sequence[MadeFile], *, images: int, ran_code: bool, style: str) -> str:
    """Return the reply the emulator writes when the prompt gave no ``reply`` block."""
    if not ran_code:
        return NO_CODE_REPLY
    if not files:
        return "I ran the code and displayed the chart above." if images else "I ran the code."
    if style == "none":
        noun = "file" if len(files) == 1 else "files"
        return f"I ran the code and saved {len(files)} {noun} in the sandbox."
    lines = ["I ran the code and saved these files:", ""]
    lines += [f"- [{f.name}]({sandbox_target(f.name, style)})" for f in files]
    return "\n".join(lines)


def _target_name(target: str) -> str:
    """Return the ``/mnt/data``-relative name a ``sandbox:`` target points at, in any of its forms."""
    path = unquote(target.removeprefix("sandbox:")).lstrip("/")
    return path.removeprefix("mnt/data/")


def find_citations(text: str, files: Sequence[MadeFile]) -> list[Citation]:
    """Return a citation for every ``sandbox:`` target in ``text`` that names one of ``files``.

    Targets of Markdown links run to the closing parenthesis (names may hold spaces); bare ``sandbox:``
    mentions run to the next space.
    """
    by_name = {f.name: f for f in files}
    by_base = {f.name.rsplit("/", 1)[-1]: f for f in files}
    spans = [match.span(1) for match in _LINK_TARGET.finditer(text)]
    for match in _BARE_TARGET.finditer(text):
        if not any(start <= match.start() < end for start, end in spans):
            spans.append(match.span())
    citations = []
    for start, end in sorted(spans):
        name = _target_name(text[start:end])
        made = by_name.get(name) or by_base.get(name.rsplit("/", 1)[-1])
        if made is not None:
            citations.append(Citation(start, end, made.file_id, made.name.rsplit("/", 1)[-1]))
    return citations


def image_citations(image_file_ids: Sequence[str]) -> list[Citation]:
    """Return the zero-width citations upstream gives images the code displayed but never linked."""
    return [Citation(0, 0, file_id, f"{file_id}.png") for file_id in image_file_ids]
