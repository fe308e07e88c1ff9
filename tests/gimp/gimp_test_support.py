"""Helpers shared by the GIMP plug-in tests (a module of its own: `conftest` names clash across test
folders)."""
from pathlib import Path

# Inversion cut to a few steps: these tests are about the plug-in, not inversion quality, and every
# step counts on a shared 2-core machine.
SHORT_INVERSION = {"w_steps": 2, "w_plus_steps": 2, "w_avg_samples": 50}


def start_engine(model_file: Path, folder: Path):
    """A real engine (the server behind `latentdrag serve`) on an ephemeral loopback port, in this
    process so that inversion can be shortened; call `.stop()` when done."""
    from engine.service.config import ServiceConfig
    from engine.service.server import EngineServer
    config = ServiceConfig(listen="127.0.0.1:0", device="cpu", model_path=model_file,
                           lock_path=folder / "engine.lock", inversion_overrides=SHORT_INVERSION)
    return EngineServer(config).start()
