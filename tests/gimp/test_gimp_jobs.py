"""The plug-in's conversation with a real engine, outside GIMP: when a stored latent is resumed (same
session, moved-on session, expired session, seed session) and when the layer is inverted again."""
from __future__ import annotations

import pytest

from engine.client import EngineClient
from latentdrag_gimp_lib import jobs
from latentdrag_gimp_lib.points import DragPair
from latentdrag_gimp_lib.selection import layer_region

SETTINGS = jobs.DragSettings(max_steps=3)
PAIRS = [DragPair((28.0, 32.0), (34.0, 30.0))]


@pytest.fixture(scope="module")
def client(engine_address):
    with EngineClient(engine_address) as engine_client:
        yield engine_client


def noop_report(text, fraction):
    pass


def photo(width=48, height=40) -> jobs.LayerPixels:
    """A layer larger than the model, so it is an image session with a region."""
    rgba = bytes((x * 5 + y * 3 + c * 60) % 256 if c < 3 else 255
                 for y in range(height) for x in range(width) for c in range(4))
    return jobs.LayerPixels(width, height, rgba)


def first_drag(client, layer=None) -> jobs.JobResult:
    layer = layer or photo()
    return jobs.run_drag_job(client, jobs.DragJob(layer, PAIRS, None, SETTINGS, None), noop_report)


def drag_again(client, result: jobs.JobResult, layer=None) -> jobs.JobResult:
    job = jobs.DragJob(layer or result.layer, PAIRS, None, SETTINGS, result.stored)
    return jobs.run_drag_job(client, job, noop_report)


def test_first_drag_inverts_and_returns_the_layer_size_with_its_latent(client):
    result = first_drag(client)
    assert result.inverted
    assert (result.layer.width, result.layer.height) == (48, 40)
    assert result.stored.kind == "image" and result.stored.matches_pixels(result.layer.rgba)
    assert client.get_session(result.stored.session).revision == result.stored.revision


def test_dragging_the_result_again_continues_the_same_session(client):
    first = first_drag(client)
    second = drag_again(client, first)
    assert not second.inverted
    assert second.stored.session == first.stored.session
    assert second.stored.revision > first.stored.revision


def test_an_older_result_is_imported_into_a_session_that_moved_on(client):
    first = first_drag(client)
    drag_again(client, first)  # the session is now one revision past `first`
    again = drag_again(client, first)
    assert not again.inverted and again.stored.session == first.stored.session
    revisions = client.get_session(first.stored.session).revisions
    assert [r.description for r in revisions][-2:] == ["imported latent", revisions[-1].description]
    assert revisions[-1].description.startswith("drag")


def test_an_expired_session_is_recreated_from_the_stored_latent_without_inversion(client):
    first = first_drag(client)
    client.delete_session(first.stored.session)
    again = drag_again(client, first)
    assert not again.inverted
    assert again.stored.session != first.stored.session and again.stored.kind == "image"


def test_paint_on_the_result_forces_a_new_inversion(client):
    first = first_drag(client)
    painted = bytearray(first.layer.rgba)
    painted[:4] = bytes([255, 0, 0, 255])
    again = drag_again(client, first, jobs.LayerPixels(48, 40, bytes(painted)))
    assert again.inverted and again.stored.session != first.stored.session


def test_a_sample_is_dragged_in_its_seed_session_in_model_coordinates(client):
    sample = jobs.run_sample_job(client, seed=4, psi=0.7)
    assert (sample.layer.width, sample.layer.height) == (64, 64) and sample.stored.kind == "seed"
    dragged = jobs.run_drag_job(client, jobs.DragJob(sample.layer, [DragPair((30.0, 30.0), (36.0, 27.0))], None,
                                                     SETTINGS, sample.stored), noop_report)
    assert not dragged.inverted and dragged.stored.session == sample.stored.session
    assert dragged.layer.rgba != sample.layer.rgba


def test_selection_mask_limits_the_change_and_travels_with_the_job(client):
    layer = photo()
    mask = bytearray(48 * 40)
    for y in range(20, 40):
        mask[y * 48 + 20:y * 48 + 44] = b"\xff" * 24
    region = layer_region(bytes(mask), (20, 20, 24, 20), (48, 40))
    settings = jobs.DragSettings(max_steps=20)
    result = jobs.run_drag_job(client, jobs.DragJob(layer, PAIRS, region, settings, None), noop_report)
    changed = [(i // 4 % 48, i // 4 // 48) for i in range(0, len(layer.rgba), 4)
               if result.layer.rgba[i:i + 4] != layer.rgba[i:i + 4]]
    assert changed
    # The engine blends the selection at model resolution (the layer window is resampled to 64 px), so
    # its edge may soften by a pixel at layer scale; nothing further out may change.
    assert all(19 <= x <= 44 and 19 <= y <= 40 for x, y in changed), sorted(set(changed))[:10]
