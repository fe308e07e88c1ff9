"""Drag library: input validation, progress/cancellation contract, latent rows, determinism, and
that the fast preset's point work equals reading the upsampled map (what the published one does)."""
from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from drag_fixtures import BlobGenerator, seed_latent, small_generator
from engine.edit.drag import DragOptions, drag, resolve_optimize_rows, resolve_settings
from engine.edit.features import disk_offsets, sample_features
from engine.edit.freedrag import FreeDragSettings
from engine.edit.motion import initial_templates, motion_supervision_loss
from engine.edit.tracking import tracking_offsets


@pytest.fixture(scope="module")
def G():
    return small_generator()


@pytest.fixture(scope="module")
def ws(G):
    return seed_latent(G, 1)


def test_point_reads_on_the_small_map_equal_reads_of_the_upsampled_map():
    features = torch.randn(1, 5, 16, 16, generator=torch.Generator().manual_seed(0))
    upsampled = F.interpolate(features, size=(64, 64), mode="bilinear", align_corners=False)
    points = torch.tensor([[0.0, 0.0], [63.0, 63.0], [10.0, 37.0], [5.0, 60.0]])
    direct = sample_features(features, points, 64)
    expected = upsampled[0, :, points[:, 1].long(), points[:, 0].long()].T
    torch.testing.assert_close(direct, expected, rtol=1e-5, atol=1e-5)
    # Sub-pixel reads interpolate between neighbouring pixels of the image-size map.
    half = sample_features(upsampled, torch.tensor([[10.5, 37.0]]), 64)
    torch.testing.assert_close(half[0], (upsampled[0, :, 37, 10] + upsampled[0, :, 37, 11]) / 2)


