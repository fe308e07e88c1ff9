"""Restricted reader for NVIDIA StyleGAN2 network pickles (stylegan2-ada-pytorch and stylegan3-repo layouts).

NVIDIA's own loader executes the Python source stored in the file (`module_src`); this one never does.
Every global the pickle names is looked up in an allow-list and replaced by an inert stand-in written
here: persistent network objects become plain records of their `__dict__`, tensors are rebuilt by our
own parser of the embedded legacy `torch.save` streams with bounds-checked raw reads, numpy scalars
are decoded from their bytes. Any other global is refused with an error naming it. The network is then
built from the resolved per-module attributes and tensor shapes (not from `init_kwargs`, which can
omit settings in force such as conv_clamp=256 in stylegan3-repo files) and loaded strictly.
"""
from __future__ import annotations

import io
import math
import mmap
import os
import pickle
import pickletools
import re
import struct
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .build import build_discriminator, build_generator
from .errors import ModelFileError, UnsafeModelError, UnsupportedModelError
from .model_info import LoadedModel, ModelInfo
from .stylegan2 import StyleGAN2Config

MAX_FILE_BYTES = 4 << 30          # the largest public StyleGAN2 pickles are ~400 MB
MAX_TENSOR_ELEMENTS = 1 << 30     # 4 GiB of float32: far above any single StyleGAN2 weight
STORAGE_HEADER_LIMIT = 4096       # real legacy storage headers are ~250 bytes
PAYLOAD_MIN_BYTES = 1 << 16       # bytes payloads at least this large are read in place from the mapped file
LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL_VERSION = 1001

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
# numpy dtype specs as numpy pickles them (kind + item size); only plain numbers are accepted.
_NUMPY_DTYPE_SPECS = {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"}


# --- inert stand-ins for the allow-listed globals -------------------------------------------------

class _NoBuild:
    """Refuses the pickle BUILD opcode, which could otherwise overwrite a stand-in's validated fields
    (even `__class__`) after construction."""

    def __setstate__(self, state: Any) -> None:
        if state:
            raise UnsafeModelError(f"refusing to load: the pickle sets state on a {type(self).__name__}")


@dataclass
class PersistentRecord(_NoBuild):
    """What `torch_utils.persistence._reconstruct_persistent_obj(meta)` becomes: the class name and the
    instance `__dict__`. `module_src` is dropped unread."""
    class_name: str
    state: dict
    path: str = ""

    def attr(self, name: str, kinds: tuple[type, ...] = (int, float, str, bool, type(None))) -> Any:
        if name not in self.state:
            raise ModelFileError(f"{self.where}: attribute {name!r} is missing")
        value = self.state[name]
        if not isinstance(value, kinds):
            raise ModelFileError(f"{self.where}: attribute {name!r} has unexpected type {type(value).__name__}")
        return value

    def children(self) -> dict[str, "PersistentRecord | None"]:
        modules = self.state.get("_modules", {})
        if not isinstance(modules, dict):
            raise ModelFileError(f"{self.where}: _modules is not a dict")
        for name, child in modules.items():
            if child is not None and not isinstance(child, PersistentRecord):
                raise ModelFileError(f"{self.where}.{name}: submodule is a {type(child).__name__}, "
                                     "not a persistent network object")
        return modules

    def child(self, name: str) -> "PersistentRecord":
        child = self.children().get(name)
        if child is None:
            raise ModelFileError(f"{self.where}: submodule {name!r} is missing")
        return child

    def tensor(self, name: str) -> torch.Tensor:
        for group in ("_parameters", "_buffers"):
            value = self.state.get(group, {}).get(name)
            if isinstance(value, torch.Tensor):
                return value
        raise ModelFileError(f"{self.where}: tensor {name!r} is missing")

    @property
    def where(self) -> str:
        return f"{self.path or '<root>'} ({self.class_name})"


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise UnsafeModelError("persistent object metadata is not a {'type': 'class', ...} dict")
    class_name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise ModelFileError("persistent object metadata lacks a class_name string or a state dict")
    return PersistentRecord(class_name=class_name, state=state)


class EasyDictRecord(_NoBuild, dict):
    """Stand-in for `dnnlib.util.EasyDict` (a dict with attribute access; only the items matter here)."""


class NumpyDTypeRecord:
    """Stand-in for `numpy.dtype(spec, align, copy)` plus its pickled state; numeric specs only."""

    def __init__(self, spec: Any, align: Any = False, copy: Any = True):
        if spec not in _NUMPY_DTYPE_SPECS:
            raise UnsafeModelError(f"numpy dtype {spec!r} is not a plain numeric type")
        self.spec = spec
        self.byte_order = "<"

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise ModelFileError("malformed numpy dtype state")
        self.byte_order = "<" if state[1] in ("|", "=") else state[1]

    def to_numpy(self) -> np.dtype:
        if self.spec not in _NUMPY_DTYPE_SPECS or self.byte_order not in ("<", ">"):
            raise UnsafeModelError("numpy dtype stand-in was altered")
        return np.dtype(self.spec).newbyteorder(self.byte_order)


def _numpy_scalar(dtype: Any, data: Any = None) -> int | float | bool:
    if not isinstance(dtype, NumpyDTypeRecord) or not isinstance(data, bytes):
        raise UnsafeModelError("numpy scalar must be built from a numeric dtype and raw bytes")
    np_dtype = dtype.to_numpy()
    if len(data) != np_dtype.itemsize:
        raise ModelFileError(f"numpy scalar has {len(data)} bytes, expected {np_dtype.itemsize}")
    return np.frombuffer(data, dtype=np_dtype)[0].item()


class NumpyArrayRecord:
    """Stand-in for numpy arrays (StyleGAN3 layers keep a few small ones): shape, dtype and bytes, checked."""

    def __init__(self, *_args: Any):
        self.shape: tuple[int, ...] = ()
        self.data = b""

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], NumpyDTypeRecord)
                and isinstance(state[4], bytes)):
            raise UnsafeModelError("numpy array state is not (version, shape, numeric dtype, order, bytes)")
        shape = tuple(state[1])
        if not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ModelFileError(f"numpy array has invalid shape {shape}")
        if math.prod(shape) * state[2].to_numpy().itemsize != len(state[4]):
            raise ModelFileError(f"numpy array of shape {shape} has {len(state[4])} data bytes")
        self.shape, self.data = shape, state[4]


