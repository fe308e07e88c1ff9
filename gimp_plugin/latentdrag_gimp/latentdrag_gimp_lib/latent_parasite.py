"""The latent stored on a result layer as a GIMP parasite, so that dragging that layer again needs no
inversion.

Layout (all in one parasite): MAGIC, a 4-byte big-endian header length, a UTF-8 JSON header, then the
engine's exported latent exactly as the engine gave it. The header records a SHA-256 of the layer's
pixels when the latent was stored: once somebody paints on the layer, the latent no longer describes it
and the plug-in inverts again instead of silently dropping the paint.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass

PARASITE_NAME = "latentdrag-latent"
MAGIC = b"LATENTDRAG-LATENT\n"
FORMAT_VERSION = 1
_HEADER_LENGTH = struct.Struct(">I")


class LatentParasiteError(ValueError):
    """The parasite's bytes are not a latent this plug-in wrote (or a newer format)."""


@dataclass(frozen=True)
class StoredLatent:
    exported_latent: bytes  # opaque to the plug-in: what the engine's export gave, handed back on import
    pixels_sha256: str      # of the layer's R'G'B'A u8 pixels when the latent was stored
    session: str = ""       # engine session name, tried first (it may have expired)
    revision: int = 0       # the session revision the latent was exported from
    model: str = ""         # model the latent belongs to
    kind: str = ""          # engine session kind: "image" latents re-attach to the layer, others do not

    def matches_pixels(self, rgba: bytes) -> bool:
        return pixels_digest(rgba) == self.pixels_sha256


def pixels_digest(rgba: bytes) -> str:
    return hashlib.sha256(rgba).hexdigest()


def encode(stored: StoredLatent) -> bytes:
    header = json.dumps({"format_version": FORMAT_VERSION, "pixels_sha256": stored.pixels_sha256,
                         "session": stored.session, "revision": stored.revision,
                         "model": stored.model, "kind": stored.kind}).encode("utf-8")
    return MAGIC + _HEADER_LENGTH.pack(len(header)) + header + stored.exported_latent


def decode(data: bytes) -> StoredLatent:
    if not data.startswith(MAGIC):
        raise LatentParasiteError(f'parasite "{PARASITE_NAME}" does not start with the latentdrag marker')
    start = len(MAGIC) + _HEADER_LENGTH.size
    if len(data) < start:
        raise LatentParasiteError(f'parasite "{PARASITE_NAME}" is truncated before its header length')
    (header_length,) = _HEADER_LENGTH.unpack_from(data, len(MAGIC))
    if len(data) < start + header_length:
        raise LatentParasiteError(f'parasite "{PARASITE_NAME}" is truncated inside its header')
    try:
        header = json.loads(data[start:start + header_length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentParasiteError(f'parasite "{PARASITE_NAME}" has an unreadable header: {exc}') from None
    if not isinstance(header, dict) or header.get("format_version") != FORMAT_VERSION:
        version = header.get("format_version") if isinstance(header, dict) else None
        raise LatentParasiteError(f'parasite "{PARASITE_NAME}" has format_version {version!r}; this plug-in '
                                  f"reads version {FORMAT_VERSION}")
    digest = header.get("pixels_sha256")
    if not isinstance(digest, str) or len(digest) != 64:
        raise LatentParasiteError(f'parasite "{PARASITE_NAME}" header lacks a valid pixels_sha256')
    exported = data[start + header_length:]
    if not exported:
        raise LatentParasiteError(f'parasite "{PARASITE_NAME}" holds no latent after its header')
    revision = header.get("revision", 0)
    if not isinstance(revision, int):
        raise LatentParasiteError(f'parasite "{PARASITE_NAME}" header has a non-integer revision {revision!r}')
    return StoredLatent(exported_latent=exported, pixels_sha256=digest, session=str(header.get("session", "")),
                        revision=revision, model=str(header.get("model", "")), kind=str(header.get("kind", "")))


def to_parasite_data(data: bytes) -> list[int]:
    """GIMP's Python binding types parasite data as C `char`s, which are signed: -128..127."""
    return [byte - 256 if byte > 127 else byte for byte in data]


def from_parasite_data(values: list[int]) -> bytes:
    """Inverse of to_parasite_data; also accepts unsigned values."""
    return bytes(value & 0xFF for value in values)
