"""The GIMP 3 plug-in in real GIMP 3.0 (gimp-console in the Debian trixie chroot made by
scripts/setup-gimp.sh) against a real engine on the host's loopback: `latentdrag serve` itself for the
sample test, the same server started in-process with a shortened inversion for the photo-layer drag.

gimp_driver.py builds the scene inside GIMP (a layer moved inside a larger canvas, a path with one stroke
per drag, a rectangular selection), calls the procedures non-interactively and exports every layer; the
assertions here run on the host.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.client import EngineClient, EngineError
from engine.plugins import gimp_install
from tests.support.engine_server import model_for_tests

REPO = Path(__file__).resolve().parents[2]
CHROOT = Path(os.environ.get("LATENTDRAG_GIMP_CHROOT", REPO / ".cache" / "gimp-chroot"))
DRAG = "python-fu-latentdrag-drag"
SAMPLE = "python-fu-latentdrag-new-sample"
EXPLORE = "python-fu-latentdrag-explore"
LAYER_OFFSETS = (20, 10)
SELECTION_IN_LAYER = (12, 12, 40, 40)  # x, y, width, height
HANDLE_IN_LAYER, TARGET_IN_LAYER = (28.0, 32.0), (37.0, 30.0)

pytestmark = pytest.mark.skipif(
    not (CHROOT / ".latentdrag-gimp-ready").is_file() or os.geteuid() != 0,
    reason="needs root and the GIMP 3 chroot made by scripts/setup-gimp.sh")


def in_image(point):
    return [point[0] + LAYER_OFFSETS[0], point[1] + LAYER_OFFSETS[1]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served_address(tmp_path_factory):
    """`latentdrag serve` itself, as a user starts it, on a free loopback port (for the test that needs no
    inversion, so the engine's default inversion length does not matter)."""
    folder = tmp_path_factory.mktemp("serve")
    address = f"127.0.0.1:{free_port()}"
    log_path = folder / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--model", str(model_for_tests(folder)),
                                   "--listen", address, "--device", "cpu"], cwd=REPO, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        with EngineClient(address, timeout=5) as client:
            while True:
                try:
                    client.health()
                    break
                except EngineError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"latentdrag serve did not come up:\n{log_path.read_text()[-3000:]}")
                    time.sleep(0.5)
        yield address
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def gimp_home():
    """A folder inside the chroot with a fresh GIMP profile holding the installed plug-in."""
    inside = Path("/tmp") / f"latentdrag-gimp-test-{uuid.uuid4().hex[:8]}"
    host = CHROOT / inside.relative_to("/")
    (host / "home").mkdir(parents=True)
    gimp_install.install(host / "profile")
    shutil.copy(Path(__file__).with_name("gimp_driver.py"), host / "driver.py")
    yield host, inside
    if not os.environ.get("LATENTDRAG_KEEP_GIMP_RUNS"):
        shutil.rmtree(host, ignore_errors=True)


def run_gimp(gimp_home, name: str, input_png: bytes, calls: list, paths: dict, selection=None) -> dict:
    """Run the driver in gimp-console; return its report with layer PNGs loaded as RGBA arrays."""
    host, inside = gimp_home
    out_host, out_inside = host / name, inside / name
    out_host.mkdir()
    (out_host / "input.png").write_bytes(input_png)
    job = {"input": str(out_inside / "input.png"), "out_dir": str(out_inside), "layer_offsets": LAYER_OFFSETS,
           "paths": paths, "selection": selection, "calls": calls}
    (out_host / "job.json").write_text(json.dumps(job))
    command = ["chroot", str(CHROOT), "env", "-i", f"HOME={inside / 'home'}", "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
               f"GIMP3_DIRECTORY={inside / 'profile'}", f"LATENTDRAG_GIMP_JOB={out_inside / 'job.json'}",
               "gimp-console-3.0", "-i", "--batch-interpreter=python-fu-eval",
               "-b", f"exec(open('{inside / 'driver.py'}').read())", "--quit"]
    gimp = subprocess.run(command, capture_output=True, text=True, timeout=600)
    report_file = out_host / "report.json"
    assert report_file.is_file(), f"GIMP exited {gimp.returncode} without a report:\n{gimp.stdout}\n{gimp.stderr}"
    report = json.loads(report_file.read_text())
    for layer in report["layers"]:
        layer["rgba"] = np.asarray(Image.open(host / Path(layer["png"]).relative_to(inside)).convert("RGBA"))
    return report