def _numpy_reconstruct(subtype: Any, shape: Any, dtype: Any) -> NumpyArrayRecord:
    if subtype is not NumpyArrayRecord:
        raise UnsafeModelError("numpy _reconstruct is only allowed for numpy.ndarray")
    return NumpyArrayRecord()


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """Protocol-2 pickles store bytes as `_codecs.encode(latin-1 text, 'latin1')`."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeModelError("_codecs.encode is only allowed as latin1 text → bytes")
    return text.encode("latin-1")


def _empty_bytes(*args: Any) -> bytes:
    if args:
        raise UnsafeModelError("builtins.bytes is only allowed without arguments (empty bytes)")
    return b""


def _set_from(items: Any = ()) -> set:
    if not isinstance(items, (list, tuple)):
        raise UnsafeModelError("builtins.set is only allowed over a list of items")
    return set(items)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """A strided view into a parsed storage, after checking it lies entirely inside it."""
    if not isinstance(storage, StorageRecord):
        raise UnsafeModelError("tensor storage is not a torch storage stream")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and all(type(v) is int for v in size + stride + (storage_offset,))):
        raise ModelFileError(f"tensor has malformed size {size!r} / stride {stride!r} / offset {storage_offset!r}")
    if storage_offset < 0 or any(v < 0 for v in size + stride):
        raise UnsafeModelError(f"tensor has a negative size, stride or offset ({size}, {stride}, {storage_offset})")
    numel = 1
    for n in size:
        numel *= n
    if numel > MAX_TENSOR_ELEMENTS:
        raise UnsafeModelError(f"tensor of size {list(size)} has {numel} elements, over the cap of "
                               f"{MAX_TENSOR_ELEMENTS}")
    available = storage.data.numel()
    if numel > 0:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= available:
            raise UnsafeModelError(f"tensor of size {list(size)}, stride {list(stride)}, offset {storage_offset} "
                                   f"reaches element {last}, outside its storage of {available} elements")
        return torch.as_strided(storage.data, size, stride, storage_offset)
    return storage.data.new_empty(size)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                       state: Any = None) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise UnsafeModelError("parameter data is not a tensor")
    return data


# --- the embedded legacy torch.save stream of one storage ---------------------------------------

@dataclass
class StorageRecord(_NoBuild):
    data: torch.Tensor  # 1-D, aliasing the stream's bytes (read-only; copied once when kept)


@dataclass
class _StorageToken(_NoBuild):
    dtype: torch.dtype


class _StorageHeaderUnpickler(pickle.Unpickler):
    """Reads the small pickles of a legacy storage stream; only `torch.<X>Storage` types may appear."""

    def __init__(self, file: io.BytesIO, declared: dict[str, tuple[torch.dtype, int]]):
        super().__init__(file)
        self.declared = declared

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageToken(_STORAGE_DTYPES[name])
        raise UnsafeModelError(f"refusing global {module}.{name} inside a tensor storage stream "
                               "(only torch.*Storage types are allowed)")

    def persistent_load(self, pid: Any) -> str:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageToken) and isinstance(pid[2], str) and type(pid[4]) is int):
            raise UnsafeModelError(f"malformed storage reference {pid!r:.200}")
        if pid[5] is not None:
            raise UnsupportedModelError("storage views (legacy view_metadata) are not supported")
        if pid[4] < 0:
            raise UnsafeModelError(f"storage declares a negative size {pid[4]}")
        self.declared[pid[2]] = (pid[1].dtype, pid[4])
        return pid[2]


def _load_from_bytes(data: Any) -> StorageRecord:
    """Parse `torch.storage._load_from_bytes(bytes)`: a legacy (non-zip) torch.save stream of one storage.

    Layout: pickled magic number, protocol version, sys_info, the storage object as a persistent id,
    the sorted key list, then per key an int64 element count and the raw little-endian bytes. `data` is
    the bytes object, or a read-only view of it inside the memory-mapped file (see `_extract_payloads`).
    """
    if not isinstance(data, (bytes, memoryview)):
        raise UnsafeModelError("storage data is not bytes")
    # The header pickles are a few hundred bytes; parse them from a bounded copy, never the whole payload.
    stream = io.BytesIO(bytes(data[:STORAGE_HEADER_LIMIT]))
    declared: dict[str, tuple[torch.dtype, int]] = {}

    def next_pickle() -> Any:
        return _StorageHeaderUnpickler(stream, declared).load()

    if next_pickle() != LEGACY_MAGIC_NUMBER:
        raise ModelFileError("tensor storage stream has a wrong magic number")
    if next_pickle() != LEGACY_PROTOCOL_VERSION:
        raise ModelFileError("tensor storage stream has an unsupported protocol version")
    sys_info = next_pickle()
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise UnsupportedModelError("tensor storage stream is not little-endian")
    root_key = next_pickle()
    keys = next_pickle()
    if not isinstance(root_key, str) or keys != [root_key] or root_key not in declared:
        raise ModelFileError("tensor storage stream does not hold exactly one storage")
    dtype, numel = declared[root_key]
    pos = stream.tell()
    if pos + 8 > len(data):
        raise ModelFileError("tensor storage stream is truncated before its size field")
    (stored_numel,) = struct.unpack_from("<q", data, pos)
    if stored_numel != numel:
        raise ModelFileError(f"storage declares {numel} elements but its data header says {stored_numel}")
    nbytes = numel * torch.empty((), dtype=dtype).element_size()
    if pos + 8 + nbytes != len(data):
        raise UnsafeModelError(f"storage declares {nbytes} bytes of data but the stream holds "
                               f"{len(data) - pos - 8}")
    if numel == 0:
        return StorageRecord(torch.empty(0, dtype=dtype))
    return StorageRecord(torch.frombuffer(data, dtype=dtype, count=numel, offset=pos + 8))


# --- the outer pickle ---------------------------------------------------------------------------

_NUMPY_SCALAR_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("collections", "OrderedDict"): OrderedDict,
    ("dnnlib.util", "EasyDict"): EasyDictRecord,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("numpy", "dtype"): NumpyDTypeRecord,
    ("numpy", "ndarray"): NumpyArrayRecord,
    ("builtins", "set"): _set_from,
    ("__builtin__", "set"): _set_from,
    ("builtins", "bytes"): _empty_bytes,
    ("__builtin__", "bytes"): _empty_bytes,
    ("_codecs", "encode"): _codecs_encode,
    **{(m, "scalar"): _numpy_scalar for m in _NUMPY_SCALAR_MODULES},
    **{(m, "_reconstruct"): _numpy_reconstruct for m in _NUMPY_SCALAR_MODULES},
}


class _NetworkPickleUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, payloads: list[memoryview]):
        super().__init__(file)
        self.payloads = payloads

    def _load_payload(self, data: Any) -> StorageRecord:
        """`_load_from_bytes`, where an int stands for the payload that `_extract_payloads` lifted out."""
        if type(data) is int:
            if not 0 <= data < len(self.payloads):
                raise UnsafeModelError(f"storage payload index {data} is out of range")
            data = self.payloads[data]
        return _load_from_bytes(data)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return self._load_payload
        stand_in = _ALLOWED_GLOBALS.get((module, name))
        if stand_in is not None:
            return stand_in
        if module.startswith("dnnlib.tflib"):
            raise UnsupportedModelError(f"this is a TensorFlow-era StyleGAN pickle ({module}.{name}): "
                                        "not supported yet")
        raise UnsafeModelError(f"refusing to load: the pickle references the global {module}.{name}, "
                               "which is not on the allow-list for StyleGAN network pickles")

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeModelError("refusing to load: the pickle uses persistent ids, which network pickles never do")


class _ViewReader:
    """File-like reader over a memoryview for `pickletools.genops`: short reads return bytes (opcodes,
    lengths), long ones return views (payloads), so scanning never copies tensor data."""

    def __init__(self, view: memoryview):
        self.view, self.pos = view, 0

    def read(self, n: int) -> bytes | memoryview:
        chunk = self.view[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk if n >= STORAGE_HEADER_LIMIT else bytes(chunk)

    def tell(self) -> int:
        return self.pos

    def readline(self) -> bytes:
        line = bytes(self.view[self.pos:self.pos + 1024])
        end = line.find(b"\n")
        line = line if end < 0 else line[:end + 1]
        self.pos += len(line)
        return line


_BYTES_LENGTH_FIELD = {"SHORT_BINBYTES": 1, "BINBYTES": 4, "BINBYTES8": 8}


def _extract_payloads(view: memoryview) -> tuple[bytes, list[memoryview]]:
    """Rewrite a protocol 3+ pickle so that each large bytes payload becomes a small int index into the
    returned list of views of the mapped file; FRAME opcodes are dropped (their lengths no longer hold).

    The rewritten stream still goes through the restricted unpickler; only the tensor bytes bypass it,
    which spares copying them into Python bytes objects first.
    """
    pieces: list[memoryview | bytes] = []
    payloads: list[memoryview] = []
    copied_from = 0
    end = None
    try:
        for opcode, arg, pos in pickletools.genops(_ViewReader(view)):
            if opcode.name == "FRAME":
                pieces.append(view[copied_from:pos])
                copied_from = pos + 9
            elif opcode.name in _BYTES_LENGTH_FIELD and len(arg) >= PAYLOAD_MIN_BYTES:
                pieces.append(view[copied_from:pos])
                pieces.append(pickle.BININT + struct.pack("<i", len(payloads)))
                payloads.append(arg)
                copied_from = pos + 1 + _BYTES_LENGTH_FIELD[opcode.name] + len(arg)
            elif opcode.name == "STOP":
                end = pos + 1
    except ValueError as exc:  # pickletools' report of a cut-off stream or an unknown opcode
        raise ModelFileError(f"truncated or corrupt pickle ({exc})") from None
    pieces.append(view[copied_from:end])
    return b"".join(pieces), payloads


def _map_read_only(f: io.BufferedReader) -> mmap.mmap:
    """The whole file, mapped read-only. On Linux the mapping is pre-faulted (MAP_POPULATE): the parse
    touches nearly every page, and one populate call is far cheaper than a page fault per 4 KiB."""
    if hasattr(mmap, "MAP_POPULATE"):
        return mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE | mmap.MAP_POPULATE, prot=mmap.PROT_READ)
    return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def read_network_pickle(path: str | os.PathLike, max_file_bytes: int = MAX_FILE_BYTES) -> Any:
    """Unpickle with the restricted unpickler; the result holds only records, containers and tensors.

    Protocol 3+ files are memory-mapped and their tensor payloads are viewed in place; protocol 2 files
    (bytes stored as latin-1 text) are unpickled straight from the file.
    """
    path = Path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_file_bytes:
            raise UnsafeModelError(f"{path}: file is {size} bytes, over the {max_file_bytes}-byte cap")
        head = f.read(2)
        f.seek(0)
        try:
            with warnings.catch_warnings():
                # torch.frombuffer warns that the buffers are read-only; kept tensors are copied, never written.
                warnings.filterwarnings("ignore", message="The given buffer is not writable")
                if len(head) == 2 and head[0] == 0x80 and head[1] >= 3:
                    view = memoryview(_map_read_only(f))
                    stream, payloads = _extract_payloads(view)
                    return _NetworkPickleUnpickler(io.BytesIO(stream), payloads).load()
                return _NetworkPickleUnpickler(f, []).load()
        except ModelFileError as exc:
            raise type(exc)(f"{path}: {exc}") from None
        except (pickle.UnpicklingError, EOFError) as exc:
            raise ModelFileError(f"{path}: truncated or corrupt pickle ({exc})") from None
        except MemoryError:
            raise UnsafeModelError(f"{path}: the pickle declares an object too large to allocate") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, struct.error,
                RecursionError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{path}: malformed network pickle ({type(exc).__name__}: {exc})") from None


# --- from records to config + state dict -----------------------------------------------------------

def _collect_state(record: PersistentRecord, prefix: str, out: dict[str, torch.Tensor],
                   ancestors: tuple[int, ...] = ()) -> None:
    """NVIDIA's state-dict order: own parameters, then persistent buffers, then submodules."""
    record.path = prefix.rstrip(".")
    if id(record) in ancestors:
        raise UnsafeModelError(f"{record.where}: module contains itself (cyclic _modules)")
    non_persistent = record.state.get("_non_persistent_buffers_set", set())
    for group in ("_parameters", "_buffers"):
        tensors = record.state.get(group, {})
        if not isinstance(tensors, dict):
            raise ModelFileError(f"{record.where}: {group} is not a dict")
        for name, tensor in tensors.items():
            if tensor is None or (group == "_buffers" and name in non_persistent):
                continue
            if not isinstance(tensor, torch.Tensor):
                raise ModelFileError(f"{record.where}: {group[1:-1]} {name!r} is a {type(tensor).__name__}, "
                                     "not a tensor")
            out[prefix + name] = tensor
    for name, child in record.children().items():
        if child is not None:
            _collect_state(child, f"{prefix}{name}.", out, ancestors + (id(record),))


