"""Test-side writer of network pickles in NVIDIA's persistence layout, from our own networks.

Nothing here imports NVIDIA code: every global a real file names (`torch_utils.persistence.
_reconstruct_persistent_obj`, `dnnlib.util.EasyDict`, `torch._utils._rebuild_tensor_v2`, numpy scalars,
...) is written by name through `FakeGlobal`, and each tensor storage is a legacy `torch.save` stream that
this module produces byte by byte. The `module_src` of every persistent object is code that would leave a
marker file and abort if a loader ever executed it.
"""
from __future__ import annotations

import io
import math
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
MODULE_SRC_TEMPLATE = ("import pathlib\n"
                       "pathlib.Path({marker!r}).write_text('module_src was executed')\n"
                       "raise SystemExit('module_src must never run')\n")


class FakeGlobal:
    """A global written by module and name; a loader that calls it has executed pickle code."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{self.module}.{self.name} must never be called")


@dataclass(eq=False)
class Reduce:
    """`func(*args)` in the pickle, followed by BUILD(state) when state is given."""
    func: Any
    args: tuple
    state: Any = None


class EasyDictNode(dict):
    """Written as NEWOBJ(dnnlib.util.EasyDict) + SETITEMS, as a real EasyDict pickles."""


@dataclass(eq=False)
class RawStream:
    """A storage stream written verbatim (for malformed-file tests)."""
    data: bytes


PERSISTENT = FakeGlobal("torch_utils.persistence", "_reconstruct_persistent_obj")
EASYDICT = FakeGlobal("dnnlib.util", "EasyDict")
REBUILD_TENSOR = FakeGlobal("torch._utils", "_rebuild_tensor_v2")
REBUILD_PARAMETER = FakeGlobal("torch._utils", "_rebuild_parameter")
LOAD_FROM_BYTES = FakeGlobal("torch.storage", "_load_from_bytes")
NUMPY_DTYPE = FakeGlobal("numpy", "dtype")
FLOAT_STORAGE = FakeGlobal("torch", "FloatStorage")


class NvidiaStylePickler(pickle._Pickler):
    """The pure-Python pickler plus the three node kinds above."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol: int, storage_pid: tuple | None = None):
        super().__init__(file, protocol=protocol)
        self.storage_pid = storage_pid

    def persistent_id(self, obj: Any) -> Any:
        return self.storage_pid if obj is STORAGE_SENTINEL else None

    def _save_fake_global(self, obj: FakeGlobal) -> None:
        if self.proto >= 4:
            self.save(obj.module)
            self.save(obj.name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + obj.module.encode() + b"\n" + obj.name.encode() + b"\n")
        self.memoize(obj)

    def _save_reduce_node(self, obj: Reduce) -> None:
        self.save_reduce(obj.func, obj.args, state=obj.state, obj=obj)

    def _save_easydict(self, obj: EasyDictNode) -> None:
        self.save(EASYDICT)
        self.save(())
        self.write(pickle.NEWOBJ)
        self.memoize(obj)
        if obj:
            self.write(pickle.MARK)
            for key, value in obj.items():
                self.save(key)
                self.save(value)
            self.write(pickle.SETITEMS)

    def _save_raw_stream(self, obj: RawStream) -> None:
        self.save_reduce(LOAD_FROM_BYTES, (obj.data,), obj=obj)

    dispatch[FakeGlobal] = _save_fake_global
    dispatch[Reduce] = _save_reduce_node
    dispatch[EasyDictNode] = _save_easydict
    dispatch[RawStream] = _save_raw_stream


STORAGE_SENTINEL = object()


def legacy_storage_stream(payload: bytes, numel: int, storage_type: Any = FLOAT_STORAGE, key: str = "0",
                          header_numel: int | None = None) -> bytes:
    """Legacy torch.save stream of one storage: magic, protocol, sys_info, pid, keys, int64 numel, bytes."""
    buf = io.BytesIO()
    for obj in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                                     "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        NvidiaStylePickler(buf, protocol=2).dump(obj)
    NvidiaStylePickler(buf, protocol=2, storage_pid=("storage", storage_type, key, "cpu", numel, None)
                       ).dump(STORAGE_SENTINEL)
    NvidiaStylePickler(buf, protocol=2).dump([key])
    buf.write(struct.pack("<q", numel if header_numel is None else header_numel))
    buf.write(payload)
    return buf.getvalue()


