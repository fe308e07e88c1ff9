"""The Explore tab of the "Latent Drag" docker: direction sliders, ψ, style mix and interpolation with a live
preview, "Apply as new layer" and interpolation frames as layers.

Krita is touched only on the GUI thread. Slider states go through a `LatestRequest` to one preview worker
thread per explored layer (debounced; the latest state wins, stale replies are dropped) and land in the
same temporary preview layer a drag uses. Apply and frames run as jobs of the docker's controller.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Optional

from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox,
                             QVBoxLayout, QWidget)

from . import krita_document as kd
from .client_import import ClientUnavailable, import_client
from .explore import (DEFAULT_DIRECTION_COUNT, MAX_DIRECTION_COUNT, MAX_FRAMES, MIX_ROW_CHOICES, PSI_LIMITS,
                      ROW_CHOICES, SIGMA_LIMIT, SLIDER_STEPS_PER_SIGMA, ExploreState, LatestRequest, MixSource,
                      TowardLayer, alpha_from_slider, explore_layer_name, format_alpha, frame_layer_name,
                      frames_group_name)
from .explore_job import (ExploreSession, ExploreSource, close_session, open_explore_session, render_frames,
                          render_state)
from .job import connect
from .latent_store import LatentStore, LatentStoreError
from .pixels import PixelFormatError

PSI_STEPS = 100  # ψ slider positions per unit
T_STEPS = 100
MIX_OFF, MIX_SEED = "", "seed"


@dataclass
class Exploration:
    """One explored layer: its document and node, the values read from it, the engine session, the
    preview layer and the preview worker's hand-over slot."""
    doc: object
    node: object
    image: kd.SourceImage
    source: ExploreSource
    session: ExploreSession
    live: kd.LiveResultLayer
    slot: LatestRequest
    latents: dict  # layer id → (layer name, latent blob) of the other layers with a latent