def _state_dict(record: PersistentRecord, prefix: str) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    _collect_state(record, prefix, out)
    return {name[len(prefix):]: tensor for name, tensor in out.items()}


def _one_value(values: list, what: str) -> Any:
    distinct = {v for v in values}
    if len(distinct) != 1:
        raise UnsupportedModelError(f"{what} differs between layers ({sorted(map(str, distinct))}); "
                                    "only one value per network is supported")
    return distinct.pop()


def _as_clamp(value: int | float | None) -> float | None:
    return None if value is None else float(value)


def _mapping_lr(fc: PersistentRecord) -> float:
    return float(fc.attr("bias_gain", (int, float)))


def _block_records(network: PersistentRecord) -> dict[int, PersistentRecord]:
    return {int(name[1:]): child for name, child in network.children().items()
            if child is not None and re.fullmatch(r"b\d+", name)}


def _generator_config(G: PersistentRecord) -> dict[str, Any]:
    synthesis, mapping = G.child("synthesis"), G.child("mapping")
    blocks = _block_records(synthesis)
    resolution = G.attr("img_resolution", (int,))
    if not blocks or max(blocks) != resolution:
        raise ModelFileError(f"synthesis blocks {sorted(blocks)} do not end at img_resolution {resolution}")
    channels = {4: int(blocks[4].tensor("const").shape[0])}
    layers = []
    for res, block in blocks.items():
        channels[res] = int(block.child("conv1").tensor("weight").shape[0])
        for name, expected_up in (("conv0", 2), ("conv1", 1)):
            if res == 4 and name == "conv0":
                continue
            layer = block.child(name)
            if layer.attr("up", (int,)) != expected_up or layer.attr("activation", (str,)) != "lrelu":
                raise UnsupportedModelError(f"{layer.where}: unexpected up={layer.state.get('up')!r} / "
                                            f"activation={layer.state.get('activation')!r}")
            layers.append(layer)
    torgbs = [block.children()["torgb"] for block in blocks.values() if block.children().get("torgb")]
    num_layers = mapping.attr("num_layers", (int,))
    fc0 = mapping.child("fc0")
    w_dim = G.attr("w_dim", (int,))
    c_dim = G.attr("c_dim", (int,))
    embed_features = int(mapping.child("embed").tensor("weight").shape[0]) if c_dim > 0 else None
    layer_features = int(fc0.tensor("weight").shape[0]) if num_layers > 1 else None
    beta = mapping.attr("w_avg_beta", (int, float, type(None)))
    return dict(
        img_resolution=resolution, channels=channels, z_dim=G.attr("z_dim", (int,)), c_dim=c_dim, w_dim=w_dim,
        img_channels=int(blocks[resolution].child("torgb").tensor("weight").shape[0]),
        mapping_layers=num_layers,
        mapping_lr_multiplier=_one_value([_mapping_lr(mapping.child(f"fc{i}")) for i in range(num_layers)],
                                         "mapping lr multiplier"),
        embed_features=None if embed_features == w_dim else embed_features,
        layer_features=None if layer_features == w_dim else layer_features,
        w_avg_beta=None if beta is None else float(beta),
        architecture=_one_value([b.attr("architecture", (str,)) for b in blocks.values()], "architecture"),
        conv_clamp=_as_clamp(_one_value([r.attr("conv_clamp", (int, float, type(None))) for r in layers + torgbs],
                                        "conv_clamp")),
        use_noise=_one_value([bool(r.attr("use_noise", (bool,))) for r in layers], "use_noise"),
    )


