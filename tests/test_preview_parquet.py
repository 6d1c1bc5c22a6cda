"""Parquet previews: footer, column-chunk and page-header sizes checked before pyarrow reads any value."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
from pyarrow import parquet

from openai_artifacts_nb.preview_parquet import _largest_page, parse_page_header, read_parquet
from openai_artifacts_nb.previews import PreviewLimits, read_table

MiB = 1024 * 1024


def _read(path: Path, **caps: int) -> object:
    limits = {"column_bytes": 64 * MiB, "total_bytes": 128 * MiB, "footer_bytes": 8 * MiB, **caps}
    return read_parquet(path, rows=20, columns=20, cell_chars=200, **limits)


def _sample() -> pa.Table:
    rows = 500
    return pa.table(
        {
            "n": pa.array(range(rows), pa.int64()),
            "s": [f"value {i}" for i in range(rows)],
            "f": [i / 3 for i in range(rows)],
            "when": [dt.datetime(2024, 1, 1) + dt.timedelta(hours=i) for i in range(rows)],
            "tags": [[f"t{i}", "x"] for i in range(rows)],
            "pair": [{"a": i, "b": str(i)} for i in range(rows)],
            "maybe": [None if i % 2 else i for i in range(rows)],
        }
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"data_page_version": "2.0"},
        {"compression": "none", "use_dictionary": False},
        {"compression": "gzip", "write_statistics": False},
        {"compression": "zstd", "data_page_size": 256, "write_page_index": True},
        {"compression": "snappy", "write_page_checksum": True, "row_group_size": 7},
        {"compression": "brotli", "data_page_version": "2.0", "data_page_size": 100},
    ],
    ids=["default", "v2", "plain", "gzip", "small-pages", "checksums", "brotli-v2"],
)
def test_real_writers_page_headers_are_read_and_every_column_shown(tmp_path: Path, options: dict) -> None:
    path = tmp_path / "sample.parquet"
    table = _sample()
    parquet.write_table(table, path, **options)
    preview = _read(path)
    assert preview.skipped == {}  # type: ignore[attr-defined]
    assert preview.columns == table.column_names and preview.total_rows == 500  # type: ignore[attr-defined]
    assert len(preview.rows) == 20  # type: ignore[attr-defined]
    expected = table.slice(0, 20).to_pylist()
    assert [row[0] for row in preview.rows] == [str(r["n"]) for r in expected]  # type: ignore[attr-defined]
    assert preview.rows[3][1] == "value 3" and preview.rows[3][6] == ""  # type: ignore[attr-defined]
    assert preview.rows[2][4] == "['t2', 'x']"  # type: ignore[attr-defined]


def test_the_page_check_does_not_trust_the_footer(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    parquet.write_table(pa.table({"text": ["x" * (3 * MiB)]}), path, compression="zstd", use_dictionary=False)
    real = parquet.ParquetFile(path).metadata.row_group(0).column(0)
    lying = SimpleNamespace(
        has_dictionary_page=False,
        dictionary_page_offset=None,
        data_page_offset=real.data_page_offset,
        total_compressed_size=real.total_compressed_size,
        total_uncompressed_size=100,  # the claim a preview must not believe
        num_values=1,
    )
    with path.open("rb") as handle:
        assert _largest_page(handle, lying, 20, path.stat().st_size) > 3 * MiB


def test_a_column_whose_page_header_is_not_where_the_footer_says_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    parquet.write_table(pa.table({"n": [1, 2, 3]}), path)
    chunk = parquet.ParquetFile(path).metadata.row_group(0).column(0)
    moved = SimpleNamespace(
        has_dictionary_page=False,
        dictionary_page_offset=None,
        data_page_offset=0,  # the PAR1 magic, not a page header
        total_compressed_size=chunk.total_compressed_size,
        num_values=3,
    )
    with path.open("rb") as handle, pytest.raises(ValueError):
        _largest_page(handle, moved, 20, path.stat().st_size)


def test_page_headers_decode_and_truncated_ones_raise() -> None:
    # type DATA_PAGE, 10 bytes uncompressed, 19 compressed, a data page header of 3 values with statistics
    header = (
        b"\x15\x00\x15\x14\x15&,\x15\x06\x15\x10\x15\x06\x15\x06\x1c\x18\x08\x03\x00\x00\x00\x00\x00\x00\x00"
        b"\x18\x08\x01\x00\x00\x00\x00\x00\x00\x00\x16\x00(\x08\x03\x00\x00\x00\x00\x00\x00\x00\x18\x08\x01"
        b"\x00\x00\x00\x00\x00\x00\x00\x11\x11\x00\x00\x00"
    )
    parsed = parse_page_header(header + b"page bytes")
    assert (parsed.page_type, parsed.uncompressed_size, parsed.compressed_size) == (0, 10, 19)
    assert (parsed.values, parsed.length) == (3, len(header))
    for cut in (1, 5, 20, len(header) - 1):
        with pytest.raises(ValueError):
            parse_page_header(header[:cut])
    with pytest.raises(ValueError):
        parse_page_header(b"\x15\x00\x15\x01\x15\x00\x00")  # zigzag 1 is a negative size


def test_the_preview_table_names_the_column_left_out(tmp_path: Path) -> None:
    path = tmp_path / "wide.parquet"
    parquet.write_table(pa.table({"big": ["y" * (2 * MiB), "z"], "small": [1, 2]}), path)
    table = read_table(path, PreviewLimits(parquet_column_bytes=MiB))
    assert table is not None and table.rows == [["…", "1"], ["…", "2"]]
    assert table.summary() == "2 of 2 rows · columns too large to read shown as …: big (2 MiB)"


def test_nested_columns_before_a_big_one_do_not_hide_its_pages(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    table = pa.table(
        {
            "pair": [{"a": 1, "b": "x"}],
            "tags": [["t"]],
            "lookup": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
            "n": [1],
            "big": ["y" * (2 * MiB)],
            **{f"extra{i}": [i] for i in range(30)},
        }
    )
    parquet.write_table(table, path)
    preview = read_parquet(
        path, rows=20, columns=5, cell_chars=20, column_bytes=MiB, total_bytes=8 * MiB, footer_bytes=MiB
    )
    assert preview.columns == ["pair", "tags", "lookup", "n", "big"] and preview.total_columns == 35
    assert list(preview.skipped) == ["big"] and preview.rows[0][3:] == ["1", "…"]


def test_rows_read_before_a_too_large_row_group_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "groups.parquet"
    parquet.write_table(pa.table({"s": ["a", "b", "x" * (2 * MiB)]}), path, row_group_size=2)
    table = read_table(path, PreviewLimits(parquet_column_bytes=MiB))
    assert table is not None and table.rows == [["a"], ["b"]]
    assert table.summary() == "2 of 3 rows · columns too large to read shown as …: s (2 MiB)"