@dataclass
class TensorLayout:
    """How tensors are laid out in their storages (exercise strides and offsets like real files)."""
    channels_last: bool = False
    storage_padding: int = 0


def tensor_node(t: torch.Tensor, layout: TensorLayout = TensorLayout(), parameter: bool = False) -> Reduce:
    t = t.detach().to(torch.float32)
    size = tuple(t.shape)
    if layout.channels_last and t.ndim == 4:
        flat = t.permute(0, 2, 3, 1).contiguous().flatten()
        o, i, h, w = size
        stride = (h * w * i, 1, w * i, i)
    else:
        flat = t.contiguous().flatten()
        stride = tuple(t.contiguous().stride())
    pad = layout.storage_padding
    flat = torch.cat([torch.full([pad], 7.0), flat])
    stream = legacy_storage_stream(flat.numpy().tobytes(), flat.numel())
    node = Reduce(REBUILD_TENSOR, (Reduce(LOAD_FROM_BYTES, (stream,)), pad, size, stride, False, OrderedDict()))
    if parameter:
        node = Reduce(REBUILD_PARAMETER, (node, t.requires_grad, OrderedDict()))
    return node


@dataclass
class PickleStyle:
    """Variations real files show: pickle protocol, numpy 1.x/2.x names, layout of the repo that wrote it."""
    protocol: int = 4
    numpy_module: str = "numpy._core.multiarray"
    layout: str = "stylegan2-ada"  # or "stylegan3-repo"
    tensors: TensorLayout = field(default_factory=TensorLayout)
    omit_conv_clamp_kwarg: bool = False


class NumpyScalars:
    """float64 numpy scalars (NVIDIA's gains), sharing one dtype object as numpy's pickles do."""

    def __init__(self, module: str):
        self.scalar = FakeGlobal(module, "scalar")
        self.dtype = Reduce(NUMPY_DTYPE, ("f8", False, True), state=(3, "<", None, None, None, -1, -1, 0))

    def f64(self, value: float) -> Reduce:
        return Reduce(self.scalar, (self.dtype, struct.pack("<d", value)))


_FLOAT_GAIN_ATTRS = {"weight_gain", "bias_gain", "act_gain"}
_EXTRA_NVIDIA_ATTRS = {
    "SynthesisLayer": {"activation": "lrelu", "act_gain": math.sqrt(2)},
    "SynthesisBlock": {"use_fp16": False, "channels_last": False},
    "DiscriminatorBlock": {"use_fp16": False, "channels_last": False},
}


def _simple_attrs(module: nn.Module, style: PickleStyle, numpy_scalars: NumpyScalars) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    items = {k: v for k, v in vars(module).items() if not k.startswith("_")}
    items.update(_EXTRA_NVIDIA_ATTRS.get(type(module).__name__, {}))
    if style.layout == "stylegan3-repo" and type(module).__name__ == "SynthesisBlock":
        items["fused_modconv_default"] = "inference_only"
    for key, value in items.items():
        if isinstance(value, bool) or value is None or isinstance(value, (int, str, Reduce)):
            attrs[key] = value
        elif isinstance(value, float):
            attrs[key] = numpy_scalars.f64(value) if key in _FLOAT_GAIN_ATTRS else value
        elif isinstance(value, list) and all(isinstance(v, int) for v in value):
            attrs[key] = list(value)
    return attrs


