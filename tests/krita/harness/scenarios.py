"""Runs inside real Krita (started by test_krita_integration.py through the harness plugin).

Drives the installed Latent Drag plugin the way a user does — docker fields and buttons, a vector layer
with lines, a selection — and records what happened in `results.json` plus raw RGBA dumps of the layers,
which the pytest side asserts on. Configuration comes from the JSON file in LATENTDRAG_HARNESS_CONFIG.
"""
import json
import os
import time
import traceback
from pathlib import Path

from krita import Krita, Selection
from PyQt5.QtCore import QEventLoop
from PyQt5.QtWidgets import QApplication

CONFIG = json.loads(Path(os.environ["LATENTDRAG_HARNESS_CONFIG"]).read_text())
OUT = Path(CONFIG["out_dir"])
results: dict = {}


def save_results() -> None:
    (OUT / "results.json").write_text(json.dumps(results, indent=1))


def pump(seconds: float = 0.2) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QApplication.processEvents(QEventLoop.AllEvents, 20)
        time.sleep(0.005)


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        QApplication.processEvents(QEventLoop.AllEvents, 20)
        time.sleep(0.01)
    return True


def names(doc) -> list:
    """Layer names bottom to top (the global selection shows up as a mask node: not a layer)."""
    return [node.name() for node in doc.rootNode().childNodes() if node.type() != "selectionmask"]


def dump(doc, node, filename: str) -> None:
    """The node's pixels over the whole canvas as RGBA U8 (via the plugin's own converter)."""
    from latentdrag_krita.pixels import check_format, layer_to_rgba8
    fmt = check_format(node.colorModel(), node.colorDepth())
    data = bytes(node.pixelData(0, 0, doc.width(), doc.height()))
    (OUT / filename).write_bytes(layer_to_rgba8(data, doc.width(), doc.height(), fmt))


def the_docker():
    from latentdrag_krita.docker import DOCKER_ID
    docker = next(d for d in Krita.instance().dockers() if d.objectName() == DOCKER_ID)
    docker.show()
    docker.raise_()
    return docker


def open_document(path: str):
    app = Krita.instance()
    doc = app.openDocument(path)
    doc.setBatchmode(True)
    show(doc)
    return doc


def show(doc) -> None:
    """Make `doc` the window's current view: Document.setActiveNode only acts on the current view."""
    app = Krita.instance()
    window = app.activeWindow()
    window.showView(window.addView(doc))
    app.setActiveDocument(doc)
    window.qwindow().activateWindow()  # no window manager under Xvfb: nothing is active otherwise
    pump(0.5)
    results.setdefault("active_window", []).append(str(QApplication.activeWindow()))


def points_layer(doc):
    """The newest "Drag points" vector layer (typed wrapper, from childNodes())."""
    return [n for n in doc.rootNode().childNodes() if n.type() == "vectorlayer" and n.name() == "Drag points"][-1]


def add_lines(doc, points_layer, lines) -> None:
    paths = "".join(f'<path id="pair{i}" d="M {hx} {hy} L {tx} {ty}" fill="none" stroke="#ff0000" '
                    f'stroke-width="1"/>' for i, ((hx, hy), (tx, ty)) in enumerate(lines, start=1))
    points_layer.addShapesFromSvg(f'<svg xmlns="http://www.w3.org/2000/svg" width="{doc.width()}" '
                                  f'height="{doc.height()}">{paths}</svg>')
    pump(0.3)


def select(doc, box) -> None:
    selection = Selection()
    selection.select(*box, 255)
    doc.setSelection(selection)
    pump(0.2)


def connect(docker, address: str) -> None:
    docker.address.setText(address)
    docker.connect_button.click()
    expected = "Connected" if address == CONFIG.get("address") else "No engine"
    wait_for(lambda: docker.connection.text().startswith(expected), 20)


def run_and_wait(docker, controller, record: dict) -> None:
    seen_preview = []
    progress_steps = []

    def on_progress(progress) -> None:
        progress_steps.append([progress.stage, progress.step, progress.total, progress.distance])
        from latentdrag_krita.naming import PREVIEW_LAYER
        if PREVIEW_LAYER in names(Krita.instance().activeDocument()):
            seen_preview.append(progress.step)
        running_shot = OUT / "docker_running.png"
        if progress.stage == "dragging" and progress.step == CONFIG["max_steps"] // 2 and not running_shot.exists():
            docker.grab().save(str(running_shot))

    controller.progress.connect(on_progress)
    started = time.monotonic()
    docker.run_button.click()
    record["finished"] = wait_for(lambda: not controller.busy, CONFIG["job_timeout"])
    pump(0.3)
    controller.progress.disconnect(on_progress)
    record.update(seconds=time.monotonic() - started, error=controller.last_error, docker_error=docker.error.text(),
                  status=docker.status.text(), previews_seen=len(seen_preview),
                  progress=progress_steps[-3:], progress_count=len(progress_steps))