def _discriminator_config(D: PersistentRecord, c_dim: int) -> dict[str, Any]:
    blocks = _block_records(D)
    epilogue = blocks.pop(4)
    if D.attr("c_dim", (int,)) != c_dim:
        raise ModelFileError(f"discriminator c_dim {D.state['c_dim']} differs from the generator's {c_dim}")
    channels = {res: int(block.child("conv0").tensor("weight").shape[0]) for res, block in blocks.items()}
    channels[4] = int(epilogue.child("conv").tensor("weight").shape[0])
    convs = [block.child(name) for block in blocks.values() for name in ("conv0", "conv1")]
    convs.append(epilogue.child("conv"))
    mbstd = epilogue.children().get("mbstd")
    cfg = dict(
        d_channels=channels,
        d_architecture=_one_value([b.attr("architecture", (str,)) for b in blocks.values()]
                                  + [epilogue.attr("architecture", (str,))], "discriminator architecture"),
        d_conv_clamp=_as_clamp(_one_value([c.attr("conv_clamp", (int, float, type(None))) for c in convs],
                                          "discriminator conv_clamp")),
        d_mbstd_group_size=mbstd.attr("group_size", (int, type(None))) if mbstd is not None else None,
        d_mbstd_num_channels=mbstd.attr("num_channels", (int,)) if mbstd is not None else 0,
        d_cmap_dim=epilogue.attr("cmap_dim", (int,)),
    )
    if c_dim > 0:
        mapping = D.child("mapping")
        cfg["d_mapping_layers"] = mapping.attr("num_layers", (int,))
        lrs = {_mapping_lr(mapping.child(f"fc{i}")) for i in range(cfg["d_mapping_layers"])}
        if lrs != {0.01}:
            raise UnsupportedModelError(f"discriminator mapping lr multiplier {sorted(lrs)} is not supported "
                                        "(only 0.01)")
    return cfg


