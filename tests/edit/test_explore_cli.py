"""`latentdrag directions` / `latentdrag explore …` end to end on a small model file: the pictures
show what the library computes, and user mistakes become one-line errors."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli import CliError
from engine.cli import explore_cmd
from engine.edit import latent_ops as lo
from engine.edit.latent_files import load_latent
from engine.models.native import save_native

# tests/edit is on sys.path in pytest's default "prepend" import mode.
from test_latent_ops import tiny_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: 1 thread is faster


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    G = tiny_generator(seed=1)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_native(path, G, name="tiny")
    return G, path


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    explore_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def seed_latent(G, seed: int, psi: float) -> torch.Tensor:
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim)).float()
    return G.mapping(z, None, truncation_psi=psi)


def pixels(G, ws: torch.Tensor) -> np.ndarray:
    image = G.synthesize(ws).image
    return ((image[0] + 1) * 127.5).clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def read(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_directions_grid_has_the_start_image_in_its_middle_column(model, tmp_path):
    G, path = model
    out, cache = tmp_path / "grid.png", tmp_path / "cache"
    assert run("directions", "--model", str(path), "-o", str(out), "--k", "3", "--steps", "5", "--start", "4",
               "--n-samples", "500", "--cache-dir", str(cache)) == 0
    grid = read(out)
    label, header, res = explore_cmd._LABEL_WIDTH, explore_cmd._HEADER_HEIGHT, G.img_resolution
    assert grid.shape == (header + 3 * res, label + 5 * res, 3)
    start = pixels(G, seed_latent(G, 4, 0.7))
    cells = [[grid[header + r * res: header + (r + 1) * res, label + c * res: label + (c + 1) * res]
              for c in range(5)] for r in range(3)]
    for row in cells:
        assert np.array_equal(row[2], start)          # α = 0
        assert not np.array_equal(row[0], row[4])     # -3σ and +3σ differ
    assert len(list(cache.glob("*.safetensors"))) == 1


def test_mix_writes_the_mixed_image_and_its_latent(model, tmp_path):
    G, path = model
    out, latent = tmp_path / "mix.png", tmp_path / "mix.npy"
    run("explore", "mix", "seed:1", "2", "--rows", "coarse", "--model", str(path), "-o", str(out),
        "--save-latent", str(latent))
    expected = lo.style_mix(seed_latent(G, 1, 0.7), seed_latent(G, 2, 0.7), "coarse")
    assert torch.allclose(load_latent(latent, G.num_ws, G.w_dim), expected)
    assert np.array_equal(read(out), pixels(G, expected))


def test_interpolation_gif_loops_between_the_two_ends(model, tmp_path):
    G, path = model
    gif, strip = tmp_path / "walk.gif", tmp_path / "walk.png"
    run("explore", "interpolate", "5", "6", "--frames", "4", "--space", "w", "--model", str(path),
        "--gif", str(gif), "-o", str(strip))
    with Image.open(gif) as animation:
        assert animation.n_frames == 6  # 4 forward, 2 back
    assert read(strip).shape == (G.img_resolution, 4 * G.img_resolution, 3)
    first = read(strip)[:, :G.img_resolution]
    assert np.array_equal(first, pixels(G, seed_latent(G, 5, 0.7)))


def test_saved_direction_moves_a_onto_b(model, tmp_path):
    G, path = model
    direction, out = tmp_path / "a_to_b.safetensors", tmp_path / "moved.png"
    run("explore", "save-direction", "7", "8", "--model", str(path), "-o", str(direction), "--name", "x")
    run("explore", "direction", "7", "--direction", str(direction), "--alpha", "1", "--model", str(path),
        "-o", str(out))
    # Equal up to float rounding of a + (b − a); at most one grey level apart.
    difference = np.abs(read(out).astype(int) - pixels(G, seed_latent(G, 8, 0.7)).astype(int))
    assert difference.max() <= 1


def test_principal_direction_on_fine_rows_keeps_coarse_rows(model, tmp_path):
    G, path = model
    latent = tmp_path / "pc.safetensors"
    run("explore", "direction", "9", "--pc", "1", "--alpha", "2", "--rows", "fine", "--model", str(path),
        "-o", str(tmp_path / "pc.png"), "--save-latent", str(latent), "--n-samples", "500",
        "--cache-dir", str(tmp_path / "cache"))
    moved, start = load_latent(latent, G.num_ws, G.w_dim), seed_latent(G, 9, 0.7)
    assert torch.equal(moved[:, :8], start[:, :8]) and not torch.equal(moved[:, 8:], start[:, 8:])


def test_truncate_a_seed_equals_mapping_it_with_the_new_psi(model, tmp_path):
    G, path = model
    out = tmp_path / "t.png"
    run("explore", "truncate", "3", "--psi", "0.7", "--to-psi", "0.3", "--model", str(path), "-o", str(out))
    difference = np.abs(read(out).astype(int) - pixels(G, seed_latent(G, 3, 0.3)).astype(int))
    assert difference.max() <= 1


def test_user_mistakes_are_one_line_errors(model, tmp_path):
    G, path = model
    out = str(tmp_path / "x.png")
    with pytest.raises(CliError, match="'nope.npy' is neither a seed nor an existing file"):
        run("explore", "mix", "1", "nope.npy", "--rows", "fine", "--model", str(path), "-o", out)
    with pytest.raises(CliError, match="model file not found"):
        run("explore", "truncate", "1", "--to-psi", "0.5", "--model", str(tmp_path / "missing"), "-o", out)
    with pytest.raises(CliError, match="--k 40: the model has only 32 directions"):
        run("directions", "--model", str(path), "-o", out, "--k", "40", "--n-samples", "100",
            "--cache-dir", str(tmp_path))
    mixed = tmp_path / "mixed.npy"
    run("explore", "mix", "1", "2", "--rows", "coarse", "--model", str(path), "-o", out, "--save-latent",
        str(mixed))
    with pytest.raises(CliError, match="ws_a is a W\\+ latent"):
        run("explore", "interpolate", str(mixed), "2", "--space", "w", "--model", str(path), "-o", out)
