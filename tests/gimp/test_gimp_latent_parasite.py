"""The latent parasite format: round trip, pixel binding, and clear refusals of foreign or damaged data."""
import json
import struct

import pytest

from latentdrag_gimp_lib.latent_parasite import (MAGIC, LatentParasiteError, StoredLatent, decode, encode,
                                                 from_parasite_data, pixels_digest, to_parasite_data)


def stored(rgba=b"\x01\x02\x03\xff" * 4):
    return StoredLatent(exported_latent=b"\x00latent\xffbytes", pixels_sha256=pixels_digest(rgba),
                        session="sessions/abc", revision=3, model="models/faces64", kind="image")


def test_round_trip_keeps_every_field_and_the_opaque_latent_bytes():
    original = stored()
    assert decode(encode(original)) == original


def test_binding_to_pixels_detects_paint_on_the_layer():
    rgba = bytearray(b"\x01\x02\x03\xff" * 4)
    latent = decode(encode(stored(bytes(rgba))))
    assert latent.matches_pixels(bytes(rgba))
    rgba[5] ^= 1
    assert not latent.matches_pixels(bytes(rgba))


def test_foreign_parasite_is_refused():
    with pytest.raises(LatentParasiteError, match="marker"):
        decode(b"gimp-comment\x00hello")


@pytest.mark.parametrize("cut", [len(MAGIC) + 2, len(MAGIC) + 10])
def test_truncated_parasite_is_refused(cut):
    with pytest.raises(LatentParasiteError, match="truncated"):
        decode(encode(stored())[:cut])


def test_newer_format_version_is_refused_with_both_versions_named():
    header = json.dumps({"format_version": 99, "pixels_sha256": "0" * 64}).encode()
    data = MAGIC + struct.pack(">I", len(header)) + header + b"x"
    with pytest.raises(LatentParasiteError, match="format_version 99.*version 1"):
        decode(data)


def test_missing_latent_payload_is_refused():
    data = encode(stored())
    header_end = len(data) - len(stored().exported_latent)
    with pytest.raises(LatentParasiteError, match="no latent"):
        decode(data[:header_end])


def test_parasite_data_is_signed_chars_for_gimp_and_round_trips():
    data = bytes(range(256))
    values = to_parasite_data(data)
    assert min(values) == -128 and max(values) == 127
    assert from_parasite_data(values) == data
    assert from_parasite_data(list(data)) == data  # unsigned input too
