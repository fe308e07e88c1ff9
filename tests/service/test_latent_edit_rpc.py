"""RenderLatentEdit: explore settings rendered on a base revision without committing anything."""
from __future__ import annotations

import numpy as np
import pytest
from engine_fixtures import TINY_RESOLUTION, decode_png, png_bytes

from engine.client import DirectionSetting, EngineError, LatentEditSpec, RawImage


def pixels(image) -> np.ndarray:
    return decode_png(image.data).astype(int)


def test_an_empty_edit_renders_the_base_and_commits_nothing(client):
    made = client.create_session_from_seed(21, psi=0.7)
    out = client.render_latent_edit(made.session.name, LatentEditSpec())
    assert out.image.data == made.image.data and out.revision == 1 and out.latent is None
    assert client.get_session(made.session.name).revision == 1


def test_directions_match_committed_operations_and_stay_relative_to_the_base(client):
    made = client.create_session_from_seed(22, psi=0.7)
    name = made.session.name
    edit = LatentEditSpec(directions=(DirectionSetting(0, 2.0, "coarse"), DirectionSetting(1, -1.5, "all")))
    preview = client.render_latent_edit(name, edit)
    assert preview.image.data != made.image.data
    client.apply_direction(name, 0, 2.0, rows="coarse")
    committed = client.apply_direction(name, 1, -1.5)
    assert np.abs(pixels(preview.image) - pixels(committed.image)).max() <= 1
    # The base is revision 1 however many revisions follow: the same settings give the same picture.
    again = client.render_latent_edit(name, edit, revision=1)
    assert again.image.data == preview.image.data and again.revision == 1
    assert client.render_latent_edit(name, LatentEditSpec(), revision=1).image.data == made.image.data


def test_the_returned_latent_resumes_as_the_previewed_image(client):
    made = client.create_session_from_seed(23, psi=0.7)
    edit = LatentEditSpec(directions=(DirectionSetting(2, 3.0),), truncation_psi=0.5)
    out = client.render_latent_edit(made.session.name, edit, include_latent=True)
    resumed = client.create_session_from_latent(out.latent)
    assert resumed.image.data == out.image.data
    assert client.get_session(made.session.name).revision == 1


def test_truncation_then_mixing_all_rows_from_a_seed_uses_the_new_psi(client):
    made = client.create_session_from_seed(24, psi=0.7)
    edit = LatentEditSpec(truncation_psi=0.4, mix_rows="all", mix_seed=25)
    out = client.render_latent_edit(made.session.name, edit)
    assert out.image.data == client.create_session_from_seed(25, psi=0.4).image.data


def test_interpolation_moves_from_the_base_to_the_other_latent(client):
    a = client.create_session_from_seed(26, psi=0.7)
    b = client.create_session_from_seed(27, psi=0.7)
    blob = client.export_latent(b.session.name)
    start = client.render_latent_edit(a.session.name, LatentEditSpec(toward_session=b.session.name, toward_t=0.0))
    end = client.render_latent_edit(a.session.name, LatentEditSpec(toward_latent=blob, toward_t=1.0))
    middle = client.render_latent_edit(a.session.name, LatentEditSpec(toward_latent=blob, toward_t=0.5))
    assert start.image.data == a.image.data and end.image.data == b.image.data
    assert middle.image.data not in (a.image.data, b.image.data)


def test_image_sessions_return_a_composite_at_the_layer_size(client):
    layer = np.random.default_rng(3).integers(0, 256, (40, 56, 4), dtype=np.uint8)
    layer[..., 3] = 255
    made = client.create_session_from_image(png_bytes(layer), selection=(8, 4, 30, 30))
    out = client.render_latent_edit(made.session.name, LatentEditSpec(directions=(DirectionSetting(0, 3.0),)),
                                    composite=True, result_format="raw", include_latent=True)
    assert (out.composite.width, out.composite.height) == (56, 40)
    assert (out.image.width, out.image.height) == (TINY_RESOLUTION, TINY_RESOLUTION)
    composite = np.frombuffer(out.composite.data, np.uint8).reshape(40, 56, 4)
    outside = np.ones((40, 56), bool)
    outside[4:34, 8:38] = False
    assert np.array_equal(composite[outside], layer[outside]), "pixels outside the selection changed"
    reattached = client.create_session_from_latent(out.latent, layer=RawImage(56, 40, layer.tobytes()))
    assert reattached.session.region_box == (8, 4, 30, 30)


@pytest.mark.parametrize("edit, code, field", [
    (LatentEditSpec(toward_latent=b"", toward_t=1.5), "INVALID_ARGUMENT", "edit.interpolation.t"),
    (LatentEditSpec(directions=(DirectionSetting(0, 1.0), DirectionSetting(10_000, 1.0))), "INVALID_ARGUMENT",
     "edit.directions[1].index"),
    (LatentEditSpec(directions=(DirectionSetting(0, float("nan")),)), "INVALID_ARGUMENT",
     "edit.directions[0].alpha"),
    (LatentEditSpec(mix_rows="coarse", mix_session="sessions/nope"), "NOT_FOUND", "edit.style_mix.session"),
])
def test_bad_edits_are_refused_naming_the_field(client, edit, code, field):
    made = client.create_session_from_seed(28)
    with pytest.raises(EngineError) as err:
        client.render_latent_edit(made.session.name, edit)
    assert err.value.code == code and field in err.value.message


def test_composite_needs_an_image_session_and_the_client_checks_the_donor(client):
    made = client.create_session_from_seed(29)
    with pytest.raises(EngineError) as err:
        client.render_latent_edit(made.session.name, LatentEditSpec(), composite=True)
    assert err.value.code == "FAILED_PRECONDITION" and "composite" in err.value.message
    with pytest.raises(ValueError, match="exactly one of mix_seed"):
        client.render_latent_edit(made.session.name, LatentEditSpec(mix_rows="fine"))
    with pytest.raises(ValueError, match="mix_rows is empty"):
        client.render_latent_edit(made.session.name, LatentEditSpec(mix_seed=3))
