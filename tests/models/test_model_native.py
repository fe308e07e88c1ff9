"""Native .safetensors format: round trip, metadata, and refusal of malformed files."""
from __future__ import annotations

import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from engine.models.errors import DefaultModelMissingError, ModelFileError
from engine.models.loading import detect_format, load_model, load_model_file, read_model_info
from engine.models.native import METADATA_KEY, save_native

from model_fixtures import assert_same_outputs, reference_outputs


def test_round_trip_gives_identical_outputs_and_metadata(tmp_path, networks):
    G, D = networks
    path = tmp_path / "m.safetensors"
    save_native(path, G, D, name="tiny", description="test net", provenance="random", license="CC0")
    loaded = load_model_file(path, device="cpu")
    assert_same_outputs(reference_outputs(G, D), reference_outputs(loaded.G, loaded.D))
    meta = loaded.meta
    assert (meta.name, meta.description, meta.provenance, meta.license) == ("tiny", "test net", "random", "CC0")
    assert meta.resolution == 32 and meta.num_ws == G.num_ws == 8 and meta.has_discriminator
    assert meta.config == G.config
    assert not loaded.G.training and not any(p.requires_grad for p in loaded.G.parameters())
    info = read_model_info(path)
    assert info.summary_dict() == meta.summary_dict()


def test_generator_only_file_and_load_model(tmp_path, networks):
    G, _ = networks
    path = tmp_path / "g.bin"  # extension is irrelevant: the format is sniffed from the content
    save_native(path, G, name="g-only")
    assert detect_format(path) == "safetensors"
    loaded = load_model_file(path, device="cpu")
    assert loaded.D is None and not loaded.meta.has_discriminator
    z = torch.randn(1, G.z_dim)
    assert torch.equal(load_model(path, device="cpu")(z), G(z))


def test_drag_defaults_travel_with_the_file_onto_the_generator(tmp_path, networks):
    G, _ = networks
    path = tmp_path / "tuned.safetensors"
    save_native(path, G, name="tuned", drag_defaults={"optimize_rows": 2, "lr": 0.01, "r1": 8})
    loaded = load_model_file(path, device="cpu")
    assert loaded.G.drag_defaults == loaded.meta.drag_defaults == {"optimize_rows": 2, "lr": 0.01, "r1": 8.0}
    assert read_model_info(path).summary_dict()["drag_defaults"] == {"optimize_rows": 2, "lr": 0.01, "r1": 8.0}
    plain = tmp_path / "plain.safetensors"
    save_native(plain, G, name="plain")
    assert load_model_file(plain, device="cpu").G.drag_defaults == {}
    with pytest.raises(ValueError, match="drag_defaults has unknown key 'steps'"):
        save_native(tmp_path / "bad.safetensors", G, name="bad", drag_defaults={"steps": 3})


def _write_raw(path, tensors, meta):
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(meta)} if meta is not None else None)


def _valid_meta(G):
    return {"format_version": 1, "architecture": "stylegan2", "config": G.config.to_json_dict(), "name": "x"}


def test_refuses_foreign_safetensors(tmp_path, networks):
    G, _ = networks
    path = tmp_path / "foreign.safetensors"
    _write_raw(path, {"weight": torch.zeros(2)}, None)
    with pytest.raises(ModelFileError, match="no 'latentdrag' metadata"):
        load_model_file(path, device="cpu")


@pytest.mark.parametrize("change, message", [
    ({"format_version": 2}, "format_version 2"),
    ({"architecture": "stylegan3"}, "architecture 'stylegan3' is not supported"),
    ({"config": {"img_resolution": 48, "channels": {}}}, "config' is invalid"),
    ({"license": 5}, "'license' must be a string"),
    ({"drag_defaults": {"radius": 3}}, "drag_defaults has unknown key 'radius'"),
    ({"drag_defaults": {"optimize_rows": 2.5}}, "drag_defaults.optimize_rows must be a positive int"),
    ({"drag_defaults": {"lr": -1}}, "drag_defaults.lr must be a positive float"),
    ({"drag_defaults": {"r1": True}}, "drag_defaults.r1 must be a positive float"),
    ({"drag_defaults": {"track_patch": 0}}, "drag_defaults.track_patch must be a positive float"),
    ({"drag_defaults": [2]}, "drag_defaults must be a JSON object"),
    ({"drag_defaults": {"motion_anchor": 2}}, r"drag_defaults.motion_anchor must be a number in \[0, 1\]"),
])
def test_refuses_bad_metadata(tmp_path, networks, change, message):
    G, _ = networks
    path = tmp_path / "bad.safetensors"
    _write_raw(path, {"G_ema." + k: v.contiguous() for k, v in G.state_dict().items()}, {**_valid_meta(G), **change})
    with pytest.raises(ModelFileError, match=message):
        load_model_file(path, device="cpu")


def test_refuses_wrong_shapes_missing_tensors_and_dtypes(tmp_path, networks):
    G, _ = networks
    state = {"G_ema." + k: v.contiguous() for k, v in G.state_dict().items()}
    path = tmp_path / "bad.safetensors"
    _write_raw(path, {**state, "G_ema.synthesis.b4.const": torch.zeros(3, 4, 4)}, _valid_meta(G))
    with pytest.raises(ModelFileError, match="'synthesis.b4.const' has shape \\[3, 4, 4\\], expected \\[32, 4, 4\\]"):
        load_model_file(path, device="cpu")
    _write_raw(path, {k: v for k, v in state.items() if "fc1.bias" not in k}, _valid_meta(G))
    with pytest.raises(ModelFileError, match="mapping.fc1.bias"):
        load_model_file(path, device="cpu")
    _write_raw(path, {**state, "G_ema.mapping.w_avg": state["G_ema.mapping.w_avg"].double()}, _valid_meta(G))
    with pytest.raises(ModelFileError, match="mapping.w_avg.*float64"):
        load_model_file(path, device="cpu")
    _write_raw(path, {**state, "extra": torch.zeros(1)}, _valid_meta(G))
    with pytest.raises(ModelFileError, match="unexpected tensors \\['extra'\\]"):
        load_model_file(path, device="cpu")


def test_refuses_unknown_and_corrupt_files(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"hello, I am not a model" * 10)
    with pytest.raises(ModelFileError, match="not a recognised model file"):
        load_model_file(junk, device="cpu")
    header = b'{"__metadata__": {"latentdrag": "{not json"}}'
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ModelFileError, match="metadata is not valid JSON"):
        load_model_file(bad, device="cpu")
    with pytest.raises(ModelFileError, match="model file not found"):
        load_model_file(tmp_path / "missing.safetensors", device="cpu")


def test_missing_default_model_is_a_clear_file_not_found(monkeypatch, tmp_path):
    import engine.models.loading as loading
    monkeypatch.setattr(loading, "DEFAULT_MODEL_PATH", tmp_path / "absent.safetensors")
    with pytest.raises(DefaultModelMissingError, match="not trained yet") as info:
        load_model()
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ModelFileError)
