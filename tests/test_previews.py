"""Reading just enough of a file to preview it: table rows and counts, text lines, image display copies."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from openai_artifacts_nb.previews import (
    PreviewLimits,
    PreviewRefused,
    Table,
    count_lines,
    display_image,
    guess_delimiter,
    highlight_html,
    read_table,
    read_text,
    read_text_preview,
)


def test_quoted_newlines_are_counted_as_rows(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('id,note\n1,"two\nlines"\n2,plain\n3,"x"\n')
    table = read_table(path, PreviewLimits(rows=2))
    assert table is not None
    assert table.columns == ["id", "note"] and table.rows[0] == ["1", "two\nlines"]
    assert (table.total_rows, table.approximate) == (3, False)
    assert table.summary() == "2 of 3 rows"


def test_semicolons_are_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("a;b\n1,5;2\n")
    table = read_table(path, PreviewLimits())
    assert table is not None and table.rows == [["1,5", "2"]] and table.summary() == "1 of 1 rows"


def test_wide_tables_say_how_many_columns_are_shown(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(30)) + "\n" + ",".join("1" * 30) + "\n")
    table = read_table(path, PreviewLimits(columns=5))
    assert table is not None and len(table.columns) == 5
    assert table.summary() == "1 of 1 rows, 5 of 30 columns"
    assert "c4" in table.plain() and "c5" not in table.plain()


def test_long_cells_are_cut(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("a\n" + "x" * 500 + "\n")
    table = read_table(path, PreviewLimits(cell_chars=10))
    assert table is not None and table.rows[0][0] == "x" * 9 + "…"


def test_empty_csv_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert read_table(path, PreviewLimits()) is None


def test_count_lines_with_and_without_a_final_newline(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"1\n2\n3\n")
    (tmp_path / "b").write_bytes(b"1\n2\n3")
    (tmp_path / "c").write_bytes(b"")
    assert [count_lines(tmp_path / n) for n in "abc"] == [3, 3, 0]


def test_read_text_stops_at_the_byte_budget(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text("".join(f"line {i}\n" for i in range(100_000)))
    text, shown, total, cut = read_text(path, PreviewLimits(text_bytes=1000, text_lines=50))
    assert cut and shown == 50 and total == 100_000
    assert text.splitlines()[0] == "line 0" and len(text.encode()) <= 1000


def test_transparent_images_become_jpeg_on_white_only_when_png_is_too_big(tmp_path: Path) -> None:
    import os

    path = tmp_path / "alpha.png"
    noise = Image.frombytes("RGBA", (700, 700), os.urandom(700 * 700 * 4))
    noise.save(path)
    mime, data, size, note = display_image(path, "image/png", path.stat().st_size, PreviewLimits())
    assert mime == "image/jpeg" and len(data) <= PreviewLimits().image_max_bytes
    assert "the full 700×700 file is on disk" in note
    with Image.open(io.BytesIO(data)) as shown:
        assert shown.mode == "RGB" and shown.size == size


def test_animated_gif_shows_its_first_frame_when_too_big(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (2000, 100), color) for color in ("red", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    mime, _, size, note = display_image(
        path, "image/gif", path.stat().st_size, PreviewLimits(image_max_pixels=400)
    )
    assert mime == "image/png" and size == (400, 20) and note.startswith("first frame shown at 400×20")


def test_table_summary_unknown_total() -> None:
    assert Table(["a"], [["1"], ["2"]], None, 1).summary() == "first 2 rows"


# --- bounded in time and memory: each hostile class, with the bytes each reader really read ----------------

MiB = 1024 * 1024


class _Counting:
    """A file object that counts the bytes read through it."""

    def __init__(self, inner: Any, tally: dict[str, int], key: str) -> None:
        self._inner, self._tally, self._key = inner, tally, key

    def read(self, size: int = -1) -> Any:
        data = self._inner.read(size)
        self._tally[self._key] = self._tally.get(self._key, 0) + len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> _Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


@pytest.fixture
def bytes_read(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Bytes read from each file (by name) through ``Path.open`` while the test runs."""
    tally: dict[str, int] = {}
    original = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        return _Counting(original(self, *args, **kwargs), tally, self.name)

    monkeypatch.setattr(Path, "open", counting_open)
    return tally