@pytest.fixture(scope="module")
def sample_png(engine_address) -> bytes:
    """An image the model can represent: one of its own samples, as a user would have made it."""
    with EngineClient(engine_address) as client:
        return client.create_session_from_seed(11, psi=0.7).image.data


def noise_png() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    encoded = io.BytesIO()
    Image.fromarray(pixels).save(encoded, format="PNG")
    return encoded.getvalue()


def selection_mask(shape) -> np.ndarray:
    x, y, w, h = SELECTION_IN_LAYER
    mask = np.zeros(shape[:2], dtype=bool)
    mask[y:y + h, x:x + w] = True
    return mask


def test_drag_adds_a_layer_above_the_source_that_changes_only_inside_the_selection(
        engine_address, gimp_home, sample_png):
    x, y, w, h = SELECTION_IN_LAYER
    drag = {"procedure": DRAG, "properties": {"engine-address": engine_address, "max-steps": 30}}
    report = run_gimp(
        gimp_home, "drag", sample_png,
        # Then save as XCF, reopen and drag the result again: it resumes from the latent stored on it.
        calls=[drag, dict(drag, layer_index=0, reload_xcf=True)],
        paths={"Drag points": [[in_image(HANDLE_IN_LAYER), in_image((32, 36)), in_image(TARGET_IN_LAYER)]]},
        selection=[x + LAYER_OFFSETS[0], y + LAYER_OFFSETS[1], w, h])

    assert [run["status"] for run in report["runs"]] == ["SUCCESS", "SUCCESS"], report["runs"]
    second, first, source = report["layers"]
    assert source["name"] == "source"
    assert first["name"] == "source · Latent Drag (1 point)" == report["runs"][0]["result_layer"]
    assert second["name"].endswith("· Latent Drag (1 point)")
    original = np.asarray(Image.open(io.BytesIO(sample_png)).convert("RGBA"))
    assert np.array_equal(source["rgba"], original), "the source layer must stay untouched"
    inside = selection_mask(original.shape)
    for result in (first, second):
        assert result["offsets"] == list(LAYER_OFFSETS) and result["size"] == [64, 64]
        assert result["parasite_bytes"] > 0, "the latent must be stored on the result"
        assert np.array_equal(result["rgba"][~inside], original[~inside]), "pixels outside the selection moved"
    change = np.abs(first["rgba"][..., :3].astype(int) - original[..., :3].astype(int))[inside]
    assert change.mean() > 1.0 and change.max() > 40, f"the drag barely changed the selection: {change.mean():.2f}"
    assert not np.array_equal(second["rgba"], first["rgba"]), "the second drag changed nothing"

    with EngineClient(engine_address) as client:
        image_sessions = [s for s in client.list_sessions() if s.kind == "image"]
    assert len(image_sessions) == 1, "the second drag must resume the stored latent, not invert again"
    assert len(image_sessions[0].revisions) == 3  # inversion, drag, drag


def test_new_sample_is_the_engines_render_and_can_be_dragged_directly(served_address, gimp_home):
    report = run_gimp(
        gimp_home, "sample", noise_png(),
        calls=[{"procedure": SAMPLE, "properties": {"engine-address": served_address, "seed": 5,
                                                     "truncation-psi": 0.6}},
               {"procedure": DRAG, "layer_index": 0, "properties": {"engine-address": served_address,
                                                                    "max-steps": 20, "path": "Sample points"}}],
        paths={"Sample points": [[[30, 30], [36, 27]]]})

    assert [run["status"] for run in report["runs"]] == ["SUCCESS", "SUCCESS"], report["runs"]
    dragged, sample, source = report["layers"]
    with EngineClient(served_address) as client:
        render = client.create_session_from_seed(5, psi=0.6, result_format="raw").image
    expected = np.frombuffer(render.data, np.uint8).reshape(render.height, render.width, 4)
    assert sample["name"].startswith("Latent Drag sample · seed 5") and sample["offsets"] == [0, 0]
    assert np.array_equal(sample["rgba"], expected)
    assert sample["parasite_bytes"] > 0 and dragged["parasite_bytes"] > 0
    assert not np.array_equal(dragged["rgba"], sample["rgba"])
    with EngineClient(served_address) as client:
        assert not [s for s in client.list_sessions() if s.kind == "image" and len(s.revisions) == 1], \
            "dragging a sample must reuse its seed session, not invert it"


