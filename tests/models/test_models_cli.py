"""`latentdrag convert`, `latentdrag models`, `latentdrag sample` on NVIDIA-layout pickles and native files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli import main
from engine.models.loading import load_model_file
from engine.models.render import image_grid, render_seeds, to_uint8, z_for_seed
from model_fixtures import assert_same_outputs, reference_outputs
from nvidia_layout import FakeGlobal, PickleStyle, Reduce, write_pickle, write_snapshot


@pytest.fixture
def pickle_path(tmp_path, networks):
    G, D = networks
    return write_snapshot(tmp_path / "faces.pkl", G, D, None, PickleStyle(protocol=3))


def test_convert_writes_an_equivalent_native_file(tmp_path, networks, pickle_path, capsys):
    out = tmp_path / "faces.safetensors"
    assert main(["convert", str(pickle_path), str(out), "--name", "Faces", "--license", "CC-BY-4.0"]) == 0
    assert "wrote" in capsys.readouterr().out
    loaded = load_model_file(out, device="cpu")
    assert (loaded.meta.name, loaded.meta.license) == ("Faces", "CC-BY-4.0")
    assert "faces.pkl" in loaded.meta.provenance
    assert_same_outputs(reference_outputs(*networks), reference_outputs(loaded.G, loaded.D))
    # An existing output is kept unless --force; --no-discriminator drops D.
    assert main(["convert", str(pickle_path), str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["convert", str(pickle_path), str(out), "--force", "--no-discriminator"]) == 0
    assert load_model_file(out, device="cpu").D is None


def test_convert_sets_and_keeps_drag_defaults(tmp_path, pickle_path, capsys):
    tuned, copy = tmp_path / "tuned.safetensors", tmp_path / "copy.safetensors"
    assert main(["convert", str(pickle_path), str(tuned), "--drag-defaults", '{"optimize_rows": 2, "lr": 0.01}']) == 0
    assert load_model_file(tuned, device="cpu").G.drag_defaults == {"optimize_rows": 2, "lr": 0.01}
    assert main(["convert", str(tuned), str(copy)]) == 0  # a native input's recommendations are kept
    copied = load_model_file(copy, device="cpu").meta
    assert copied.drag_defaults == {"optimize_rows": 2, "lr": 0.01}
    assert copied.provenance == load_model_file(tuned, device="cpu").meta.provenance  # kept, not "converted from"
    capsys.readouterr()
    assert main(["convert", str(pickle_path), str(tmp_path / "x.safetensors"), "--drag-defaults", '{"rows": 2}']) == 1
    assert "--drag-defaults: drag_defaults has unknown key 'rows'" in capsys.readouterr().err
    assert main(["convert", str(pickle_path), str(tmp_path / "x.safetensors"), "--drag-defaults", "{2"]) == 1
    assert "--drag-defaults:" in capsys.readouterr().err


def test_convert_refuses_unsafe_input_with_one_line(tmp_path, capsys):
    evil = write_pickle(tmp_path / "evil.pkl", {"G_ema": Reduce(FakeGlobal("os", "system"), ("true",))})
    assert main(["convert", str(evil), str(tmp_path / "out.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "global os.system" in err and "Traceback" not in err
    assert not (tmp_path / "out.safetensors").exists()


def test_models_lists_metadata_and_reports_bad_files(tmp_path, pickle_path, capsys):
    assert main(["convert", str(pickle_path), str(tmp_path / "native.safetensors"), "--license", "MIT"]) == 0
    (tmp_path / "broken.pkl").write_bytes(b"\x80\x04not really")
    (tmp_path / "notes.txt").write_text("ignored")
    capsys.readouterr()
    assert main(["models", str(tmp_path), "--json"]) == 0
    rows = {Path(row["path"]).stem: row for row in map(json.loads, capsys.readouterr().out.splitlines())
            if not row["bundled"]}
    assert set(rows) == {"faces", "native", "broken"}
    assert rows["native"]["license"] == "MIT" and rows["native"]["format"] == "safetensors"
    assert rows["native"]["name"] == "faces"  # convert names a model after its source file
    assert rows["faces"]["format"] == "nvidia-pickle"
    for name in ("faces", "native"):
        assert (rows[name]["resolution"], rows[name]["num_ws"], rows[name]["has_discriminator"]) == (32, 8, True)
    assert "truncated or corrupt" in rows["broken"]["error"]
    assert main(["models", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "NAME" in table and "native" in table and "MIT" in table
    assert main(["models", str(tmp_path / "nope")]) == 1


def test_sample_renders_a_grid_matching_the_generator(tmp_path, networks, pickle_path):
    G, _ = networks
    out = tmp_path / "grid.png"
    assert main(["sample", "--model", str(pickle_path), "--seeds", "3,5-6", "--psi", "0.5", "--columns", "2",
                 "-o", str(out)]) == 0
    grid = np.asarray(Image.open(out))
    assert grid.shape == (64, 64, 3)
    expected = render_seeds(G, [3, 5, 6], psi=0.5)
    assert np.array_equal(grid[:32, :32], expected[0]) and np.array_equal(grid[32:, :32], expected[2])
    assert not grid[32:, 32:].any()  # the fourth cell is empty
    assert not np.array_equal(expected[0], expected[1])


@pytest.mark.parametrize("args, message", [
    (["--seeds", "1-x"], "--seeds"),
    (["--seeds", "9-2"], "runs backwards"),
    (["--device", "tpu"], "device must be one of"),
    (["--columns", "0"], "--columns must be at least 1"),
])
def test_sample_errors_are_one_line(tmp_path, pickle_path, capsys, args, message):
    assert main(["sample", "--model", str(pickle_path), "-o", str(tmp_path / "g.png"), *args]) == 1
    assert message in capsys.readouterr().err


def test_render_helpers():
    z = z_for_seed(42, 8)
    assert z.shape == (1, 8) and torch.equal(z, z_for_seed(42, 8)) and not torch.equal(z, z_for_seed(43, 8))
    with pytest.raises(ValueError, match="seed must be in"):
        z_for_seed(-1, 8)
    pixels = to_uint8(torch.tensor([[[[-1.0, 1.0], [0.0, 2.0]]]]).expand(1, 3, 2, 2))
    assert pixels.shape == (1, 2, 2, 3) and pixels[0, :, :, 0].tolist() == [[0, 255], [128, 255]]
    grid = image_grid(np.ones((3, 2, 2, 3), np.uint8))
    assert grid.shape == (4, 4, 3) and grid[2:, 2:].sum() == 0