def test_the_delimiter_is_found_without_csv_sniffer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csv

    from bench.preview_bounds import csv_sniffer_trap

    def no_sniffer() -> None:
        raise AssertionError("csv.Sniffer is regex-based and can go super-linear: it must not be used")

    monkeypatch.setattr(csv, "Sniffer", no_sniffer)
    path = tmp_path / "trap.csv"
    csv_sniffer_trap(path, 64_000)
    table = read_table(path, PreviewLimits())
    assert table is not None and table.columns == ["h1", "h2"] and table.total_rows == len(table.rows) == 1
    assert guess_delimiter(',"a' * 21_000) == ","
    assert guess_delimiter("a|b|c\n1|2|3\n") == "|"
    assert guess_delimiter('x\t"a,b,c"\n1\t"d,e"\n') == "\t"


def test_a_one_line_csv_is_read_for_its_prefix_only(tmp_path: Path, bytes_read: dict[str, int]) -> None:
    from bench.preview_bounds import csv_one_line

    path = tmp_path / "oneline.csv"
    csv_one_line(path, 8 * MiB)
    limits = PreviewLimits(count_bytes=2 * MiB)
    table = read_table(path, limits)
    assert table is not None and table.rows == [] and table.columns[:3] == ["12345", "abcde", "12345"]
    assert table.note == "line 1 is longer than 1 MiB: cut" and table.total_rows is None
    assert (
        table.summary()
        == f"no rows read, 20 of {table.total_columns:,} columns · line 1 is longer than 1 MiB: cut"
    )
    assert table.total_columns > 80_000 and len(table.columns) == limits.columns
    assert bytes_read["oneline.csv"] == limits.table_bytes + 1


def test_a_sparse_csv_is_judged_by_the_bytes_read(tmp_path: Path, bytes_read: dict[str, int]) -> None:
    from bench.preview_bounds import sparse_file

    path = tmp_path / "sparse.csv"
    sparse_file(path, 2 * 1024 * MiB)
    with pytest.raises(PreviewRefused, match="NUL bytes in the first 1 MiB"):
        read_table(path, PreviewLimits())
    assert bytes_read["sparse.csv"] == PreviewLimits().table_bytes + 1
    text = tmp_path / "sparse.txt"
    sparse_file(text, 2 * 1024 * MiB)
    with pytest.raises(PreviewRefused, match="NUL bytes"):
        read_text_preview(text, PreviewLimits())
    assert bytes_read["sparse.txt"] == PreviewLimits().text_bytes + 1


def test_holes_after_real_rows_stop_the_line_count(tmp_path: Path, bytes_read: dict[str, int]) -> None:
    path = tmp_path / "holes.csv"
    with path.open("wb") as out:
        out.write(b"a,b\n" + b"1,2\n" * 300_000)
        out.truncate(1024 * MiB)
    table = read_table(path, PreviewLimits())
    assert table is not None and len(table.rows) == 20 and table.total_rows is None
    assert table.summary() == "first 20 rows"
    assert bytes_read["holes.csv"] <= PreviewLimits().table_bytes + 1 + 2 * MiB


def test_line_counts_past_the_scan_cap_are_estimates(tmp_path: Path, bytes_read: dict[str, int]) -> None:
    path = tmp_path / "long.csv"
    path.write_bytes(b"n\n" + b"12345678\n" * 800_000)
    limits = PreviewLimits(table_bytes=64 * 1024, count_bytes=2 * MiB)
    table = read_table(path, limits)
    assert table is not None and table.approximate
    assert table.total_rows is not None and abs(table.total_rows - 800_000) < 800_000 * 0.01
    assert bytes_read["long.csv"] <= limits.table_bytes + 1 + limits.count_bytes + 1
    _, _, total, cut = read_text(path, limits)
    assert cut and abs(total - 800_001) < 8_000


def test_a_text_preview_reads_a_prefix_and_skips_highlighting_huge_lines(
    tmp_path: Path, bytes_read: dict[str, int]
) -> None:
    path = tmp_path / "one.log"
    path.write_bytes(b"x" * (3 * MiB))
    limits = PreviewLimits(count_bytes=MiB)
    preview = read_text_preview(path, limits)
    assert preview.cut and not preview.highlight and preview.shown == 1
    assert len(preview.text) == limits.text_bytes
    assert preview.footer(limits) == "1 of about 1 lines (first 64 KiB)"
    assert bytes_read["one.log"] <= limits.text_bytes + 1 + limits.count_bytes + 1


def test_json_tables_are_parsed_only_under_their_byte_cap(tmp_path: Path, bytes_read: dict[str, int]) -> None:
    path = tmp_path / "numbers.json"
    path.write_text("[" + ",".join("1" for _ in range(MiB)) + "]")
    assert read_table(path, PreviewLimits()) is None
    assert bytes_read["numbers.json"] == PreviewLimits().json_bytes + 1
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert read_table(deep, PreviewLimits()) is None


