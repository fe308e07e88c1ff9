"""Batch driver run inside real GIMP 3 (gimp-console, python-fu-eval) by test_gimp_integration.py.

Reads a JSON job (path in LATENTDRAG_GIMP_JOB), builds the scene the way a user would — loads a PNG, moves
the layer inside a larger canvas, draws one path stroke per drag, selects a rectangle — then calls a
latentdrag procedure non-interactively and records what happened in a JSON report plus one PNG per layer.
GIMP's batch exit code ignores a procedure's error status, so the status goes into the report and the
test checks it. Runs with GIMP's own Python: standard library and GIMP only.
"""
import json
import os
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402

RGBA_FORMAT = "R'G'B'A u8"


def save_layer_png(layer, path):
    """Export one layer on its own (GIMP saves whole images, so copy it into a fresh one)."""
    image = Gimp.Image.new(layer.get_width(), layer.get_height(), Gimp.ImageBaseType.RGB)
    copy = Gimp.Layer.new_from_drawable(layer, image)
    image.insert_layer(copy, None, 0)
    copy.set_offsets(0, 0)
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(path), None)
    image.delete()


def build_scene(job):
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(job["input"]))
    source = image.get_layers()[0]
    source.set_name("source")
    if not source.has_alpha():
        source.add_alpha()
    offset_x, offset_y = job["layer_offsets"]
    if offset_x or offset_y:
        image.resize(source.get_width() + offset_x + 7, source.get_height() + offset_y + 5, offset_x, offset_y)
    for path_name, strokes in job.get("paths", {}).items():
        path = Gimp.Path.new(image, path_name)
        image.insert_path(path, None, 0)
        for stroke in strokes:  # image coordinates, a list of anchors
            points = []
            for x, y in stroke:
                points += [x, y] * 3
            path.stroke_new_from_points(Gimp.PathStrokeType.BEZIER, points, False)
    if job.get("selection"):
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *job["selection"])
    return image


def run_procedure(name, image, drawables, properties, run_mode="NONINTERACTIVE"):
    procedure = Gimp.get_pdb().lookup_procedure(name)
    if procedure is None:
        return {"status": "NOT_REGISTERED", "error": f"procedure {name} does not exist"}
    config = procedure.create_config()
    config.set_property("run-mode", getattr(Gimp.RunMode, run_mode))
    config.set_property("image", image)
    config.set_core_object_array("drawables", drawables)
    for key, value in properties.items():
        config.set_property(key, value)
    values = procedure.run(config)
    status = values.index(0)
    report = {"status": status.value_nick.upper().replace("-", "_")}
    if status != Gimp.PDBStatusType.SUCCESS:
        report["error"] = Gimp.get_pdb().get_last_error()
    else:
        layer = values.index(1)
        report["result_layer"] = layer.get_name() if layer is not None else None
    return report


def describe_layers(image, out_dir):
    layers = []
    for position, layer in enumerate(image.get_layers()):
        _, offset_x, offset_y = layer.get_offsets()
        png = os.path.join(out_dir, f"layer{position}.png")
        save_layer_png(layer, png)
        parasite = layer.get_parasite("latentdrag-latent")
        layers.append({"name": layer.get_name(), "offsets": [offset_x, offset_y], "png": png,
                       "size": [layer.get_width(), layer.get_height()],
                       "parasite_bytes": len(parasite.get_data()) if parasite is not None else 0})
    return layers


def main():
    with open(os.environ["LATENTDRAG_GIMP_JOB"]) as handle:
        job = json.load(handle)
    image = build_scene(job)
    runs = []
    for call in job["calls"]:
        if call.get("reload_xcf"):  # what a user gets after saving and reopening the document
            xcf = Gio.File.new_for_path(os.path.join(job["out_dir"], "saved.xcf"))
            Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, xcf, None)
            image.delete()
            image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, xcf)
        if call.get("no_image"):  # run as from the menu with no image open
            runs.append(run_procedure(call["procedure"], None, [], dict(call["properties"]),
                                      call.get("run_mode", "NONINTERACTIVE")))
            continue
        drawables = [image.get_layers()[call.get("layer_index", 0)]]
        properties = dict(call["properties"])
        if "path" in properties:
            properties["path"] = image.get_path_by_name(properties["path"])
        if "other-layer" in properties:  # given as a layer index, top first
            properties["other-layer"] = image.get_layers()[properties["other-layer"]]
        runs.append(run_procedure(call["procedure"], image, drawables, properties,
                                  call.get("run_mode", "NONINTERACTIVE")))
        if runs[-1]["status"] != "SUCCESS" and not call.get("may_fail"):
            break
    time.sleep(job.get("linger_s", 0))  # a GUI test looking at GIMP's windows before it quits
    report = {"runs": runs, "layers": describe_layers(image, job["out_dir"]),
              "undo_enabled": image.undo_is_enabled()}
    with open(os.path.join(job["out_dir"], "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    image.delete()


main()
