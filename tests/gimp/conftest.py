"""Shared fixtures of the GIMP plug-in tests.

The plug-in's pure helpers live next to the plug-in file (they are installed with it), not in the
`engine` package: they are made importable the way the plug-in itself imports them.
"""
import sys
from pathlib import Path

import pytest
import torch

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "gimp_plugin" / "latentdrag_gimp"
if str(PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGIN_DIR))


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """A 64 px generator with small channels and fixed random weights, as a native model file."""
    from engine.models import Generator, StyleGAN2Config
    from engine.models.native import save_native
    cfg = StyleGAN2Config(img_resolution=64, channels={4: 32, 8: 32, 16: 16, 32: 16, 64: 8}, z_dim=32, w_dim=32,
                          mapping_layers=2)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        G = Generator(cfg).eval()
    path = tmp_path_factory.mktemp("model") / "tiny64.safetensors"
    save_native(path, G, name="tiny64", description="random weights for the GIMP plug-in tests")
    return path