def test_a_parquet_column_too_large_to_read_is_named_not_read(tmp_path: Path) -> None:
    from bench.preview_bounds import parquet_big_first_value

    path = tmp_path / "big.parquet"
    parquet_big_first_value(path, 3 * MiB)
    limits = PreviewLimits(parquet_column_bytes=MiB)
    table = read_table(path, limits)
    assert table is not None and table.columns == ["text", "n"]
    assert table.rows == [["…", "1"], ["…", "2"], ["…", "3"]]
    assert table.note.startswith("columns too large to read shown as …: text (3")
    with pytest.raises(PreviewRefused, match="every column is too large"):
        read_table(path, PreviewLimits(parquet_column_bytes=1))


def test_parquet_values_are_cut_inside_arrow(tmp_path: Path) -> None:
    from bench.preview_bounds import parquet_big_first_value

    path = tmp_path / "long.parquet"
    parquet_big_first_value(path, 100_000)
    table = read_table(path, PreviewLimits(cell_chars=10))
    assert table is not None and table.rows[0] == ["x" * 9 + "…", "1"] and table.note == ""


def test_a_parquet_footer_is_checked_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "lying.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 100 + (2**31 - 1).to_bytes(4, "little") + b"PAR1")
    with pytest.raises(PreviewRefused, match="footer claims to be longer than the file"):
        read_table(path, PreviewLimits())
    path.write_bytes(b"PAR1" + b"\x00" * 2000 + (1500).to_bytes(4, "little") + b"PAR1")
    with pytest.raises(PreviewRefused, match=r"footer is 1\.5 KiB"):
        read_table(path, PreviewLimits(parquet_footer_bytes=1024))
    path.write_bytes(b"not parquet at all")
    with pytest.raises(PreviewRefused, match="no PAR1 footer"):
        read_table(path, PreviewLimits())


def test_an_image_claiming_huge_dimensions_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import ImageFile

    from bench.preview_bounds import png_claiming

    path = tmp_path / "bomb.png"
    png_claiming(path, 12_000)
    assert path.stat().st_size < 40_000

    def no_decoding(self: Any) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(PreviewRefused, match="12,000×12,000 pixels: over the 16-megapixel preview limit"):
        display_image(path, "image/png", path.stat().st_size, PreviewLimits())
    png_claiming(path, 20_000)  # past Pillow's own bomb limit: it refuses at open, we say why
    with pytest.raises(PreviewRefused, match=r"over the 16-megapixel preview limit \(Pillow refuses it"):
        display_image(path, "image/png", path.stat().st_size, PreviewLimits())


def test_a_big_jpeg_is_decoded_at_a_reduced_scale(tmp_path: Path) -> None:
    from bench.preview_bounds import jpeg_of

    path = tmp_path / "huge.jpg"
    jpeg_of(path, 6000)
    limits = PreviewLimits(image_decode_pixels=10_000_000)  # 36 MP in full; the half-scale draft is 9 MP
    mime, data, size, note = display_image(path, "image/jpeg", path.stat().st_size, limits)
    assert size == (1600, 1600) and note == "shown at 1600×1600; the full 6000×6000 file is on disk"
    assert mime in {"image/png", "image/jpeg"} and len(data) <= limits.image_max_bytes


def test_a_refused_preview_is_a_file_card_with_the_reason(tmp_path: Path) -> None:
    from bench.preview_bounds import png_claiming, sparse_file
    from openai_artifacts_nb.render import ArtifactView

    png_claiming(tmp_path / "bomb.png", 12_000)
    sparse_file(tmp_path / "sparse.csv", 1024 * MiB)
    for name, reason in [
        ("bomb.png", "no preview: 12,000×12,000 pixels: over the 16-megapixel preview limit"),
        ("sparse.csv", "no preview: binary content: NUL bytes in the first 1 MiB of sparse.csv"),
    ]:
        bundle, _ = ArtifactView.from_file(tmp_path / name)._repr_mimebundle_()
        assert 'class="oai-artifact-card"' in bundle["text/html"] and reason in bundle["text/html"], name
        assert reason in bundle["text/plain"] and "Error" not in bundle["text/plain"], name
        assert set(bundle) == {"text/plain", "text/html"}, name


def test_the_plain_table_prints_as_many_rows_as_it_says(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(50)))
    table = read_table(path, PreviewLimits())
    assert table is not None
    lines = table.plain().splitlines()
    assert lines[-1] == "    (20 of 50 rows)"
    assert [line.strip() for line in lines[1:-1]] == [str(i) for i in range(20)]


def test_a_prefix_cut_inside_a_character_drops_it(tmp_path: Path) -> None:
    path = tmp_path / "utf8.txt"
    path.write_bytes("é".encode() * 40_000)  # 80,000 bytes: the 64 KiB prefix ends on a whole character
    preview = read_text_preview(path, PreviewLimits(text_bytes=1001))
    assert preview.text == "é" * 500 and "\ufffd" not in preview.text


