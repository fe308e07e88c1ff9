#!/usr/bin/env python3
"""latentdrag for GIMP 3: Filters → Generative → Latent Drag…, Latent Drag: New sample and Latent Drag:
Explore….

The only module that touches GIMP. It reads the layer, the drag path and the selection, hands them to the
pure helpers in `latentdrag_gimp_lib` (which talk to the engine through the bundled client in a worker
thread) and writes the result as a new layer with the latent attached as a parasite. The engine itself
(torch, models) runs outside GIMP: `latentdrag serve`.
"""
import os
import queue
import sys
import threading
import time

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Gtk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf, Gegl, Gimp, GimpUi, GLib, GObject, Gtk  # noqa: E402

PLUGIN_DIR = os.path.dirname(os.path.realpath(__file__))
# Installed copies bundle the client under vendor/; a symlinked install runs from the source checkout,
# whose root holds the `engine` package.
_VENDOR_DIR = os.path.join(PLUGIN_DIR, "vendor")
_CHECKOUT_DIR = os.path.dirname(os.path.dirname(PLUGIN_DIR))
_CLIENT_ROOT = _VENDOR_DIR if os.path.isdir(_VENDOR_DIR) else _CHECKOUT_DIR
sys.path[:0] = [path for path in (PLUGIN_DIR, _CLIENT_ROOT) if path not in sys.path]

from latentdrag_gimp_lib import latent_parasite  # noqa: E402
from latentdrag_gimp_lib.points import DragPointsError, pairs_from_strokes  # noqa: E402
from latentdrag_gimp_lib.selection import (MASK_FORMAT, SelectionError, layer_region,  # noqa: E402
                                           points_outside_region, selection_box_in_layer)

DRAG_PROCEDURE = "python-fu-latentdrag-drag"
SAMPLE_PROCEDURE = "python-fu-latentdrag-new-sample"
EXPLORE_PROCEDURE = "python-fu-latentdrag-explore"
EXPLORE_DIALOG_FIELDS = ["engine-address", "model", "operation", "direction", "strength", "rows", "truncation-psi",
                         "mix-seed", "other-layer", "t", "frames", "inversion-preset"]
MENU_PATH = "<Image>/Filters/Generative"
DEFAULT_PATH_NAME = "Drag points"
DEFAULT_ADDRESS = "127.0.0.1:50051"
RGBA_FORMAT = "R'G'B'A u8"  # exact round trip of 8-bit values, also on linear-precision images
PROGRESS_POLL_SECONDS = 0.1
WINDOW_POLL_SECONDS = 0.02  # with a drag window open: keep its buttons and redraws responsive
FINISH_RESPONSE = 1
PREVIEW_EVERY = 10  # drag steps between the preview frames the drag window shows
PREVIEW_SIZE = 256  # px: the drag window's preview (model-resolution frames scaled to it)
GUI_RUN_MODES = (Gimp.RunMode.INTERACTIVE, Gimp.RunMode.WITH_LAST_VALS)


class PluginError(Exception):
    """A failure to report to the user; `status` says whether the caller or the run is at fault."""

    def __init__(self, message, status=Gimp.PDBStatusType.EXECUTION_ERROR):
        super().__init__(message)
        self.status = status


def calling_error(message):
    return PluginError(message, Gimp.PDBStatusType.CALLING_ERROR)


def import_client():
    """The engine client and the job helpers built on it, imported only when a procedure runs, so a
    missing grpcio is a readable error in GIMP rather than a plug-in that silently fails to register."""
    try:
        from latentdrag_gimp_lib import jobs
        import engine.client as client_module
    except ImportError as exc:
        raise PluginError(
            f"the latentdrag client cannot be imported in GIMP's Python ({exc}). GIMP's Python needs grpcio "
            "and protobuf: on Debian/Ubuntu `apt install python3-grpcio python3-protobuf`, elsewhere "
            "reinstall with `latentdrag install-plugin gimp --vendor-grpc`.") from None
    return client_module, jobs