def scenario_drag(docker, controller) -> None:
    """Photo layer + lines + selection → a result layer above the source; undo removes it again."""
    record = results.setdefault("drag", {})
    doc = open_document(CONFIG["source_png"])
    source = doc.topLevelNodes()[0]
    doc.setActiveNode(source)
    pump(0.2)
    dump(doc, source, "drag_source_before.rgba")
    docker.points_button.click()
    pump(0.3)
    points = points_layer(doc)
    record["points_layer"] = [points.name(), points.type(), doc.activeNode().name()]
    add_lines(doc, points, CONFIG["lines"])
    from latentdrag_krita import krita_document
    record["pairs_read"] = [[list(p.handle), list(p.target)] for p in krita_document.read_pairs(doc, points)]
    select(doc, CONFIG["selection"])
    record["mask_box"] = list(krita_document.read_mask(doc, (0, 0, doc.width(), doc.height())).box)
    connect(docker, CONFIG["address"])
    record["connection"] = docker.connection.text()
    record["models_listed"] = docker.model.count()
    docker.steps.setValue(CONFIG["max_steps"])
    controller.update_settings(preview_every=2)
    record["names_before"] = names(doc)
    run_and_wait(docker, controller, record)
    record["names_after"] = names(doc)
    result = next((n for n in doc.rootNode().childNodes() if n.name().startswith("Latent Drag ")), None)
    if result is not None:
        dump(doc, result, "drag_result.rgba")
    dump(doc, source, "drag_source_after.rgba")
    docker.grab().save(str(OUT / "docker.png"))
    Krita.instance().activeWindow().qwindow().grab().save(str(OUT / "window.png"))
    save_results()
    Krita.instance().action("edit_undo").trigger()
    pump(0.5)
    record["names_after_undo"] = names(doc)
    Krita.instance().action("edit_undo").trigger()
    pump(0.5)
    record["names_after_second_undo"] = names(doc)
    doc.setModified(False)
    doc.close()
    pump(0.3)


def reopen(doc, path: str):
    """Save, close and open again: what a Krita restart does to the document."""
    saved = doc.saveAs(path)
    doc.close()
    pump(0.3)
    return saved, open_document(path)


def scenario_sample_and_reuse(docker, controller) -> None:
    """New sample → its latent is stored in the document; after a save and reopen, a drag on it reuses the
    latent (no inversion), and the result's own latent survives another save and reopen."""
    record = results.setdefault("sample", {})
    app = Krita.instance()
    doc = app.createDocument(160, 120, "sample", "RGBA", "U8", "", 72.0)
    show(doc)
    connect(docker, CONFIG["address"])
    docker.seed.setValue(7)
    docker.size.setValue(96)
    docker.position_x.setValue(40)
    docker.position_y.setValue(12)
    docker.steps.setValue(CONFIG["max_steps"])
    docker.sample_button.click()
    record["sample_finished"] = wait_for(lambda: not controller.busy, CONFIG["job_timeout"])
    pump(0.3)
    record["sample_error"] = controller.last_error
    sample = next((n for n in doc.rootNode().childNodes() if n.name().startswith("Latent sample")), None)
    record["sample_layer"] = [sample.name(), [sample.bounds().x(), sample.bounds().y(), sample.bounds().width(),
                                              sample.bounds().height()]] if sample else None
    record["annotations"] = list(doc.annotationTypes())
    if sample is None:
        return
    record["saved"], doc = reopen(doc, str(OUT / "sample.kra"))
    # Krita activates the top layer of a reopened document: the sample.
    record["active_after_reopen"] = doc.activeNode().name()
    docker.points_button.click()
    pump(0.3)
    add_lines(doc, points_layer(doc), CONFIG["sample_lines"])
    run_and_wait(docker, controller, record)
    record["names_after"] = names(doc)
    result = next((n for n in doc.rootNode().childNodes() if n.name().startswith("Latent Drag ")), None)
    if result is not None:
        bounds = result.bounds()
        record["result_bounds"] = [bounds.x(), bounds.y(), bounds.width(), bounds.height()]
    record["saved_again"], doc = reopen(doc, str(OUT / "sample-dragged.kra"))
    from latentdrag_krita import krita_document
    store = krita_document.load_latents(doc)
    result = next((n for n in doc.rootNode().childNodes() if n.name().startswith("Latent Drag ")), None)
    record["stored_after_reopen"] = len(store.records)
    if result is not None:
        source = krita_document.read_source(doc, result)
        record["result_latent_found_after_reopen"] = store.lookup(source.layer_id, source.fingerprint) is not None
    doc.setModified(False)
    doc.close()
    pump(0.3)


