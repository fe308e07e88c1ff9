"""Explore without Krita: slider state → engine edit, layer names, the latest-wins preview hand-over, and
the worker side (session, preview, apply, frames) against a real engine."""
from __future__ import annotations

import threading
import time

import pytest

import engine.client as client_module
from engine.client import EngineClient
from latentdrag_krita.explore import (DEFAULT_DIRECTION_COUNT, ExploreState, LatestRequest, MixSource, TowardLayer,
                                      alpha_from_slider, explore_layer_name, frame_times, slider_from_alpha)
from latentdrag_krita.explore_job import (ExploreSource, close_session, open_explore_session, render_frames,
                                          render_state)
from latentdrag_krita.job import DragSettings, run_sample
from latentdrag_krita.latent_store import LatentRecord
from latentdrag_krita.pixels import selection_to_mask

WIDTH, HEIGHT = 72, 56


# ---- state, names, validation

def test_default_state_has_five_sliders_and_asks_for_the_base_only():
    state = ExploreState()
    assert len(state.alphas) == DEFAULT_DIRECTION_COUNT
    spec = state.edit_spec(client_module)
    assert spec == client_module.LatentEditSpec()  # nothing to ask of the engine but the base


def test_slider_positions_map_to_tenths_of_sigma_and_back():
    assert alpha_from_slider(15) == 1.5 and alpha_from_slider(-30) == -3.0
    assert slider_from_alpha(-0.7) == -7 and slider_from_alpha(alpha_from_slider(23)) == 23


def test_state_becomes_the_engine_edit_with_only_the_moved_directions():
    mix = MixSource("coarse", seed=9)
    toward = TowardLayer("Other", b"blob", 0.25)
    state = ExploreState(rows="middle", psi=0.5, mix=mix, toward=toward).with_alpha(1, 1.5).with_alpha(3, -0.5)
    spec = state.edit_spec(client_module)
    assert spec.directions == (client_module.DirectionSetting(1, 1.5, "middle"),
                               client_module.DirectionSetting(3, -0.5, "middle"))
    assert (spec.truncation_psi, spec.mix_rows, spec.mix_seed, spec.mix_latent) == (0.5, "coarse", 9, None)
    assert (spec.toward_latent, spec.toward_t) == (b"blob", 0.25)
    assert state.edit_spec(client_module, toward_t=1.0).toward_t == 1.0
    layer_mix = ExploreState(mix=MixSource("fine", layer_name="Sample", latent=b"x")).edit_spec(client_module)
    assert (layer_mix.mix_latent, layer_mix.mix_seed, layer_mix.mix_rows) == (b"x", None, "fine")


def test_layer_names_say_what_the_sliders_did():
    assert explore_layer_name(ExploreState().with_alpha(1, 1.5)) == "Latent Explore · direction 2 +1.5σ"
    assert explore_layer_name(ExploreState().with_alpha(0, -0.5)) == "Latent Explore · direction 1 −0.5σ"
    both = ExploreState(rows="coarse", psi=0.4, mix=MixSource("fine", seed=3)).with_alpha(0, 1).with_alpha(4, -2)
    assert explore_layer_name(both) == ("Latent Explore · direction 1 +1.0σ, direction 5 −2.0σ (coarse), ψ 0.4, "
                                        "mix fine from seed 3")
    toward = ExploreState(toward=TowardLayer("Sample 2", b"b", 0.4))
    assert explore_layer_name(toward) == "Latent Explore · 40% to 'Sample 2'"
    assert explore_layer_name(ExploreState()) == "Latent Explore · unchanged"


@pytest.mark.parametrize("make, message", [
    (lambda: ExploreState().with_alpha(0, 3.5), "direction 1 strength must be in ±3σ"),
    (lambda: ExploreState(alphas=()), "direction count must be in 1..10"),
    (lambda: ExploreState(rows="top"), "rows must be one of"),
    (lambda: ExploreState(psi=2.0), "ψ must be in 0..1.5"),
    (lambda: MixSource("all", seed=1), "mix rows must be one of coarse, middle, fine"),
    (lambda: MixSource("coarse"), "exactly one of a seed or another layer"),
    (lambda: MixSource("coarse", seed=2 ** 32), "mix seed must be in"),
    (lambda: TowardLayer("L", b"x", 1.2), "interpolation t must be in"),
    (lambda: TowardLayer("L", b"", 0.5), "'L' carries no latent"),
    (lambda: frame_times(1), "frame count must be in 2..32"),
])
def test_bad_settings_are_refused_naming_the_control(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("+", r"\+")):
        make()