class ExploreController(QObject):
    """Opens and closes explorations, feeds the preview worker and turns results into layers."""

    opened = pyqtSignal(str, float, list)  # explored layer name ("" = closed), base ψ, [(id, name)] donors
    _preview_done = pyqtSignal(int, object, object)  # ticket, rgba or None, exception or None

    def __init__(self, jobs) -> None:
        super().__init__()
        self.jobs = jobs  # the docker's Controller: settings, the job worker, errors and status
        self.exploration: Optional[Exploration] = None
        self.state = ExploreState()
        self.previews_shown = 0
        self._preview_done.connect(self._show_preview)

    # ---- open / close

    def open_active_layer(self) -> bool:
        """Explore the active paint layer: reuse its stored latent or invert it (a job with progress)."""
        try:
            doc = kd.active_document()
            node = doc.activeNode()
            if node is None or node.type() != "paintlayer":
                raise kd.UserError("Select the paint layer to explore in the Layers docker.")
            image = kd.read_source(doc, node)
            mask = kd.read_mask(doc, image.rect)
            store = self._store(doc)
            latents = {layer_id: (name, store.records[layer_id].blob)
                       for layer_id, name in kd.layers_with_latents(doc, store) if layer_id != image.layer_id}
            source = ExploreSource(self.jobs.settings, image.rect[2], image.rect[3], image.rgba, mask,
                                   store.lookup(image.layer_id, image.fingerprint))
            client_module = import_client()
        except (kd.UserError, PixelFormatError, ClientUnavailable, ValueError) as exc:
            self.jobs.report_error(exc)
            return False
        self.close()

        def work(client, emit, cancel):
            return open_explore_session(client, client_module, source, emit, cancel)
        return self.jobs.run_job(work, functools.partial(self._finish_open, doc, node, image, source, latents))

    @staticmethod
    def _store(doc) -> LatentStore:
        try:
            return kd.load_latents(doc)
        except LatentStoreError:
            return LatentStore()

    def _finish_open(self, doc, node, image, source, latents, session: ExploreSession) -> None:
        slot = LatestRequest()
        self.exploration = Exploration(doc, node, image, source, session, kd.LiveResultLayer(doc, node, image),
                                       slot, latents)
        threading.Thread(target=self._preview_worker, args=(self.exploration,), name="latentdrag-preview",
                         daemon=True).start()
        how = "its stored latent" if session.reused_latent else "an inversion of its pixels"
        self.jobs.status.emit(f"Exploring '{image.name}' from {how}; move a slider to preview.")
        self.opened.emit(image.name, session.base_psi, [(key, name) for key, (name, _) in latents.items()])

    def close(self) -> None:
        """Stop previewing, remove the preview layer and free the engine session."""
        exploration, self.exploration = self.exploration, None
        if exploration is None:
            return
        exploration.slot.close()
        try:
            exploration.live.discard()
        except RuntimeError:
            pass  # the document was closed already
        settings = self.jobs.settings
        threading.Thread(target=self._close_session, args=(settings, exploration.session), daemon=True).start()
        self.opened.emit("", 1.0, [])

    @staticmethod
    def _close_session(settings, session: ExploreSession) -> None:
        try:
            client_module = import_client()
            with connect(client_module, settings, timeout=5) as client:
                close_session(client, client_module, session)
        except Exception:  # noqa: BLE001 - the engine expires sessions by itself
            pass

    # ---- live preview

    def update(self, state: ExploreState) -> None:
        """New slider values: remember them and ask for a preview (debounced, latest wins)."""
        self.state = state
        if self.exploration is not None:
            self.exploration.slot.submit(state)

    def _preview_worker(self, exploration: Exploration) -> None:
        try:
            client_module = import_client()
        except ClientUnavailable:
            return
        with connect(client_module, self.jobs.settings) as client:
            while (request := exploration.slot.take()) is not None:
                ticket, state = request
                try:
                    rendered = render_state(client, client_module, exploration.session, exploration.source, state)
                    self._preview_done.emit(ticket, rendered.rgba, None)
                except Exception as exc:  # noqa: BLE001 - shown in the docker
                    self._preview_done.emit(ticket, None, exc)

    def _show_preview(self, ticket: int, rgba, exc) -> None:
        exploration = self.exploration
        if exploration is None or not exploration.slot.is_current(ticket):
            return  # a newer slider state is on its way, or the exploration ended
        if exc is not None:
            self.jobs.report_error(exc)
            return
        try:
            exploration.live.show(rgba, exploration.image.rect)
        except RuntimeError:  # the document or layer was closed
            self.close()
            return
        self.previews_shown += 1

    # ---- results

    def apply(self) -> bool:
        """The current settings as a new layer above the explored one, with its latent stored."""
        exploration = self._require_exploration()
        if exploration is None:
            return False
        state = self.state
        exploration.slot.invalidate()  # a preview still in flight must not land on the applied layer

        def work(client, emit, cancel):
            client_module = import_client()
            return render_state(client, client_module, exploration.session, exploration.source, state,
                                with_latent=True)
        return self.jobs.run_job(work, functools.partial(self._finish_apply, exploration, state))

    def _finish_apply(self, exploration: Exploration, state: ExploreState, rendered) -> None:
        name = explore_layer_name(state)
        node = exploration.live.finish(name, rendered.rgba)
        self.jobs.remember_latent(exploration.doc, node, rendered.record)
        exploration.live = kd.LiveResultLayer(exploration.doc, exploration.node, exploration.image)
        self.jobs.status.emit(f"{name} added.")

    def add_frames(self, count: int) -> bool:
        """`count` interpolation frames (base → the chosen layer) as layers of a new group."""
        exploration = self._require_exploration()
        if exploration is None:
            return False
        state = self.state
        if state.toward is None:
            self.jobs.report_error(ValueError("Choose a layer to interpolate towards first."))
            return False

        def work(client, emit, cancel):
            client_module = import_client()
            return render_frames(client, client_module, exploration.session, exploration.source, state, count,
                                 cancel)
        return self.jobs.run_job(work, functools.partial(self._finish_frames, exploration, state, count))

    def _finish_frames(self, exploration: Exploration, state: ExploreState, count: int, frames) -> None:
        doc, image = exploration.doc, exploration.image
        layers = [(frame_layer_name(number, t), rendered.rgba) for number, (t, rendered) in enumerate(frames, 1)]
        nodes = kd.add_group_above(doc, exploration.node, frames_group_name(state, count), layers, image.rect,
                                   kd.document_format(doc))
        for node, (_, rendered) in zip(nodes, frames):
            self.jobs.remember_latent(doc, node, rendered.record)
        self.jobs.status.emit(f"{count} interpolation frames added.")

    def _require_exploration(self) -> Optional[Exploration]:
        if self.exploration is None:
            self.jobs.report_error(ValueError("Press 'Explore layer' with the layer to explore active first."))
        return self.exploration

    def latent_of(self, layer_id: str) -> tuple[str, bytes]:
        return self.exploration.latents[layer_id]