@pytest.mark.parametrize("kwargs, field", [
    (dict(handles=[(70.0, 3.0)]), "handles"),
    (dict(handles=[(float("nan"), 3.0)]), "handles"),
    (dict(handles=[]), "handles"),
    (dict(targets=[(1.0, 2.0), (3.0, 4.0)]), "pair up"),
    (dict(targets=[(1.0, 2.0, 3.0)]), "targets"),
    (dict(mask=torch.ones(32, 32)), "mask"),
    (dict(mask=torch.full((64, 64), 2.0)), "mask"),
    (dict(mask=torch.zeros(64, 64)), "mask"),
    (dict(ws=torch.zeros(1, 3, 32)), "ws"),
    (dict(options=DragOptions(method="magic")), "options.method"),
    (dict(options=DragOptions(preset="slow")), "options.preset"),
    (dict(options=DragOptions(method="freedrag", preset="published")), "options.preset"),
    (dict(options=DragOptions(latent_space="z")), "options.latent_space"),
    (dict(options=DragOptions(precision="fp8")), "options.precision"),
    (dict(options=DragOptions(optimize_rows=0)), "options.optimize_rows"),
    (dict(options=DragOptions(max_steps=-1)), "options.max_steps"),
    (dict(options=DragOptions(preview_every=-2)), "options.preview_every"),
    (dict(options=DragOptions(lr=0.0)), "options.lr"),
    (dict(options=DragOptions(r2=float("inf"))), "options.r2"),
    (dict(options=DragOptions(feature_block="b128")), "options.feature_block"),
    (dict(options=DragOptions(motion_anchor=1.5)), "options.motion_anchor"),
    (dict(options=DragOptions(motion_anchor=float("nan"))), "options.motion_anchor"),
    (dict(options=DragOptions(track_patch=-1.0)), "options.track_patch"),
    (dict(options=DragOptions(track_patch=float("inf"))), "options.track_patch"),
    (dict(options=DragOptions(track_patch=True)), "options.track_patch"),
    (dict(options=DragOptions(method="freedrag", template_anchor=-0.1)), "options.template_anchor"),
    (dict(options=DragOptions(method="freedrag", template_anchor=True)), "options.template_anchor"),
])
def test_invalid_input_names_the_argument(G, ws, kwargs, field):
    args = dict(ws=ws, handles=[(10.0, 10.0)], targets=[(20.0, 20.0)], mask=None, options=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        drag(G, args["ws"], args["handles"], args["targets"], mask=args["mask"], options=args["options"])


def test_callback_every_step_and_previews_at_cadence(G, ws):
    seen = []
    result = drag(G, ws, [(20.0, 20.0)], [(44.0, 40.0)],
                  options=DragOptions(max_steps=5, preview_every=2, stop_distance=1e-3),
                  callback=seen.append)
    assert result.steps == 5 and not result.converged and not result.cancelled
    assert [p.step for p in seen] == [1, 2, 3, 4, 5]
    assert [p.preview is not None for p in seen] == [False, True, False, True, False]
    assert seen[1].preview.shape == (3, 64, 64)
    # The last preview shows the latent of that step, not the start.
    assert not torch.equal(seen[3].preview, G.synthesize(ws).image[0])
    assert seen[-1].handles == result.handles
    assert seen[-1].max_distance == pytest.approx(((44 - result.handles[0][0]) ** 2
                                                   + (40 - result.handles[0][1]) ** 2) ** 0.5, rel=1e-5)


@pytest.mark.parametrize("method", ["draggan", "freedrag"])
def test_cancel_stops_within_one_step_and_returns_last_state(G, ws, method):
    cancel = threading.Event()
    steps_seen = []

    def on_progress(progress):
        steps_seen.append(progress.step)
        if progress.step == 2:
            cancel.set()

    result = drag(G, ws, [(20.0, 20.0)], [(44.0, 40.0)], cancel=cancel, callback=on_progress,
                  options=DragOptions(method=method, max_steps=50, stop_distance=1e-3))
    assert result.cancelled and result.steps == 2 and steps_seen == [1, 2]
    torch.testing.assert_close(result.image, G.synthesize(result.ws).image)
    assert not torch.equal(result.ws, ws)


def test_rows_beyond_optimize_rows_are_held_and_w_mode_shares_one_row(G, ws):
    k = 3
    handles, targets = [(20.0, 20.0), (40.0, 30.0)], [(28.0, 26.0), (36.0, 38.0)]
    plus = drag(G, ws, handles, targets, options=DragOptions(max_steps=3, optimize_rows=k))
    assert torch.equal(plus.ws[:, k:], ws[:, k:])
    assert not torch.allclose(plus.ws[:, :k], ws[:, :k])
    assert not torch.allclose(plus.ws[:, 0], plus.ws[:, 1])  # W+: rows move independently
    single = drag(G, ws, handles, targets, options=DragOptions(max_steps=3, optimize_rows=k, latent_space="w"))
    assert torch.equal(single.ws[:, k:], ws[:, k:])
    assert torch.equal(single.ws[:, 0], single.ws[:, 1]) and torch.equal(single.ws[:, 0], single.ws[:, 2])
    assert not torch.allclose(single.ws[:, 0], ws[:, 0])


def test_a_models_recommended_settings_replace_the_published_ones_but_not_the_callers(G, ws, monkeypatch):
    published = resolve_settings(G, DragOptions())
    assert (published.lr, resolve_optimize_rows(G, DragOptions())) == (2e-3, 6)
    monkeypatch.setattr(G, "drag_defaults", {"optimize_rows": 2, "lr": 0.05, "r1": 5.0})
    tuned = resolve_settings(G, DragOptions())
    assert (tuned.lr, tuned.patch_radius, resolve_optimize_rows(G, DragOptions())) == (0.05, 5.0, 2)
    mine = resolve_settings(G, DragOptions(lr=0.1, r1=2.0))
    assert (mine.lr, mine.patch_radius, resolve_optimize_rows(G, DragOptions(optimize_rows=4))) == (0.1, 2.0, 4)
    result = drag(G, ws, [(20.0, 20.0)], [(28.0, 26.0)], options=DragOptions(max_steps=3))
    assert torch.equal(result.ws[:, 2:], ws[:, 2:]) and not torch.allclose(result.ws[:, :2], ws[:, :2])


def test_motion_anchor_blends_the_unedited_content_into_the_reference():
    features = torch.randn(1, 6, 16, 16, generator=torch.Generator().manual_seed(1))
    handles, targets = torch.tensor([[20.0, 30.0]]), torch.tensor([[40.0, 30.0]])
    patch = disk_offsets(4.0, 1.0)
    templates = initial_templates(features, handles, patch, 64)
    published = motion_supervision_loss(features, handles, targets, patch, 4.0, 0.25, 64)
    # Before any edit the current features are the unedited ones: every anchor gives the published loss.
    for anchor in (0.5, 1.0):
        torch.testing.assert_close(motion_supervision_loss(features, handles, targets, patch, 4.0, 0.25, 64,
                                                           templates, anchor), published)
    # Content that arrived one step along (one feature px = 4 image px to the right): the fully anchored
    # reference sees the original content arrived, the published one (what now sits at the handle: the
    # content from 4 px further left) still pulls, and the half anchor exactly half as hard.
    moved = torch.roll(features, shifts=1, dims=-1)
    loss = {a: motion_supervision_loss(moved, handles, targets, patch, 4.0, 0.25, 64, templates, a)
            for a in (0.0, 0.5, 1.0)}
    assert loss[1.0].item() < 1e-6 < loss[0.0].item()
    torch.testing.assert_close(loss[0.5], 0.5 * loss[0.0])


def test_motion_anchor_comes_from_the_model_unless_the_caller_sets_it(G, monkeypatch):
    assert resolve_settings(G, DragOptions()).motion_anchor == 0.0  # DragGAN's published reference
    monkeypatch.setattr(G, "drag_defaults", {"motion_anchor": 0.5})
    assert resolve_settings(G, DragOptions()).motion_anchor == 0.5
    assert resolve_settings(G, DragOptions(motion_anchor=0.0)).motion_anchor == 0.0


def test_track_patch_comes_from_the_model_unless_the_caller_sets_it(G, monkeypatch):
    assert resolve_settings(G, DragOptions()).track_patch == 0.0  # DragGAN's published tracker
    monkeypatch.setattr(G, "drag_defaults", {"track_patch": 8.0})
    assert resolve_settings(G, DragOptions()).track_patch == 8.0
    assert resolve_settings(G, DragOptions(track_patch=0)).track_patch == 0
    assert tracking_offsets(8.0, 2.0).norm(dim=1).max().item() <= 8.0
    assert len(tracking_offsets(8.0, 2.0)) > 40  # a disk of reads half a feature px apart


def test_freedrag_template_and_anchor_come_from_the_model_unless_the_caller_sets_them(G, monkeypatch):
    def freedrag_settings(**options):
        return FreeDragSettings.from_drag(resolve_settings(G, DragOptions(method="freedrag", **options)), "cpu")

    monkeypatch.setattr(G, "drag_defaults", {})
    published = freedrag_settings()
    assert published.template_anchor == 0.0  # the paper's adapted template
    assert len(published.template_offsets) == 9  # and its 3×3 reads, ±0.75 feature px (3 px at 64 px)
    assert published.template_offsets.abs().max().item() == 3.0
    monkeypatch.setattr(G, "drag_defaults", {"r1": 5.0, "template_anchor": 1.0})
    recommended = freedrag_settings()
    assert recommended.template_anchor == 1.0
    torch.testing.assert_close(recommended.template_offsets, disk_offsets(5.0, 1.0))  # DragGAN's disk
    mine = freedrag_settings(r1=2.0, template_anchor=0.25)
    assert mine.template_anchor == 0.25 and mine.template_offsets.norm(dim=1).max().item() <= 2.0


@pytest.mark.parametrize("method", ["draggan", "freedrag"])
def test_two_runs_are_identical(G, ws, method):
    opts = DragOptions(method=method, max_steps=4, stop_distance=1e-3)
    first = drag(G, ws, [(20.0, 24.0)], [(30.0, 30.0)], options=opts)
    second = drag(G, ws, [(20.0, 24.0)], [(30.0, 30.0)], options=opts)
    assert torch.equal(first.ws, second.ws) and first.handles == second.handles


def test_fast_preset_runs_synthesis_only_to_the_feature_block(G, ws, monkeypatch):
    """Each step is one pass of the pass prepared for the drag: fast stops at the feature block (no
    image), published renders the whole image every step as the reference; the final image is one
    render."""
    passes, renders = [], []
    prepare, synthesize = G.prepare_pass, G.synthesize

    def recording_prepare(*args, **kwargs):
        prepared = prepare(*args, **kwargs)

        def run(free):
            out = prepared(free)
            passes.append((tuple(out.features), out.image is not None))
            return out
        return run

    def recording_synthesize(*args, **kwargs):
        renders.append((kwargs.get("feature_block"), kwargs.get("stop_at_features", False)))
        return synthesize(*args, **kwargs)

    monkeypatch.setattr(G, "prepare_pass", recording_prepare)
    monkeypatch.setattr(G, "synthesize", recording_synthesize)
    drag(G, ws, [(20.0, 24.0)], [(30.0, 30.0)], options=DragOptions(max_steps=3, stop_distance=1e-3))
    assert passes == [(("b16",), False)] * 4  # first features + one forward per step
    assert renders == [(None, False)]  # the final render
    passes.clear()
    renders.clear()
    drag(G, ws, [(20.0, 24.0)], [(30.0, 30.0)],
         options=DragOptions(preset="published", max_steps=3, stop_distance=1e-3))
    assert passes == [(("b16",), True)] * 4
    assert renders == [(None, False)]


def test_generator_is_left_untouched(G, ws):
    before = {k: v.clone() for k, v in G.state_dict().items()}
    drag(G, ws, [(20.0, 24.0)], [(30.0, 30.0)], options=DragOptions(max_steps=2))
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())
    assert all(p.grad is None for p in G.parameters())


