"""Latents kept inside the Krita document, linked to layers, so a later drag needs no inversion.

The store is one JSON document saved as a document annotation (it travels inside the .kra and survives
restarts of Krita and of the engine). Records are keyed by the layer's unique id and carry a fingerprint of
the layer's pixels at the time they were stored: once the user paints on the layer, the latent no longer
describes it and the plugin falls back to inverting the pixels.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

ANNOTATION_TYPE = "latentdrag-latents"
ANNOTATION_DESCRIPTION = "Latent Drag: latents of generated layers (lets later drags skip inversion)"
FORMAT_VERSION = 1
Box = tuple[int, int, int, int]


class LatentStoreError(ValueError):
    """The stored latents cannot be read (damaged or from a newer plugin)."""


def fingerprint(rgba: bytes, box: Box) -> str:
    """Identity of a layer's pixels over `box` (the box is part of it: a moved layer is a different image)."""
    digest = hashlib.sha256(json.dumps(list(box)).encode())
    digest.update(rgba)
    return digest.hexdigest()


@dataclass(frozen=True)
class LatentRecord:
    """An engine latent (the opaque blob of `EngineClient.export_latent`) that renders the layer.

    `region_box` is the part of the layer (x, y, w, h in the layer image's pixels) the latent covers, or
    None for the whole layer; `fingerprint` identifies the layer pixels the latent was stored for.
    """

    model: str
    blob: bytes
    region_box: Box | None
    fingerprint: str

    def __post_init__(self) -> None:
        if not self.blob:
            raise LatentStoreError("a stored latent is empty")
        if self.region_box is not None and (len(self.region_box) != 4 or self.region_box[2] <= 0
                                            or self.region_box[3] <= 0):
            raise LatentStoreError(f"region_box must be (x, y, width > 0, height > 0), got {self.region_box}")

    def covers(self, box: Box) -> bool:
        """Whether an edit limited to `box` stays inside the region this latent describes."""
        if self.region_box is None:
            return True
        rx, ry, rw, rh = self.region_box
        x, y, w, h = box
        return rx <= x and ry <= y and x + w <= rx + rw and y + h <= ry + rh

    def to_json(self) -> dict:
        return {"model": self.model, "blob": base64.b64encode(self.blob).decode("ascii"),
                "region_box": list(self.region_box) if self.region_box is not None else None,
                "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, data: dict) -> "LatentRecord":
        try:
            box = data["region_box"]
            return cls(model=str(data["model"]), blob=base64.b64decode(data["blob"], validate=True),
                       region_box=tuple(int(n) for n in box) if box is not None else None,
                       fingerprint=str(data["fingerprint"]))
        except LatentStoreError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise LatentStoreError(f"a stored latent is damaged ({type(exc).__name__}: {exc})") from None


class LatentStore:
    """Layer id → LatentRecord; (de)serialised as the document annotation's bytes."""

    def __init__(self, records: dict[str, LatentRecord] | None = None) -> None:
        self.records: dict[str, LatentRecord] = dict(records or {})

    def encode(self) -> bytes:
        payload = {"format_version": FORMAT_VERSION,
                   "layers": {layer_id: record.to_json() for layer_id, record in self.records.items()}}
        return json.dumps(payload, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> "LatentStore":
        if not data:
            return cls()
        try:
            payload = json.loads(bytes(data).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LatentStoreError(f"the document's stored latents are not valid JSON: {exc}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("layers"), dict):
            raise LatentStoreError("the document's stored latents have no 'layers' table")
        version = payload.get("format_version")
        if version != FORMAT_VERSION:
            raise LatentStoreError(f"the document's stored latents have format version {version!r}; this "
                                   f"plugin reads version {FORMAT_VERSION} (update the plugin)")
        return cls({str(key): LatentRecord.from_json(value) for key, value in payload["layers"].items()})

    def put(self, layer_id: str, record: LatentRecord) -> None:
        self.records[layer_id] = record

    def lookup(self, layer_id: str, current_fingerprint: str) -> LatentRecord | None:
        """The layer's latent if the layer still shows exactly what the latent rendered, else None."""
        record = self.records.get(layer_id)
        if record is None or record.fingerprint != current_fingerprint:
            return None
        return record

    def prune(self, existing_layer_ids: set[str]) -> None:
        """Forget latents of deleted layers so the document does not grow forever."""
        self.records = {key: value for key, value in self.records.items() if key in existing_layer_ids}