def test_the_deadline_stops_readers_between_chunks(tmp_path: Path) -> None:
    from bench.preview_bounds import xlsx_wide_first_row

    path = tmp_path / "long.csv"
    path.write_bytes(b"n\n" + b"1\n" * (3 * MiB))
    with pytest.raises(PreviewRefused, match=r"reading long\.csv took longer than -1 s"):
        read_table(path, PreviewLimits(table_bytes=1024, seconds=-1))
    workbook = tmp_path / "wide.xlsx"
    xlsx_wide_first_row(workbook, 1000)
    with pytest.raises(PreviewRefused, match="took longer than -1 s"):
        read_table(workbook, PreviewLimits(seconds=-1))


def test_highlighting_gives_up_at_its_deadline(tmp_path: Path) -> None:
    code = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(200))
    html = highlight_html(code, "a.py", PreviewLimits())
    assert html is not None and "<span" in html and "f199" in html
    assert highlight_html(code, "a.py", PreviewLimits(highlight_seconds=-1)) is None
    from openai_artifacts_nb.render import ArtifactView

    path = tmp_path / "a.py"
    path.write_text(code)
    bundle, _ = ArtifactView.from_file(path, limits=PreviewLimits(highlight_seconds=-1))._repr_mimebundle_()
    shown = bundle["text/html"].split('class="oai-text-footer"')[0]
    assert "<pre>def f0(x):" in shown and "<span" not in shown


def test_unreadable_images_are_refused_without_their_path(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(PreviewRefused, match=r"^not an image Pillow can read$"):
        display_image(path, "image/png", path.stat().st_size, PreviewLimits())


def test_a_csv_the_csv_module_cannot_read_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "unclosed.csv"
    path.write_bytes(b'a,"' + b"x" * 300_000)
    assert read_table(path, PreviewLimits()) is None
    from openai_artifacts_nb.render import ArtifactView

    bundle, _ = ArtifactView.from_file(path)._repr_mimebundle_()
    assert 'class="oai-artifact-text"' in bundle["text/html"] and "(first 64 KiB)" in bundle["text/html"]


def test_python_memory_stays_bounded_whatever_the_file_size(tmp_path: Path) -> None:
    import tracemalloc

    from bench.preview_bounds import csv_one_line, xlsx_huge_shared_strings, xlsx_wide_first_row

    csv_one_line(tmp_path / "line.csv", 32 * MiB)
    xlsx_huge_shared_strings(tmp_path / "strings.xlsx", 40 * MiB)
    xlsx_wide_first_row(tmp_path / "wide.xlsx", 500_000)
    read_table(tmp_path / "wide.xlsx", PreviewLimits())  # first use: imports are not the preview's memory
    for name in ("line.csv", "strings.xlsx", "wide.xlsx"):
        tracemalloc.start()
        try:
            table = read_table(tmp_path / name, PreviewLimits())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert table is not None and len(table.columns) <= 20, name
        assert peak < 32 * MiB, (name, peak)


def test_png_is_tried_in_full_only_when_a_small_copy_says_it_may_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from PIL import ImageDraw

    saved: list[tuple[str, tuple[int, int]]] = []
    original = Image.Image.save

    def recording_save(self: Image.Image, fp: Any, format: Any = None, **params: Any) -> None:
        saved.append((str(format), self.size))
        original(self, fp, format, **params)

    noise = tmp_path / "noise.png"
    Image.frombytes("RGB", (2000, 2000), os.urandom(2000 * 2000 * 3)).save(noise, compress_level=0)
    chart = tmp_path / "chart.png"
    drawing = Image.new("RGB", (2400, 1800), "white")
    pen = ImageDraw.Draw(drawing)
    for x in range(0, 2400, 40):
        pen.line([(x, 1800), (x + 20, 1800 - (x * 7) % 1700)], fill="navy", width=6)
    drawing.save(chart)
    monkeypatch.setattr(Image.Image, "save", recording_save)

    mime, _, size, _ = display_image(noise, "image/png", noise.stat().st_size, PreviewLimits())
    assert mime == "image/jpeg" and ("PNG", (1600, 1600)) not in saved
    assert [entry for entry in saved if entry[0] == "PNG"] == [("PNG", (400, 400))]
    saved.clear()
    mime, _, size, _ = display_image(chart, "image/png", chart.stat().st_size, PreviewLimits())
    assert mime == "image/png" and size == (1600, 1200) and ("PNG", (1600, 1200)) in saved
