"""The "Latent Drag" docker, its actions and the controller that runs jobs (GUI thread + one worker).

Inputs are read from the document on the GUI thread, the engine is called in a worker thread (Krita's API
is not thread-safe), and results come back through Qt signals, which Qt delivers on the GUI thread.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path

from krita import DockWidget, DockWidgetFactory, DockWidgetFactoryBase, Extension, Krita
from PyQt5.QtCore import QObject, QProcess, Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                             QProgressBar, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget)

from . import krita_document as kd
from . import saved_settings
from .client_import import ClientUnavailable, import_client
from .explore_panel import ExploreController, ExplorePanel
from .geometry import GeometryError, to_local
from .job import (DEFAULT_ADDRESS, INVERSION_PRESETS, METHODS, DragJob, DragSettings, JobProgress, connect,
                  engine_command_line, run_drag, run_sample, serve_hint)
from .latent_store import LatentStore, LatentStoreError
from .naming import result_layer_name, sample_layer_name
from .pixels import PixelFormatError

DOCKER_ID = "latentdrag_docker"
ENGINE_START_POLLS = 120  # seconds "Start engine" waits for the new engine to answer
log = logging.getLogger("latentdrag_krita")


def _setup_log() -> None:
    """A small rotating log next to Krita's own data, for bug reports."""
    if log.handlers:
        return
    try:
        path = Path(Krita.instance().getAppDataLocation()) / "latentdrag_krita.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=2, encoding="utf-8")
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def _plain_error(exc: BaseException, address: str) -> str:
    """One sentence for the docker: engine errors as the engine words them, with the serve hint when
    nothing answers."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc)
    if code == "UNAVAILABLE":
        return f"No engine answers at {address}. Start one with: {serve_hint(address)}"
    if code == "UNAUTHENTICATED":
        return ("The engine wants a token: put the contents of its --token-file into the Token field and press "
                "Connect.")
    if code == "CANCELLED":
        return "Cancelled; the layer is unchanged."
    if isinstance(code, str):
        return f"The engine refused the job ({code}): {message}"
    return message


class Controller(QObject):
    """Owns the settings and the one running job; dockers and actions are views onto it."""

    connection_changed = pyqtSignal(bool, str, list)  # ok, status text, model names
    progress = pyqtSignal(object)  # JobProgress
    busy_changed = pyqtSignal(bool)
    status = pyqtSignal(str)
    error = pyqtSignal(str)  # "" clears
    _job_done = pyqtSignal(object, object)  # result or None, exception or None (worker → GUI thread)
    _probe_done = pyqtSignal(str, object, object)

    def __init__(self) -> None:
        super().__init__()
        self.settings = saved_settings.load(Krita.instance().readSetting, Krita.instance().writeSetting)
        self.last_error = ""
        self.busy = False
        self._cancel = threading.Event()
        self._finish_early = threading.Event()  # the running drag: stop where it is and keep it
        self._complete = None  # GUI-thread continuation that turns the worker's result into layers
        self._live = None  # LiveResultLayer of the running drag
        self._preview_origin = (0, 0)
        self.connected = False
        self.engine_pid = 0  # process id of an engine started from the docker, 0 = none
        self._engine_polls = 0
        self._job_done.connect(self._finish)
        self.progress.connect(self.show_preview)  # once here, not per docker: one window or several
        self._probe_done.connect(self._finish_probe)

    # ---- settings

    def update_settings(self, **changes) -> None:
        self.settings = dataclasses.replace(self.settings, **changes)
        saved_settings.save(Krita.instance().writeSetting, changes)

    def _refuse_if_busy(self) -> bool:
        if self.busy:
            self._set_error("A job is already running; wait for it or press Cancel.")
        return self.busy

    def _set_error(self, text: str) -> None:
        self.last_error = text
        if text:
            log.warning(text)
        self.error.emit(text)

    # ---- connection

    def check_connection(self) -> None:
        """Ask the engine for its info and models in the background; the docker shows the outcome."""
        settings = self.settings
        threading.Thread(target=self._probe, args=(settings,), name="latentdrag-probe", daemon=True).start()

    def _probe(self, settings: DragSettings) -> None:
        address = settings.address
        try:
            client_module = import_client()
            with connect(client_module, settings, timeout=5) as client:
                info = client.health()
                models = client.list_models()
            self._probe_done.emit(address, (info, models), None)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never raised into Qt
            self._probe_done.emit(address, None, exc)

    def _finish_probe(self, address: str, answer, exc) -> None:
        self.connected = exc is None
        if exc is not None:
            self.connection_changed.emit(False, _plain_error(exc, address), [])
            return
        info, models = answer
        names = [model.name for model in models]
        default = info.default_model.removeprefix("models/") or "none"
        self.connection_changed.emit(True, f"Connected: engine {info.version} on {info.device}, default model "
                                           f"{default}", names)

    # ---- local engine

    def start_engine(self) -> bool:
        """Start the configured engine command detached (it outlives Krita) and poll until it answers."""
        try:
            argv = engine_command_line(self.settings.engine_command, self.settings.address)
        except ValueError as exc:
            self._set_error(str(exc))
            return False
        started, pid = QProcess.startDetached(argv[0], argv[1:], "")
        if not started:
            self._set_error(f"Could not start '{argv[0]}'. Is latentdrag installed and on PATH? Put the full path "
                            "of the latentdrag command into the engine command.")
            return False
        self.engine_pid = pid
        self._set_error("")
        self.status.emit(f"Engine starting (process {pid}); loading the model can take a while…")
        self._engine_polls = 0
        self._poll_engine()
        return True

    def _poll_engine(self) -> None:
        self._engine_polls += 1
        self.check_connection()
        if self._engine_polls < ENGINE_START_POLLS and not self.connected:
            QTimer.singleShot(1000, self._poll_engine)

    # ---- drag

    def create_points_layer(self) -> None:
        try:
            kd.create_points_layer(kd.active_document())
            self.status.emit("Draw a line from each handle to its target on 'Drag points', then press Run.")
        except kd.UserError as exc:
            self._set_error(str(exc))

    def run_drag(self) -> bool:
        """Collect the inputs and start the worker; False (with the error shown) when nothing started."""
        if self._refuse_if_busy():
            return False
        try:
            client_module = import_client()
            doc = kd.active_document()
            source_node, points_node = kd.find_source_and_points(doc)
            source = kd.read_source(doc, source_node)
            x, y, width, height = source.rect
            pairs = to_local(kd.read_pairs(doc, points_node), (x, y))
            mask = kd.read_mask(doc, source.rect)
            job = DragJob(self.settings, width, height, source.rgba, pairs, mask,
                          self._stored_latent(doc, source))
        except (kd.UserError, GeometryError, PixelFormatError, ClientUnavailable, ValueError) as exc:
            self._set_error(str(exc))
            return False
        self._live = kd.LiveResultLayer(doc, source_node, source)
        self._preview_origin = (x, y)
        return self.run_job(lambda client, emit, cancel: run_drag(client, client_module, job, emit, cancel,
                                                                  self._finish_early),
                            functools.partial(self._finish_drag, doc, self._live, len(pairs)))

    @staticmethod
    def _stored_latent(doc, source: kd.SourceImage):
        try:
            return kd.load_latents(doc).lookup(source.layer_id, source.fingerprint)
        except LatentStoreError as exc:
            log.warning("ignoring stored latents: %s", exc)
            return None

    def run_job(self, work, complete) -> bool:
        """Run `work(client, progress_emit, cancel_event)` on the worker thread with a connected client and
        hand its result to `complete(result)` on the GUI thread; False (error shown) when busy."""
        if self._refuse_if_busy():
            return False
        try:
            client_module = import_client()
        except ClientUnavailable as exc:
            self._set_error(str(exc))
            return False
        self._complete = complete
        self._start(self._job_worker, client_module, work)
        return True

    def _job_worker(self, client_module, work) -> None:
        try:
            with connect(client_module, self.settings) as client:
                result = work(client, self.progress.emit, self._cancel)
            self._job_done.emit(result, None)
        except Exception as exc:  # noqa: BLE001 - reported in the docker
            self._job_done.emit(None, exc)

    def report_error(self, exc: BaseException) -> None:
        """An error of work outside the job queue (a live preview), worded like job errors."""
        self._set_error(_plain_error(exc, self.settings.address))

    def _start(self, target, *args) -> None:
        self.busy = True
        self._cancel.clear()
        self._finish_early.clear()
        self._set_error("")
        self.busy_changed.emit(True)
        threading.Thread(target=target, args=args, name="latentdrag-job", daemon=True).start()

    def cancel(self) -> None:
        if self.busy:
            self._cancel.set()
            self.status.emit("Cancelling…")

    def finish_early(self) -> None:
        """Stop the running drag at its current step and add that as the result layer."""
        if self.busy and self._live is not None:  # only a drag job has a live result layer
            self._finish_early.set()
            self.status.emit("Finishing…")

    def show_preview(self, progress: JobProgress) -> None:
        """Paint a preview frame into the temporary layer (GUI thread)."""
        if self._live is None or progress.preview is None or progress.region_box is None:
            return
        try:
            rgba, width, height = kd.decode_image(progress.preview.data)
        except kd.UserError:
            return
        rx, ry, rw, rh = progress.region_box
        frame = kd.scale_rgba(rgba, width, height, rw, rh)
        origin_x, origin_y = self._preview_origin
        self._live.show(frame, (origin_x + rx, origin_y + ry, rw, rh))

    def _finish(self, result, exc) -> None:
        complete, self._complete = self._complete, None
        live, self._live = self._live, None
        self.busy = False
        self.busy_changed.emit(False)
        if exc is not None:
            self._set_error(_plain_error(exc, self.settings.address))
            self.status.emit("")
        try:
            if exc is None:
                complete(result)
            elif live is not None:
                live.discard()
        except (kd.UserError, PixelFormatError, ValueError) as error:
            self._set_error(str(error))
        except RuntimeError as error:  # PyQt: the document or layer was deleted while the job ran
            log.warning("result dropped: %s", error)
            self._set_error("The document or layer was closed before the result arrived; nothing was added.")

    def _finish_drag(self, doc, live: kd.LiveResultLayer, point_count: int, result) -> None:
        name = result_layer_name(kd.layer_names(doc), point_count)
        node = live.finish(name, result.rgba)
        self.remember_latent(doc, node, result.record)
        how = "reused the stored latent" if result.reused_latent else "inverted the layer"
        state = ("reached the targets" if result.converged else "finished early" if result.finished_early
                 else "stopped at the step limit")
        self.status.emit(f"{name}: {result.steps} steps in {result.seconds:.1f} s, {state} ({how}).")

    def remember_latent(self, doc, node, record) -> None:
        """Store the latent linked to the new layer, fingerprinted with the pixels the layer now holds."""
        written = kd.read_source(doc, node)
        try:
            store = kd.load_latents(doc)
        except LatentStoreError:
            store = LatentStore()
        store.put(written.layer_id, dataclasses.replace(record, fingerprint=written.fingerprint))
        kd.save_latents(doc, store)

    # ---- new sample

    def new_sample(self, seed: int, psi: float, size: int, x: int, y: int) -> bool:
        if self._refuse_if_busy():
            return False
        try:
            doc = kd.active_document()
            fmt = kd.document_format(doc)
        except (kd.UserError, PixelFormatError) as exc:
            self._set_error(str(exc))
            return False
        model = self.settings.model

        def work(client, emit, cancel):
            emit(JobProgress("sampling"))
            return run_sample(client, seed, psi, model)
        return self.run_job(work, functools.partial(self._finish_sample, doc, fmt, seed, psi, (x, y, size, size)))

    def _finish_sample(self, doc, fmt, seed: int, psi: float, rect: tuple[int, int, int, int], result) -> None:
        rgba = kd.scale_rgba(result.rgba, result.width, result.height, rect[2], rect[3])
        name = sample_layer_name(kd.layer_names(doc), seed, psi)
        node = kd.add_layer_on_top(doc, name, rgba, rect, fmt)
        self.remember_latent(doc, node, result.record)
        self.status.emit(f"{name} added.")


_controller: Controller | None = None
_explore_controller: ExploreController | None = None


def controller() -> Controller:
    global _controller
    if _controller is None:
        _controller = Controller()
    return _controller


def explore_controller() -> ExploreController:
    """The one Explore controller, shared by the dockers of every window like `controller()`."""
    global _explore_controller
    if _explore_controller is None:
        _explore_controller = ExploreController(controller())
    return _explore_controller


def _combo(items: dict[str, str], current: str) -> QComboBox:
    combo = QComboBox()
    for label, value in items.items():
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    return row


class LatentDragDocker(DockWidget):
    """Connection and model on top; a Drag tab (points, Run, "New sample") and an Explore tab (sliders with a
    live preview); progress with Cancel, the status and the last error below."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Latent Drag")
        self.controller = controller()
        settings = self.controller.settings
        root = QWidget(self)
        layout = QVBoxLayout(root)

        form = QFormLayout()
        self.address = QLineEdit(settings.address)
        self.address.setObjectName("latentdrag_address")
        self.connect_button = QPushButton("Connect")
        form.addRow("Engine", _row(self.address, self.connect_button))
        self.token = QLineEdit(settings.token)
        self.token.setEchoMode(QLineEdit.Password)
        self.token.setPlaceholderText("only for a remote engine (serve --token-file)")
        form.addRow("Token", self.token)
        self.engine_command = QLineEdit(settings.engine_command)
        self.engine_command.setToolTip("Run by 'Start engine' (no shell); {address} becomes the address above")
        self.start_button = QPushButton("Start engine")
        form.addRow("Command", _row(self.engine_command, self.start_button))
        layout.addLayout(form)
        self.connection = QLabel("Not connected")
        self.connection.setObjectName("latentdrag_connection")
        self.connection.setWordWrap(True)
        self.connection.setTextInteractionFlags(Qt.TextSelectableByMouse)  # the serve hint can be copied
        layout.addWidget(self.connection)
        form = QFormLayout()
        self.model = QComboBox()
        self.model.addItem("Engine default", "")
        form.addRow("Model", self.model)
        self.preset = _combo(INVERSION_PRESETS, settings.inversion_preset)
        self.preset.setToolTip("How a layer without a stored latent is inverted (for a drag or to explore it)")
        form.addRow("Inversion", self.preset)
        layout.addLayout(form)

        self.tabs = QTabWidget()
        drag_tab = QWidget()
        drag_layout = QVBoxLayout(drag_tab)
        form = QFormLayout()
        self.method = _combo(METHODS, settings.method)
        form.addRow("Method", self.method)
        self.steps = QSpinBox()
        self.steps.setRange(1, 2000)
        self.steps.setValue(settings.max_steps)
        form.addRow("Step limit", self.steps)
        drag_layout.addLayout(form)
        self.points_button = QPushButton("Drag points")
        self.points_button.setToolTip("Add a vector layer; draw one line per point, from handle to target")
        self.run_button = QPushButton("Run")
        drag_layout.addLayout(_row(self.points_button, self.run_button))
        self.tabs.addTab(drag_tab, "Drag")
        self.explore = ExplorePanel(explore_controller())
        self.tabs.addTab(self.explore, "Explore")
        layout.addWidget(self.tabs)

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.finish_button = QPushButton("Finish")
        self.finish_button.setToolTip("Stop the drag where it is and keep the result as a new layer")
        self.finish_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        layout.addLayout(_row(self.progress, self.finish_button, self.cancel_button))
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.error = QLabel("")
        self.error.setObjectName("latentdrag_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d33;")
        self.error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.error)

        sample_box = QGroupBox("New sample")
        sample_form = QFormLayout(sample_box)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.psi = QDoubleSpinBox()
        self.psi.setRange(0.0, 1.5)
        self.psi.setSingleStep(0.05)
        self.psi.setValue(0.7)
        sample_form.addRow("Seed", self.seed)
        sample_form.addRow("ψ (truncation)", self.psi)
        self.size = QSpinBox()
        self.size.setRange(16, 8192)
        self.size.setValue(256)
        sample_form.addRow("Size (px)", self.size)
        self.position_x, self.position_y = QSpinBox(), QSpinBox()
        for spin in (self.position_x, self.position_y):
            spin.setRange(-8192, 8192)
        sample_form.addRow("Position x, y", _row(self.position_x, self.position_y))
        self.sample_button = QPushButton("New sample")
        sample_form.addRow(self.sample_button)
        drag_layout.addWidget(sample_box)
        drag_layout.addStretch(1)
        self.setWidget(root)

        self.connect_button.clicked.connect(self._connect)
        self.address.editingFinished.connect(self._connect)
        self.token.editingFinished.connect(self._connect)
        self.start_button.clicked.connect(self._start_engine)
        self.model.currentIndexChanged.connect(
            lambda: self.controller.update_settings(model=self.model.currentData() or ""))
        self.method.currentIndexChanged.connect(
            lambda: self.controller.update_settings(method=self.method.currentData()))
        self.preset.currentIndexChanged.connect(
            lambda: self.controller.update_settings(inversion_preset=self.preset.currentData()))
        self.steps.valueChanged.connect(lambda value: self.controller.update_settings(max_steps=value))
        self.points_button.clicked.connect(self.controller.create_points_layer)
        self.run_button.clicked.connect(self.controller.run_drag)
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.finish_button.clicked.connect(self.controller.finish_early)
        self.sample_button.clicked.connect(self._new_sample)
        self.controller.connection_changed.connect(self._on_connection)
        self.controller.progress.connect(self._on_progress)
        self.controller.busy_changed.connect(self._on_busy)
        self.controller.status.connect(self.status.setText)
        self.controller.error.connect(self.error.setText)
        self.error.setText(self.controller.last_error)
        self.controller.check_connection()

    def canvasChanged(self, canvas) -> None:  # required by DockWidget
        pass

    def _connect(self) -> None:
        address = self.address.text().strip() or DEFAULT_ADDRESS
        self.controller.update_settings(address=address, token=self.token.text().strip())
        self.connection.setText(f"Connecting to {address}…")
        self.controller.check_connection()

    def _start_engine(self) -> None:
        self.controller.update_settings(address=self.address.text().strip() or DEFAULT_ADDRESS,
                                        engine_command=self.engine_command.text().strip())
        self.controller.start_engine()

    def _new_sample(self) -> None:
        self.controller.new_sample(self.seed.value(), self.psi.value(), self.size.value(),
                                   self.position_x.value(), self.position_y.value())

    def _on_connection(self, ok: bool, text: str, models: list) -> None:
        self.connection.setText(text)
        self.connection.setStyleSheet("" if ok else "color: #d33;")
        if ok:
            current = self.controller.settings.model
            self.model.blockSignals(True)
            self.model.clear()
            self.model.addItem("Engine default", "")
            for name in models:
                self.model.addItem(name.removeprefix("models/"), name)
            self.model.setCurrentIndex(max(0, self.model.findData(current)))
            self.model.blockSignals(False)

    def _on_progress(self, progress: JobProgress) -> None:
        labels = {"connecting": "Connecting…", "inverting": "Inverting the layer", "dragging": "Dragging",
                  "sampling": "Sampling"}
        text = labels.get(progress.stage, progress.stage)
        self.finish_button.setEnabled(progress.stage == "dragging")  # only a running drag can be kept
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.step)
            text += f": step {progress.step} / {progress.total}"
        else:
            self.progress.setRange(0, 0)  # busy indicator
        if progress.distance is not None:
            text += f", {progress.distance:.1f} px to go"
        self.progress.setFormat(text)

    def _on_busy(self, busy: bool) -> None:
        for widget in (self.run_button, self.points_button, self.sample_button, self.explore.open_button,
                       self.explore.apply_button, self.explore.frames_button):
            widget.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.finish_button.setEnabled(False)  # enabled once the drag itself runs (_on_progress)
        if not busy:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("")


class LatentDragExtension(Extension):
    """Menu actions (Tools → Scripts) that drive the same controller as the docker."""

    def setup(self) -> None:
        _setup_log()

    def createActions(self, window) -> None:
        for action_id, text, slot in (
                ("latentdrag_points", "Latent Drag: New Drag Points Layer", controller().create_points_layer),
                ("latentdrag_run", "Latent Drag: Run", controller().run_drag),
                ("latentdrag_finish", "Latent Drag: Finish", controller().finish_early),
                ("latentdrag_cancel", "Latent Drag: Cancel", controller().cancel)):
            action = window.createAction(action_id, text, "tools/scripts")
            action.triggered.connect(slot)


def register() -> None:
    app = Krita.instance()
    app.addExtension(LatentDragExtension(app))
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, LatentDragDocker))
