"""latentdrag's native model format: one `.safetensors` file with a JSON metadata block.

Tensors are `G_ema.<NVIDIA name>` and optionally `D.<NVIDIA name>` (float32); the safetensors metadata key
`latentdrag` holds `{"format_version", "architecture", "config", "name", "description", "provenance",
"license"}`. safetensors holds only raw tensors, so reading a file can never run code.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .build import build_discriminator, build_generator
from .errors import ModelFileError
from .model_info import LoadedModel, ModelInfo, validate_drag_defaults
from .stylegan2 import Discriminator, Generator, StyleGAN2Config

FORMAT_VERSION = 1
METADATA_KEY = "latentdrag"
G_PREFIX = "G_ema."
D_PREFIX = "D."
# A safetensors header is JSON; anything this large is not one of our files.
MAX_HEADER_BYTES = 64 << 20


def save_native(path: str | os.PathLike, G: Generator, D: Discriminator | None = None, *, name: str,
                description: str = "", provenance: str = "", license: str = "",
                drag_defaults: dict | None = None) -> None:
    """Write G (and D) with metadata; the file is written to a temporary name and renamed into place.
    `drag_defaults`: drag settings tuned for this model (see `validate_drag_defaults`)."""
    if not name:
        raise ValueError("name must be a non-empty string")
    drag_defaults = validate_drag_defaults(drag_defaults or {})
    tensors = {G_PREFIX + k: v.detach().to("cpu", torch.float32).contiguous() for k, v in G.state_dict().items()}
    if D is not None:
        tensors.update({D_PREFIX + k: v.detach().to("cpu", torch.float32).contiguous()
                        for k, v in D.state_dict().items()})
    meta = {
        "format_version": FORMAT_VERSION, "architecture": "stylegan2", "config": G.config.to_json_dict(),
        "name": name, "description": description, "provenance": provenance, "license": license,
    }
    if drag_defaults:
        meta["drag_defaults"] = drag_defaults
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta)})
    os.replace(tmp, path)


def read_native_header(path: str | os.PathLike) -> tuple[dict, dict]:
    """(latentdrag metadata, tensor table) from the header alone, without reading any weights."""
    path = Path(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ModelFileError(f"{path}: too short to be a safetensors file")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > MAX_HEADER_BYTES or header_len + 8 > os.fstat(f.fileno()).st_size:
            raise ModelFileError(f"{path}: safetensors header length {header_len} is out of range")
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: safetensors header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: safetensors header is not a JSON object")
    file_meta = header.pop("__metadata__", None) or {}
    if METADATA_KEY not in file_meta:
        raise ModelFileError(f"{path}: safetensors file has no '{METADATA_KEY}' metadata; "
                             "it was not written by latentdrag (use `latentdrag convert`)")
    try:
        meta = json.loads(file_meta[METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: '{METADATA_KEY}' metadata is not valid JSON ({exc})") from exc
    return meta, header


def _info_from_meta(path: Path, meta: dict, has_d: bool) -> ModelInfo:
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: metadata must be a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: metadata format_version {version!r} is not supported "
                             f"(this latentdrag reads version {FORMAT_VERSION})")
    arch = meta.get("architecture")
    if arch != "stylegan2":
        raise ModelFileError(f"{path}: architecture {arch!r} is not supported yet (only 'stylegan2')")
    try:
        cfg = StyleGAN2Config.from_json_dict(meta["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: metadata 'config' is invalid: {exc}") from exc
    text = {}
    for key in ("name", "description", "provenance", "license"):
        value = meta.get(key, "")
        if not isinstance(value, str):
            raise ModelFileError(f"{path}: metadata {key!r} must be a string")
        text[key] = value
    try:
        drag_defaults = validate_drag_defaults(meta.get("drag_defaults", {}))
    except ValueError as exc:
        raise ModelFileError(f"{path}: metadata {exc}") from exc
    return ModelInfo(name=text["name"] or path.stem, architecture=arch, config=cfg,
                     description=text["description"], provenance=text["provenance"], license=text["license"],
                     source_format="safetensors", has_discriminator=has_d, drag_defaults=drag_defaults)


def read_native_info(path: str | os.PathLike) -> ModelInfo:
    """Metadata only (fast: reads the header, not the weights)."""
    path = Path(path)
    meta, table = read_native_header(path)
    return _info_from_meta(path, meta, has_d=any(k.startswith(D_PREFIX) for k in table))


def load_native(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    path = Path(path)
    meta, _ = read_native_header(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{path}: cannot read safetensors data: {exc}") from exc
    g_state = {k[len(G_PREFIX):]: v for k, v in tensors.items() if k.startswith(G_PREFIX)}
    d_state = {k[len(D_PREFIX):]: v for k, v in tensors.items() if k.startswith(D_PREFIX)}
    stray = [k for k in tensors if not k.startswith((G_PREFIX, D_PREFIX))]
    if stray:
        raise ModelFileError(f"{path}: unexpected tensors {stray[:5]} (names must start with "
                             f"'{G_PREFIX}' or '{D_PREFIX}')")
    if not g_state:
        raise ModelFileError(f"{path}: no '{G_PREFIX}*' generator tensors")
    info = _info_from_meta(path, meta, has_d=bool(d_state))
    G = build_generator(info.config, g_state).to(device)
    G.drag_defaults = dict(info.drag_defaults)
    D = build_discriminator(info.config, d_state).to(device) if d_state else None
    return LoadedModel(G=G, D=D, meta=info, path=path)
