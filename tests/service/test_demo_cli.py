"""The main job of scripts/run.sh: `latentdrag serve` with no model argument serves the bundled model,
and `latentdrag demo` drags a sample through it and writes the pictures."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from engine.cli import main
from engine.client import EngineClient
from engine.models.loading import DEFAULT_MODEL_PATH, read_model_info
from tests.support.engine_server import REPO, free_port


def test_serve_runs_the_bundled_model_and_demo_writes_its_pictures(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    server = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--listen", address, "--device", "cpu"],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        started = time.monotonic()
        assert main(["demo", "--engine", address, "--steps", "6", "--wait", "120", "-o", str(tmp_path / "out")]) == 0
        with EngineClient(address) as client:
            default = next(m for m in client.list_models() if m.is_default)
            sessions = client.list_sessions()
        assert time.monotonic() - started < 300
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr.decode()[-2000:]

    bundled = read_model_info(DEFAULT_MODEL_PATH)
    assert default.resolution == bundled.config.img_resolution == 64
    assert default.has_discriminator
    assert len(sessions) == 1 and sessions[0].revision == 2  # the sample, then the committed drag
    out = tmp_path / "out"
    before, after = Image.open(out / "demo-before.png"), Image.open(out / "demo-after.png")
    assert before.size == after.size == (384, 384)
    side = Image.open(out / "demo.png")
    assert side.size == (2 * 384 + 8, 384)
    gif = Image.open(out / "demo-drag.gif")
    assert gif.n_frames >= 1 + 6 // 2  # the start, a preview every 2 steps, the result