def choice(*options):
    """A Gimp.Choice from (nick, label) pairs; ids follow the order."""
    result = Gimp.Choice.new()
    for index, (nick, label) in enumerate(options):
        result.add(nick, index, label, "")
    return result


def add_engine_arguments(procedure):
    procedure.add_string_argument("engine-address", "Engine address",
                                  "host:port or unix:/path of a running `latentdrag serve`", DEFAULT_ADDRESS,
                                  GObject.ParamFlags.READWRITE)
    procedure.add_string_argument("model", "Model", "models/{id} on the engine; empty = the engine's default",
                                  "", GObject.ParamFlags.READWRITE)


def text_argument(config, name):
    """A string argument; GIMP hands an empty one back as None once it has stored it as a last-used value."""
    return (config.get_property(name) or "").strip()


def preview_pixbuf(encoded):
    """An engine picture (PNG or JPEG bytes, model resolution) scaled up to PREVIEW_SIZE; None when it
    cannot be decoded."""
    loader = GdkPixbuf.PixbufLoader()
    try:
        loader.write(encoded)
        loader.close()
    except GLib.Error:
        return None
    frame = loader.get_pixbuf()
    scale = PREVIEW_SIZE / max(frame.get_width(), frame.get_height())
    return frame.scale_simple(round(frame.get_width() * scale), round(frame.get_height() * scale),
                              GdkPixbuf.InterpType.BILINEAR)


class DragWindow:
    """The drag's own window in GUI runs: a preview of the edited area, what it is doing, a progress
    bar, Cancel (discard the drag) and Finish (stop it where it is and keep that as the new layer).
    GIMP's status-bar progress can only cancel, and a drag is often good enough before its limit: the
    preview is what lets the user see when.

    Lives in the GIMP thread; `run_in_worker` pumps its events while the worker runs."""

    def __init__(self, title):
        GimpUi.init("latentdrag_gimp")
        self.cancel_event = threading.Event()
        self.finish_event = threading.Event()
        self.cancelled = False  # by the user (Cancel or closing the window), not by an error
        self._dialog = GimpUi.Dialog(title=title, role="latentdrag-drag", modal=False)
        GimpUi.window_set_transient(self._dialog)  # above the image window it belongs to
        self._dialog.add_button("_Cancel", Gtk.ResponseType.CANCEL)
        self._finish = self._dialog.add_button("_Finish", FINISH_RESPONSE)
        self._finish.set_tooltip_text("Stop the drag where it is and keep it as the new layer")
        self._finish.set_sensitive(False)
        box = self._dialog.get_content_area()
        box.set_spacing(8)
        box.set_border_width(12)
        self._preview = Gtk.Image()
        self._preview.set_size_request(PREVIEW_SIZE, PREVIEW_SIZE)
        self._preview.set_no_show_all(True)  # shown with the first frame
        self._label = Gtk.Label(label="Connecting to the engine…", xalign=0.0)
        self._label.set_width_chars(48)
        self._bar = Gtk.ProgressBar()
        box.pack_start(self._preview, False, False, 0)
        box.pack_start(self._label, False, False, 0)
        box.pack_start(self._bar, False, False, 0)
        self._dialog.connect("response", self._on_response)
        self._dialog.connect("delete-event", self._on_delete)
        self._dialog.show_all()
        self.pump()

    def show_preview(self, encoded):
        frame = preview_pixbuf(encoded)
        if frame is not None:  # an undecodable frame keeps the previous one; the drag is unaffected
            self._preview.set_from_pixbuf(frame)
            self._preview.show()

    def show(self, text, fraction, finishable):
        if self.cancel_event.is_set() or self.finish_event.is_set():
            return  # keep saying "Cancelling…" / "Finishing…" until the worker ends
        self._label.set_text(text)
        if fraction is None:
            self._bar.pulse()
        else:
            self._bar.set_fraction(min(max(fraction, 0.0), 1.0))
        self._finish.set_sensitive(finishable)

    def pump(self):
        while Gtk.events_pending():
            Gtk.main_iteration_do(False)

    def close(self):
        self._dialog.destroy()
        self.pump()

    def _on_response(self, dialog, response):
        if response == FINISH_RESPONSE:
            self._stopping("Finishing: keeping the drag where it is…")
            self.finish_event.set()
        elif response in (Gtk.ResponseType.CANCEL, Gtk.ResponseType.DELETE_EVENT):
            self._stopping("Cancelling…")
            self.cancelled = True
            self.cancel_event.set()

    def _on_delete(self, dialog, event):
        self._on_response(dialog, Gtk.ResponseType.CANCEL)
        return True  # the window stays until the engine has stopped

    def _stopping(self, text):
        self._label.set_text(text)
        self._finish.set_sensitive(False)
        self._dialog.set_response_sensitive(Gtk.ResponseType.CANCEL, False)