def add_sample(docker, controller, seed: int) -> None:
    docker.seed.setValue(seed)
    docker.size.setValue(96)
    docker.position_x.setValue(40)
    docker.position_y.setValue(12)
    docker.sample_button.click()
    wait_for(lambda: not controller.busy, CONFIG["job_timeout"])
    pump(0.3)


def scenario_explore(docker, controller) -> None:
    """Explore tab on a sample: slider previews land in the preview layer (a burst of moves renders far
    fewer previews than moves), "Apply as new layer" adds one layer above the source with its latent (one
    undo step), interpolation frames become a group of layers, Close removes the preview."""
    from latentdrag_krita import krita_document
    from latentdrag_krita.docker import explore_controller
    from latentdrag_krita.naming import PREVIEW_LAYER
    record = results.setdefault("explore", {})
    explorer = explore_controller()
    panel = docker.explore
    doc = Krita.instance().createDocument(160, 120, "explore", "RGBA", "U8", "", 72.0)
    show(doc)
    connect(docker, CONFIG["address"])
    add_sample(docker, controller, 7)
    add_sample(docker, controller, 9)
    # Document.setActiveNode does not take on a freshly created document here; a reopened document has an
    # active layer (one of the samples): explore that one (the latents must survive the save, too).
    record["saved"], doc = reopen(doc, str(OUT / "explore.kra"))
    record["active"] = doc.activeNode().name()
    source = next(n for n in doc.rootNode().childNodes() if n.name() == record["active"])
    record["other"] = next(n.name() for n in doc.rootNode().childNodes()
                           if n.name().startswith("Latent sample") and n.name() != record["active"])
    record["names_before"] = names(doc)
    dump(doc, source, "explore_source_before.rgba")
    docker.tabs.setCurrentWidget(panel)
    panel.open_button.click()
    record["opened"] = wait_for(lambda: not controller.busy and explorer.exploration is not None, CONFIG["job_timeout"])
    pump(0.3)
    record.update(open_error=controller.last_error, explored=panel.explored.text(), status=docker.status.text(),
                  direction_labels=[label.text() for label in panel.direction_labels],
                  psi_label=panel.psi_label.text(), toward_choices=[panel.toward.itemText(i)
                                                                     for i in range(panel.toward.count())])
    record["previews_before_moving"] = explorer.previews_shown
    panel.direction_sliders[1].setValue(15)
    record["first_preview"] = wait_for(lambda: explorer.previews_shown >= 1, 30)
    pump(0.3)
    record["names_previewing"] = names(doc)
    preview = next((n for n in doc.rootNode().childNodes() if n.name() == PREVIEW_LAYER), None)
    if preview is not None:
        dump(doc, preview, "explore_preview.rgba")
    shown_before_burst = explorer.previews_shown
    for position in range(-30, 31, 3):  # 21 moves, a slider dragged across its range in ~0.4 s
        panel.direction_sliders[0].setValue(position)
        pump(0.02)
    panel.direction_sliders[0].setValue(0)
    wait_for(lambda: explorer.previews_shown > shown_before_burst, 30)
    pump(1.0)
    record["burst_moves"] = 22
    record["burst_previews"] = explorer.previews_shown - shown_before_burst
    record["labels_after"] = [label.text() for label in panel.direction_labels[:2]]
    docker.grab().save(str(OUT / "docker_explore.png"))
    panel.apply_button.click()
    record["applied"] = wait_for(lambda: not controller.busy, CONFIG["job_timeout"])
    pump(0.5)
    record["apply_error"] = controller.last_error
    record["names_after_apply"] = names(doc)
    result = next((n for n in doc.rootNode().childNodes() if n.name().startswith("Latent Explore")), None)
    if result is not None:
        dump(doc, result, "explore_result.rgba")
        written = krita_document.read_source(doc, result)
        store = krita_document.load_latents(doc)
        record["result_latent_stored"] = store.lookup(written.layer_id, written.fingerprint) is not None
    dump(doc, source, "explore_source_after.rgba")
    Krita.instance().action("edit_undo").trigger()
    pump(0.5)
    record["names_after_undo"] = names(doc)
    index = next(i for i in range(panel.toward.count()) if record["other"] in panel.toward.itemText(i))
    panel.toward.setCurrentIndex(index)
    panel.frames.setValue(3)
    panel.frames_button.click()
    record["frames_done"] = wait_for(lambda: not controller.busy, CONFIG["job_timeout"])
    pump(0.5)
    record["frames_error"] = controller.last_error
    group = next((n for n in doc.rootNode().childNodes() if n.type() == "grouplayer"), None)
    record["frames_group"] = [group.name(), [n.name() for n in group.childNodes()]] if group else None
    panel.close_button.click()
    pump(0.5)
    record["names_after_close"] = names(doc)
    doc.setModified(False)
    doc.close()
    pump(0.3)


