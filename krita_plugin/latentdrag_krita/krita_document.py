"""Everything the plugin reads from or writes to a Krita document (GUI thread only).

This, `docker.py` and `explore_panel.py` are the only modules that touch Krita; they turn layers, shapes and
selections into the plain values of `geometry`, `pixels` and `latent_store`, and results back into layers.
"""
from __future__ import annotations

from dataclasses import dataclass

from krita import Krita
from PyQt5.QtCore import QByteArray, Qt
from PyQt5.QtGui import QImage

from .geometry import DragPair, ShapeInfo, pairs_from_shapes
from .latent_store import ANNOTATION_DESCRIPTION, ANNOTATION_TYPE, LatentStore, fingerprint
from .naming import DRAG_POINTS_LAYER, PREVIEW_LAYER
from .pixels import (LayerFormat, Mask, check_format, clip_box, crop_rgba, layer_to_rgba8, rgba8_to_layer,
                     selection_to_mask)

Rect = tuple[int, int, int, int]


class UserError(Exception):
    """Something the user can fix in the document; shown in the docker as is."""


@dataclass(frozen=True)
class SourceImage:
    """The source layer's pixels over `rect` (document pixels) as straight RGBA U8."""

    layer_id: str
    name: str
    rect: Rect
    fmt: LayerFormat
    rgba: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rgba, self.rect)


def active_document():
    doc = Krita.instance().activeDocument()
    if doc is None:
        raise UserError("Open an image first.")
    return doc


def _all_nodes(parent) -> list:
    nodes = []
    for child in parent.childNodes():
        nodes.append(child)
        nodes += _all_nodes(child)
    return nodes


def layer_names(doc) -> list[str]:
    return [node.name() for node in _all_nodes(doc.rootNode())]


def layer_ids(doc) -> set[str]:
    return {node.uniqueId().toString() for node in _all_nodes(doc.rootNode())}


def _index_of(nodes: list, node) -> int:
    """Position of `node` in `nodes` by identity (Python wrappers of one Krita node are not `==`-stable)."""
    wanted = node.uniqueId()
    return next(i for i, candidate in enumerate(nodes) if candidate.uniqueId() == wanted)


def typed_node(node):
    """The same node as its specific wrapper (e.g. VectorLayer with `shapes()`): `activeNode()` returns a
    plain Node, while `childNodes()` returns typed wrappers."""
    parent = node.parentNode()
    if parent is None:
        return node
    siblings = parent.childNodes()
    return siblings[_index_of(siblings, node)]


def _is_points_layer(node) -> bool:
    return node.type() == "vectorlayer" and node.name().startswith(DRAG_POINTS_LAYER)


def find_source_and_points(doc):
    """(source paint layer, drag-points vector layer) from the active layer.

    The active layer is the source; when it is the drag-points layer itself (the usual case right after
    drawing), the source is the nearest paint layer below it.
    """
    active = doc.activeNode()
    if active is None:
        raise UserError("Select the layer to edit in the Layers docker.")
    active = typed_node(active)
    if _is_points_layer(active):
        points = active
        siblings = active.parentNode().childNodes()
        below = siblings[:_index_of(siblings, active)]
        source = next((node for node in reversed(below) if node.type() == "paintlayer"
                       and node.name() != PREVIEW_LAYER), None)
        if source is None:
            raise UserError(f"No paint layer below '{active.name()}'; put the drag points above the image.")
        return source, points
    if active.type() != "paintlayer":
        raise UserError(f"'{active.name()}' is a {active.type()}; select a paint layer to edit.")
    siblings = active.parentNode().childNodes()
    above = siblings[_index_of(siblings, active) + 1:]
    points = next((node for node in above if _is_points_layer(node)), None)
    if points is None:
        points = next((node for node in _all_nodes(doc.rootNode()) if _is_points_layer(node)), None)
    if points is None:
        raise UserError("No 'Drag points' layer: press 'Drag points', then draw a line from each handle to "
                        "its target with the line tool.")
    return active, points


