"""Reading just enough of a file to preview it: table rows and counts, text lines, image display copies."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from openai_artifacts_nb.previews import (
    PreviewLimits,
    Table,
    count_lines,
    display_image,
    read_table,
    read_text,
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