def run_in_worker(title, work, window=None):
    """Run `work(report, cancel_event)` in a thread while this (GIMP) thread drives the progress bar
    and, in GUI runs of a drag, its `DragWindow`.

    libgimp and GTK calls are not thread-safe, so the worker only queues (text, fraction, finishable,
    preview) updates; GIMP calls stay here. The worker's exception, if any, is re-raised here.
    """
    updates = queue.SimpleQueue()
    outcome = {}
    cancel_event = window.cancel_event if window is not None else threading.Event()

    def report(text, fraction, finishable=False, preview=None):
        updates.put((text, fraction, finishable, preview))

    def target():
        try:
            outcome["value"] = work(report, cancel_event)
        except BaseException as exc:  # re-raised in the GIMP thread below
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="latentdrag-gimp-worker", daemon=True)
    Gimp.progress_init(title)
    worker.start()
    determinate = False  # once a fraction is known, the bar stops pulsing until a step without one
    shown_at = time.monotonic()
    try:
        while worker.is_alive():
            worker.join(PROGRESS_POLL_SECONDS if window is None else WINDOW_POLL_SECONDS)
            if window is not None:
                window.pump()
                if time.monotonic() - shown_at < PROGRESS_POLL_SECONDS and worker.is_alive():
                    continue  # the window's buttons at 50 Hz, progress at 10 Hz like without it
            shown_at = time.monotonic()
            latest, frame = None, None
            while not updates.empty():
                latest = updates.get()
                frame = latest[3] if latest[3] is not None else frame  # the newest frame, even from an older update
            if window is not None and frame is not None:
                window.show_preview(frame)
            if latest is not None:
                text, fraction, finishable, _ = latest
                Gimp.progress_set_text(text)
                determinate = fraction is not None
                if determinate:
                    Gimp.progress_update(fraction)
                if window is not None:
                    window.show(text, fraction, finishable)
            if not determinate:
                Gimp.progress_pulse()
    finally:
        cancel_event.set()  # stops the engine job if this thread is interrupted
        Gimp.progress_end()
        if window is not None:
            window.close()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def connect(client_module, address):
    """A client for the engine; LATENTDRAG_TOKEN in GIMP's environment is sent as the bearer token."""
    return client_module.EngineClient(address, token=os.environ.get("LATENTDRAG_TOKEN") or None)


def engine_failure(client_module, exc):
    """Engine errors → PluginError: bad input (INVALID_ARGUMENT) is the caller's, the rest the run's."""
    if isinstance(exc, client_module.EngineError):
        message = f"latentdrag engine: {exc.message}"
        return calling_error(message) if exc.code == "INVALID_ARGUMENT" else PluginError(message)
    return PluginError(f"latentdrag: {exc}")


def read_rgba(drawable):
    width, height = drawable.get_width(), drawable.get_height()
    rect = Gegl.Rectangle.new(0, 0, width, height)
    data = drawable.get_buffer().get(rect, 1.0, RGBA_FORMAT, Gegl.AbyssPolicy.CLAMP)
    return width, height, bytes(data)


def find_drag_path(image, config):
    """The path given as argument, else the selected path, else the one named "Drag points"."""
    path = config.get_property("path")
    if path is None:
        selected = image.get_selected_paths()
        path = selected[0] if selected else image.get_path_by_name(DEFAULT_PATH_NAME)
    if path is None:
        raise calling_error(f'no drag points: select a path (or name one "{DEFAULT_PATH_NAME}") with one stroke '
                            "per drag, first anchor on the point to move, last anchor where it should go")
    return path


