"""The first rows of a Parquet file, with every size checked before pyarrow reads a value.

Three checks, cheapest first: the footer's length (the last 8 bytes) before pyarrow parses it; each column
chunk's sizes in the footer; and the header of each page the preview's rows will come from (a few bytes read
at the offsets the footer gives, decoded with the Thrift compact protocol), because the footer's totals are
claims too and one page can hold a 400 MB value. A column that fails a check is left out and named, its
cells shown as ``…``; long strings are cut inside Arrow, so no Python object is larger than a cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai_artifacts_nb.preview_budget import PreviewRefused, format_bytes

__all__ = ["PageHeader", "ParquetPreview", "parse_page_header", "read_parquet"]

_HEADER_MAX_BYTES = 64 * 1024
_PAGES_CHECKED = 16
_MAX_ROW_GROUPS = 1000
_MISSING = "…"
_DICTIONARY_PAGE = 2


@dataclass(frozen=True)
class PageHeader:
    """The parts of a Parquet page header a preview checks."""

    page_type: int
    uncompressed_size: int
    compressed_size: int
    values: int
    length: int  # bytes of the header itself


class _Compact:
    """Just enough of the Thrift compact protocol to read a page header and skip what it does not need."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise ValueError("the page header runs past what was read")
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("a varint longer than 64 bits")

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def skip(self, kind: int, depth: int = 0) -> None:
        if depth > 16:
            raise ValueError("the page header nests too deep")
        if kind in {1, 2}:  # booleans live in the field header
            return
        if kind == 3:
            self.byte()
        elif kind in {4, 5, 6}:
            self.varint()
        elif kind == 7:
            self.at += 8
        elif kind == 8:
            length = self.varint()  # read first: ``self.at += self.varint()`` would add to the old cursor
            self.at += length
        elif kind in {9, 10}:
            header = self.byte()
            size = header >> 4 if header >> 4 != 15 else self.varint()
            for _ in range(size):
                self.skip(header & 0x0F, depth + 1)
                if self.at > len(self.data):
                    raise ValueError("the page header runs past what was read")
        elif kind == 11:
            size = self.varint()
            if size:
                types = self.byte()
                for _ in range(size):
                    self.skip(types >> 4, depth + 1)
                    self.skip(types & 0x0F, depth + 1)
                    if self.at > len(self.data):
                        raise ValueError("the page header runs past what was read")
        elif kind == 12:
            self.fields(lambda field, kind: self.skip(kind, depth + 1))
        else:
            raise ValueError(f"unknown Thrift type {kind}")

    def fields(self, each: Any) -> None:
        """Call ``each(field_id, type)`` for every field of the struct at the cursor, up to its stop byte."""
        field = 0
        while True:
            header = self.byte()
            if header == 0:
                return
            delta, kind = header >> 4, header & 0x0F
            field = field + delta if delta else self.zigzag()
            each(field, kind)


def parse_page_header(data: bytes) -> PageHeader:
    """Decode the page header at the start of ``data``; raises ``ValueError`` if it is not all there."""
    reader = _Compact(data)
    found: dict[str, int] = {"type": -1, "uncompressed": -1, "compressed": -1, "values": 0}

    def nested(field: int, kind: int) -> None:
        if field == 1 and kind == 5:  # num_values, first in every page-type header
            found["values"] = reader.zigzag()
        else:
            reader.skip(kind)

    def top(field: int, kind: int) -> None:
        names = {1: "type", 2: "uncompressed", 3: "compressed"}
        if field in names and kind == 5:
            found[names[field]] = reader.zigzag()
        elif field in {5, 7, 8} and kind == 12:
            reader.fields(nested)
        else:
            reader.skip(kind)

    reader.fields(top)
    if (
        reader.at > len(data)
        or min(found["type"], found["uncompressed"], found["compressed"], found["values"]) < 0
    ):
        raise ValueError("not a page header")
    return PageHeader(found["type"], found["uncompressed"], found["compressed"], found["values"], reader.at)


def _largest_page(handle: Any, chunk: Any, rows: int, file_size: int) -> int:
    """The largest page (decompressed or not) among those the first ``rows`` values of a column come from.

    Raises ``ValueError`` when a header cannot be read where the footer says it is.
    """
    offset = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    if not chunk.has_dictionary_page or not offset:
        offset = chunk.data_page_offset
    end = min(file_size, offset + chunk.total_compressed_size)
    largest = 0
    values = 0
    for _ in range(_PAGES_CHECKED):
        if values >= min(rows, chunk.num_values) or not 0 <= offset < end:
            break
        handle.seek(offset)
        header = parse_page_header(handle.read(_HEADER_MAX_BYTES))
        largest = max(largest, header.uncompressed_size, header.compressed_size)
        if header.page_type != _DICTIONARY_PAGE:
            values += header.values
        offset += header.length + header.compressed_size
    return largest


