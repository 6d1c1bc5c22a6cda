"""Case 6, preview bounds: hostile files that froze previews, each previewed alone in a fresh process.

Every preview must stop within 2 s and a peak RSS rise of 256 MiB whatever the file holds or claims. The
files: an XLSX whose first row has 2 million cells, an XLSX with a 100 MB shared-strings part in a small zip,
a 64 KB CSV that stalls ``csv.Sniffer``, a 200 MB CSV on one line, a sparse 2 GiB ``.csv``, a Parquet whose
first value is a 400 MB string, a 12000x12000 PNG of about 18 KB, a 4000x4000 PNG of noise (the decode
cap), a 12000x12000 JPEG, a 16 MB JSON list and a 200 MB one-line log. Each child process warms up on a
small file of the same kind, resets its peak-RSS mark, then renders the full MIME bundle
(``bench.preview_child``). The case also checks what came out: a table, a text or an image where one fits,
otherwise a file card with the reason.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import BenchError, MiB, Row, Samples, Settings, run_child

NUMBER = 6
TITLE = "preview bounds"
SECONDS_LIMIT = 2.0
RISE_LIMIT_MIB = 256.0

_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/><sheet name="Notes" sheetId="2" r:id="rId2"/>'
    "</sheets></workbook>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="worksheet" Target="worksheets/sheet2.xml"/></Relationships>'
)


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def write_xlsx(
    path: Path, sheet_xml: Callable[[Any], None], strings_xml: Callable[[Any], None] | None = None
) -> None:
    """Write a minimal XLSX whose first sheet's XML (and shared strings) the callables stream into a part."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            sheet_xml(part)
        archive.writestr("xl/worksheets/sheet2.xml", _SHEET_HEAD + "</sheetData></worksheet>")
        if strings_xml is not None:
            with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
                strings_xml(part)


def xlsx_wide_first_row(path: Path, cells: int) -> None:
    """An XLSX whose first row has ``cells`` numeric cells (about 25 bytes of XML a cell).

    The first 16,384 cells (Excel's widest row) carry references; the rest rely on their order.
    """

    def cell(index: int) -> str:
        return f'<c r="{_column(index)}1"><v>{index}</v></c>' if index < 16384 else f"<c><v>{index}</v></c>"

    def sheet(part: Any) -> None:
        part.write((_SHEET_HEAD + '<row r="1">').encode())
        for start in range(0, cells, 10_000):
            part.write("".join(cell(i) for i in range(start, min(cells, start + 10_000))).encode())
        part.write(b'</row><row r="2"><c r="A2"><v>1</v></c></row></sheetData></worksheet>')

    write_xlsx(path, sheet)