def test_zero_steps_returns_the_start_image(G, ws):
    result = drag(G, ws, [(20.0, 24.0)], [(30.0, 30.0)], options=DragOptions(max_steps=0))
    assert result.steps == 0 and not result.converged
    torch.testing.assert_close(result.image, G.synthesize(ws).image)
    assert result.handles == [(20.0, 24.0)]


def test_works_on_any_generator_with_the_interface_in_w_mode():
    blob = BlobGenerator([(20.0, 22.0)])
    result = drag(blob, torch.zeros(1, 4, 8), [(20.0, 22.0)], [(26.0, 22.0)],
                  options=DragOptions(latent_space="w", optimize_rows=4))
    assert result.converged
    assert blob.centres(result.ws)[0, 0].item() == pytest.approx(26.0, abs=1.0)


def test_freedrag_stays_on_a_sub_target_while_the_loss_falls_below_where_its_sub_motion_started(monkeypatch):
    """FreeDrag's line search stays on a sub-target when the sub-motion's loss fell (but not under l/2)
    from its value when that sub-motion began, as published. Compared with the previous sub-motion's
    end instead, a forward move (which starts at ≈ l) almost never counted as falling and every other
    sub-motion backed off (docs/drag.md). Checks that the line search gets each sub-motion's own start."""
    import engine.edit.freedrag as freedrag

    real_search, real_distance = freedrag._line_search, freedrag.patch_distance
    seen = {"start": None, "round_began": False, "checked": 0}

    def distance(*args):
        out = real_distance(*args)
        if seen["round_began"]:  # the sub-motion's first loss, at its sub-target (anchor 0: its template)
            seen["start"], seen["round_began"] = out.detach().clone(), False
        return out

    def search(features, positions, targets, templates, losses, start_losses, *rest):
        if seen["start"] is not None:
            torch.testing.assert_close(start_losses, seen["start"])
            seen["checked"] += 1
        result = real_search(features, positions, targets, templates, losses, start_losses, *rest)
        seen["round_began"] = True
        return result

    monkeypatch.setattr(freedrag, "patch_distance", distance)
    monkeypatch.setattr(freedrag, "_line_search", search)
    G = BlobGenerator([(18.0, 20.0), (44.0, 42.0)])
    drag(G, torch.zeros(1, G.num_ws, G.w_dim), [(18.0, 20.0)], [(30.0, 28.0)],
         options=DragOptions(method="freedrag", template_anchor=0.0, max_steps=60))
    assert seen["checked"] >= 5
