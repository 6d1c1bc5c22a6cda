"""The streaming XLSX reader: bounded by decompressed bytes whatever the workbook claims; dates and sheets."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from bench.preview_bounds import write_xlsx, xlsx_huge_shared_strings, xlsx_wide_first_row
from openai_artifacts_nb.preview_budget import Budget, PreviewRefused
from openai_artifacts_nb.preview_xlsx import (
    SHEET_XML_MAX_BYTES,
    STRINGS_XML_MAX_BYTES,
    XlsxPreview,
    read_xlsx,
)
from openai_artifacts_nb.previews import PreviewLimits, read_table

CHUNK = 64 * 1024
HEAD = (
    '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<sheetData>"
)


def _read(path: Path, budget: Budget, rows: int = 20, columns: int = 20) -> XlsxPreview:
    return read_xlsx(path, rows=rows, columns=columns, cell_chars=200, budget=budget)


def _part_size(path: Path, name: str) -> int:
    with zipfile.ZipFile(path) as archive:
        return archive.getinfo(name).file_size


def test_a_first_row_of_300k_cells_is_parsed_only_up_to_the_column_cap(tmp_path: Path) -> None:
    path = tmp_path / "wide.xlsx"
    xlsx_wide_first_row(path, 300_000)
    part = _part_size(path, "xl/worksheets/sheet1.xml")
    assert part > 2 * SHEET_XML_MAX_BYTES
    budget = Budget(0)
    preview = _read(path, budget)
    assert preview.rows == [[str(n) for n in range(20)], ["1", *[""] * 19]]
    assert preview.total_columns == 300_000 and preview.total_rows == 1
    sheet = next(part for part in budget.parts if part.what == "the sheet")
    skipped = next(part for part in sheet.parts if part.what == "the sheet's wide rows")
    assert sheet.used <= 2 * CHUNK, "only the first cells went through the XML parser"
    assert sheet.used + skipped.used >= part - 2 * CHUNK and skipped.used <= part


def test_a_row_longer_than_the_skip_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openai_artifacts_nb import preview_xlsx

    monkeypatch.setattr(preview_xlsx, "ROW_SKIP_MAX_BYTES", 1024 * 1024)
    path = tmp_path / "wide.xlsx"
    xlsx_wide_first_row(path, 100_000)
    budget = Budget(0)
    with pytest.raises(PreviewRefused, match="row 1 of Data is longer than"):
        _read(path, budget)
    assert budget.spent < 1024 * 1024 + 20 * CHUNK


def test_a_wide_row_that_fits_keeps_only_the_capped_columns(tmp_path: Path) -> None:
    path = tmp_path / "wide.xlsx"
    xlsx_wide_first_row(path, 50_000)
    preview = _read(path, Budget(0), columns=5)
    assert preview.rows == [["0", "1", "2", "3", "4"], ["1", "", "", "", ""]]
    assert preview.total_columns == 50_000
    assert preview.other_sheets == ["Notes"] and preview.sheet == "Data"


def test_a_huge_shared_strings_part_is_read_only_until_the_needed_strings(tmp_path: Path) -> None:
    path = tmp_path / "strings.xlsx"
    xlsx_huge_shared_strings(path, 3 * STRINGS_XML_MAX_BYTES)
    assert path.stat().st_size < 200_000 < _part_size(path, "xl/sharedStrings.xml")
    budget = Budget(0)
    preview = _read(path, budget)
    first = "x" * 199 + "…"
    assert preview.rows == [[first, "…"], ["1", first]]
    assert "strings past the first 4 MiB shown as …" in preview.note
    strings = next(part for part in budget.parts if part.what == "the shared strings")
    assert STRINGS_XML_MAX_BYTES <= strings.used < STRINGS_XML_MAX_BYTES + CHUNK


def test_shared_strings_stop_at_the_last_one_needed(tmp_path: Path) -> None:
    def sheet(part: object) -> None:
        part.write((HEAD + '<row r="1"><c r="A1" t="s"><v>1</v></c></row></sheetData></worksheet>').encode())  # type: ignore[attr-defined]

    def strings(part: object) -> None:
        body = "<sst><si><t>zero</t></si><si><r><t>o</t></r><r><t>ne</t></r><rPh><t>x</t></rPh></si>"
        part.write((body + "<si><t>pad</t></si>" * 500_000 + "</sst>").encode())  # type: ignore[attr-defined]

    path = tmp_path / "s.xlsx"
    write_xlsx(path, sheet, strings)
    budget = Budget(0)
    preview = _read(path, budget)
    assert preview.rows == [["one"]] and preview.note == ""
    strings_budget = next(part for part in budget.parts if part.what == "the shared strings")
    assert strings_budget.used <= CHUNK


def test_dates_show_as_dates_and_other_sheets_are_named(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sales"
    sheet.append(["day", "when", "ok", "amount", "time"])
    sheet.append([dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 12, 30), True, 2.5, dt.time(9, 15)])
    sheet.append([dt.datetime(2024, 3, 2), None, False, 3, None])
    workbook.create_sheet("Costs")
    workbook.create_sheet("Notes")
    path = tmp_path / "dates.xlsx"
    workbook.save(path)
    table = read_table(path, PreviewLimits())
    assert table is not None
    assert table.columns == ["day", "when", "ok", "amount", "time"]
    assert table.rows == [
        ["2024-03-01", "2024-03-01 12:30:00", "TRUE", "2.5", "09:15:00"],
        ["2024-03-02", "", "FALSE", "3", ""],
    ]
    assert table.summary() == "2 of 2 rows · sheet Sales · other sheets: Costs, Notes"


def test_a_part_with_a_dtd_is_refused(tmp_path: Path) -> None:
    def sheet(part: object) -> None:
        doctype = '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">]>'
        part.write((doctype + "<worksheet><sheetData/></worksheet>").encode())  # type: ignore[attr-defined]

    path = tmp_path / "dtd.xlsx"
    write_xlsx(path, sheet)
    with pytest.raises(PreviewRefused, match="declares a DTD"):
        _read(path, Budget(0))


def test_a_zip_listing_too_many_parts_is_refused_before_it_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(10_001):
            archive.writestr(f"x/{index}", b"")
    with pytest.raises(PreviewRefused, match="10,001 parts"):
        _read(path, Budget(0))


def test_cells_are_cut_as_they_arrive_and_row_gaps_stay_within_the_cap(tmp_path: Path) -> None:
    def sheet(part: object) -> None:
        write = part.write  # type: ignore[attr-defined]
        write((HEAD + '<row r="1"><c r="A1" t="inlineStr"><is><t>').encode())
        for _ in range(15):
            write(b"y" * 100_000)
        write(
            b'</t></is></c></row><row r="1000000"><c r="B1000000"><v>7</v></c></row></sheetData></worksheet>'
        )

    path = tmp_path / "gap.xlsx"
    write_xlsx(path, sheet)
    preview = _read(path, Budget(0), rows=3)
    assert preview.rows[0] == ["y" * 199 + "…", ""]
    assert preview.rows[1:] == [["", ""], ["", ""], ["", ""]]
    assert len(preview.rows) == 4


def test_strings_are_found_by_index_across_chunks_with_prefixes_and_entities(tmp_path: Path) -> None:
    def sheet(part: object) -> None:
        cells = "".join(
            f'<x:c r="{col}1" t="s"><x:v>{n}</x:v></x:c>'
            for col, n in zip("ABCD", (0, 4321, 99_999, 1), strict=True)
        )
        head = (
            '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        )
        part.write((head + f'<x:row r="1">{cells}</x:row></x:sheetData></x:worksheet>').encode())  # type: ignore[attr-defined]

    def strings(part: object) -> None:
        body = "".join(
            "<x:si><x:t>a &amp; b</x:t></x:si>" if n == 1 else f"<x:si><x:t>s{n}</x:t></x:si>"
            for n in range(100_000)
        )
        root = '<x:sst xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        part.write((root + body + "<x:sit/></x:sst>").encode())  # type: ignore[attr-defined]

    path = tmp_path / "prefixed.xlsx"
    write_xlsx(path, sheet, strings)
    preview = _read(path, Budget(0))
    assert preview.rows == [["s0", "s4321", "s99999", "a & b"]] and preview.note == ""


def test_every_wide_row_is_cut_at_the_column_cap(tmp_path: Path) -> None:
    def sheet(part: object) -> None:
        write = part.write  # type: ignore[attr-defined]
        write(HEAD.encode())
        for row in range(1, 31):
            cells = "".join(
                f'<c r="{chr(65 + col)}{row}" t="inlineStr"><is><t>r{row}c{col}</t></is></c>'
                for col in range(3)
            )
            write(f'<row r="{row}">{cells}'.encode() + b"<c><v>9</v></c>" * 5000 + b"</row>")
        write(b"</sheetData></worksheet>")

    path = tmp_path / "rows.xlsx"
    write_xlsx(path, sheet)
    budget = Budget(0)
    preview = _read(path, budget, rows=20, columns=3)
    assert preview.rows == [[f"r{row}c{col}" for col in range(3)] for row in range(1, 22)]
    assert preview.total_columns == 5003 and preview.total_rows is None and preview.note == ""
    sheet_budget = next(part for part in budget.parts if part.what == "the sheet")
    assert sheet_budget.used <= 40 * CHUNK