def read_source(doc, node) -> SourceImage:
    """The layer's content box clipped to the canvas, converted to RGBA U8."""
    fmt = check_format(node.colorModel(), node.colorDepth())
    bounds = node.bounds().intersected(doc.bounds())
    if bounds.isEmpty():
        raise UserError(f"The layer '{node.name()}' has no pixels on the canvas.")
    rect = (bounds.x(), bounds.y(), bounds.width(), bounds.height())
    data = bytes(node.pixelData(*rect))
    return SourceImage(node.uniqueId().toString(), node.name(), rect, fmt,
                       layer_to_rgba8(data, rect[2], rect[3], fmt))


def read_pairs(doc, points_node) -> list[DragPair]:
    """Handle → target pairs in document pixels from the lines on the vector layer."""
    shapes = []
    for shape in points_node.shapes():
        t = shape.transformation()
        shapes.append(ShapeInfo(shape.name(), shape.type(), shape.toSvg(),
                                (t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy())))
    position = points_node.position()
    return pairs_from_shapes(shapes, doc.xRes(), doc.yRes(), (float(position.x()), float(position.y())))


def read_mask(doc, rect: Rect) -> Mask | None:
    """The selection over the source rectangle; None without a selection; error when it misses the layer."""
    selection = doc.selection()
    if selection is None:
        return None
    mask = selection_to_mask(bytes(selection.pixelData(*rect)), rect[2], rect[3])
    if mask is None:
        raise UserError("The selection does not overlap the layer; select the area to change, or deselect "
                        "all to let the whole layer change.")
    return mask


def create_points_layer(doc):
    """A vector layer for the drag lines right above the active layer, made active for drawing."""
    active = doc.activeNode()
    layer = doc.createVectorLayer(DRAG_POINTS_LAYER)
    if active is not None and active.parentNode() is not None:
        active.parentNode().addChildNode(layer, active)
    else:
        doc.rootNode().addChildNode(layer, None)
    doc.setActiveNode(layer)
    return layer


def _layer_from_rgba(doc, name: str, rgba: bytes, rect: Rect, fmt: LayerFormat):
    node = doc.createNode(name, "paintlayer")
    node.setPixelData(QByteArray(rgba8_to_layer(rgba, rect[2], rect[3], fmt)), *rect)
    return node


def document_format(doc) -> LayerFormat:
    """The format new layers get; checked before a job so a refused format costs no engine time."""
    return check_format(doc.colorModel(), doc.colorDepth())


def add_layer_on_top(doc, name: str, rgba: bytes, rect: Rect, fmt: LayerFormat):
    """A new paint layer above the active one (or on top of the stack)."""
    active = doc.activeNode()
    node = _layer_from_rgba(doc, name, rgba, rect, fmt)
    if active is not None and active.parentNode() is not None:
        active.parentNode().addChildNode(node, active)
    else:
        doc.rootNode().addChildNode(node, None)
    doc.refreshProjection()
    return node


def add_group_above(doc, anchor, group_name: str, layers: list[tuple[str, bytes]], rect: Rect, fmt: LayerFormat
                    ) -> list:
    """A group layer right above `anchor` holding one paint layer per (name, rgba) over `rect`, first at
    the bottom. The children are filled before the group enters the document: one undo step in all."""
    group = doc.createGroupLayer(group_name)
    nodes = []
    for name, rgba in layers:
        node = _layer_from_rgba(doc, name, rgba, rect, fmt)
        group.addChildNode(node, nodes[-1] if nodes else None)
        nodes.append(node)
    anchor.parentNode().addChildNode(group, anchor)
    doc.refreshProjection()
    return [typed_node(node) for node in group.childNodes()]