def _combo(items: dict) -> QComboBox:
    combo = QComboBox()
    for label, value in items.items():
        combo.addItem(label, value)
    return combo


def _slider(low: int, high: int, value: int) -> QSlider:
    slider = QSlider(Qt.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    return slider


class ExplorePanel(QWidget):
    """The widgets; every change becomes an ExploreState for the controller."""

    def __init__(self, controller: ExploreController) -> None:
        super().__init__()
        self.controller = controller
        self.base_psi = 1.0
        layout = QVBoxLayout(self)
        self.open_button = QPushButton("Explore layer")
        self.open_button.setToolTip("Explore the active layer (its stored latent, or an inversion of its pixels)")
        self.close_button = QPushButton("Close")
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.close_button)
        layout.addLayout(top)
        self.explored = QLabel("No layer explored.")
        self.explored.setWordWrap(True)
        layout.addWidget(self.explored)

        directions = QGroupBox("Directions")
        form = QFormLayout(directions)
        self.count = QSpinBox()
        self.count.setRange(1, MAX_DIRECTION_COUNT)
        self.count.setValue(DEFAULT_DIRECTION_COUNT)
        form.addRow("Sliders", self.count)
        self.rows = _combo(ROW_CHOICES)
        form.addRow("Rows", self.rows)
        self.slider_form = form
        self.direction_sliders: list[QSlider] = []
        self.direction_labels: list[QLabel] = []
        self.psi = _slider(round(PSI_LIMITS[0] * PSI_STEPS), round(PSI_LIMITS[1] * PSI_STEPS), PSI_STEPS)
        self.psi_label = QLabel("ψ 1.00")
        layout.addWidget(directions)

        other = QGroupBox("Truncation, style mix, interpolation")
        other_form = QFormLayout(other)
        other_form.addRow(self.psi_label, self.psi)
        self.mix = QComboBox()
        self.mix_seed = QSpinBox()
        self.mix_seed.setRange(0, 2 ** 31 - 1)
        self.mix_rows = _combo(MIX_ROW_CHOICES)
        other_form.addRow("Mix from", self.mix)
        other_form.addRow("Mix seed", self.mix_seed)
        other_form.addRow("Mix rows", self.mix_rows)
        self.toward = QComboBox()
        self.t = _slider(0, T_STEPS, 0)
        self.t_label = QLabel("t 0.00")
        other_form.addRow("Toward", self.toward)
        other_form.addRow(self.t_label, self.t)
        self.frames = QSpinBox()
        self.frames.setRange(2, MAX_FRAMES)
        self.frames.setValue(8)
        self.frames_button = QPushButton("Frames as layers")
        frames_row = QHBoxLayout()
        frames_row.addWidget(self.frames)
        frames_row.addWidget(self.frames_button)
        other_form.addRow("Frames", frames_row)
        layout.addWidget(other)

        self.reset_button = QPushButton("Reset")
        self.apply_button = QPushButton("Apply as new layer")
        bottom = QHBoxLayout()
        bottom.addWidget(self.reset_button)
        bottom.addWidget(self.apply_button)
        layout.addLayout(bottom)
        layout.addStretch(1)

        self._fill_layer_choices([])
        self._make_direction_sliders(DEFAULT_DIRECTION_COUNT)
        self.open_button.clicked.connect(controller.open_active_layer)
        self.close_button.clicked.connect(controller.close)
        self.apply_button.clicked.connect(controller.apply)
        self.frames_button.clicked.connect(lambda: controller.add_frames(self.frames.value()))
        self.reset_button.clicked.connect(self.reset)
        self.count.valueChanged.connect(self._make_direction_sliders)
        for widget in (self.rows, self.mix, self.mix_rows, self.toward):
            widget.currentIndexChanged.connect(self._changed)
        for widget in (self.psi, self.t, self.mix_seed):
            widget.valueChanged.connect(self._changed)
        controller.opened.connect(self._on_opened)
        self._on_opened("", 1.0, [])

    def _make_direction_sliders(self, count: int) -> None:
        while self.direction_sliders:
            self.slider_form.removeRow(self.slider_form.rowCount() - 1)
            self.direction_sliders.pop()
            self.direction_labels.pop()
        limit = round(SIGMA_LIMIT * SLIDER_STEPS_PER_SIGMA)
        for number in range(1, count + 1):
            slider = _slider(-limit, limit, 0)
            slider.setObjectName(f"latentdrag_direction_{number}")
            label = QLabel(f"Direction {number}  {format_alpha(0)}")
            slider.valueChanged.connect(self._changed)
            self.slider_form.addRow(label, slider)
            self.direction_sliders.append(slider)
            self.direction_labels.append(label)
        self._changed()

    def _fill_layer_choices(self, layers: list) -> None:
        for combo, first in ((self.mix, [("Off", MIX_OFF), ("Seed", MIX_SEED)]), (self.toward, [("Off", "")])):
            combo.blockSignals(True)
            combo.clear()
            for label, value in first + [(f"Layer '{name}'", layer_id) for layer_id, name in layers]:
                combo.addItem(label, value)
            combo.blockSignals(False)

    def _on_opened(self, name: str, base_psi: float, layers: list) -> None:
        self.base_psi = base_psi
        self.explored.setText(f"Exploring '{name}'." if name else "No layer explored.")
        self._fill_layer_choices(layers)
        self.psi.blockSignals(True)
        self.psi.setValue(round(base_psi * PSI_STEPS))
        self.psi.blockSignals(False)
        for widget in (self.apply_button, self.frames_button, self.reset_button, self.close_button):
            widget.setEnabled(bool(name))
        self._show_values()  # no preview yet: the canvas already shows the layer itself

    def reset(self) -> None:
        """Every control back to the base latent."""
        for widget in self.direction_sliders + [self.t]:
            widget.blockSignals(True)
            widget.setValue(0)
            widget.blockSignals(False)
        for combo in (self.mix, self.toward):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.psi.blockSignals(True)
        self.psi.setValue(round(self.base_psi * PSI_STEPS))
        self.psi.blockSignals(False)
        self._changed()

    def state(self) -> ExploreState:
        """The controls as an ExploreState (ValueError when a choice is not usable)."""
        alphas = tuple(alpha_from_slider(slider.value()) for slider in self.direction_sliders)
        psi_position = self.psi.value()
        psi = None if psi_position == round(self.base_psi * PSI_STEPS) else psi_position / PSI_STEPS
        mix = None
        mix_choice = self.mix.currentData()
        if mix_choice == MIX_SEED:
            mix = MixSource(self.mix_rows.currentData(), seed=self.mix_seed.value())
        elif mix_choice:
            name, blob = self.controller.latent_of(mix_choice)
            mix = MixSource(self.mix_rows.currentData(), layer_name=name, latent=blob)
        toward = None
        if self.toward.currentData():
            name, blob = self.controller.latent_of(self.toward.currentData())
            toward = TowardLayer(name, blob, self.t.value() / T_STEPS)
        return ExploreState(alphas=alphas, rows=self.rows.currentData(), psi=psi, mix=mix, toward=toward)

    def _show_values(self) -> None:
        for number, (label, slider) in enumerate(zip(self.direction_labels, self.direction_sliders), start=1):
            label.setText(f"Direction {number}  {format_alpha(alpha_from_slider(slider.value()))}")
        self.psi_label.setText(f"ψ {self.psi.value() / PSI_STEPS:.2f}")
        self.t_label.setText(f"t {self.t.value() / T_STEPS:.2f}")
        self.mix_seed.setEnabled(self.mix.currentData() == MIX_SEED)

    def _changed(self, *_) -> None:
        """A control moved: show its value and ask for a preview of all controls."""
        self._show_values()
        if not self.direction_sliders:
            return  # still building
        try:
            state = self.state()
        except (ValueError, KeyError) as exc:
            self.controller.jobs.report_error(exc)
            return
        self.controller.update(state)