def xlsx_huge_shared_strings(path: Path, strings_bytes: int) -> None:
    """An XLSX with ``strings_bytes`` of shared-strings XML; the sheet uses its first and last string."""
    unit = "<si><t>" + "x" * 1000 + "</t></si>"
    count = max(2, strings_bytes // len(unit))

    def sheet(part: Any) -> None:
        part.write(
            (
                _SHEET_HEAD
                + f'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>{count - 1}</v></c></row>'
                '<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="s"><v>0</v></c></row></sheetData></worksheet>'
            ).encode()
        )

    def strings(part: Any) -> None:
        part.write(
            f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{count}" '
            f'uniqueCount="{count}">'.encode()
        )
        block = (unit * 1000).encode()
        for _ in range(count // 1000):
            part.write(block)
        part.write(unit.encode() * (count % 1000) + b"</sst>")

    write_xlsx(path, sheet, strings)


def csv_sniffer_trap(path: Path, size: int) -> None:
    """A CSV whose second line is ``,"a`` repeated: ``csv.Sniffer``'s quote regex is quadratic on it."""
    line = ',"a' * (size // 3)
    path.write_text("h1,h2\n" + line + "\n1,2\n", encoding="utf-8")


def csv_one_line(path: Path, size: int) -> None:
    """A CSV of ``size`` bytes on one line (short fields, no newline)."""
    block = b"12345,abcde," * (MiB // 12)
    with path.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)


def sparse_file(path: Path, size: int) -> None:
    """A file of ``size`` bytes that takes no disk: all holes, so every byte reads as NUL."""
    with path.open("wb") as out:
        out.truncate(size)


def parquet_big_first_value(path: Path, size: int) -> None:
    """A Parquet whose first value is a ``size``-byte string, then a few small rows, plus a small column."""
    import pyarrow as pa
    from pyarrow import parquet

    table = pa.table({"text": ["x" * size, "b", "c"], "n": [1, 2, 3]})
    parquet.write_table(table, path, compression="zstd")


def png_claiming(path: Path, side: int) -> None:
    """A 1-bit ``side``×``side`` black PNG: about 18 KB on disk at 12000, ``side``² pixels to decode."""
    row = b"\x00" + bytes((side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def noise_png(path: Path, side: int) -> None:
    """A ``side``×``side`` RGB PNG of random pixels: the worst an image at the decode cap can be."""
    import os

    from PIL import Image

    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, compress_level=1)


def jpeg_of(path: Path, side: int) -> None:
    """A ``side``×``side`` flat-grey JPEG (small on disk; a full decode would be ``side``² × 3 bytes)."""
    from PIL import Image

    Image.new("L", (side, side), 128).save(path, format="JPEG", quality=50)


def json_of_numbers(path: Path, size: int) -> None:
    """A JSON list of small integers, ``size`` bytes (parsed whole, it would be ~40 bytes per 2-byte item)."""
    count = size // 2
    path.write_text("[" + ",".join("1" for _ in range(count)) + "]", encoding="ascii")


@dataclass(frozen=True)
class Hostile:
    """One hostile file: its name, how to make it (full, quick, smoke sizes), what the preview must be."""

    name: str
    filename: str
    make: Callable[[Path, int], None]
    sizes: tuple[int, int, int]
    expect: str  # "card", "table", "text" or "image"
    warmup: str


CASES = (
    Hostile(
        "XLSX, first row of 2M cells",
        "wide.xlsx",
        xlsx_wide_first_row,
        (2_000_000, 500_000, 300_000),
        "table",
        "small.xlsx",
    ),
    Hostile(
        "XLSX, 100 MB shared strings",
        "strings.xlsx",
        xlsx_huge_shared_strings,
        (100 * MiB, 30 * MiB, 8 * MiB),
        "table",
        "small.xlsx",
    ),
    Hostile(
        "CSV that stalls csv.Sniffer, 64 KB",
        "sniff.csv",
        csv_sniffer_trap,
        (64_000, 64_000, 64_000),
        "table",
        "small.csv",
    ),
    Hostile(
        "CSV, 200 MB on one line",
        "oneline.csv",
        csv_one_line,
        (200 * MiB, 50 * MiB, 4 * MiB),
        "table",
        "small.csv",
    ),
    Hostile(
        "sparse 2 GiB .csv",
        "sparse.csv",
        sparse_file,
        (2048 * MiB, 2048 * MiB, 2048 * MiB),
        "card",
        "small.csv",
    ),
    Hostile(
        "Parquet, first value a 400 MB string",
        "big.parquet",
        parquet_big_first_value,
        (400 * MiB, 100 * MiB, 2 * MiB),
        "table",
        "small.parquet",
    ),
    Hostile(
        "PNG 12000x12000, ~18 KB on disk",
        "bomb.png",
        png_claiming,
        (12_000, 12_000, 12_000),
        "card",
        "small.png",
    ),
    Hostile("PNG 4000x4000 of noise", "noise.png", noise_png, (4000, 3000, 1000), "image", "small.png"),
    Hostile("JPEG 12000x12000", "huge.jpg", jpeg_of, (12_000, 8_000, 4_000), "image", "small.jpg"),
    Hostile(
        "JSON, 16 MB list of numbers",
        "numbers.json",
        json_of_numbers,
        (16 * MiB, 16 * MiB, 2 * MiB),
        "text",
        "small.json",
    ),
    Hostile(
        "log, 200 MB on one line",
        "oneline.log",
        csv_one_line,
        (200 * MiB, 50 * MiB, 4 * MiB),
        "text",
        "small.log",
    ),
)


def make_warmups(folder: Path) -> None:
    """Small files of each kind, previewed first in each child so imports are not on the clock."""
    import pyarrow as pa
    from PIL import Image
    from pyarrow import parquet

    (folder / "small.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (folder / "small.json").write_text(json.dumps({"a": 1}), encoding="utf-8")
    (folder / "small.log").write_text("one\ntwo\n", encoding="utf-8")
    parquet.write_table(pa.table({"a": [1]}), folder / "small.parquet")
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 2000), "white").save(buffer, format="PNG")
    (folder / "small.png").write_bytes(buffer.getvalue())
    Image.new("RGB", (2000, 2000), "white").save(folder / "small.jpg", format="JPEG")
    write_xlsx(
        folder / "small.xlsx",
        lambda part: part.write(
            (_SHEET_HEAD + '<row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>').encode()
        ),
    )


def run(settings: Settings) -> list[Row]:
    """Make each hostile file, preview it in a fresh process ``repeat`` times, and report time and memory."""
    folder = settings.work_dir / "preview-bounds"
    folder.mkdir(parents=True, exist_ok=True)
    make_warmups(folder)
    repeat = 1 if settings.smoke else min(settings.repeat, 3)
    index = {"full": 0, "quick": 1, "smoke": 2}[settings.mode]
    # A smoke run's Parquet string is small, so its column cap is too: the same refusal, without 64 MiB.
    limits = json.dumps({"parquet_column_bytes": MiB} if settings.smoke else {})
    rows: list[Row] = []
    for hostile in CASES:
        path = folder / hostile.filename
        hostile.make(path, hostile.sizes[index])
        results: list[dict[str, Any]] = []
        try:
            for _ in range(repeat):
                results.append(
                    run_child(
                        ["-m", "bench.preview_child", str(path), str(folder / hostile.warmup), limits],
                        timeout=120,
                    )
                )
        finally:
            path.unlink()
        kinds = {result["kind"] for result in results}
        if kinds != {hostile.expect}:
            raise BenchError(
                f"{hostile.name}: the preview was {sorted(kinds)}, not {hostile.expect}: "
                f"{results[0]['plain']}"
            )
        rows.extend(_rows(hostile, results))
    return rows


def _rows(hostile: Hostile, results: list[dict[str, Any]]) -> list[Row]:
    seconds = Samples.of([r["seconds"] for r in results], "s")
    rise = Samples.of([max(0, r["rise"]) / MiB for r in results], "MiB")
    details = {"kind": hostile.expect, "shown": results[0]["plain"]}
    time_ok = seconds.median <= SECONDS_LIMIT
    memory_ok = rise.median <= RISE_LIMIT_MIB
    return [
        Row(
            case=TITLE,
            what=f"{hostile.name}: preview time ({hostile.expect})",
            ours=seconds,
            target=f"≤ {SECONDS_LIMIT:g} s",
            passed=time_ok,
            note="" if time_ok else f"{seconds.median - SECONDS_LIMIT:.2f} s over: {results[0]['plain']}",
            details=details,
        ),
        Row(
            case=TITLE,
            what=f"{hostile.name}: peak RSS rise",
            ours=rise,
            target=f"≤ +{RISE_LIMIT_MIB:g} MiB",
            passed=memory_ok,
            note="" if memory_ok else f"{rise.median - RISE_LIMIT_MIB:.0f} MiB over: {results[0]['plain']}",
            details=details,
        ),
    ]
