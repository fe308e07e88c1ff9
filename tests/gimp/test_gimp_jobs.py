"""The plug-in's conversation with a real engine, outside GIMP: when a stored latent is resumed (same
session, moved-on session, expired session, seed session) and when the layer is inverted again."""
from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

from engine.client import EngineClient, EngineError, SessionInfo
from latentdrag_gimp_lib import jobs
from latentdrag_gimp_lib.points import DragPair
from latentdrag_gimp_lib.selection import layer_region

SETTINGS = jobs.DragSettings(max_steps=3)
PAIRS = [DragPair((28.0, 32.0), (34.0, 30.0))]


@pytest.fixture(scope="module")
def client(engine_address):
    with EngineClient(engine_address) as engine_client:
        yield engine_client


def noop_report(text, fraction, finishable=False, preview=None):
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


def test_first_drag_inverts_then_later_drags_continue_or_import_into_the_same_session(client):
    first = first_drag(client)
    assert first.inverted
    assert (first.layer.width, first.layer.height) == (48, 40)
    assert first.stored.kind == "image" and first.stored.matches_pixels(first.layer.rgba)
    assert client.get_session(first.stored.session).revision == first.stored.revision

    second = drag_again(client, first)
    assert not second.inverted and second.stored.session == first.stored.session
    assert second.stored.revision > first.stored.revision

    # Dragging the older result again: the session has moved on, so its latent is imported first.
    again = drag_again(client, first)
    assert not again.inverted and again.stored.session == first.stored.session
    descriptions = [r.description for r in client.get_session(first.stored.session).revisions]
    assert descriptions[-2] == "imported latent" and descriptions[-1].startswith("drag")


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


def test_selection_mask_limits_the_change_and_a_larger_area_later_needs_a_new_inversion(client):
    layer = photo()
    mask = bytearray(48 * 40)
    for y in range(20, 40):
        mask[y * 48 + 20:y * 48 + 44] = b"\xff" * 24
    region = layer_region(bytes(mask), (20, 20, 24, 20), (48, 40))
    settings = jobs.DragSettings(max_steps=40)  # enough for a visible change on any model
    result = jobs.run_drag_job(client, jobs.DragJob(layer, PAIRS, region, settings, None), noop_report)
    changed = [(i // 4 % 48, i // 4 // 48) for i in range(0, len(layer.rgba), 4)
               if result.layer.rgba[i:i + 4] != layer.rgba[i:i + 4]]
    assert changed
    # The engine applies the selection at layer resolution: not one pixel outside it may change.
    assert all(20 <= x < 44 and 20 <= y < 40 for x, y in changed), sorted(set(changed))[:10]

    whole_layer = drag_again(client, result)  # no selection now: the whole layer may change
    assert whole_layer.inverted and whole_layer.stored.session != result.stored.session


def session(kind="image", model="models/a", layer=(48, 40), box=(0, 0, 48, 40), resolution=64) -> SessionInfo:
    return SessionInfo(name="sessions/x", model=model, kind=kind, revision=1, revisions=(), resolution=resolution,
                       layer_width=layer[0], layer_height=layer[1], region_box=box, expire_time_unix_ms=0, busy=False)


def test_finish_keeps_the_drag_where_it_is_and_is_offered_only_while_the_drag_runs(client):
    finish = threading.Event()
    reports = []

    def report(text, fraction, finishable=False, preview=None):
        reports.append((text, finishable, preview))
        if finishable and sum(offered for _, offered, _ in reports) == 5:
            finish.set()  # what the window's Finish button does, at the drag's fifth step

    settings = jobs.DragSettings(max_steps=2000)
    far = [DragPair((6.0, 6.0), (40.0, 34.0))]
    result = jobs.run_drag_job(client, jobs.DragJob(photo(), far, None, settings, None), report, finish_event=finish,
                               preview_every=2)

    assert result.finished_early and result.inverted
    steps = int(result.summary.split()[0])
    assert 3 <= steps < 2000 and "finished early" in result.summary
    assert result.stored.matches_pixels(result.layer.rgba)
    session = client.get_session(result.stored.session)
    assert session.revision == result.stored.revision and not session.busy
    assert session.revisions[-1].description.endswith("finished early)")
    offered = [text for text, finishable, _ in reports if finishable]
    assert offered and all(text.startswith("Dragging: step") for text in offered)
    assert any(text.startswith("Inverting") for text, finishable, _ in reports if not finishable)
    # The drag window's preview: every second step a frame of the edited area at model resolution.
    frames = [(text, preview) for text, _, preview in reports if preview is not None]
    assert [text.split()[2] for text, _ in frames[:2]] == ["2/2000,", "4/2000,"]
    assert Image.open(io.BytesIO(frames[0][1])).size == (64, 64)


def test_session_fits_only_the_same_layer_size_model_and_a_covering_region():
    job = jobs.DragJob(photo(), PAIRS, None, SETTINGS, None)
    assert jobs.session_fits(session(), job)
    assert not jobs.session_fits(session(layer=(48, 41)), job)
    assert not jobs.session_fits(session(box=(0, 0, 40, 40)), job), "no selection needs the whole layer"
    selected = jobs.DragJob(photo(), PAIRS, layer_region(b"\xff" * 48 * 40, (8, 8, 16, 16), (48, 40)), SETTINGS, None)
    assert jobs.session_fits(session(box=(0, 0, 40, 40)), selected)
    other_model = jobs.DragJob(photo(), PAIRS, None, jobs.DragSettings(model="models/b"), None)
    assert not jobs.session_fits(session(), other_model)
    assert jobs.session_fits(session(), jobs.DragJob(photo(), PAIRS, None, jobs.DragSettings(model="models/a"), None))


def test_seed_sessions_fit_only_a_layer_that_is_exactly_the_model_image():
    square = jobs.LayerPixels(64, 64, bytes(64 * 64 * 4))
    assert jobs.session_fits(session(kind="seed", box=None), jobs.DragJob(square, PAIRS, None, SETTINGS, None))
    assert not jobs.session_fits(session(kind="seed", box=None), jobs.DragJob(photo(), PAIRS, None, SETTINGS, None))


def test_cancel_during_the_inversion_stops_it_and_leaves_no_session(client):
    cancel = threading.Event()

    def report(text, fraction, finishable=False, preview=None):
        if text.startswith("Inverting ("):  # a step of the inversion has run: the window's Cancel
            cancel.set()

    sessions_before = {s.name for s in client.list_sessions()}
    with pytest.raises(EngineError) as stopped:
        jobs.run_drag_job(client, jobs.DragJob(photo(), PAIRS, None, jobs.DragSettings(max_steps=2000), None),
                          report, cancel)
    assert stopped.value.code == "CANCELLED"
    assert {s.name for s in client.list_sessions()} == sessions_before
