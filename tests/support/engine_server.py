"""A real engine (the service's EngineServer, as `latentdrag serve` runs it) on a free loopback port, in the
test process, for tests that drive an editor against it. Tests can shorten the inversion so that a
photo-layer drag fits the suite's time budget on a 2-core CPU."""
from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
def model_for_tests(folder: Path) -> Path:
    """A small deterministic model with the bundled model's code paths (64 px StyleGAN2, same file
    format), written into `folder`.

    Editor tests assert that a drag of a few steps changes pixels inside the selection and none outside.
    The bundled model is a snapshot of a training run that is still in progress, and its current
    snapshot barely changes pixels in a few drag steps (docs/drag.md), so these tests pin a model whose
    behaviour does not move with each new snapshot. The bundled model itself is served by the CLI,
    service and demo tests.
    """
    import torch

    from engine.models import Generator, StyleGAN2Config
    from engine.models.native import save_native
    config = StyleGAN2Config(img_resolution=64, channels={4: 32, 8: 32, 16: 16, 32: 16, 64: 8}, z_dim=32,
                             w_dim=32, mapping_layers=2)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        generator = Generator(config).eval()
    path = folder / "tiny64.safetensors"
    save_native(path, generator, name="tiny64", description="random weights for editor tests")
    return path


@contextlib.contextmanager
def running_engine(model_file: Path, work_dir: Path, inversion_overrides: dict | None = None,
                   token: str | None = None) -> Iterator[str]:
    """Serve `model_file` on 127.0.0.1 (free port) on the CPU; yields the address, stops afterwards.
    With `token`, clients must send it as a bearer token."""
    from engine.service.config import ServiceConfig
    from engine.service.server import EngineServer
    config = ServiceConfig(listen="127.0.0.1:0", device="cpu", model_path=model_file,
                           inversion_overrides=dict(inversion_overrides or {}), lock_path=work_dir / "engine.lock",
                           directions_cache_dir=work_dir / "directions", token=token)
    server = EngineServer(config).start()
    try:
        yield server.address
    finally:
        server.stop(grace=1)
