"""Latent Drag: Explore… outside GIMP: argument checks, the edit and layer name each operation gives, and
the conversation with a real engine (a sample's latent is reused, a photo is inverted, frames), and the
dialog's live preview."""
from __future__ import annotations

import dataclasses
import io
import threading

import numpy as np
import pytest
from PIL import Image

from engine.client import DirectionSetting, EngineClient, LatentEditSpec
from latentdrag_gimp_lib import jobs
from latentdrag_gimp_lib.explore import (OPERATION_ARGUMENTS, ExploreArgumentError, ExploreJob, ExplorePreviewer,
                                         ExploreSettings, run_explore_job)


@pytest.fixture(scope="module")
def client(engine_address):
    with EngineClient(engine_address) as engine_client:
        yield engine_client


@pytest.fixture(scope="module")
def samples(client):
    return [jobs.run_sample_job(client, seed, 0.7) for seed in (3, 4)]


def noop_report(text, fraction):
    pass


@pytest.mark.parametrize("arguments, message", [
    ({"operation": "zoom"}, "operation: must be one of direction, style-mix, truncation, interpolate"),
    ({"operation": "direction", "direction": 0}, "direction: must be in 1..64"),
    ({"operation": "direction", "strength": float("inf")}, "strength: must be within ±10σ"),
    ({"operation": "direction", "rows": "top"}, "rows: must be one of all, coarse, middle, fine"),
    ({"operation": "truncation", "truncation_psi": 1.6}, "truncation-psi: must be in 0..1.5"),
    ({"operation": "interpolate", "t": 1.1}, "t: must be in [0, 1]"),
    ({"operation": "interpolate", "frames": 1}, "frames: must be 0 (one layer at t) or 2..32"),
    ({"operation": "direction", "frames": 4}, "frames: frames are for the interpolate operation"),
])
def test_bad_arguments_are_refused_naming_the_argument(arguments, message):
    with pytest.raises(ExploreArgumentError) as err:
        ExploreSettings(**arguments)
    assert str(err.value).startswith(message)


def test_each_operation_asks_the_engine_for_its_edit_and_names_its_layer():
    direction = ExploreSettings("direction", direction=2, strength=1.5, rows="coarse")
    assert direction.edit_spec(None, 0.5) == LatentEditSpec(directions=(DirectionSetting(1, 1.5, "coarse"),))
    assert direction.layer_name("", 0.5) == "Latent Explore · direction 2 +1.5σ (coarse)"
    assert ExploreSettings("direction", strength=-0.5).layer_name("", 0) == "Latent Explore · direction 1 −0.5σ"
    truncation = ExploreSettings("truncation", truncation_psi=0.4)
    assert truncation.edit_spec(None, 0.5) == LatentEditSpec(truncation_psi=0.4)
    assert truncation.layer_name("", 0.5) == "Latent Explore · ψ 0.4"
    mix = ExploreSettings("style-mix", rows="middle", mix_seed=12)
    assert mix.edit_spec(None, 0.5) == LatentEditSpec(mix_rows="middle", mix_seed=12)
    assert mix.edit_spec(b"blob", 0.5) == LatentEditSpec(mix_rows="middle", mix_latent=b"blob")
    assert mix.layer_name("", 0.5) == "Latent Explore · mix middle from seed 12"
    assert mix.layer_name("Face", 0.5) == "Latent Explore · mix middle from 'Face'"
    toward = ExploreSettings("interpolate", t=0.25)
    assert toward.edit_spec(b"b", 0.25) == LatentEditSpec(toward_latent=b"b", toward_t=0.25)
    assert toward.layer_name("Face", 0.25) == "Latent Explore · t 0.25 to 'Face'"
    assert toward.frame_times() == [0.25]
    assert ExploreSettings("interpolate", frames=3).frame_times() == [0.0, 0.5, 1.0]
    with pytest.raises(ExploreArgumentError, match="other-layer: interpolate needs another layer"):
        toward.edit_spec(None, 0.25)


