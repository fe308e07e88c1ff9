"""The GIMP 3 plug-in in real GIMP 3.0 (gimp-console in the Debian trixie chroot made by
scripts/setup-gimp.sh) against a real engine on the host's loopback: `latentdrag serve` itself for the
sample test, the same server started in-process with a shortened inversion for the photo-layer drag.

gimp_driver.py builds the scene inside GIMP (a layer moved inside a larger canvas, a path with one stroke
per drag, a rectangular selection), calls the procedures and exports every layer; the assertions here
run on the host. Most calls are non-interactive in gimp-console; the drag window's Finish and Cancel are
tested in GUI run modes in the full GIMP on an Xvfb display inside the chroot, with xdotool as the user.
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


def in_chroot(*command: str, display: int | None = None) -> list[str]:
    """A command line that runs `command` in the chroot with a clean environment."""
    return ["chroot", str(CHROOT), "env", "-i", "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
            *([f"DISPLAY=:{display}"] if display is not None else []), *command]


def run_gimp(gimp_home, name: str, input_png: bytes, calls: list, paths: dict, selection=None,
             display: int | None = None, while_running=None, linger_s: float = 0) -> dict:
    """Run the driver in GIMP — gimp-console, or with `display` the full GIMP on that X display, where
    `while_running()` then plays the user at the plug-in's windows — and return its report with layer PNGs
    loaded as RGBA arrays."""
    host, inside = gimp_home
    out_host, out_inside = host / name, inside / name
    out_host.mkdir()
    (out_host / "input.png").write_bytes(input_png)
    job = {"input": str(out_inside / "input.png"), "out_dir": str(out_inside), "layer_offsets": LAYER_OFFSETS,
           "paths": paths, "selection": selection, "calls": calls, "linger_s": linger_s}
    (out_host / "job.json").write_text(json.dumps(job))
    gimp = ["gimp-console-3.0", "-i"] if display is None else ["gimp-3.0", "--no-splash"]
    command = in_chroot(f"HOME={inside / 'home'}", f"GIMP3_DIRECTORY={inside / 'profile'}",
                        f"LATENTDRAG_GIMP_JOB={out_inside / 'job.json'}", *gimp, "--batch-interpreter=python-fu-eval",
                        "-b", f"exec(open('{inside / 'driver.py'}').read())", "--quit", display=display)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            if while_running is not None:
                while_running()
            output, _ = process.communicate(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
    report_file = out_host / "report.json"
    assert report_file.is_file(), f"GIMP exited {process.returncode} without a report:\n{output}"
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


# The drag window of GUI runs (Cancel / Finish), in the full GIMP on a virtual X display in the chroot.

# Corner to corner, 73 px: the drag is still running when the test presses Finish a moment after it starts.
FAR_HANDLE_IN_LAYER, FAR_TARGET_IN_LAYER = (6.0, 6.0), (58.0, 58.0)
WINDOW_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def gimp_display():
    """An Xvfb inside the chroot. Its display number must be free on the whole machine: X servers also
    listen on abstract sockets, which the chroot shares with the host and with other chroots, and a
    client connects there first."""
    listening = set(Path("/proc/net/unix").read_text().split())
    for number in range(91, 140):
        if (any(Path(root, f"tmp/.X{number}-lock").exists() for root in ("/", CHROOT))
                or f"@/tmp/.X11-unix/X{number}" in listening):
            continue
        server = subprocess.Popen(in_chroot("Xvfb", f":{number}", "-ac", "-nolisten", "tcp", "-screen", "0",
                                            "1024x768x24"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while server.poll() is None and time.monotonic() < deadline:
            if subprocess.run(in_chroot("xdotool", "getdisplaygeometry", display=number),
                              capture_output=True).returncode == 0:
                try:
                    yield number
                finally:
                    server.terminate()
                    server.wait(timeout=10)
                return
            time.sleep(0.2)
        server.kill()
        server.wait()
    pytest.fail("no X display number was free for Xvfb")


def xdotool(display: int, *args: str) -> str:
    return subprocess.run(in_chroot("xdotool", *args, display=display), capture_output=True, text=True).stdout


class GimpUser:
    """Plays the user at the plug-in's windows in the full GIMP: finds them by title, takes their
    picture, presses keys in them (GTK mnemonics, so no pixel coordinates are needed)."""

    def __init__(self, display: int, gimp_home, address: str):
        self.display, self.host, self.inside = display, *gimp_home
        self.address = address
        self.deadline = time.monotonic() + WINDOW_TIMEOUT_S
        with EngineClient(address) as client:
            self.known_sessions = {s.name for s in client.list_sessions()}
        shutil.copy(Path(__file__).with_name("screenshot.py"), self.host / "screenshot.py")

    def window(self, title: str, other_than: str = "") -> str:
        while True:
            found = [w for w in xdotool(self.display, "search", "--name", f"^{title}$").split() if w != other_than]
            if found:
                return found[0]
            assert time.monotonic() < self.deadline, f"no window {title!r} appeared"
            time.sleep(0.2)

    def press(self, window: str, key: str) -> None:
        xdotool(self.display, "windowfocus", "--sync", window)
        xdotool(self.display, "key", "--clearmodifiers", key)

    def picture(self, window: str, name: str) -> Path:
        """The window as shown, saved in the GIMP test folder (what docs/gimp-*.png are copied from)."""
        subprocess.run(in_chroot("python3", str(self.inside / "screenshot.py"), window, str(self.inside / name),
                                 display=self.display), check=True, capture_output=True)
        return self.host / name

    def wait_for_drag(self) -> None:
        """Until the drag itself runs: an image session this run made is busy."""
        with EngineClient(self.address) as client:
            while not any(s.busy and s.kind == "image" and s.name not in self.known_sessions
                          for s in client.list_sessions()):
                assert time.monotonic() < self.deadline, "the drag never started"
                time.sleep(0.2)

    def press_until_closed(self, window: str, key: str) -> None:
        """Presses while Finish is still disabled do nothing, as for a user: press until the window goes."""
        while window in xdotool(self.display, "search", "--name", "^Latent Drag$").split():
            assert time.monotonic() < self.deadline, "the drag window did not close"
            self.press(window, key)
            time.sleep(0.5)

    def sessions_made(self) -> list:
        with EngineClient(self.address) as client:
            return [s for s in client.list_sessions() if s.kind == "image" and s.name not in self.known_sessions]


def long_drag(gimp_home, name, user: GimpUser, run_mode: str, sample_png, act) -> dict:
    """A long drag started in a GUI run mode, with `act()` playing the user while it runs."""
    return run_gimp(
        gimp_home, name, sample_png,
        calls=[{"procedure": DRAG, "run_mode": run_mode, "may_fail": True,
                "properties": {"engine-address": user.address, "max-steps": 2000}}],
        paths={"Drag points": [[in_image(FAR_HANDLE_IN_LAYER), in_image(FAR_TARGET_IN_LAYER)]]},
        display=user.display, while_running=act)


def test_interactive_drag_settings_then_finish_in_the_drag_window_keeps_the_drag_as_a_new_layer(
        engine_address, gimp_home, gimp_display, sample_png):
    user = GimpUser(gimp_display, gimp_home, engine_address)
    pictures = []

    def act():
        settings = user.window("Latent Drag")  # the settings dialog comes first (Filters → Generative → Latent Drag…)
        pictures.append(user.picture(settings, "settings-dialog.png"))
        user.press(settings, "Return")  # OK
        user.wait_for_drag()
        drag_window = user.window("Latent Drag", other_than=settings)
        time.sleep(0.3)  # the first steps' progress
        pictures.append(user.picture(drag_window, "drag-window.png"))
        user.press_until_closed(drag_window, "alt+f")  # _Finish

    report = long_drag(gimp_home, "finish", user, "INTERACTIVE", sample_png, act)

    (run,) = report["runs"]
    assert run["status"] == "SUCCESS", run
    result, source = report["layers"]
    assert result["name"] == "source · Latent Drag (1 point)" == run["result_layer"]
    original = np.asarray(Image.open(io.BytesIO(sample_png)).convert("RGBA"))
    assert np.array_equal(source["rgba"], original), "the source layer must stay untouched"
    assert result["parasite_bytes"] > 0 and not np.array_equal(result["rgba"], original)
    (session,) = user.sessions_made()
    description = session.revisions[-1].description
    assert description.startswith("drag 1 point (draggan, ") and description.endswith(" steps, finished early)")
    steps = int(description.split(", ")[1].split()[0])
    assert 1 <= steps < 2000 and session.revision == 2 and not session.busy
    settings_picture, window_picture = (np.asarray(Image.open(picture).convert("RGB")) for picture in pictures)
    assert settings_picture.shape[0] > 200 and settings_picture.shape[1] > 300, settings_picture.shape
    # The drag window shows the drag's preview (256 px) above its text: a face, not a flat placeholder.
    assert window_picture.shape[0] > 256 + 60, window_picture.shape
    middle = window_picture.shape[1] // 2
    preview_area = window_picture[20:256, middle - 100:middle + 100].astype(float)
    assert preview_area.std() > 20, preview_area.std()


def test_repeated_drag_cancel_in_the_drag_window_discards_the_drag_and_adds_no_layer(
        engine_address, gimp_home, gimp_display, sample_png):
    user = GimpUser(gimp_display, gimp_home, engine_address)

    def act():  # Filters → Repeat: no settings dialog, straight to the drag window
        user.wait_for_drag()
        user.press_until_closed(user.window("Latent Drag"), "alt+c")  # _Cancel

    report = long_drag(gimp_home, "cancel", user, "WITH_LAST_VALS", sample_png, act)

    (run,) = report["runs"]
    assert run["status"] == "CANCEL", run  # no error message: the user asked for it
    assert [layer["name"] for layer in report["layers"]] == ["source"]
    (session,) = user.sessions_made()
    assert session.revision == 1 and session.revisions[-1].description.startswith("inverted")
    assert not session.busy


def test_interactive_explore_previews_the_arguments_live_and_new_sample_opens_its_dialog(
        engine_address, gimp_home, gimp_display, sample_png):
    """Every argument in a procedure's dialog list must have a widget GIMP can build (3.0.4 cannot build
    one for a path, which is why the drag's path is left out). Explore's dialog previews the edit, and
    the preview follows a changed argument: Strength typed in before OK."""
    user = GimpUser(gimp_display, gimp_home, engine_address)
    pictures = []

    def act():
        explore = user.window("Latent Drag: Explore")
        time.sleep(3)  # the preview's inversion of the layer (no stored latent) and first render
        pictures.append(user.picture(explore, "explore-dialog.png"))
        # Nothing has the focus at first; Tab goes down the fields in EXPLORE_DIALOG_FIELDS' order.
        xdotool(user.display, "windowfocus", "--sync", explore)
        xdotool(user.display, "key", "--clearmodifiers", *["Tab"] * 5)  # Engine address … Strength
        xdotool(user.display, "key", "--clearmodifiers", "ctrl+a")
        xdotool(user.display, "type", "2.5")
        xdotool(user.display, "key", "--clearmodifiers", "Tab")
        time.sleep(2)
        pictures.append(user.picture(explore, "explore-dialog-changed.png"))
        user.press(explore, "alt+o")  # _OK
        user.press(user.window("Latent Drag: New sample"), "Return")

    report = run_gimp(gimp_home, "dialogs", sample_png,
                      calls=[{"procedure": EXPLORE, "run_mode": "INTERACTIVE", "may_fail": True,
                              "properties": {"engine-address": engine_address}},
                             {"procedure": SAMPLE, "run_mode": "INTERACTIVE", "may_fail": True,
                              "properties": {"engine-address": engine_address, "seed": 5}}],
                      paths={}, display=user.display, while_running=act)

    assert [run["status"] for run in report["runs"]] == ["SUCCESS", "SUCCESS"], report["runs"]
    assert [layer["name"] for layer in report["layers"]] == [
        "Latent Drag sample · seed 5, psi 0.7", "Latent Explore · direction 1 +2.5σ", "source"]
    before, after = (np.asarray(Image.open(picture).convert("RGB")).astype(float) for picture in pictures)
    assert before.shape == after.shape and before.shape[1] > before.shape[0], "the preview sits beside the fields"
    height, width = before.shape[:2]
    preview_before, preview_after = (p[: height // 2, int(width * 0.62):] for p in (before, after))
    assert preview_before.std() > 20, "no preview picture in the dialog"
    assert np.abs(preview_after - preview_before).mean() > 2, "the preview did not follow the new strength"


def test_new_sample_repeated_with_no_image_open_opens_its_new_image_in_a_window(
        engine_address, gimp_home, gimp_display, sample_png):
    """Filters → Repeat (WITH_LAST_VALS) of New sample with no image open makes a new image: the user
    must see it, as after the menu's dialog (a script, NONINTERACTIVE, gets the image without a window)."""
    windows = []

    def act():  # GIMP names an image window after its image: "[Untitled]-2.0 (RGB color …) 64x64 – GIMP"
        deadline = time.monotonic() + 30
        while not windows and time.monotonic() < deadline:
            windows.extend(xdotool(gimp_display, "search", "--name", "Untitled").split())
            time.sleep(0.2)

    report = run_gimp(gimp_home, "sample-window", sample_png,
                      calls=[{"procedure": SAMPLE, "no_image": True, "run_mode": "WITH_LAST_VALS",
                              "properties": {"engine-address": engine_address, "seed": 3}}],
                      paths={}, display=gimp_display, while_running=act, linger_s=3)

    (run,) = report["runs"]
    # The seed is the last one used in this profile (an earlier test's, when they run together): Repeat.
    assert run["status"] == "SUCCESS" and run["result_layer"].startswith("Latent Drag sample · seed "), run
    assert windows, "the new image was made but never shown"