def read_pairs(path, drawable, size):
    strokes = [path.stroke_get_points(stroke_id)[1] for stroke_id in path.get_strokes()]
    _, offset_x, offset_y = drawable.get_offsets()
    try:
        return pairs_from_strokes(strokes, path.get_name(), (offset_x, offset_y), size)
    except DragPointsError as exc:
        raise calling_error(str(exc)) from None


def read_region(image, drawable, size):
    """The selection as box + mask in layer coordinates, or None when nothing is selected."""
    if Gimp.Selection.is_empty(image):
        return None
    _, _, x1, y1, x2, y2 = Gimp.Selection.bounds(image)
    _, offset_x, offset_y = drawable.get_offsets()
    width, height = size
    try:
        box = selection_box_in_layer((x1, y1, x2, y2), (offset_x, offset_y), size)
        rect = Gegl.Rectangle.new(offset_x, offset_y, width, height)
        mask = image.get_selection().get_buffer().get(rect, 1.0, MASK_FORMAT, Gegl.AbyssPolicy.NONE)
        return layer_region(bytes(mask), box, size)
    except SelectionError as exc:
        raise calling_error(str(exc)) from None


def read_stored_latent(drawable):
    """The latent parasite of an earlier result, or None (absent or unreadable: then we invert)."""
    parasite = drawable.get_parasite(latent_parasite.PARASITE_NAME)
    if parasite is None:
        return None
    try:
        return latent_parasite.decode(latent_parasite.from_parasite_data(parasite.get_data()))
    except latent_parasite.LatentParasiteError:
        return None


def add_result_layer(image, parent, position, name, pixels, stored, offsets):
    """A new RGBA layer holding `pixels`, with the latent attached; the caller groups the undo steps."""
    layer = Gimp.Layer.new(image, name, pixels.width, pixels.height, Gimp.ImageType.RGBA_IMAGE, 100.0,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, parent, position)
    try:
        layer.set_offsets(*offsets)
        buffer = layer.get_buffer()
        buffer.set(Gegl.Rectangle.new(0, 0, pixels.width, pixels.height), RGBA_FORMAT, pixels.rgba)
        buffer.flush()
        layer.update(0, 0, pixels.width, pixels.height)
        layer.attach_parasite(Gimp.Parasite.new(latent_parasite.PARASITE_NAME, Gimp.PARASITE_PERSISTENT,
                                                latent_parasite.to_parasite_data(latent_parasite.encode(stored))))
    except Exception:
        image.remove_layer(layer)  # a failed run leaves no half-made layer behind
        raise
    return layer


def success(procedure, layer):
    values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
    values.remove(1)
    values.insert(1, GObject.Value(Gimp.Layer, layer))
    return values


def failure(procedure, exc):
    return procedure.new_return_values(exc.status, GLib.Error(str(exc)))


def show_dialog(procedure, config, title, properties):
    GimpUi.init("latentdrag_gimp")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    dialog.fill(properties)
    accepted = dialog.run()
    dialog.destroy()
    return accepted


