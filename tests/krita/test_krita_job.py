"""The plugin's worker-thread job (no Krita) against a real engine: invert + drag, reuse of a stored
latent, fallback from a damaged one, cancellation and samples."""
from __future__ import annotations

import dataclasses
import threading

import pytest

import engine.client as client_module
from engine.client import EngineError
from latentdrag_krita.geometry import DragPair, GeometryError
from latentdrag_krita.job import DragJob, DragSettings, connect, engine_command_line, run_drag, run_sample
from latentdrag_krita.latent_store import LatentRecord
from latentdrag_krita.pixels import selection_to_mask
from tests.support.engine_server import model_for_tests, running_engine

WIDTH, HEIGHT = 80, 60
BOX = (20, 10, 40, 40)


def layer_pixels() -> bytes:
    return b"".join(bytes(((7 * x) % 256, (5 * y) % 256, 128, 255)) for y in range(HEIGHT) for x in range(WIDTH))


def box_mask():
    coverage = bytearray(WIDTH * HEIGHT)
    x, y, w, h = BOX
    for row in range(y, y + h):
        coverage[row * WIDTH + x:row * WIDTH + x + w] = b"\xff" * w
    return selection_to_mask(bytes(coverage), WIDTH, HEIGHT)


def make_job(**changes) -> DragJob:
    job = DragJob(DragSettings(max_steps=4, preview_every=2), WIDTH, HEIGHT, layer_pixels(),
                  [DragPair((35.0, 30.0), (41.0, 31.0))], box_mask())
    return dataclasses.replace(job, **changes)


def changed_pixels(a: bytes, b: bytes) -> tuple[int, int]:
    """(pixels changed inside BOX, pixels changed outside)."""
    x0, y0, w, h = BOX
    inside = outside = 0
    for y in range(HEIGHT):
        for x in range(WIDTH):
            o = 4 * (y * WIDTH + x)
            if a[o:o + 4] != b[o:o + 4]:
                if x0 <= x < x0 + w and y0 <= y < y0 + h:
                    inside += 1
                else:
                    outside += 1
    return inside, outside


def test_drag_inverts_then_a_stored_latent_skips_inversion(client):
    progress = []
    first = run_drag(client, client_module, make_job(), progress.append, threading.Event())
    assert not first.reused_latent and first.steps == 4
    inside, outside = changed_pixels(layer_pixels(), first.rgba)
    assert outside == 0 and inside > 0
    stages = [p.stage for p in progress]
    assert stages[0] == "connecting" and "inverting" in stages and stages[-1] == "dragging"
    assert any(p.preview is not None and p.region_box is not None for p in progress)
    assert first.record.blob and first.record.region_box is not None
    assert client.list_sessions() == []  # the job cleans up its session

    stored = dataclasses.replace(first.record, fingerprint="any")
    progress.clear()
    second = run_drag(client, client_module, make_job(rgba=first.rgba, stored=stored), progress.append,
                      threading.Event())
    assert second.reused_latent
    assert "inverting" not in [p.stage for p in progress]
    assert changed_pixels(first.rgba, second.rgba)[1] == 0


def test_a_damaged_or_foreign_latent_falls_back_to_inversion(client):
    damaged = LatentRecord("models/whatever", b"\xff\x00not a latent", None, "fp")
    result = run_drag(client, client_module, make_job(stored=damaged), lambda p: None, threading.Event())
    assert not result.reused_latent
    other_model = dataclasses.replace(damaged, model="models/other")
    job = make_job(stored=other_model, settings=DragSettings(model="models/mine", max_steps=2))
    with pytest.raises(EngineError, match="models/mine"):  # the picked model does not exist on this engine
        run_drag(client, client_module, job, lambda p: None, threading.Event())


def test_cancel_stops_the_job_and_leaves_no_session(client):
    cancel = threading.Event()

    def cancel_on_first_step(progress):
        if progress.step >= 1:
            cancel.set()

    with pytest.raises(EngineError) as raised:
        run_drag(client, client_module, make_job(), cancel_on_first_step, cancel)
    assert raised.value.code == "CANCELLED"
    assert client.list_sessions() == []


def test_finish_keeps_the_drag_where_it_stopped_and_leaves_no_session(client):
    finish = threading.Event()

    def finish_on_second_step(progress):
        if progress.stage == "dragging" and progress.step >= 2:
            finish.set()

    job = make_job(settings=DragSettings(max_steps=2000, preview_every=0))
    result = run_drag(client, client_module, job, finish_on_second_step, threading.Event(), finish)
    assert result.finished_early and not result.converged and 2 <= result.steps < 2000
    inside, outside = changed_pixels(layer_pixels(), result.rgba)
    assert outside == 0 and inside > 0  # the partial drag, composited like a finished one
    assert client.list_sessions() == []


def test_sample_returns_model_resolution_pixels_and_a_latent(client):
    sample = run_sample(client, seed=3, psi=0.7)
    assert len(sample.rgba) == 4 * sample.width * sample.height and sample.width == sample.height
    assert sample.record.blob and sample.record.region_box is None
    again = run_sample(client, seed=3, psi=0.7)
    assert again.rgba == sample.rgba  # seeds are reproducible
    assert run_sample(client, seed=4, psi=0.7).rgba != sample.rgba


def test_jobs_with_points_off_the_layer_or_a_wrong_mask_are_refused_before_any_network():
    with pytest.raises(GeometryError, match="outside the source layer"):
        make_job(pairs=[DragPair((79.0, 30.0), (85.0, 30.0))])
    with pytest.raises(ValueError, match="the mask is 2 x 2"):
        make_job(mask=selection_to_mask(b"\xff" * 4, 2, 2))
    with pytest.raises(ValueError, match="at least one line"):
        make_job(pairs=[])
    with pytest.raises(ValueError, match="method must be one of"):
        DragSettings(method="magic")


def test_token_from_the_settings_reaches_an_engine_that_requires_one(tmp_path):
    token = "s3cret-token-for-the-test"
    with running_engine(model_for_tests(tmp_path), tmp_path, token=token) as address:
        with connect(client_module, DragSettings(address=address, token=token)) as engine:
            assert run_sample(engine, seed=1, psi=0.5).record.blob
        with connect(client_module, DragSettings(address=address)) as engine:
            with pytest.raises(EngineError) as raised:
                run_sample(engine, seed=1, psi=0.5)
            assert raised.value.code == "UNAUTHENTICATED"


def test_engine_command_is_split_like_a_shell_with_the_address_filled_in():
    assert engine_command_line("latentdrag serve --listen {address}", "127.0.0.1:6000") == [
        "latentdrag", "serve", "--listen", "127.0.0.1:6000"]
    assert engine_command_line("'/opt/my tools/latentdrag' serve --model 'a b.safetensors'", "x") == [
        "/opt/my tools/latentdrag", "serve", "--model", "a b.safetensors"]
    with pytest.raises(ValueError, match="empty"):
        engine_command_line("  ", "x")
    with pytest.raises(ValueError, match="cannot be read"):
        engine_command_line("latentdrag 'serve", "x")