def _owned_float32(tensor: torch.Tensor) -> torch.Tensor:
    """One contiguous float32 copy that owns its memory (the parsed views alias read-only pickle bytes).

    numpy does the float32 copy: torch's multi-threaded copy of many mid-sized tensors was 4-10x slower
    on a busy 2-core machine, and a single memcpy per tensor is what this needs.
    """
    if tensor.dtype == torch.float32:
        return torch.from_numpy(np.array(tensor.numpy(), dtype=np.float32, order="C", copy=True))
    return tensor.to(torch.float32, memory_format=torch.contiguous_format, copy=True)


@dataclass
class ParsedPickle:
    """A network pickle reduced to a config and (uncopied) tensor views of G_ema and D."""
    config: StyleGAN2Config
    g_views: dict[str, torch.Tensor]
    d_views: dict[str, torch.Tensor] | None


def parse_nvidia_pickle(path: str | os.PathLike, *, max_file_bytes: int = MAX_FILE_BYTES) -> ParsedPickle:
    """Read the pickle safely and resolve the StyleGAN2 config from the networks' attributes and shapes."""
    path = Path(path)
    data = read_network_pickle(path, max_file_bytes=max_file_bytes)
    if isinstance(data, tuple) and len(data) == 3:
        raise UnsupportedModelError(f"{path}: this is a TensorFlow-era StyleGAN pickle (G, D, Gs): not supported yet")
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), PersistentRecord):
        raise ModelFileError(f"{path}: not a StyleGAN network pickle (no 'G_ema' network in the top-level dict)")
    G_rec = data["G_ema"]
    D_rec = data.get("D") if isinstance(data.get("D"), PersistentRecord) else None
    try:
        g_views = _state_dict(G_rec, "G_ema.")
        if "synthesis.input.freqs" in g_views:
            raise UnsupportedModelError("this is a StyleGAN3 model (synthesis.input.freqs): not supported yet")
        if G_rec.class_name != "Generator" or "synthesis.b4.const" not in g_views:
            raise UnsupportedModelError(f"G_ema is a {G_rec.class_name!r} without synthesis.b4.const: "
                                        "not a StyleGAN2 generator")
        cfg_kwargs = _generator_config(G_rec)
        d_views = None
        if D_rec is not None:
            d_views = _state_dict(D_rec, "D.")
            cfg_kwargs.update(_discriminator_config(D_rec, cfg_kwargs["c_dim"]))
        return ParsedPickle(StyleGAN2Config(**cfg_kwargs), g_views, d_views)
    except ModelFileError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ModelFileError(f"{path}: inconsistent network description ({type(exc).__name__}: {exc})") from None


