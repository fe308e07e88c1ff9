"""Clients other than the dev venv's: Debian-era grpcio 1.51 / protobuf 4.21 (the Python inside Krita and
GIMP) through engine.client, and Node.js through only the .proto file."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OLD_PYTHON = REPO / ".cache/client-grpc-1.51/bin/python"


def setup(what: str) -> None:
    run = subprocess.run(["bash", "scripts/setup-client-compat.sh", what], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, f"scripts/setup-client-compat.sh {what} failed:\n{run.stderr[-3000:]}"


@pytest.mark.timeout(900)
def test_debian_era_grpc_client_drives_a_drag(engine):
    setup("python")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([str(OLD_PYTHON), str(Path(__file__).with_name("old_client_drive.py")), engine.address],
                         cwd="/", env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["grpc"], summary["protobuf"]) == ("1.51.1", "4.21.12")
    assert summary["heavy_modules"] == []
    assert summary["serving"] and summary["models"] == ["models/tiny"]
    assert summary["revision"] == 2 and 1 <= summary["steps"] <= 6 and summary["progress"] >= 1
    assert summary["same_after_resume"] and summary["missing"] == "NOT_FOUND"


@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None, reason="Node.js is not installed")
def test_node_client_health_models_and_drag_stream(engine):
    setup("node")
    run = subprocess.run(["node", "tests/node/drive_engine.js", engine.address, "protos"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["health"] == "SERVING"
    assert summary["models"] == ["models/tiny"] and summary["defaultModel"] == "models/tiny"
    assert summary["revision"] == 2 and summary["steps"] == summary["lastStep"] >= 1
    assert summary["progress"] >= 1 and summary["previews"] >= 1
    assert summary["imageMime"] == "image/png" and summary["pngSignature"] == "89504e47"
    assert summary["badMethod"]["code"] == "INVALID_ARGUMENT" and summary["badMethod"]["details"].startswith("method")