def test_a_sample_is_explored_from_its_latent_without_inversion(client, samples):
    sample = samples[0]
    sessions_before = {s.name for s in client.list_sessions()}
    job = ExploreJob(sample.layer, None, ExploreSettings("direction", direction=1, strength=3.0), sample.stored)
    result = run_explore_job(client, job, noop_report)
    assert not result.inverted
    [(name, layer)] = result.layers
    assert name == "Latent Explore · direction 1 +3.0σ"
    assert (layer.layer.width, layer.layer.height) == (sample.layer.width, sample.layer.height)
    assert layer.layer.rgba != sample.layer.rgba
    assert layer.stored.matches_pixels(layer.layer.rgba) and layer.stored.kind == "seed"
    # The stored latent renders the new layer: exploring it again with strength 0 gives it back unchanged.
    again = run_explore_job(client, ExploreJob(layer.layer, None, ExploreSettings("direction", strength=0.0),
                                               layer.stored), noop_report)
    assert again.layers[0][1].layer.rgba == layer.layer.rgba
    assert {s.name for s in client.list_sessions()} - sessions_before <= {sample.stored.session}


def test_interpolation_frames_run_from_the_layer_to_the_other_layers_latent(client, samples):
    first, second = samples
    job = ExploreJob(first.layer, None, ExploreSettings("interpolate", frames=3), first.stored, second.stored,
                     "second")
    result = run_explore_job(client, job, noop_report)
    names = [name for name, _ in result.layers]
    assert names == ["Latent Explore · t 0.00 to 'second'", "Latent Explore · t 0.50 to 'second'",
                     "Latent Explore · t 1.00 to 'second'"]
    pixels = [layer.layer.rgba for _, layer in result.layers]
    assert pixels[0] == first.layer.rgba and pixels[2] == second.layer.rgba
    assert pixels[1] not in (first.layer.rgba, second.layer.rgba)
    with pytest.raises(ExploreArgumentError, match="other-layer"):
        run_explore_job(client, ExploreJob(first.layer, None, ExploreSettings("interpolate"), first.stored),
                        noop_report)


def test_a_layer_without_a_latent_is_inverted_and_mixed_with_a_seed(client):
    width, height = 48, 40
    rgba = bytes((x * 5 + y * 3 + c * 60) % 256 if c < 3 else 255
                 for y in range(height) for x in range(width) for c in range(4))
    layer = jobs.LayerPixels(width, height, rgba)
    sessions_before = {s.name for s in client.list_sessions()}
    result = run_explore_job(client, ExploreJob(layer, None, ExploreSettings("style-mix", rows="coarse",
                                                                             mix_seed=5), None), noop_report)
    assert result.inverted
    [(name, mixed)] = result.layers
    assert name == "Latent Explore · mix coarse from seed 5"
    assert (mixed.layer.width, mixed.layer.height) == (width, height) and mixed.layer.rgba != rgba
    assert mixed.stored.kind == "image"
    assert {s.name for s in client.list_sessions()} == sessions_before, "the inversion's session must be deleted"


class Updates:
    """What the previewer hands to the dialog, collected from its worker thread."""

    def __init__(self):
        self.items, self.arrived = [], threading.Condition()

    def __call__(self, png, text):
        with self.arrived:
            self.items.append((png, text))
            self.arrived.notify_all()

    def wait_for(self, predicate, timeout=60.0):
        with self.arrived:
            assert self.arrived.wait_for(lambda: predicate(self.items), timeout), self.items

    def pictures(self):
        return [png for png, _ in self.items if png is not None]


def test_the_preview_renders_the_newest_arguments_once_they_rest_and_hands_its_session_to_the_run(
        client, engine_address, samples):
    sample = samples[0]
    updates = Updates()
    job = ExploreJob(sample.layer, None, ExploreSettings("direction"), sample.stored)
    previewer = ExplorePreviewer(EngineClient, job, updates, quiet_seconds=0.3)
    for tenth in range(1, 21):  # a spin button held down: 20 values within a fraction of a second
        previewer.request(engine_address, ExploreSettings("direction", strength=tenth / 10), None)
    updates.wait_for(lambda items: any(png for png, _ in items))
    assert previewer.renders == 1  # only the value it came to rest on
    first = Image.open(io.BytesIO(updates.pictures()[0]))
    assert first.size == (64, 64)
    expected = run_explore_job(client, ExploreJob(sample.layer, None, ExploreSettings("direction", strength=2.0),
                                                  sample.stored), noop_report).layers[0][1].layer
    assert np.abs(np.asarray(first.convert("RGBA"), dtype=int)
                  - np.frombuffer(expected.rgba, np.uint8).reshape(64, 64, 4)).max() <= 1  # PNG of the same render

    previewer.request(engine_address, ExploreSettings("interpolate"), None)  # no other layer: a message
    updates.wait_for(lambda items: items[-1][1].startswith("other-layer: interpolate needs another layer"))
    previewer.request(engine_address, ExploreSettings("truncation", truncation_psi=0.2), None)
    updates.wait_for(lambda items: len([png for png, _ in items if png]) == 2)
    assert updates.pictures()[1] != updates.pictures()[0]

    opened = previewer.finish((engine_address, ExploreSettings("truncation", truncation_psi=0.2)))
    assert opened is not None and opened.session.name == sample.stored.session and not opened.owned
    assert not opened.inverted