def drag_layer(procedure, run_mode, image, drawables, config):
    if len(drawables) != 1 or not isinstance(drawables[0], Gimp.Layer):
        raise calling_error("select exactly one layer to drag")
    drawable = drawables[0]
    # Everything the user must fix in the image is checked before the dialog asks for settings.
    client_module, jobs = import_client()
    width, height, rgba = read_rgba(drawable)
    pairs = read_pairs(find_drag_path(image, config), drawable, (width, height))
    region = read_region(image, drawable, (width, height))
    outside = points_outside_region(pairs, region)
    if outside:
        raise calling_error("drag points must lie in the selection (the part that may change): "
                            + "; ".join(outside))
    if run_mode == Gimp.RunMode.INTERACTIVE and not show_dialog(
            procedure, config, "Latent Drag",
            ["engine-address", "model", "method", "inversion-preset", "max-steps"]):
        return None
    settings = jobs.DragSettings(method=config.get_property("method"),
                                 inversion_preset=config.get_property("inversion-preset"),
                                 max_steps=config.get_property("max-steps"), model=text_argument(config, "model"))
    job = jobs.DragJob(layer=jobs.LayerPixels(width, height, rgba), pairs=pairs, region=region,
                       settings=settings, stored=read_stored_latent(drawable))
    address = text_argument(config, "engine-address") or DEFAULT_ADDRESS

    window = DragWindow("Latent Drag") if run_mode in GUI_RUN_MODES else None

    def work(report, cancel_event):
        with connect(client_module, address) as client:
            if window is None:
                return jobs.run_drag_job(client, job, report, cancel_event)
            return jobs.run_drag_job(client, job, report, cancel_event, finish_event=window.finish_event,
                                     preview_every=PREVIEW_EVERY)

    try:
        result = run_in_worker("Latent Drag", work, window)
    except Exception as exc:
        if window is not None and window.cancelled:
            return None  # the user's Cancel: no layer, no error message
        raise engine_failure(client_module, exc) from None
    noun = "point" if len(pairs) == 1 else "points"
    name = f"{drawable.get_name()} · Latent Drag ({len(pairs)} {noun})"
    _, offset_x, offset_y = drawable.get_offsets()
    image.undo_group_start()
    try:
        layer = add_result_layer(image, drawable.get_parent(), image.get_item_position(drawable), name,
                                 result.layer, result.stored, (offset_x, offset_y))
    finally:
        image.undo_group_end()
    Gimp.displays_flush()
    return layer


def new_sample(procedure, run_mode, image, drawables, config):
    if run_mode == Gimp.RunMode.INTERACTIVE and not show_dialog(
            procedure, config, "Latent Drag: New sample", ["engine-address", "model", "seed", "truncation-psi"]):
        return None
    client_module, jobs = import_client()
    seed, psi = config.get_property("seed"), config.get_property("truncation-psi")
    address = text_argument(config, "engine-address") or DEFAULT_ADDRESS
    model = text_argument(config, "model")

    def work(report, cancel_event):
        report(f"Sampling seed {seed}…", None)
        with connect(client_module, address) as client:
            return jobs.run_sample_job(client, seed, psi, model)

    try:
        result = run_in_worker("Latent Drag: New sample", work)
    except Exception as exc:
        raise engine_failure(client_module, exc) from None
    created_image = image is None
    if created_image:
        image = Gimp.Image.new(result.layer.width, result.layer.height, Gimp.ImageBaseType.RGB)
    image.undo_group_start()
    try:
        above = drawables[0] if len(drawables) == 1 and isinstance(drawables[0], Gimp.Layer) else None
        parent, position = (above.get_parent(), image.get_item_position(above)) if above else (None, 0)
        layer = add_result_layer(image, parent, position, f"Latent Drag sample · {result.summary}", result.layer,
                                 result.stored, (0, 0))
    finally:
        image.undo_group_end()
    if created_image and run_mode in GUI_RUN_MODES:  # a new image the user must see (scripts get the layer)
        Gimp.Display.new(image)
    Gimp.displays_flush()
    return layer


def explore_settings(config):
    """The Explore arguments as checked settings (ExploreArgumentError names a bad one)."""
    from latentdrag_gimp_lib.explore import ExploreSettings
    return ExploreSettings(
        operation=config.get_property("operation"), direction=config.get_property("direction"),
        strength=config.get_property("strength"), rows=config.get_property("rows"),
        truncation_psi=config.get_property("truncation-psi"), mix_seed=config.get_property("mix-seed"),
        t=config.get_property("t"), frames=config.get_property("frames"), model=text_argument(config, "model"),
        inversion_preset=config.get_property("inversion-preset"))