def test_direction_count_changes_keep_the_set_values():
    state = ExploreState().with_alpha(1, 2.0)
    assert state.with_direction_count(3).alphas == (0.0, 2.0, 0.0)
    assert state.with_direction_count(7).alphas == (0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_frame_times_include_both_ends():
    assert frame_times(5) == [0.0, 0.25, 0.5, 0.75, 1.0]


# ---- latest wins, debounced

def test_a_burst_of_slider_moves_yields_only_the_last_request_after_a_quiet_time():
    slot = LatestRequest(quiet_seconds=0.15)
    taken = []
    worker = threading.Thread(target=lambda: taken.append((slot.take(), time.monotonic())))
    worker.start()
    for value in range(10):
        last_submit = time.monotonic()
        last = slot.submit(value)
        time.sleep(0.02)
    worker.join(5)
    (ticket, request), taken_at = taken[0]
    assert (ticket, request) == (last, 9), "older slider values must never be rendered after a newer one"
    assert taken_at - last_submit >= 0.15 - 0.005
    assert slot.is_current(ticket)


def test_replies_to_superseded_requests_are_stale():
    slot = LatestRequest(quiet_seconds=0)
    first = slot.submit("a")
    assert slot.take() == (first, "a")
    second = slot.submit("b")
    assert not slot.is_current(first) and slot.is_current(second)
    slot.invalidate()  # e.g. "Apply" pressed: nothing in flight may overwrite the applied layer
    assert not slot.is_current(second)
    slot.close()
    assert slot.take() is None


def test_close_wakes_a_waiting_worker():
    slot = LatestRequest()
    result = []
    worker = threading.Thread(target=lambda: result.append(slot.take()))
    worker.start()
    time.sleep(0.05)
    slot.close()
    worker.join(2)
    assert result == [None] and not worker.is_alive()


# ---- against a real engine

@pytest.fixture(scope="module")
def sample(engine_address):
    with EngineClient(engine_address) as engine:
        return run_sample(engine, 7, 0.7)


def sample_source(sample, mask=None) -> ExploreSource:
    record = LatentRecord(sample.record.model, sample.record.blob, None, fingerprint="")
    return ExploreSource(DragSettings(), sample.width, sample.height, sample.rgba, mask, record)


def test_a_stored_latent_is_explored_without_inversion_and_sliders_are_absolute(client, sample):
    source = sample_source(sample)
    progress = []
    session = open_explore_session(client, client_module, source, progress.append, threading.Event())
    try:
        assert session.reused_latent and session.base_psi == pytest.approx(0.7)
        assert "inverting" not in [p.stage for p in progress]
        base = render_state(client, client_module, session, source, ExploreState())
        assert base.rgba == sample.rgba and base.record is None
        moved_state = ExploreState().with_alpha(0, 3.0)
        moved = render_state(client, client_module, session, source, moved_state)
        assert moved.rgba != sample.rgba
        # Back to 0 is the base again: previews never accumulate into the session.
        assert render_state(client, client_module, session, source, ExploreState()).rgba == sample.rgba
        applied = render_state(client, client_module, session, source, moved_state, with_latent=True)
        assert applied.rgba == moved.rgba and applied.record.model == session.model
        # The stored latent is the edited one: resumed on its own it renders what the engine rendered.
        resumed = client.create_session_from_latent(applied.record.blob, result_format="raw")
        edited = client.render_latent_edit(session.name, moved_state.edit_spec(client_module),
                                           revision=session.revision, result_format="raw")
        assert resumed.image.data == edited.image.data != sample.rgba
        assert client.get_session(session.name).revision == session.revision
    finally:
        close_session(client, client_module, session)
    assert session.name not in {s.name for s in client.list_sessions()}


def test_a_layer_without_a_latent_is_inverted_and_the_selection_limits_the_change(client):
    rgba = b"".join(bytes(((5 * x) % 256, (3 * y) % 256, 90, 255)) for y in range(HEIGHT) for x in range(WIDTH))
    coverage = bytearray(WIDTH * HEIGHT)
    for y in range(10, 40):
        coverage[y * WIDTH + 16:y * WIDTH + 50] = b"\xff" * 34
    mask = selection_to_mask(bytes(coverage), WIDTH, HEIGHT)
    source = ExploreSource(DragSettings(), WIDTH, HEIGHT, rgba, mask)
    progress = []
    session = open_explore_session(client, client_module, source, progress.append, threading.Event())
    try:
        assert not session.reused_latent and "inverting" in [p.stage for p in progress]
        assert session.base_psi == 1.0
        moved = render_state(client, client_module, session, source, ExploreState(psi=0.3).with_alpha(0, -3.0))
        changed = [i // 4 for i in range(0, len(rgba), 4) if moved.rgba[i:i + 4] != rgba[i:i + 4]]
        assert changed, "the edit changed nothing"
        assert all(16 <= p % WIDTH < 50 and 10 <= p // WIDTH < 40 for p in changed), "changed outside the selection"
    finally:
        close_session(client, client_module, session)


def test_frames_run_from_the_base_to_the_other_layers_latent(client, sample, engine_address):
    other = run_sample(client, 8, 0.7)
    source = sample_source(sample)
    session = open_explore_session(client, client_module, source, lambda p: None, threading.Event())
    try:
        state = ExploreState(toward=TowardLayer("Latent sample 2", other.record.blob, 0.5))
        frames = render_frames(client, client_module, session, source, state, 3, threading.Event())
        assert [t for t, _ in frames] == [0.0, 0.5, 1.0]
        assert frames[0][1].rgba == sample.rgba
        assert len({frame.rgba for _, frame in frames}) == 3
        # Each frame carries its own latent; the last one is exactly the other layer's latent.
        last = client.create_session_from_latent(frames[2][1].record.blob, result_format="raw")
        assert last.image.data == other.rgba
        cancelled = threading.Event()
        cancelled.set()
        with pytest.raises(client_module.EngineError) as err:
            render_frames(client, client_module, session, source, state, 3, cancelled)
        assert err.value.code == "CANCELLED"
    finally:
        close_session(client, client_module, session)