def scenario_u16(docker, controller) -> None:
    """A 16-bit integer document: pixels are converted for the engine and the result written back in U16."""
    record = results.setdefault("u16", {})
    doc = open_document(CONFIG["source_png"])
    doc.setColorSpace("RGBA", "U16", doc.colorProfile())
    pump(0.5)
    source = doc.topLevelNodes()[0]
    record["source_depth"] = source.colorDepth()
    dump(doc, source, "u16_source.rgba")
    docker.points_button.click()
    pump(0.3)
    add_lines(doc, points_layer(doc), CONFIG["lines"])
    select(doc, CONFIG["selection"])
    connect(docker, CONFIG["address"])
    docker.steps.setValue(CONFIG["max_steps"])
    run_and_wait(docker, controller, record)
    record["names_after"] = names(doc)
    result = next((n for n in doc.rootNode().childNodes() if n.name().startswith("Latent Drag ")), None)
    if result is not None:
        record["result_depth"] = result.colorDepth()
        dump(doc, result, "u16_result.rgba")
    doc.setModified(False)
    doc.close()
    pump(0.3)


def press_during_long_drag(docker, controller, record: dict, button) -> None:
    """A 2,000-step drag on a fresh document; `button` is clicked at its second step. Records when it
    was pressed (`pressed_at`), whether it was enabled then and after, and the layers before and after."""
    doc = open_document(CONFIG["source_png"])
    docker.points_button.click()
    pump(0.3)
    add_lines(doc, points_layer(doc), CONFIG["lines"])
    connect(docker, CONFIG["address"])
    docker.steps.setValue(2000)
    pressed_at = []

    def press_while_dragging(progress) -> None:
        if progress.stage == "dragging" and progress.step >= 2 and not pressed_at:
            pressed_at.append(progress.step)
            record["button_enabled"] = button.isEnabled()
            button.click()

    controller.progress.connect(press_while_dragging)
    record["names_before"] = names(doc)
    run_and_wait(docker, controller, record)
    controller.progress.disconnect(press_while_dragging)
    record.update(pressed_at=pressed_at, names_after=names(doc), button_enabled_after=button.isEnabled())
    docker.steps.setValue(CONFIG["max_steps"])
    doc.setModified(False)
    doc.close()
    pump(0.3)


def scenario_cancel(docker, controller) -> None:
    """Cancel while dragging: the job stops, the preview layer goes, no result layer is added."""
    press_during_long_drag(docker, controller, results.setdefault("cancel", {}), docker.cancel_button)


def scenario_finish(docker, controller) -> None:
    """Finish while dragging: the drag stops early and what it reached becomes the result layer."""
    press_during_long_drag(docker, controller, results.setdefault("finish", {}), docker.finish_button)


def scenario_start_engine(docker, controller) -> None:
    """"Start engine" runs the configured command and the docker connects once the engine answers."""
    record = results.setdefault("start_engine", {})
    docker.address.setText(CONFIG["spare_address"])
    docker.engine_command.setText(CONFIG["engine_command"])
    docker.start_button.click()
    record["engine_pid"] = controller.engine_pid
    save_results()  # the pytest side stops this process even if the wait below fails
    record["connected"] = wait_for(lambda: controller.connected, CONFIG["job_timeout"])
    record["connection"] = docker.connection.text()
    record["models_listed"] = docker.model.count()


def scenario_no_engine(docker, controller) -> None:
    """Nothing listens: the docker shows the serve hint and no layer is added."""
    record = results.setdefault("no_engine", {})
    doc = open_document(CONFIG["source_png"])
    doc.setActiveNode(doc.topLevelNodes()[0])
    pump(0.2)
    docker.points_button.click()
    pump(0.3)
    add_lines(doc, points_layer(doc), CONFIG["lines"])
    connect(docker, CONFIG["dead_address"])
    record["connection"] = docker.connection.text()
    record["names_before"] = names(doc)
    run_and_wait(docker, controller, record)
    record["names_after"] = names(doc)
    docker.grab().save(str(OUT / "docker_no_engine.png"))
    doc.setModified(False)
    doc.close()
    pump(0.3)


def main() -> int:
    Krita.instance().setBatchmode(True)
    from latentdrag_krita.docker import controller
    docker = the_docker()
    results["docker_found"] = True
    for name in CONFIG["scenarios"]:
        try:
            globals()[f"scenario_{name}"](docker, controller())
        except Exception:  # noqa: BLE001 - recorded for the pytest side, which fails with the traceback
            results.setdefault(name, {})["exception"] = traceback.format_exc()
        save_results()
    return 0
