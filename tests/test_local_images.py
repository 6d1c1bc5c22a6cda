"""The emulator's generated images: deterministic, sized as asked, real PNG (or webp/jpeg) bytes."""

from __future__ import annotations

import io

import pytest

from openai_artifacts_nb.local.images import DEFAULT_SIZE, ImageSpec, parse_size, render


def test_sizes_are_parsed_and_bounded() -> None:
    assert parse_size(None) == parse_size("auto") == DEFAULT_SIZE == (1024, 1024)
    assert parse_size("1536x1024") == (1536, 1024)
    assert [parse_size(bad) for bad in ("0x10", "10x5000", "big", "10 x 10", 1024)] == [None] * 5


def test_png_is_a_gradient_coloured_by_the_prompt() -> None:
    image_module = pytest.importorskip("PIL.Image")
    data, kind = render("a fox", ImageSpec(64, 32, "png"))
    assert kind == "png" and data.startswith(b"\x89PNG\r\n\x1a\n")
    assert render("a fox", ImageSpec(64, 32, "png"))[0] == data
    assert render("a cat", ImageSpec(64, 32, "png"))[0] != data
    picture = image_module.open(io.BytesIO(data))
    picture.load()
    assert (picture.size, picture.mode) == ((64, 32), "RGB")
    left, right = picture.getpixel((0, 0)), picture.getpixel((63, 0))
    assert left != right and picture.getpixel((0, 31)) == left and picture.getpixel((63, 31)) == right


def test_partial_images_reveal_the_top_and_leave_grey_below() -> None:
    image_module = pytest.importorskip("PIL.Image")
    final = image_module.open(io.BytesIO(render("sea", ImageSpec(16, 40, "png"))[0]))
    half = image_module.open(io.BytesIO(render("sea", ImageSpec(16, 40, "png"), revealed=0.5)[0]))
    assert half.getpixel((3, 19)) == final.getpixel((3, 19))
    assert half.getpixel((3, 20)) == (128, 128, 128) != final.getpixel((3, 20))


def test_webp_and_jpeg_are_encoded_with_pillow() -> None:
    pytest.importorskip("PIL")
    webp, kind = render("x", ImageSpec(32, 32, "webp"))
    assert kind == "webp" and webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    jpeg, kind = render("x", ImageSpec(32, 32, "jpeg"))
    assert kind == "jpeg" and jpeg[:3] == b"\xff\xd8\xff"


def test_a_big_image_stays_small_in_bytes() -> None:
    data, _kind = render("big", ImageSpec(1024, 1024, "png"))
    assert len(data) < 16 * 1024