def explore_other(config, settings):
    """(the other layer's stored latent, its name) for style mix and interpolation, else (None, "")."""
    from latentdrag_gimp_lib.explore import ExploreArgumentError
    other_layer = config.get_property("other-layer") if settings.operation in ("style-mix", "interpolate") else None
    if other_layer is None:
        return None, ""
    other = read_stored_latent(other_layer)
    if other is None:
        raise ExploreArgumentError(f"other-layer: '{other_layer.get_name()}' carries no latent; use a Latent "
                                   "Drag result or sample (or drag it once)")
    return other, other_layer.get_name()


def show_explore_dialog(procedure, config, client_module, job):
    """The Explore dialog with a live preview of the arguments as they change (`ExplorePreviewer`, a
    worker thread; its pictures come back to this thread through GLib's main loop). Returns
    (accepted, the preview's open session for the run to reuse or None)."""
    from latentdrag_gimp_lib.explore import OPERATION_ARGUMENTS, ExploreArgumentError, ExplorePreviewer
    GimpUi.init("latentdrag_gimp")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "Latent Drag: Explore")
    fields = dialog.fill_box("latentdrag-explore-fields", EXPLORE_DIALOG_FIELDS)
    for argument in {name for names in OPERATION_ARGUMENTS.values() for name in names}:
        operations = Gimp.ValueArray.new(0)
        for operation, arguments in OPERATION_ARGUMENTS.items():
            if argument in arguments:
                operations.append(GObject.Value(GObject.TYPE_STRING, operation))
        dialog.set_sensitive_if_in(argument, config, "operation", operations, True)  # greyed for the others
    dialog.fill(["latentdrag-explore-fields"])
    # The preview beside the fields, not under them: the dialog stays as tall as without it.
    picture = Gtk.Image()
    picture.set_size_request(PREVIEW_SIZE, PREVIEW_SIZE)
    caption = Gtk.Label(label="Preview: connecting to the engine…", xalign=0.5)
    caption.set_line_wrap(True)
    caption.set_max_width_chars(32)
    preview_column = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
    preview_column.pack_start(picture, False, False, 0)
    preview_column.pack_start(caption, False, False, 0)
    content = fields.get_parent()
    content.remove(fields)
    row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=12)
    row.pack_start(fields, True, True, 0)
    row.pack_start(preview_column, False, False, 0)
    content.pack_start(row, True, True, 0)
    content.reorder_child(row, 0)
    row.show_all()
    open_widgets = [True]  # idle callbacks queued before the dialog closed must not touch it

    def apply(png, text):
        if open_widgets[0]:
            frame = preview_pixbuf(png) if png is not None else None
            if frame is not None:
                picture.set_from_pixbuf(frame)
            caption.set_text(text or "Preview")
        return False  # run once

    previewer = ExplorePreviewer(lambda address: connect(client_module, address), job,
                                 lambda png, text: GLib.idle_add(apply, png, text))

    def arguments_changed(*_):
        try:
            settings = explore_settings(config)
            other, _ = explore_other(config, settings)
        except ExploreArgumentError as exc:
            caption.set_text(str(exc))
            return
        previewer.request(text_argument(config, "engine-address") or DEFAULT_ADDRESS, settings, other)

    listening = config.connect("notify", arguments_changed)
    arguments_changed()
    accepted = False
    try:
        accepted = dialog.run()
    finally:
        config.disconnect(listening)  # the config outlives the dialog (GIMP saves it after the run)
        open_widgets[0] = False
        run = None
        if accepted:
            try:
                run = (text_argument(config, "engine-address") or DEFAULT_ADDRESS, explore_settings(config))
            except ExploreArgumentError:
                pass  # refused again, with its message, once the dialog is closed
        opened = previewer.finish(run)
        dialog.destroy()
    return accepted, opened


