"""Deterministic "generated" images for the emulator's ``image_generation`` tool.

The same prompt always gives the same picture: a left-to-right gradient between two colours taken from the
prompt's SHA-256, at the requested size. PNGs are built by hand (zlib, every row after the first filtered as
"Up", so a 1024x1024 image is a few kilobytes); ``webp`` and ``jpeg`` are encoded with Pillow when it is
installed, else the image stays a PNG and says so in ``output_format``. A partial image (streamed before the
final one) shows the gradient down to a fraction of the height and grey below it.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib
from dataclasses import dataclass

DEFAULT_SIZE = (1024, 1024)
MAX_EDGE = 4096
FORMATS = ("png", "webp", "jpeg")
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")
_GREY = bytes((128, 128, 128))


@dataclass(frozen=True)
class ImageSpec:
    """What the tool asks for: pixel size and encoding."""

    width: int
    height: int
    output_format: str

    @property
    def size(self) -> str:
        """The size as the API writes it (``1024x1024``)."""
        return f"{self.width}x{self.height}"


def parse_size(value: object) -> tuple[int, int] | None:
    """Return ``(width, height)`` for ``"WxH"`` (or the default for ``auto``/missing); None if malformed."""
    if value is None or value == "auto":
        return DEFAULT_SIZE
    match = _SIZE.match(str(value))
    if match is None:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= MAX_EDGE and 1 <= height <= MAX_EDGE):
        return None
    return width, height


def _colours(prompt: str) -> tuple[bytes, bytes]:
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return digest[0:3], digest[3:6]


def _gradient_row(prompt: str, width: int) -> bytes:
    start, end = _colours(prompt)
    row = bytearray()
    span = max(1, width - 1)
    for x in range(width):
        row += bytes(a + (b - a) * x // span for a, b in zip(start, end, strict=True))
    return bytes(row)


def _png(rows: list[tuple[bytes, int]], width: int, height: int) -> bytes:
    """Encode RGB rows given as ``(row, repeat)`` runs as a PNG."""
    raw = bytearray()
    previous: bytes | None = None
    for row, repeat in rows:
        for _ in range(repeat):
            if row == previous:
                raw += b"\x02" + bytes(len(row))
            else:
                raw += b"\x00" + row
            previous = row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + chunk(b"IEND", b"")
    )


def _encode_with_pillow(rows: list[tuple[bytes, int]], spec: ImageSpec) -> bytes | None:
    try:
        from PIL import Image
    except ImportError:
        return None
    raw = b"".join(row * repeat for row, repeat in rows)
    image = Image.frombytes("RGB", (spec.width, spec.height), raw)
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP" if spec.output_format == "webp" else "JPEG", quality=80)
    return buffer.getvalue()


def render(prompt: str, spec: ImageSpec, *, revealed: float = 1.0) -> tuple[bytes, str]:
    """Return the image bytes for ``prompt`` and the format they are in (``png`` when Pillow is missing).

    ``revealed`` below 1 draws the gradient only over that share of the height (a partial image).
    """
    gradient = _gradient_row(prompt, spec.width)
    shown = spec.height if revealed >= 1 else max(1, int(spec.height * revealed))
    rows = [(gradient, shown)]
    if shown < spec.height:
        rows.append((_GREY * spec.width, spec.height - shown))
    if spec.output_format != "png":
        encoded = _encode_with_pillow(rows, spec)
        if encoded is not None:
            return encoded, spec.output_format
    return _png(rows, spec.width, spec.height), "png"