def test_explore_adds_layers_above_a_sample_from_its_latent_and_leaves_it_untouched(engine_address, gimp_home):
    engine = {"engine-address": engine_address}
    report = run_gimp(
        gimp_home, "explore", noise_png(),
        calls=[{"procedure": SAMPLE, "properties": dict(engine, seed=5)},
               {"procedure": SAMPLE, "layer_index": 0, "properties": dict(engine, seed=6)},
               {"procedure": EXPLORE, "layer_index": 1,
                "properties": dict(engine, operation="direction", direction=2, strength=2.0)},
               {"procedure": EXPLORE, "layer_index": 2,
                "properties": {**engine, "operation": "interpolate", "other-layer": 0, "frames": 3}},
               {"procedure": EXPLORE, "layer_index": 0, "may_fail": True,
                "properties": dict(engine, operation="interpolate")}],
        paths={})

    *runs, missing_other = report["runs"]
    assert [run["status"] for run in runs] == ["SUCCESS"] * 4, runs
    assert missing_other["status"] == "CALLING_ERROR" and "other-layer" in missing_other["error"]
    names = [layer["name"] for layer in report["layers"]]
    second, direction, *frames, first, source = report["layers"]  # top first
    assert names[2:5] == ["Latent Explore · t 1.00 to '" + second["name"] + "'",
                          "Latent Explore · t 0.50 to '" + second["name"] + "'",
                          "Latent Explore · t 0.00 to '" + second["name"] + "'"]
    assert direction["name"] == "Latent Explore · direction 2 +2.0σ" == runs[2]["result_layer"]
    assert runs[3]["result_layer"] == names[2]  # the top frame
    with EngineClient(engine_address) as client:
        render = client.create_session_from_seed(5, psi=0.7, result_format="raw").image
    expected = np.frombuffer(render.data, np.uint8).reshape(render.height, render.width, 4)
    assert np.array_equal(first["rgba"], expected), "the explored layer must stay untouched"
    for layer in [direction, *frames]:
        assert layer["parasite_bytes"] > 0 and layer["size"] == first["size"] and layer["offsets"] == [0, 0]
    assert not np.array_equal(direction["rgba"], first["rgba"])
    t1, t_half, t0 = frames
    assert np.array_equal(t0["rgba"], first["rgba"]) and np.array_equal(t1["rgba"], second["rgba"])
    assert not np.array_equal(t_half["rgba"], first["rgba"]) and not np.array_equal(t_half["rgba"], second["rgba"])


def test_failures_return_error_statuses_and_add_no_layer(gimp_home):
    dead = f"127.0.0.1:{free_port()}"
    report = run_gimp(
        gimp_home, "failures", noise_png(),
        calls=[{"procedure": DRAG, "may_fail": True, "properties": {"engine-address": dead, "path": "Drag points"}},
               {"procedure": DRAG, "may_fail": True, "properties": {"engine-address": dead, "path": "One anchor"}},
               {"procedure": DRAG, "may_fail": True, "properties": {"engine-address": dead, "path": "Outside"}}],
        paths={"Drag points": [[in_image(HANDLE_IN_LAYER), in_image(TARGET_IN_LAYER)]],
               "One anchor": [[in_image(HANDLE_IN_LAYER)]],
               "Outside": [[in_image(HANDLE_IN_LAYER), in_image((70, 30))]]})

    dead_engine, one_anchor, outside = report["runs"]
    assert dead_engine["status"] == "EXECUTION_ERROR", dead_engine
    assert f"no engine answers at {dead}" in dead_engine["error"] and "latentdrag serve" in dead_engine["error"]
    assert one_anchor["status"] == "CALLING_ERROR"
    assert 'stroke 1 of path "One anchor" has only one anchor' in one_anchor["error"]
    assert outside["status"] == "CALLING_ERROR" and "outside the layer" in outside["error"]
    assert [layer["name"] for layer in report["layers"]] == ["source"]
