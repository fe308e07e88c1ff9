"""Protobuf `Image` ↔ numpy / tensors: decoding with validation, encoding for responses."""
from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from PIL import Image as PILImage

from engine.client._gen.latentdrag.v1 import engine_pb2 as pb

from .errors import invalid

ENCODED_TYPES = ("image/png", "image/jpeg", "image/webp")
_CHANNELS = {pb.PIXEL_FORMAT_RGBA8: 4, pb.PIXEL_FORMAT_RGB8: 3, pb.PIXEL_FORMAT_GRAY8: 1}
PREVIEW_JPEG_QUALITY = 85


def decode_image(message: pb.Image, field: str, max_side: int) -> np.ndarray:
    """uint8 `[H, W, C]` (C = 1, 3 or 4) from an encoded or raw `Image`; errors name `field`."""
    if not message.data:
        raise invalid(f"{field}.data", "is empty")
    if message.mime_type:
        return _decode_encoded(message, field, max_side)
    if message.pixel_format not in _CHANNELS:
        raise invalid(f"{field}.pixel_format", "must be RGBA8, RGB8 or GRAY8 for raw pixels (or set mime_type)")
    width, height, channels = message.width, message.height, _CHANNELS[message.pixel_format]
    _check_size(field, width, height, max_side)
    expected = width * height * channels
    if len(message.data) != expected:
        raise invalid(f"{field}.data", f"has {len(message.data)} bytes but {width}x{height} "
                      f"{pb.PixelFormat.Name(message.pixel_format)} needs {expected}")
    return np.frombuffer(message.data, dtype=np.uint8).reshape(height, width, channels)


def _check_size(field: str, width: int, height: int, max_side: int) -> None:
    if width < 1 or height < 1:
        raise invalid(f"{field}", f"width and height must be positive, got {width}x{height}")
    if max(width, height) > max_side:
        raise invalid(f"{field}", f"{width}x{height} is too large (the engine's limit is {max_side} px a side)")


def _decode_encoded(message: pb.Image, field: str, max_side: int) -> np.ndarray:
    if message.mime_type not in ENCODED_TYPES:
        raise invalid(f"{field}.mime_type", f"must be one of {', '.join(ENCODED_TYPES)}, got {message.mime_type!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(message.data)) as picture:
                _check_size(field, picture.width, picture.height, max_side)
                picture.load()
                mode = "RGBA" if picture.mode in ("RGBA", "LA", "PA", "P") or "transparency" in picture.info \
                    else ("L" if picture.mode in ("L", "1", "I;16", "I") else "RGB")
                return np.asarray(picture.convert(mode)).reshape(picture.height, picture.width, -1)
    except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError,
            PILImage.DecompressionBombWarning) as exc:
        raise invalid(f"{field}.data", f"cannot be decoded as {message.mime_type} ({exc})") from None


def as_rgba(pixels: np.ndarray) -> np.ndarray:
    if pixels.shape[2] == 4:
        return np.ascontiguousarray(pixels)
    rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
    alpha = np.full(rgb.shape[:2] + (1,), 255, dtype=np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


def mask_plane(pixels: np.ndarray) -> np.ndarray:
    """Float `[H, W]` in [0, 1]: the grey level (alpha-weighted when the mask has alpha)."""
    values = pixels.astype(np.float32) / 255.0
    if values.shape[2] == 1:
        return values[..., 0]
    grey = values[..., :3].mean(axis=2)
    return grey * values[..., 3] if values.shape[2] == 4 else grey


def tensor_to_rgb(image: torch.Tensor) -> np.ndarray:
    """`[1, 3, H, W]` or `[3, H, W]` in [-1, 1] → uint8 `[H, W, 3]`."""
    image = image.detach().float().cpu()
    if image.dim() == 4:
        image = image[0]
    return ((image.permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def encode_image(pixels: np.ndarray, encoding: int) -> pb.Image:
    """An `Image` message from uint8 `[H, W, 3|4]`; UNSPECIFIED encodes PNG."""
    height, width = pixels.shape[:2]
    if encoding == pb.IMAGE_ENCODING_RAW_RGBA8:
        return pb.Image(data=as_rgba(pixels).tobytes(), width=width, height=height,
                        pixel_format=pb.PIXEL_FORMAT_RGBA8)
    buffer = io.BytesIO()
    picture = PILImage.fromarray(pixels)
    if encoding == pb.IMAGE_ENCODING_JPEG:
        picture.convert("RGB").save(buffer, format="JPEG", quality=PREVIEW_JPEG_QUALITY)
        mime = "image/jpeg"
    else:
        picture.save(buffer, format="PNG", compress_level=1)
        mime = "image/png"
    return pb.Image(data=buffer.getvalue(), mime_type=mime, width=width, height=height)