def explore_layer(procedure, run_mode, image, drawables, config):
    if len(drawables) != 1 or not isinstance(drawables[0], Gimp.Layer):
        raise calling_error("select exactly one layer to explore")
    drawable = drawables[0]
    client_module, jobs = import_client()
    from latentdrag_gimp_lib.explore import ExploreArgumentError, ExploreJob, ExploreSettings, run_explore_job
    width, height, rgba = read_rgba(drawable)
    region = read_region(image, drawable, (width, height))
    layer, stored = jobs.LayerPixels(width, height, rgba), read_stored_latent(drawable)
    opened = None
    if run_mode == Gimp.RunMode.INTERACTIVE:
        accepted, opened = show_explore_dialog(procedure, config, client_module,
                                               ExploreJob(layer, region, ExploreSettings("direction"), stored))
        if not accepted:
            return None
    try:
        settings = explore_settings(config)
        other, other_name = explore_other(config, settings)
    except ExploreArgumentError as exc:
        raise calling_error(str(exc)) from None
    job = ExploreJob(layer=layer, region=region, settings=settings, stored=stored, other=other,
                     other_name=other_name)
    address = text_argument(config, "engine-address") or DEFAULT_ADDRESS

    def work(report, cancel_event):
        with connect(client_module, address) as client:
            return run_explore_job(client, job, report, cancel_event, opened=opened)

    try:
        result = run_in_worker("Latent Drag: Explore", work)
    except ExploreArgumentError as exc:
        raise calling_error(str(exc)) from None
    except Exception as exc:
        raise engine_failure(client_module, exc) from None
    _, offset_x, offset_y = drawable.get_offsets()
    parent, position = drawable.get_parent(), image.get_item_position(drawable)
    image.undo_group_start()
    try:
        # Each one inserted at the source's position lands above the ones before: the first frame ends up
        # right above the source, the last on top.
        added = [add_result_layer(image, parent, position, name, layer.layer, layer.stored, (offset_x, offset_y))
                 for name, layer in result.layers]
    finally:
        image.undo_group_end()
    Gimp.displays_flush()
    return added[-1]


def run_reporting_errors(body):
    """Wrap a procedure body: every failure becomes an error status with a readable GLib.Error."""

    def run(procedure, run_mode, image, drawables, config, data):
        try:
            layer = body(procedure, run_mode, image, drawables, config)
        except PluginError as exc:
            return failure(procedure, exc)
        except Exception as exc:  # a bug: still an error status, never SUCCESS
            return failure(procedure, PluginError(f"latentdrag plug-in failed: {type(exc).__name__}: {exc}"))
        if layer is None:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
        return success(procedure, layer)

    return run


def add_explore_arguments(procedure):
    from latentdrag_gimp_lib.explore import MAX_DIRECTION, MAX_FRAMES, OPERATIONS, PSI_LIMITS, ROWS, STRENGTH_LIMIT
    rw = GObject.ParamFlags.READWRITE
    procedure.add_choice_argument("operation", "Operation", "What to change", choice(*OPERATIONS.items()),
                                  "direction", rw)
    procedure.add_int_argument("direction", "Direction", "Principal direction (1 = the largest variation)", 1,
                               MAX_DIRECTION, 1, rw)
    procedure.add_double_argument("strength", "Strength (σ)", "How far along the direction, in standard deviations",
                                  -STRENGTH_LIMIT, STRENGTH_LIMIT, 1.0, rw)
    procedure.add_choice_argument("rows", "Rows", "Which part of the network the direction or mix changes",
                                  choice(*ROWS.items()), "all", rw)
    procedure.add_double_argument("truncation-psi", "Truncation ψ", "New ψ (lower = closer to the average image)",
                                  PSI_LIMITS[0], PSI_LIMITS[1], 0.7, rw)
    procedure.add_int_argument("mix-seed", "Mix seed", "Seed to mix rows from when no other layer is given", 0,
                               2**31 - 1, 0, rw)
    procedure.add_layer_argument("other-layer", "Other layer",
                                 "Layer with a latent to mix rows from or to interpolate towards", True, rw)
    procedure.add_double_argument("t", "Interpolation t", "0 = this layer, 1 = the other layer", 0.0, 1.0, 0.5, rw)
    procedure.add_int_argument("frames", "Frames", "0 = one layer at t; 2 or more = that many frames as layers",
                               0, MAX_FRAMES, 0, rw)
    add_inversion_argument(procedure)


