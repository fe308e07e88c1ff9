"""Latents stored in the document: round trip, staleness by fingerprint, damage and pruning."""
import json

import pytest

from latentdrag_krita.latent_store import LatentRecord, LatentStore, LatentStoreError, fingerprint


def record(box=None, fp="abc", blob=b"\x01\x02latent"):
    return LatentRecord("models/faces64", blob, box, fp)


def test_round_trip_keeps_every_field():
    store = LatentStore({"{layer-1}": record((1, 2, 30, 30)), "{layer-2}": record()})
    decoded = LatentStore.decode(store.encode())
    assert decoded.records == store.records


def test_lookup_only_while_the_pixels_match():
    pixels = bytes(range(16))
    fp = fingerprint(pixels, (0, 0, 2, 2))
    store = LatentStore({"{a}": record(fp=fp)})
    assert store.lookup("{a}", fp) == record(fp=fp)
    assert store.lookup("{a}", fingerprint(pixels[:-1] + b"\x00", (0, 0, 2, 2))) is None  # painted on
    assert store.lookup("{a}", fingerprint(pixels, (1, 0, 2, 2))) is None  # moved
    assert store.lookup("{other}", fp) is None


def test_region_coverage():
    limited = record((10, 10, 20, 20))
    assert limited.covers((10, 10, 20, 20))
    assert limited.covers((15, 12, 3, 3))
    assert not limited.covers((5, 12, 10, 3))
    assert not limited.covers((25, 25, 6, 5))
    assert record().covers((0, 0, 5000, 5000))


def test_prune_forgets_deleted_layers():
    store = LatentStore({"{a}": record(), "{b}": record()})
    store.prune({"{b}", "{c}"})
    assert set(store.records) == {"{b}"}


def test_empty_annotation_is_an_empty_store():
    assert LatentStore.decode(b"").records == {}


@pytest.mark.parametrize("data, message", [
    (b"\xff\xfe", "not valid JSON"),
    (b"{not json", "not valid JSON"),
    (b"[]", "no 'layers' table"),
    (json.dumps({"format_version": 99, "layers": {}}).encode(), "format version 99"),
    (json.dumps({"format_version": 1, "layers": {"x": {"model": "m"}}}).encode(), "damaged"),
    (json.dumps({"format_version": 1, "layers": {"x": {"model": "m", "blob": "!!", "region_box": None,
                                                       "fingerprint": ""}}}).encode(), "damaged"),
    (json.dumps({"format_version": 1, "layers": {"x": {"model": "m", "blob": "AA==", "region_box": [1, 2, 0, 3],
                                                       "fingerprint": ""}}}).encode(), "region_box"),
])
def test_damaged_stores_raise_a_readable_error(data, message):
    with pytest.raises(LatentStoreError, match=message):
        LatentStore.decode(data)


def test_empty_blob_is_refused():
    with pytest.raises(LatentStoreError, match="empty"):
        record(blob=b"")
