"""The budget every preview reader works within, and the error that turns a refused preview into a file card.

A reader never lets a file's own claims (dimensions, declared sizes, string tables, row lengths) size an
allocation or a loop: it reads a bounded prefix in bounded chunks and stops. :class:`Budget` counts the
bytes actually read (or decompressed) and carries a wall-clock deadline that is checked between chunks, as a
backstop only: the byte caps are what keep each reader within its time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Budget", "PreviewRefused", "format_bytes"]


class PreviewRefused(Exception):
    """The preview would exceed its budget or the file is not what its name says; the message says why.

    The file card shows the message as the reason there is no preview.
    """


def format_bytes(size: int) -> str:
    """``"1 byte"``, ``"2 bytes"``, ``"3.4 KiB"``, ``"16 MiB"``: sizes in powers of 1024 with their unit."""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size:,} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
            return f"{text.removesuffix('.0')} {unit}"
    raise AssertionError("unreachable")


@dataclass
class Budget:
    """Bytes a reader may still take from one file, and the moment it must have stopped by.

    ``take(n)`` is called after each chunk with the bytes that chunk really produced; it raises
    :class:`PreviewRefused` once the deadline has passed, and returns False once the byte cap is used up,
    so the reader stops cleanly with what it has.
    """

    max_bytes: int
    seconds: float = 1.5
    what: str = "the file"
    used: int = 0
    parts: list[Budget] = field(default_factory=list, repr=False)
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.seconds

    def part(self, max_bytes: int, what: str) -> Budget:
        """A budget of ``max_bytes`` for one part of the same file, sharing this one's deadline."""
        budget = Budget(max_bytes, self.seconds, what)
        budget._deadline = self._deadline
        self.parts.append(budget)
        return budget

    @property
    def spent(self) -> int:
        """Bytes taken by this budget and every part budget made from it."""
        return self.used + sum(part.spent for part in self.parts)

    @property
    def exhausted(self) -> bool:
        """True once ``max_bytes`` have been taken."""
        return self.used >= self.max_bytes

    @property
    def left(self) -> int:
        """How many bytes may still be taken."""
        return max(0, self.max_bytes - self.used)

    def take(self, count: int) -> bool:
        """Record ``count`` more bytes; False once the cap is reached. Raises when the time is up."""
        self.used += count
        self.check_time()
        return self.used < self.max_bytes

    @property
    def expired(self) -> bool:
        """True once the deadline has passed."""
        return time.monotonic() > self._deadline

    def check_time(self) -> None:
        """Raise :class:`PreviewRefused` once the deadline has passed."""
        if self.expired:
            raise PreviewRefused(f"reading {self.what} took longer than {self.seconds:g} s")