def module_node(module: nn.Module, style: PickleStyle, marker: Path, numpy_scalars: NumpyScalars,
                init_kwargs: dict | None = None) -> Reduce:
    """A persistent object as NVIDIA's `persistence` writes one: REDUCE(_reconstruct_persistent_obj, (meta,))."""
    attrs = _simple_attrs(module, style, numpy_scalars)
    state: dict[str, Any] = {
        "training": False,
        "_parameters": OrderedDict((n, None if p is None else tensor_node(p, style.tensors, parameter=True))
                                   for n, p in module._parameters.items()),
        "_buffers": OrderedDict((n, None if b is None else tensor_node(b, style.tensors))
                                for n, b in module._buffers.items()),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": OrderedDict(), "_forward_hooks": OrderedDict(), "_forward_pre_hooks": OrderedDict(),
        "_state_dict_hooks": OrderedDict(), "_load_state_dict_pre_hooks": OrderedDict(),
        "_modules": OrderedDict((n, None if c is None else module_node(c, style, marker, numpy_scalars))
                                for n, c in module._modules.items()),
    }
    state.update(attrs)
    state["_init_args"] = ()
    kwargs = {k: v for k, v in attrs.items() if isinstance(v, (int, str))} if init_kwargs is None else init_kwargs
    state["_init_kwargs"] = EasyDictNode(kwargs)
    meta = {"type": "class", "version": 6, "module_src": MODULE_SRC_TEMPLATE.format(marker=str(marker)),
            "class_name": type(module).__name__, "state": state}
    return Reduce(PERSISTENT, (meta,))


def numpy_array_node(values: list[float], module: str = "numpy._core.multiarray") -> Reduce:
    """A small float64 numpy array as numpy pickles it (StyleGAN3 layers hold a few)."""
    dtype = Reduce(NUMPY_DTYPE, ("f8", False, True), state=(3, "<", None, None, None, -1, -1, 0))
    return Reduce(FakeGlobal(module, "_reconstruct"), (FakeGlobal("numpy", "ndarray"), (0,), b"b"),
                  state=(1, (len(values),), dtype, False, struct.pack(f"<{len(values)}d", *values)))


def _generator_init_kwargs(G: nn.Module, style: PickleStyle) -> EasyDictNode:
    cfg = G.config
    synthesis_kwargs = EasyDictNode(channel_base=32768, channel_max=512, num_fp16_res=0,
                                    architecture=cfg.architecture, conv_clamp=cfg.conv_clamp)
    if style.omit_conv_clamp_kwarg:
        del synthesis_kwargs["conv_clamp"]
    return EasyDictNode(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
                        img_channels=cfg.img_channels, mapping_kwargs=EasyDictNode(num_layers=cfg.mapping_layers),
                        synthesis_kwargs=synthesis_kwargs)


class AugmentPipeStandIn(nn.Module):
    """Shape of NVIDIA's augment_pipe in a snapshot: a persistent module with a few buffers and floats."""

    def __init__(self):
        super().__init__()
        self.xflip = 1.0
        self.register_buffer("p", torch.tensor(0.25))
        self.register_buffer("Hz_geom", torch.linspace(-1, 1, 12))


def snapshot(G_ema: nn.Module, D: nn.Module | None, G_training: nn.Module | None, style: PickleStyle,
             marker: Path, with_augment_pipe: bool = True) -> dict:
    """The top-level dict of a training snapshot in the chosen repo's key order."""
    scalars = NumpyScalars(style.numpy_module)
    nodes = {
        "G": module_node(G_training, style, marker, scalars, _generator_init_kwargs(G_training, style))
        if G_training is not None else None,
        "D": module_node(D, style, marker, scalars) if D is not None else None,
        "G_ema": module_node(G_ema, style, marker, scalars, _generator_init_kwargs(G_ema, style)),
        "augment_pipe": module_node(AugmentPipeStandIn(), style, marker, scalars) if with_augment_pipe else None,
        "training_set_kwargs": EasyDictNode(class_name="training.dataset.ImageFolderDataset",
                                            path="~/datasets/faces.zip", use_labels=False, xflip=True),
    }
    order = (["training_set_kwargs", "G", "D", "G_ema", "augment_pipe"] if style.layout == "stylegan2-ada"
             else ["G", "D", "G_ema", "augment_pipe", "training_set_kwargs"])
    return {key: nodes[key] for key in order}


def write_pickle(path: Path, obj: Any, protocol: int = 4) -> Path:
    with open(path, "wb") as f:
        NvidiaStylePickler(f, protocol=protocol).dump(obj)
    return path


def write_snapshot(path: Path, G_ema: nn.Module, D: nn.Module | None = None, G_training: nn.Module | None = None,
                   style: PickleStyle | None = None, marker: Path | None = None) -> Path:
    style = style or PickleStyle()
    marker = marker or path.with_suffix(".module_src_ran")
    return write_pickle(path, snapshot(G_ema, D, G_training, style, marker), protocol=style.protocol)