def add_inversion_argument(procedure):
    procedure.add_choice_argument("inversion-preset", "Inversion", "How to find the latent of a layer that has none "
                                  "stored", choice(("fast", "Fast"), ("faithful", "Faithful (slower, tunes the "
                                                                                  "generator)")),
                                  "fast", GObject.ParamFlags.READWRITE)


class LatentDrag(Gimp.PlugIn):
    def do_set_i18n(self, name):
        return False

    def do_query_procedures(self):
        return [DRAG_PROCEDURE, SAMPLE_PROCEDURE, EXPLORE_PROCEDURE]

    def layer_procedure(self, name, body, menu_label):
        """A procedure on exactly one selected RGB layer."""
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run_reporting_errors(body), None)
        procedure.set_image_types("RGB*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label(menu_label)
        return procedure

    def do_create_procedure(self, name):
        if name == DRAG_PROCEDURE:
            procedure = self.layer_procedure(name, drag_layer, "Latent _Drag…")
            procedure.set_documentation(
                "Drag points of a GAN-generated or inverted image (DragGAN / FreeDrag)",
                "Each stroke of the selected path (or the path named \"Drag points\") is one drag: first anchor "
                "= the point to move, last anchor = where it should go. The selection, if any, is the part "
                "that may change. The result is a new layer above the source; the source is untouched. Needs "
                "a running engine: `latentdrag serve`.", name)
            add_engine_arguments(procedure)
            procedure.add_choice_argument("method", "Method", "Drag algorithm",
                                          choice(("draggan", "DragGAN"), ("freedrag", "FreeDrag")), "draggan",
                                          GObject.ParamFlags.READWRITE)
            add_inversion_argument(procedure)
            # 500 = jobs.DragSettings.max_steps (jobs needs grpcio, so it is imported only when a procedure runs)
            procedure.add_int_argument("max-steps", "Step limit", "Most optimisation steps of the drag", 1, 2000,
                                       500, GObject.ParamFlags.READWRITE)
            procedure.add_path_argument("path", "Drag points",
                                        f'Path with one stroke per drag; none = the selected path or "{DEFAULT_PATH_NAME}"',
                                        True, GObject.ParamFlags.READWRITE)
        elif name == SAMPLE_PROCEDURE:
            procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN,
                                                run_reporting_errors(new_sample), None)
            procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.ALWAYS)
            procedure.set_menu_label("Latent Drag: _New sample…")
            procedure.set_documentation(
                "A new GAN sample from a seed, as a new layer you can drag right away",
                "Adds the sample as a new layer (a new image when none is open). Needs `latentdrag serve`.",
                name)
            add_engine_arguments(procedure)
            procedure.add_int_argument("seed", "Seed", "Random seed of the sample", 0, 2**31 - 1, 0,
                                       GObject.ParamFlags.READWRITE)
            procedure.add_double_argument("truncation-psi", "Truncation ψ",
                                          "Lower = closer to the average image, higher = more varied", 0.0, 2.0,
                                          0.7, GObject.ParamFlags.READWRITE)
        elif name == EXPLORE_PROCEDURE:
            procedure = self.layer_procedure(name, explore_layer, "Latent Drag: _Explore…")
            procedure.set_documentation(
                "Move a GAN image along its latent space: principal directions, style mix, truncation, "
                "interpolation",
                "Works on the latent stored with the layer (a Latent Drag result or sample), or inverts the layer "
                "first. Each operation is applied to that latent (not to the previous result) and added as a new "
                "layer above the source, with its latent; the source is untouched. Interpolate needs another "
                "layer that carries a latent; frames > 0 adds that many frames from the layer to it. Needs "
                "`latentdrag serve`.", name)
            add_engine_arguments(procedure)
            add_explore_arguments(procedure)
        else:
            return None
        procedure.add_menu_path(MENU_PATH)
        procedure.set_attribution("latentdrag contributors", "latentdrag contributors", "2025")
        procedure.add_layer_return_value("result-layer", "Result layer", "The new layer", True,
                                         GObject.ParamFlags.READWRITE)
        return procedure


Gimp.main(LatentDrag.__gtype__, sys.argv)