def _pickle_info(path: Path, parsed: ParsedPickle) -> ModelInfo:
    return ModelInfo(name=path.stem, architecture="stylegan2", config=parsed.config,
                     provenance=f"NVIDIA network pickle {path.name}", source_format="nvidia-pickle",
                     has_discriminator=parsed.d_views is not None)


def read_nvidia_pickle_info(path: str | os.PathLike, *, max_file_bytes: int = MAX_FILE_BYTES) -> ModelInfo:
    """Metadata only: the file is parsed in full, but no weights are copied and no network is built."""
    return _pickle_info(Path(path), parse_nvidia_pickle(path, max_file_bytes=max_file_bytes))


def load_nvidia_pickle(path: str | os.PathLike, device: str | torch.device = "cpu", *,
                       max_file_bytes: int = MAX_FILE_BYTES) -> LoadedModel:
    """Load G_ema (and D when present) from an NVIDIA StyleGAN2 network pickle without running its code."""
    path = Path(path)
    parsed = parse_nvidia_pickle(path, max_file_bytes=max_file_bytes)
    try:
        G = build_generator(parsed.config, parsed.g_views, prepare=_owned_float32)
        D = (build_discriminator(parsed.config, parsed.d_views, prepare=_owned_float32)
             if parsed.d_views is not None else None)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    return LoadedModel(G=G.to(device), D=D.to(device) if D is not None else None, meta=_pickle_info(path, parsed),
                       path=path)