def test_a_preview_that_inverted_the_layer_deletes_its_session_when_the_dialog_is_cancelled(
        client, engine_address):
    width, height = 48, 40
    rgba = bytes((x * 5 + y * 3 + c * 60) % 256 if c < 3 else 255
                 for y in range(height) for x in range(width) for c in range(4))
    job = ExploreJob(jobs.LayerPixels(width, height, rgba), None, ExploreSettings("direction"), None)
    sessions_before = {s.name for s in client.list_sessions()}
    updates = Updates()
    previewer = ExplorePreviewer(EngineClient, job, updates, quiet_seconds=0)
    previewer.request(engine_address, ExploreSettings("direction", strength=2.0), None)
    updates.wait_for(lambda items: any(png for png, _ in items))
    assert any(text.startswith("Preparing the preview: Inverting") for _, text in updates.items)
    assert len({s.name for s in client.list_sessions()} - sessions_before) == 1
    # A different inversion preset needs another session: the run will make its own.
    assert previewer.finish((engine_address, ExploreSettings("direction", inversion_preset="faithful"))) is None
    assert {s.name for s in client.list_sessions()} == sessions_before


def test_the_preview_reports_an_engine_that_does_not_answer_and_stays_usable(engine_address, samples):
    sample = samples[0]
    updates = Updates()
    previewer = ExplorePreviewer(lambda address: EngineClient(address, timeout=5), ExploreJob(
        sample.layer, None, ExploreSettings("direction"), sample.stored), updates, quiet_seconds=0)
    previewer.request("127.0.0.1:1", ExploreSettings("direction"), None)
    updates.wait_for(lambda items: items and items[-1][1].startswith("No preview: "))
    previewer.request(engine_address, ExploreSettings("direction"), None)  # the address corrected
    updates.wait_for(lambda items: any(png for png, _ in items))
    assert previewer.finish(None) is None


ARGUMENT_CHANGES = {"direction": {"direction": 3}, "strength": {"strength": -2.0}, "rows": {"rows": "coarse"},
                    "mix-seed": {"mix_seed": 9}, "truncation-psi": {"truncation_psi": 0.3}, "t": {"t": 0.9},
                    "frames": {"frames": 4}}


@pytest.mark.parametrize("operation", sorted(OPERATION_ARGUMENTS))
def test_each_operation_reads_exactly_the_arguments_the_dialog_leaves_enabled(operation):
    """The dialog greys out the arguments OPERATION_ARGUMENTS does not list for the chosen operation:
    changing one of those must change neither the edits nor the layer name, changing a listed one must
    change one of them (mix seed: the name, where no other layer is given). Other layer: see below."""
    base = ExploreSettings(operation)

    def outcome(settings, other=b"other latent"):
        return [settings.edit_spec(other, t) for t in settings.frame_times()], settings.layer_name("", settings.t)

    for argument, change in ARGUMENT_CHANGES.items():
        if argument == "frames" and operation != "interpolate":
            continue  # refused outright for the other operations (test_bad_arguments_…)
        same = outcome(dataclasses.replace(base, **change)) == outcome(base)
        assert same != (argument in OPERATION_ARGUMENTS[operation]), (operation, argument)
    if "other-layer" in OPERATION_ARGUMENTS[operation]:
        assert outcome(base, b"another latent") != outcome(base)
    else:
        assert outcome(base, b"another latent") == outcome(base)