def layers_with_latents(doc, store: LatentStore) -> list[tuple[str, str]]:
    """(layer id, name) of the paint layers whose stored latent still describes their pixels, top first:
    the layers Explore can mix from or interpolate towards."""
    found = []
    for node in reversed(_all_nodes(doc.rootNode())):
        layer_id = node.uniqueId().toString()
        if node.type() != "paintlayer" or layer_id not in store.records:
            continue
        try:
            source = read_source(doc, node)
        except (UserError, ValueError):
            continue
        if store.lookup(layer_id, source.fingerprint) is not None:
            found.append((layer_id, node.name()))
    return found


class LiveResultLayer:
    """The layer that shows preview frames while a drag runs and then becomes the result.

    Adding a layer is an undo step but writing its pixels or renaming it is not, so reusing the preview
    layer as the result keeps a successful drag at exactly one undo step. Preview frames are clipped to the
    source's rectangle, which the final pixels then cover completely.
    """

    def __init__(self, doc, anchor, source: SourceImage) -> None:
        self._doc = doc
        self._anchor = anchor
        self._source = source
        self._node = None

    def show(self, rgba: bytes, box: Rect) -> None:
        """A preview frame covering `box` (document pixels); the part outside the source is dropped."""
        clipped = clip_box(box, self._source.rect)
        if clipped is None:
            return
        frame = crop_rgba(rgba, box[2], box[3], (clipped[0] - box[0], clipped[1] - box[1], clipped[2], clipped[3]))
        self._write(frame, clipped)

    def finish(self, name: str, rgba: bytes):
        """The final pixels over the source's rectangle, under the result's name; returns the node."""
        self._write(rgba, self._source.rect)
        self._node.setName(name)
        self._doc.refreshProjection()
        return self._node

    def discard(self) -> None:
        if self._node is not None:
            self._node.remove()
            self._node = None
            self._doc.refreshProjection()

    def _write(self, rgba: bytes, rect: Rect) -> None:
        data = QByteArray(rgba8_to_layer(rgba, rect[2], rect[3], self._source.fmt))
        if self._node is None:
            self._node = self._doc.createNode(PREVIEW_LAYER, "paintlayer")
            self._node.setPixelData(data, *rect)
            self._anchor.parentNode().addChildNode(self._node, self._anchor)
        else:
            self._node.setPixelData(data, *rect)
        self._doc.refreshProjection()


def decode_image(data: bytes) -> tuple[bytes, int, int]:
    """Encoded PNG/JPEG bytes → (straight RGBA U8, width, height)."""
    image = QImage.fromData(bytes(data))
    if image.isNull():
        raise UserError("The engine sent an image Qt cannot decode.")
    return _rgba_bytes(image), image.width(), image.height()


def _rgba_bytes(image: QImage) -> bytes:
    image = image.convertToFormat(QImage.Format_RGBA8888)
    pointer = image.constBits()
    pointer.setsize(image.sizeInBytes())
    data = bytes(pointer)
    row, stride = 4 * image.width(), image.bytesPerLine()
    return data if stride == row else b"".join(data[y * stride:y * stride + row] for y in range(image.height()))


def scale_rgba(rgba: bytes, width: int, height: int, new_width: int, new_height: int) -> bytes:
    """Smoothly resample straight RGBA U8 pixels (Qt does the filtering)."""
    if (width, height) == (new_width, new_height):
        return bytes(rgba)
    image = QImage(bytes(rgba), width, height, 4 * width, QImage.Format_RGBA8888)
    return _rgba_bytes(image.scaled(new_width, new_height, Qt.IgnoreAspectRatio, Qt.SmoothTransformation))


def load_latents(doc) -> LatentStore:
    return LatentStore.decode(bytes(doc.annotation(ANNOTATION_TYPE)))


def save_latents(doc, store: LatentStore) -> None:
    store.prune(layer_ids(doc))
    doc.setAnnotation(ANNOTATION_TYPE, ANNOTATION_DESCRIPTION, QByteArray(store.encode()))