@dataclass
class ParquetPreview:
    """First rows of a Parquet file, its size, and the columns left out with the size that stopped each."""

    columns: list[str]
    rows: list[list[str]]
    total_rows: int
    total_columns: int
    skipped: dict[str, int]


def _footer_length(path: Path, limit: int) -> int:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size < 12:
            raise PreviewRefused("not a Parquet file (too short)")
        handle.seek(size - 8)
        tail = handle.read(8)
    if tail[4:] != b"PAR1":
        raise PreviewRefused("not a Parquet file (no PAR1 footer)")
    length = int.from_bytes(tail[:4], "little")
    if length > size - 12:
        raise PreviewRefused("the Parquet footer claims to be longer than the file")
    if length > limit:
        raise PreviewRefused(
            f"its Parquet footer is {format_bytes(length)} (a preview reads at most {format_bytes(limit)})"
        )
    return length


def _cut(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_parquet(
    path: Path,
    *,
    rows: int,
    columns: int,
    cell_chars: int,
    column_bytes: int,
    total_bytes: int,
    footer_bytes: int,
) -> ParquetPreview:
    """Read the first ``rows`` rows of the first ``columns`` columns, each page checked against the caps.

    ``column_bytes`` caps one column's chunk in a row group and each page it reads; ``total_bytes`` caps the
    chunks read together. Raises :class:`PreviewRefused` when the footer is too large or every column is.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import parquet

    _footer_length(path, footer_bytes)
    source = parquet.ParquetFile(path, buffer_size=1024 * 1024, pre_buffer=False)
    metadata = source.metadata
    names = source.schema_arrow.names
    wanted = names[:columns]
    table: list[list[str]] = []
    skipped: dict[str, int] = {}
    file_size = path.stat().st_size
    # Leaves are stored in schema order, so the wanted columns' leaves come first: a file of 100,000
    # columns costs no more than one of 20.
    leaves = sum(_leaf_count(source.schema_arrow.field(index).type) for index in range(len(wanted)))
    with path.open("rb") as handle:
        for group_index in range(min(metadata.num_row_groups, _MAX_ROW_GROUPS)):
            if len(table) >= rows:
                break
            group = metadata.row_group(group_index)
            cost: dict[str, int] = {}
            for leaf in range(min(group.num_columns, leaves)):
                chunk = group.column(leaf)
                top = chunk.path_in_schema.split(".")[0]
                if top not in wanted or top in skipped:
                    continue
                try:
                    page = _largest_page(handle, chunk, rows - len(table), file_size)
                except ValueError:  # no page header where the footer says: do not let pyarrow look
                    page = -1
                if not 0 <= page <= column_bytes:
                    skipped[top] = max(page, chunk.total_uncompressed_size, chunk.total_compressed_size)
                    continue
                cost[top] = cost.get(top, 0) + page
            chosen: list[str] = []
            spent = 0
            for name in wanted:
                if name in skipped:
                    continue
                if spent + cost.get(name, 0) > total_bytes:
                    skipped[name] = cost.get(name, 0)
                    continue
                chosen.append(name)
                spent += cost.get(name, 0)
            if not chosen:
                break
            batches = source.iter_batches(
                batch_size=rows - len(table), row_groups=[group_index], columns=chosen
            )
            batch = next(batches, None)
            if batch is None:
                continue
            values: dict[str, list[Any]] = {}
            for name, array in zip(batch.schema.names, batch.columns, strict=True):
                column = array
                if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
                    column = pc.utf8_slice_codeunits(array, 0, cell_chars + 1)
                elif pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
                    column = pc.binary_slice(array, 0, cell_chars + 1)
                values[name] = column.to_pylist()
            for index in range(batch.num_rows):
                table.append(
                    [_cut(values[name][index], cell_chars) if name in values else _MISSING for name in wanted]
                )
    if not table and skipped and len(skipped) == len(wanted):
        raise PreviewRefused(f"every column is too large to preview: {_described(skipped)}")
    return ParquetPreview(wanted, table, metadata.num_rows, len(names), skipped)


def _leaf_count(kind: Any) -> int:
    """How many Parquet leaf columns an Arrow type is stored as (bounded: types nest a few levels)."""
    import pyarrow as pa

    if pa.types.is_struct(kind):
        return sum(_leaf_count(kind.field(index).type) for index in range(kind.num_fields))
    if pa.types.is_map(kind):
        return _leaf_count(kind.key_type) + _leaf_count(kind.item_type)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _leaf_count(kind.value_type)
    return 1


def _described(skipped: dict[str, int]) -> str:
    return ", ".join(f"{name} ({format_bytes(size)})" for name, size in list(skipped.items())[:5])


def skipped_note(skipped: dict[str, int]) -> str:
    """The caption's note for columns left out: ``"columns too large to read shown as …: text (400 MiB)"``."""
    return f"columns too large to read shown as {_MISSING}: {_described(skipped)}" if skipped else ""
