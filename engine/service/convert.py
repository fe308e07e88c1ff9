"""Validation and translation between protobuf messages and the core's values (tensors, tuples)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from engine.client._gen.latentdrag.v1 import engine_pb2 as pb
from engine.edit.region import Region

from .errors import invalid
from .sessions import Revision, Session, SessionStore

ROW_NAMES = {pb.ROW_RANGE_ALL: None, pb.ROW_RANGE_COARSE: "coarse", pb.ROW_RANGE_MIDDLE: "middle",
             pb.ROW_RANGE_FINE: "fine"}
KIND_ENUMS = {"seed": pb.SESSION_KIND_SEED, "latent": pb.SESSION_KIND_LATENT, "image": pb.SESSION_KIND_IMAGE}
ENCODINGS = (pb.IMAGE_ENCODING_UNSPECIFIED, pb.IMAGE_ENCODING_PNG, pb.IMAGE_ENCODING_JPEG,
             pb.IMAGE_ENCODING_RAW_RGBA8)


def enum_choice(value: int, allowed: dict, field: str, enum_type, default=None):
    """The value for an enum field; UNSPECIFIED maps to `default` when given, else it is rejected."""
    if value == 0 and default is not None:
        return default
    if value not in allowed:
        names = ", ".join(enum_type.Name(v) for v in allowed)
        shown = enum_type.Name(value) if value in enum_type.values() else str(value)
        raise invalid(field, f"must be one of {names}, got {shown}")
    return allowed[value]


def check_encoding(value: int, field: str) -> int:
    if value not in ENCODINGS:
        raise invalid(field, f"unknown image encoding {value}")
    return value


def finite(value: float, field: str, low: float | None = None, high: float | None = None) -> float:
    if not math.isfinite(value):
        raise invalid(field, f"must be a finite number, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise invalid(field, f"must be in [{low}, {high}], got {value}")
    return value


def points(messages, field: str, width: float, height: float) -> list[tuple[float, float]]:
    """(x, y) pairs, each finite and inside the [0, width] × [0, height] image."""
    result = []
    for index, p in enumerate(messages):
        name = f"{field}[{index}]"
        if not (math.isfinite(p.x) and math.isfinite(p.y)):
            raise invalid(name, f"coordinates must be finite numbers, got ({p.x}, {p.y})")
        if not (0 <= p.x <= width and 0 <= p.y <= height):
            raise invalid(name, f"({p.x:g}, {p.y:g}) is outside the {width:g}x{height:g} image")
        result.append((p.x, p.y))
    return result


def box_message(box: tuple[int, int, int, int]) -> pb.Box:
    x, y, w, h = box
    return pb.Box(x=x, y=y, width=w, height=h)


def selection_box(message: pb.Box, field: str, width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a selection that must lie inside the layer and be non-empty."""
    x, y, w, h = message.x, message.y, message.width, message.height
    if w < 1 or h < 1:
        raise invalid(field, f"width and height must be positive, got {w}x{h}")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise invalid(field, f"box ({x}, {y}, {w}x{h}) is not inside the {width}x{height} layer")
    return x, y, w, h


def mask_to_model(plane: np.ndarray, region: Region) -> torch.Tensor:
    """A layer-sized mask `[H, W]` cut to the region's window and resized to model resolution."""
    pad = ((max(-region.top, 0), max(region.top + region.size - region.layer_height, 0)),
           (max(-region.left, 0), max(region.left + region.size - region.layer_width, 0)))
    window = np.pad(plane, pad, mode="constant")
    top, left = region.top + pad[0][0], region.left + pad[1][0]
    window = window[top:top + region.size, left:left + region.size]
    resized = F.interpolate(torch.from_numpy(np.ascontiguousarray(window))[None, None], size=region.resolution,
                            mode="area")
    return resized[0, 0].clamp(0, 1)


def latent_message(session: Session, revision: Revision, model_sha256: str) -> pb.Latent:
    """A revision's latent (or an edited latent wrapped as one) with what resuming it elsewhere needs."""
    ws = revision.ws.detach().float().cpu().contiguous()
    latent = pb.Latent(shape=list(ws.shape), dtype=pb.DTYPE_FLOAT32, data=ws.numpy().astype("<f4").tobytes(),
                       model=session.model, model_sha256=model_sha256, truncation_psi=revision.truncation_psi)
    if session.image is not None:
        latent.region_box.CopyFrom(box_message(session.image.box))
        latent.layer_width, latent.layer_height = session.image.layer.shape[1], session.image.layer.shape[0]
    return latent


def latent_tensor(message: pb.Latent, field: str, num_ws: int, w_dim: int) -> torch.Tensor:
    """ws `[1, num_ws, w_dim]` float32 from a `Latent`, checked for dtype, shape, size and finiteness."""
    if message.dtype != pb.DTYPE_FLOAT32:
        raise invalid(f"{field}.dtype", "must be DTYPE_FLOAT32")
    shape = list(message.shape)
    if shape == [1, w_dim]:
        shape = [1, 1, w_dim]
    if shape not in ([1, num_ws, w_dim], [1, 1, w_dim]):
        raise invalid(f"{field}.shape", f"must be [1, {num_ws}, {w_dim}] (or [1, {w_dim}] for a single w) for "
                      f"this model, got {list(message.shape)}")
    expected = math.prod(shape) * 4
    if len(message.data) != expected:
        raise invalid(f"{field}.data", f"has {len(message.data)} bytes, shape {shape} float32 needs {expected}")
    ws = torch.from_numpy(np.frombuffer(message.data, dtype="<f4").astype(np.float32).reshape(shape))
    if not torch.isfinite(ws).all():
        raise invalid(f"{field}.data", "contains NaN or infinite values")
    return ws.expand(1, num_ws, w_dim).clone()


def session_message(session: Session, store: SessionStore) -> pb.Session:
    message = pb.Session(
        name=session.name, model=session.model, kind=KIND_ENUMS[session.kind], revision=session.current.id,
        revisions=[pb.Revision(id=r.id, description=r.description, create_time_unix_ms=r.created_ms)
                   for r in session.revisions],
        resolution=session.resolution, create_time_unix_ms=session.created_ms,
        expire_time_unix_ms=store.expire_time_ms(session), busy=session.busy)
    if session.image is not None:
        message.layer_height, message.layer_width = session.image.layer.shape[:2]
        message.region_box.CopyFrom(box_message(session.image.box))
    return message
