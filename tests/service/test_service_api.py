"""The engine API end to end through the real client and a real server (tiny generator, few steps)."""
from __future__ import annotations

import numpy as np
import pytest
from engine_fixtures import TINY_RESOLUTION, decode_png, png_bytes

from engine.client import EngineError, RawImage


def test_server_info_and_models(client):
    info = client.health()
    assert info.serving and info.device == "cpu" and info.default_model == "models/tiny"
    assert info.limits["max_message_bytes"] >= 64 * 1024 * 1024
    (model,) = client.list_models()
    assert (model.name, model.resolution, model.num_ws, model.w_dim) == ("models/tiny", TINY_RESOLUTION, 8, 32)
    assert model.is_default and model.license == "test-only" and not model.has_discriminator


def test_seed_session_is_deterministic_and_psi_matters(client):
    a = client.create_session_from_seed(7, psi=0.7)
    b = client.create_session_from_seed(7, psi=0.7)
    c = client.create_session_from_seed(7, psi=0.2)
    assert a.session.name != b.session.name and a.session.revision == 1
    assert a.image.mime_type == "image/png" and (a.image.width, a.image.height) == (32, 32)
    assert a.image.data == b.image.data
    assert np.abs(decode_png(a.image.data).astype(int) - decode_png(c.image.data)).mean() > 1


def test_drag_streams_progress_commits_a_revision_and_reverts(client):
    made = client.create_session_from_seed(3, psi=0.7)
    progress = []
    out = client.drag(made.session.name, [(10.5, 12.5)], [(16.5, 12.5)], max_steps=12, preview_every=4,
                      on_progress=progress.append)
    assert out.session.revision == 2 and [r.id for r in out.session.revisions] == [1, 2]
    assert 1 <= out.steps <= 12 and len(progress) >= 1
    assert [p.step for p in progress] == sorted(p.step for p in progress)
    previews = [p for p in progress if p.preview is not None]
    assert previews and all(p.preview.mime_type == "image/jpeg" and p.step % 4 == 0 for p in previews)
    assert progress[-1].handles != ((10.5, 12.5),)  # the handle was tracked somewhere
    assert out.image.data != made.image.data
    rendered, composite = client.render(made.session.name)
    assert rendered.data == out.image.data and composite is None
    first, _ = client.render(made.session.name, revision=1)
    assert first.data == made.image.data
    reverted = client.revert(made.session.name, 1)
    assert reverted.revision == 1 and len(reverted.revisions) == 1
    again = client.drag(made.session.name, [(10.5, 12.5)], [(16.5, 12.5)], max_steps=2)
    assert again.session.revision == 3  # revision ids are never reused


def test_raw_result_encoding(client):
    made = client.create_session_from_seed(3, result_format="raw")
    assert made.image.is_raw and made.image.pixel_format == "RGBA8"
    assert len(made.image.data) == 32 * 32 * 4


def test_image_session_edits_only_the_selection_and_keeps_the_layer(client):
    rng = np.random.default_rng(0)
    layer = rng.integers(0, 256, size=(50, 70, 4), dtype=np.uint8)
    layer[..., 3] = 255
    made = client.create_session_from_image(png_bytes(layer), selection=(20, 10, 30, 30), preset="fast")
    assert made.session.kind == "image" and made.session.region_box == (20, 10, 30, 30)
    assert (made.composite.width, made.composite.height) == (70, 50) and made.psnr > 0
    out = client.drag(made.session.name, [(30, 20)], [(38, 24)], coordinates="layer", max_steps=8)
    edited = decode_png(out.composite.data)
    outside = np.ones(layer.shape[:2], bool)
    outside[10:40, 20:50] = False
    assert np.array_equal(edited[outside], layer[outside])  # bit-identical outside the selection
    assert all(20 <= x <= 50 and 10 <= y <= 40 for x, y in out.handles)  # reported in layer pixels
    # The original layer stays the base of every composite: revision 1 composites to the inversion only.
    _, first = client.render(made.session.name, revision=1, composite=True)
    assert np.array_equal(decode_png(first.data)[outside], layer[outside])


def test_latent_export_import_resumes_an_image_session(client):
    layer = np.full((40, 40, 4), 255, np.uint8)
    layer[..., :3] = np.linspace(0, 255, 40, dtype=np.uint8)[None, :, None]
    made = client.create_session_from_image(png_bytes(layer), preset="fast")
    edited = client.drag(made.session.name, [(16, 16)], [(20, 16)], max_steps=3)
    blob = client.export_latent(made.session.name)
    resumed = client.create_session_from_latent(blob, layer=RawImage(40, 40, layer.tobytes()))
    assert resumed.session.kind == "image" and resumed.session.region_box == (0, 0, 40, 40)
    assert resumed.image.data == edited.image.data  # same latent, same generator ("fast": no tuning)
    plain = client.create_session_from_latent(blob)
    assert plain.session.kind == "latent" and plain.image.data == edited.image.data
    seed = client.create_session_from_seed(1)
    imported = client.import_latent(seed.session.name, blob)
    assert imported.session.revision == 2 and imported.image.data == edited.image.data


def test_latent_operations_make_revisions(client):
    made = client.create_session_from_seed(11, psi=0.7)
    name = made.session.name
    moved = client.apply_direction(name, 0, 3.0)
    assert moved.session.revision == 2 and moved.image.data != made.image.data
    back = client.apply_direction(name, 0, -3.0)
    assert np.abs(decode_png(back.image.data).astype(int) - decode_png(made.image.data)).max() <= 1
    other = client.create_session_from_seed(12, psi=0.7)
    mixed = client.style_mix(name, "all", other_session=other.session.name)
    assert mixed.image.data == other.image.data  # all rows from the other latent
    truncated = client.retruncate(name, 0.0)
    assert truncated.session.revisions[-1].description.startswith("truncation psi 0.7")
    average = client.create_session_from_seed(99, psi=0.0)
    assert truncated.image.data == average.image.data  # psi 0 is the average latent whatever the seed
    frames = client.interpolate(made.session.name, other.session.name, 5)
    assert len(frames) == 5 and frames[-1].data == other.image.data


def test_sessions_list_get_delete(client):
    made = client.create_session_from_seed(5)
    assert made.session.name in {s.name for s in client.list_sessions()}
    assert client.get_session(made.session.name).revision == 1
    client.delete_session(made.session.name)
    with pytest.raises(EngineError) as err:
        client.get_session(made.session.name)
    assert err.value.code == "NOT_FOUND"
