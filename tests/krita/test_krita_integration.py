"""The plugin in real Krita 5 (under Xvfb) against a real `latentdrag serve`.

One Krita session runs all scenarios of `harness/scenarios.py` (a fresh Krita profile takes ~40 s to start
on a 2-core machine, so it starts once); each test below checks one part of what it recorded.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import sys
import zlib
from pathlib import Path

import pytest

from krita_runner import krita_missing, run_scenarios
from tests.support.engine_server import REPO, free_port, model_for_tests, running_engine

pytestmark = pytest.mark.skipif(krita_missing() is not None, reason=str(krita_missing()))

WIDTH, HEIGHT = 112, 96  # the source PNG: not square, so crop/composite mapping is exercised
SELECTION = (24, 16, 56, 52)  # x, y, w, h
LINES = [((44.0, 40.0), (50.0, 42.0)), ((60.0, 50.0), (57.0, 56.0))]
SAMPLE_LINES = [((80.0, 50.0), (86.0, 48.0))]  # inside the sample placed at (40, 12), 96 px
MAX_STEPS = 8
FEW_INVERSION_STEPS = {"w_steps": 4, "w_plus_steps": 4}  # the plugin's path, not the inversion's quality


def write_png(path: Path, width: int, height: int, rgba: bytes) -> None:
    """A minimal RGBA PNG writer (keeps this test independent of Pillow)."""
    rows = b"".join(b"\x00" + rgba[y * width * 4:(y + 1) * width * 4] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def source_pixels() -> bytes:
    """A smooth, fully opaque picture with some structure the inversion can fit."""
    pixels = bytearray()
    for y in range(HEIGHT):
        for x in range(WIDTH):
            inside = (x - 52) ** 2 + (y - 46) ** 2 < 24 ** 2
            pixels += bytes(((x * 2) % 256, (y * 2 + 40) % 256, 200 if inside else 60, 255))
    return bytes(pixels)


@pytest.fixture(scope="module")
def krita_session(tmp_path_factory):
    root = tmp_path_factory.mktemp("krita")
    source_png = root / "source.png"
    write_png(source_png, WIDTH, HEIGHT, source_pixels())
    model = model_for_tests(root)
    # "Start engine" runs `latentdrag serve` (as `python -m engine serve` of this checkout) on a spare port.
    start_command = (f"env PYTHONPATH={REPO} {sys.executable} -m engine serve --model {model} "
                     "--listen {address} --device cpu")
    with running_engine(model, root, inversion_overrides=FEW_INVERSION_STEPS) as address:
        config = {"source_png": str(source_png), "address": address, "dead_address": "127.0.0.1:9",
                  "spare_address": f"127.0.0.1:{free_port()}", "engine_command": start_command,
                  "lines": LINES, "sample_lines": SAMPLE_LINES, "selection": SELECTION, "max_steps": MAX_STEPS,
                  "job_timeout": 180,
                  "scenarios": ["drag", "sample_and_reuse", "explore", "u16", "cancel", "finish", "start_engine",
                                "no_engine"]}
        try:
            code, results, log = run_scenarios(root / "session", config, timeout=540)
        finally:
            stop_started_engine(root / "session" / "out" / "results.json")
    assert code == 0 and results.get("docker_found"), f"Krita exited {code}; log tail:\n{log}"
    return results, root / "session" / "out"


def stop_started_engine(results_path: Path) -> None:
    """The engine that "Start engine" launched is detached from Krita: stop it here."""
    if not results_path.exists():
        return
    pid = json.loads(results_path.read_text()).get("start_engine", {}).get("engine_pid")
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def scenario(krita_session, name: str) -> dict:
    results, _ = krita_session
    record = results.get(name, {})
    assert "exception" not in record, record["exception"]
    return record


def read_rgba(out: Path, name: str) -> bytes:
    data = (out / name).read_bytes()
    assert len(data) == WIDTH * HEIGHT * 4
    return data


def test_lines_on_the_vector_layer_are_read_back_in_pixels(krita_session):
    drag = scenario(krita_session, "drag")
    assert drag["points_layer"][:2] == ["Drag points", "vectorlayer"]
    read = [coordinate for pair in drag["pairs_read"] for point in pair for coordinate in point]
    drawn = [coordinate for pair in LINES for point in pair for coordinate in point]
    assert read == pytest.approx(drawn, abs=0.01)


def test_drag_adds_a_layer_above_the_source_that_changes_only_inside_the_selection(krita_session):
    drag = scenario(krita_session, "drag")
    _, out = krita_session
    assert drag["finished"] and drag["error"] == "", drag
    assert drag["connection"].startswith("Connected")
    assert drag["names_before"] == ["Background", "Drag points"]
    # The result sits directly above the source; the drag-points layer is kept; the preview layer is gone.
    assert drag["names_after"] == ["Background", "Latent Drag 1 · 2 points", "Drag points"]
    before = read_rgba(out, "drag_source_before.rgba")
    assert read_rgba(out, "drag_source_after.rgba") == before, "the source layer was modified"
    changed_inside, changed_outside = changes_inside_and_outside(before, read_rgba(out, "drag_result.rgba"))
    assert changed_outside == 0
    assert changed_inside > 0.05 * SELECTION[2] * SELECTION[3]


def changes_inside_and_outside(before: bytes, after: bytes) -> tuple[int, int]:
    x0, y0, w, h = SELECTION
    inside = outside = 0
    for y in range(HEIGHT):
        for x in range(WIDTH):
            offset = 4 * (y * WIDTH + x)
            if after[offset:offset + 4] != before[offset:offset + 4]:
                if x0 <= x < x0 + w and y0 <= y < y0 + h:
                    inside += 1
                else:
                    outside += 1
    return inside, outside


def test_16_bit_layers_are_converted_both_ways(krita_session):
    u16 = scenario(krita_session, "u16")
    _, out = krita_session
    assert u16["source_depth"] == u16["result_depth"] == "U16"
    assert u16["finished"] and u16["error"] == "", u16
    assert u16["names_after"] == ["Background", "Latent Drag 1 · 2 points", "Drag points"]
    # Krita widens 8-bit values exactly (v * 257); reading them back through the plugin gives the PNG's bytes.
    source = read_rgba(out, "u16_source.rgba")
    assert source == source_pixels()
    inside, outside = changes_inside_and_outside(source, read_rgba(out, "u16_result.rgba"))
    assert outside == 0 and inside > 0


def test_progress_preview_and_status_while_dragging(krita_session):
    drag = scenario(krita_session, "drag")
    stages = [step[0] for step in drag["progress"]]
    assert stages[-1] == "dragging" and drag["progress"][-1][2] == MAX_STEPS
    assert drag["previews_seen"] > 0
    assert drag["status"].startswith("Latent Drag 1 · 2 points:") and "inverted the layer" in drag["status"]


def test_one_undo_removes_the_result_and_keeps_everything_else(krita_session):
    drag = scenario(krita_session, "drag")
    assert drag["names_after_undo"] == ["Background", "Drag points"]
    # The temporary preview layer left no step behind: undoing further never brings it back.
    assert "Latent Drag preview" not in drag["names_after_second_undo"]


def test_docker_screenshots_are_saved(krita_session):
    """docker.png (after the drag) is the picture in docs/krita-docker.png, docker_explore.png (Explore tab,
    previewing) the one in docs/krita-explore.png; docker_running.png is mid-drag, window.png the whole Krita
    window."""
    _, out = krita_session
    for name in ("docker.png", "docker_explore.png", "docker_running.png", "window.png"):
        png = (out / name).read_bytes()
        assert png.startswith(b"\x89PNG")
        width, height = struct.unpack(">II", png[16:24])
        assert width > 150 and height > 300


def test_new_sample_stores_its_latent_and_later_drags_reuse_it_after_reopening(krita_session):
    sample = scenario(krita_session, "sample")
    assert sample["sample_finished"] and sample["sample_error"] == ""
    assert sample["sample_layer"] == ["Latent sample 1 · seed 7, ψ 0.7", [40, 12, 96, 96]]
    assert "latentdrag-latents" in sample["annotations"]
    assert sample["finished"] and sample["error"] == "", sample
    assert "reused the stored latent" in sample["status"]
    assert sample["names_after"] == ["Background", "Latent sample 1 · seed 7, ψ 0.7", "Latent Drag 1 · 1 point",
                                     "Drag points"]
    assert sample["result_bounds"] == [40, 12, 96, 96]  # placed over the sample, not at the canvas origin
    assert sample["saved"]
    assert sample["stored_after_reopen"] == 2
    assert sample["result_latent_found_after_reopen"]


EXPLORE_CANVAS = (160, 120)  # the explore scenario's document


def read_canvas(out: Path, name: str) -> bytes:
    data = (out / name).read_bytes()
    assert len(data) == EXPLORE_CANVAS[0] * EXPLORE_CANVAS[1] * 4
    return data


def test_explore_previews_live_and_applies_a_new_layer_above_the_untouched_source(krita_session):
    explore = scenario(krita_session, "explore")
    _, out = krita_session
    assert explore["opened"] and explore["open_error"] == "", explore
    assert explore["active"].startswith("Latent sample") and explore["other"].startswith("Latent sample")
    assert "from its stored latent" in explore["status"]  # a sample needs no inversion
    assert explore["direction_labels"] == [f"Direction {n}  +0.0σ" for n in range(1, 6)]
    assert explore["psi_label"] == "ψ 0.70"  # the slider starts at the sample's own ψ
    assert explore["previews_before_moving"] == 0  # opening renders nothing: the canvas shows the layer
    assert explore["first_preview"]
    assert "Latent Drag preview" in explore["names_previewing"]
    before = read_canvas(out, "explore_source_before.rgba")
    preview = read_canvas(out, "explore_preview.rgba")
    assert preview != before
    # Debounced, latest wins: a slider dragged through 22 positions renders a few previews, not 22.
    assert 1 <= explore["burst_previews"] <= explore["burst_moves"] // 2, explore
    assert explore["labels_after"] == ["Direction 1  +0.0σ", "Direction 2  +1.5σ"]
    assert explore["applied"] and explore["apply_error"] == ""
    before_apply = explore["names_before"]
    source_at = before_apply.index(explore["active"])
    assert explore["names_after_apply"] == (before_apply[:source_at + 1] + ["Latent Explore · direction 2 +1.5σ"]
                                            + before_apply[source_at + 1:])
    assert explore["result_latent_stored"]
    assert read_canvas(out, "explore_source_after.rgba") == before, "the source layer was modified"
    result = read_canvas(out, "explore_result.rgba")
    assert result != before
    # The applied layer shows what the preview showed (slider 1 went back to 0, slider 2 stayed at +1.5σ).
    assert result == preview
    assert explore["names_after_undo"] == before_apply
    assert explore["frames_error"] == "" and explore["frames_group"] == [
        f"Latent Explore · 3 frames to '{explore['other']}'",
        ["Frame 1 · t 0.00", "Frame 2 · t 0.50", "Frame 3 · t 1.00"]]
    assert "Latent Drag preview" not in explore["names_after_close"]


def test_finish_keeps_the_drag_where_it_stopped_as_the_result_layer(krita_session):
    finish = scenario(krita_session, "finish")
    assert finish["finished"] and finish["pressed_at"] and finish["button_enabled"], finish
    assert finish["error"] == "" and "finished early" in finish["status"], finish
    steps = int(finish["status"].split(": ", 1)[1].split(" steps", 1)[0])
    assert finish["pressed_at"][0] <= steps < 2000
    assert finish["names_after"] == ["Background", "Latent Drag 1 · 2 points", "Drag points"]
    assert not finish["button_enabled_after"]


def test_cancel_stops_the_drag_and_leaves_the_document_as_it_was(krita_session):
    cancel = scenario(krita_session, "cancel")
    assert cancel["finished"] and cancel["pressed_at"] and cancel["button_enabled"], cancel
    assert cancel["error"] == "Cancelled; the layer is unchanged."
    assert cancel["progress"][-1][1] < 2000
    assert cancel["names_after"] == cancel["names_before"] == ["Background", "Drag points"]


def test_start_engine_runs_the_configured_command_and_connects(krita_session):
    started = scenario(krita_session, "start_engine")
    assert started["engine_pid"] > 0
    assert started["connected"], started
    assert started["connection"].startswith("Connected: engine")
    assert started["models_listed"] == 2  # "Engine default" + the one model it serves


def test_without_an_engine_the_docker_shows_the_serve_command_and_adds_no_layer(krita_session):
    dead = scenario(krita_session, "no_engine")
    hint = "latentdrag serve --listen 127.0.0.1:9"
    assert hint in dead["connection"]
    assert dead["finished"]
    assert hint in dead["error"] and dead["docker_error"] == dead["error"]
    assert dead["names_after"] == dead["names_before"] == ["Background", "Drag points"]
