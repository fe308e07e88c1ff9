"""Krita pixel layouts ↔ the engine's RGBA8, and selection bytes → mask."""
import random
import struct

import pytest

from latentdrag_krita.pixels import (LayerFormat, PixelFormatError, check_format, clip_box, crop_rgba, layer_to_rgba8,
                                     restrict_to_selection, rgba8_to_layer, selection_to_mask)

U8 = LayerFormat("RGBA", "U8")
U16 = LayerFormat("RGBA", "U16")


def test_bgra_u8_is_swapped_to_rgba_and_back_exactly():
    rng = random.Random(1)
    bgra = bytes(rng.randrange(256) for _ in range(3 * 2 * 4))
    rgba = layer_to_rgba8(bgra, 3, 2, U8)
    for i in range(0, len(bgra), 4):
        b, g, r, a = bgra[i:i + 4]
        assert rgba[i:i + 4] == bytes((r, g, b, a))
    assert rgba8_to_layer(rgba, 3, 2, U8) == bgra


def test_u16_little_endian_rounds_to_nearest_u8_and_widens_back():
    values = [0, 128, 129, 257, 385, 386, 32896, 65535]  # 128/257 < .5 rounds down, 129 rounds up
    data = struct.pack("<8H", *values)  # two BGRA pixels
    rgba = layer_to_rgba8(data, 2, 1, U16)
    expected_bgra = [round(v / 257) for v in values]
    assert list(rgba) == [expected_bgra[i] for i in (2, 1, 0, 3, 6, 5, 4, 7)]
    back = struct.unpack("<8H", rgba8_to_layer(rgba, 2, 1, U16))
    assert list(back) == [257 * v for v in expected_bgra]


@pytest.mark.parametrize("model, depth", [("RGBA", "F32"), ("RGBA", "F16"), ("GRAYA", "U8"), ("CMYKA", "U8"),
                                          ("LABA", "U16")])
def test_other_formats_are_refused_with_the_menu_that_converts(model, depth):
    with pytest.raises(PixelFormatError, match=f"{model}/{depth}.*Convert Image Color Space"):
        check_format(model, depth)


def test_supported_formats_are_accepted():
    assert check_format("RGBA", "U16").bytes_per_channel == 2


def test_wrong_buffer_sizes_name_the_buffer():
    with pytest.raises(ValueError, match="layer pixels: expected 16 bytes"):
        layer_to_rgba8(bytes(15), 2, 2, U8)
    with pytest.raises(ValueError, match="result pixels: expected 32 bytes"):
        rgba8_to_layer(bytes(16), 2, 4, U16)
    with pytest.raises(ValueError, match="width and height must be positive"):
        selection_to_mask(b"", 0, 3)


def test_selection_mask_box_is_the_tight_box_of_selected_pixels():
    width, height = 7, 5
    data = bytearray(width * height)
    data[1 * width + 2] = 255  # (2, 1)
    data[3 * width + 5] = 10  # (5, 3), partly selected counts
    mask = selection_to_mask(bytes(data), width, height)
    assert mask.box == (2, 1, 4, 3)
    assert mask.data == bytes(data)
    assert (mask.width, mask.height) == (width, height)


def test_selection_covering_everything_and_nothing():
    assert selection_to_mask(b"\xff" * 12, 4, 3).box == (0, 0, 4, 3)
    assert selection_to_mask(bytes(12), 4, 3) is None


def test_restrict_to_selection_keeps_unselected_pixels_bit_identical_and_blends_soft_edges():
    width, height = 5, 2
    source = bytes(range(40))
    result = bytes(200 + (i % 50) for i in range(40))
    coverage = bytes([0, 255, 255, 128, 0,
                      0, 0, 1, 255, 255])
    mask = selection_to_mask(coverage, width, height)
    out = restrict_to_selection(source, result, mask)
    for pixel, weight in enumerate(coverage):
        got = out[4 * pixel:4 * pixel + 4]
        if weight == 0:
            assert got == source[4 * pixel:4 * pixel + 4]
        elif weight == 255:
            assert got == result[4 * pixel:4 * pixel + 4]
        else:
            for c in range(4):
                s, r = source[4 * pixel + c], result[4 * pixel + c]
                assert got[c] == round((s * (255 - weight) + r * weight) / 255)
    with pytest.raises(ValueError, match="result pixels"):
        restrict_to_selection(source, result[:-4], mask)


def test_clip_box_keeps_the_overlap_only():
    assert clip_box((-5, -5, 20, 20), (0, 0, 10, 8)) == (0, 0, 10, 8)
    assert clip_box((4, 3, 20, 2), (0, 0, 10, 8)) == (4, 3, 6, 2)
    assert clip_box((10, 0, 5, 5), (0, 0, 10, 8)) is None


def test_crop_rgba_takes_the_box_rows():
    width, height = 4, 3
    image = bytes(range(4 * width * height))
    crop = crop_rgba(image, width, height, (1, 1, 2, 2))
    assert crop == image[20:28] + image[36:44]
    with pytest.raises(ValueError, match="not inside"):
        crop_rgba(image, width, height, (3, 0, 2, 1))
