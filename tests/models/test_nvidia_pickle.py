"""Restricted loading of NVIDIA-layout network pickles: exact outputs, no code execution, clear refusals."""
from __future__ import annotations

import dataclasses
import struct
from collections import OrderedDict

import pytest
import torch
from torch import nn

from engine.models.errors import ModelFileError, UnsafeModelError, UnsupportedModelError
from engine.models.loading import load_model_file
from engine.models.native import save_native
from engine.models.nvidia_pickle import load_nvidia_pickle
from engine.models.stylegan2 import Generator
from model_fixtures import assert_same_outputs, make_networks, reference_outputs
from nvidia_layout import (NUMPY_DTYPE, REBUILD_TENSOR, FakeGlobal, NumpyScalars,
                           PickleStyle, RawStream, Reduce, TensorLayout, legacy_storage_stream, module_node,
                           numpy_array_node, snapshot, tensor_node, write_pickle, write_snapshot)


@pytest.fixture
def marker(tmp_path):
    """The file `module_src` would create if anything executed it; every test checks it stays absent."""
    path = tmp_path / "module_src_ran"
    yield path
    assert not path.exists(), "module_src was executed"


@pytest.fixture(scope="module")
def training_generator():
    """A different network in the snapshot's 'G' slot: the loader must take G_ema, not this."""
    return make_networks(seed=7)[0]


STYLES = [
    PickleStyle(protocol=2, numpy_module="numpy.core.multiarray", layout="stylegan2-ada"),
    PickleStyle(protocol=3, numpy_module="numpy._core.multiarray", layout="stylegan3-repo"),
    PickleStyle(protocol=4, numpy_module="numpy.core.multiarray", layout="stylegan3-repo",
                tensors=TensorLayout(channels_last=True, storage_padding=5)),
    PickleStyle(protocol=4, numpy_module="numpy._core.multiarray", layout="stylegan2-ada",
                tensors=TensorLayout(storage_padding=3)),
    PickleStyle(protocol=2, numpy_module="numpy._core.multiarray", layout="stylegan3-repo",
                tensors=TensorLayout(channels_last=True)),
]


@pytest.mark.parametrize("style", STYLES, ids=lambda s: f"p{s.protocol}-{s.numpy_module.split('.')[1]}-"
                         f"{s.layout}-{'cl' if s.tensors.channels_last else 'std'}{s.tensors.storage_padding}")
def test_loaded_networks_reproduce_the_source_exactly(tmp_path, marker, networks, training_generator, style):
    G, D = networks
    path = write_snapshot(tmp_path / "net.pkl", G, D, training_generator, style, marker)
    loaded = load_model_file(path, device="cpu")
    assert loaded.meta.config == G.config
    assert loaded.meta.source_format == "nvidia-pickle" and loaded.meta.has_discriminator
    assert_same_outputs(reference_outputs(G, D), reference_outputs(loaded.G, loaded.D))
    assert not torch.equal(reference_outputs(training_generator, None)["image"],
                           reference_outputs(loaded.G, None)["image"])


def test_conv_clamp_in_force_but_absent_from_init_kwargs(tmp_path, marker):
    """stylegan3-repo files: conv_clamp is only in the layers' attributes; it must still be applied."""
    G, D = make_networks(seed=3, conv_clamp=0.5, d_conv_clamp=0.5)
    path = write_snapshot(tmp_path / "sg3repo.pkl", G, D, None,
                          PickleStyle(layout="stylegan3-repo", omit_conv_clamp_kwarg=True), marker)
    loaded = load_model_file(path, device="cpu")
    assert loaded.meta.config.conv_clamp == 0.5 and loaded.meta.config.d_conv_clamp == 0.5
    assert_same_outputs(reference_outputs(G, D), reference_outputs(loaded.G, loaded.D))
    unclamped = Generator(dataclasses.replace(G.config, conv_clamp=None))
    unclamped.load_state_dict(G.state_dict())
    assert not torch.equal(reference_outputs(unclamped.eval(), None)["image"], reference_outputs(G, None)["image"])


def test_resnet_conditional_and_discriminator_variants(tmp_path, marker):
    G, D = make_networks(seed=11, architecture="resnet", c_dim=3, mapping_lr_multiplier=0.05, embed_features=8,
                         layer_features=24, d_architecture="skip", d_mbstd_group_size=2, d_mbstd_num_channels=2,
                         d_cmap_dim=8, d_mapping_layers=2)
    path = write_snapshot(tmp_path / "cond.pkl", G, D, None, PickleStyle(protocol=3), marker)
    loaded = load_model_file(path, device="cpu")
    assert loaded.meta.config == G.config
    assert_same_outputs(reference_outputs(G, D), reference_outputs(loaded.G, loaded.D))


def test_generator_only_file_without_noise(tmp_path, marker):
    G, _ = make_networks(seed=13, use_noise=False, d_channels=None)
    path = write_pickle(tmp_path / "g.pkl", {"G_ema": module_node(G, PickleStyle(), marker, NumpyScalars(
        "numpy._core.multiarray"), init_kwargs={})})
    loaded = load_nvidia_pickle(path)
    assert loaded.D is None and loaded.meta.config.use_noise is False
    assert_same_outputs(reference_outputs(G, None), reference_outputs(loaded.G, None))


def test_round_trip_pickle_to_safetensors(tmp_path, marker, networks):
    G, D = networks
    pkl = write_snapshot(tmp_path / "net.pkl", G, D, None, PickleStyle(protocol=2), marker)
    from_pickle = load_model_file(pkl, device="cpu")
    native = tmp_path / "net.safetensors"
    save_native(native, from_pickle.G, from_pickle.D, name="converted")
    from_native = load_model_file(native, device="cpu")
    assert from_native.meta.config == from_pickle.meta.config
    assert_same_outputs(reference_outputs(G, D), reference_outputs(from_native.G, from_native.D))


# --- refusals -------------------------------------------------------------------------------------

EVIL_GLOBALS = [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "exec"),
                ("subprocess", "Popen"), ("torch", "load"), ("torch_utils.persistence", "persistent_class"),
                ("numpy", "load"), ("collections", "namedtuple")]


@pytest.mark.parametrize("module, name", EVIL_GLOBALS)
@pytest.mark.parametrize("protocol", [2, 4])
def test_non_allow_listed_globals_are_refused_by_name(tmp_path, marker, module, name, protocol):
    evil = Reduce(FakeGlobal(module, name), (f"touch {marker}",))
    path = write_pickle(tmp_path / "evil.pkl", {"G_ema": None, "augment_pipe": evil}, protocol=protocol)
    with pytest.raises(UnsafeModelError, match=f"global {module}.{name},"):
        load_model_file(path, device="cpu")


def test_evil_global_deep_inside_a_network_is_refused(tmp_path, marker, networks):
    G, D = networks
    top = snapshot(G, D, None, PickleStyle(), marker)
    top["G_ema"].args[0]["state"]["_modules"]["mapping"].args[0]["state"]["w_avg_beta"] = Reduce(
        FakeGlobal("os", "system"), ("true",))
    with pytest.raises(UnsafeModelError, match="global os.system"):
        load_model_file(write_pickle(tmp_path / "deep.pkl", top), device="cpu")


def _tensor_pickle(tmp_path, storage, offset, size, stride):
    tensor = Reduce(REBUILD_TENSOR, (storage, offset, size, stride, False, OrderedDict()))
    return write_pickle(tmp_path / "t.pkl", {"G_ema": None, "D": tensor})


def _storage(values: int, **kwargs) -> RawStream:
    return RawStream(legacy_storage_stream(torch.arange(values, dtype=torch.float32).numpy().tobytes(), values,
                                           **kwargs))


@pytest.mark.parametrize("make_storage, offset, size, stride, message", [
    (lambda: _storage(10), 8, (3,), (1,), "reaches element 10, outside its storage of 10"),
    (lambda: _storage(10), 0, (4, 4), (4, 1), "reaches element 15, outside its storage of 10"),
    (lambda: _storage(10), 0, (1 << 40,), (0,), "over the cap"),
    (lambda: _storage(10), 0, (2,), (-1,), "negative size, stride or offset"),
    (lambda: _storage(10), -1, (2,), (1,), "negative size, stride or offset"),
    (lambda: RawStream(legacy_storage_stream(b"\0" * 40, 10 ** 9)), 0, (1,), (1,), "declares 4000000000 bytes"),
    (lambda: RawStream(legacy_storage_stream(b"\0" * 40, 10, header_numel=11)), 0, (1,), (1,), "data header says 11"),
    (lambda: RawStream(legacy_storage_stream(b"\0" * 40, 10)[:-3]), 0, (1,), (1,), "declares 40 bytes"),
    (lambda: RawStream(legacy_storage_stream(b"\0" * 40, 10, storage_type=FakeGlobal("os", "system"))), 0, (1,),
     (1,), "global os.system inside a tensor storage stream"),
    (lambda: RawStream(b"\x80\x02K\x01."), 0, (1,), (1,), "wrong magic number"),
    (lambda: Reduce(FakeGlobal("numpy", "dtype"), ("f4", False, True)), 0, (1,), (1,), "not a torch storage"),
])
def test_malformed_tensors_are_refused(tmp_path, marker, make_storage, offset, size, stride, message):
    with pytest.raises(ModelFileError, match=message):
        load_model_file(_tensor_pickle(tmp_path, make_storage(), offset, size, stride), device="cpu")


def test_object_dtypes_and_persistent_ids_are_refused(tmp_path):
    scalar = Reduce(FakeGlobal("numpy._core.multiarray", "scalar"),
                    (Reduce(NUMPY_DTYPE, ("O8", False, True)), b"\0" * 8))
    with pytest.raises(UnsafeModelError, match="numpy dtype 'O8' is not a plain numeric type"):
        load_model_file(write_pickle(tmp_path / "o.pkl", {"x": scalar}), device="cpu")
    raw = b"\x80\x02X\x01\x00\x00\x00xQ."  # BINUNICODE 'x', BINPERSID
    (tmp_path / "pid.pkl").write_bytes(raw)
    with pytest.raises(UnsafeModelError, match="persistent ids"):
        load_model_file(tmp_path / "pid.pkl", device="cpu")


def test_truncated_files_and_huge_declared_lengths_are_refused(tmp_path, marker, networks):
    G, D = networks
    whole = write_snapshot(tmp_path / "net.pkl", G, D, None, PickleStyle(), marker).read_bytes()
    for cut in (len(whole) // 3, len(whole) - 1):
        (tmp_path / "cut.pkl").write_bytes(whole[:cut])
        with pytest.raises(ModelFileError, match="truncated or corrupt pickle"):
            load_model_file(tmp_path / "cut.pkl", device="cpu")
    (tmp_path / "huge.pkl").write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + b"abc")
    with pytest.raises(ModelFileError, match="too large to allocate|truncated"):
        load_model_file(tmp_path / "huge.pkl", device="cpu")


def test_file_size_cap(tmp_path, marker, networks):
    G, D = networks
    path = write_snapshot(tmp_path / "net.pkl", G, D, None, PickleStyle(), marker)
    with pytest.raises(UnsafeModelError, match="over the 1000-byte cap"):
        load_nvidia_pickle(path, max_file_bytes=1000)


def test_missing_g_ema_and_foreign_submodules(tmp_path, marker, networks):
    G, _ = networks
    with pytest.raises(ModelFileError, match="no 'G_ema' network"):
        load_model_file(write_pickle(tmp_path / "a.pkl", {"G": None}), device="cpu")
    top = snapshot(G, None, None, PickleStyle(), marker)
    top["G_ema"].args[0]["state"]["_modules"]["mapping"] = OrderedDict(weight=1)
    with pytest.raises(ModelFileError, match="mapping: submodule is a OrderedDict"):
        load_model_file(write_pickle(tmp_path / "b.pkl", top), device="cpu")


class SynthesisInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("freqs", torch.randn(4, 2))
        self.register_buffer("phases", torch.randn(4))
        self.weight = nn.Parameter(torch.randn(4, 4))
        self.size = numpy_array_node([36.0, 36.0])
        self.sampling_rate = 16


class SynthesisNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.input = SynthesisInput()


class StyleGAN3Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.synthesis = SynthesisNetwork()
        self.img_resolution = 16


def test_stylegan3_is_recognised_and_refused(tmp_path, marker):
    fake = StyleGAN3Generator()
    node = module_node(fake, PickleStyle(), marker, NumpyScalars("numpy.core.multiarray"), init_kwargs={})
    node.args[0]["class_name"] = "Generator"
    with pytest.raises(UnsupportedModelError, match="StyleGAN3 model .synthesis.input.freqs.: not supported yet"):
        load_model_file(write_pickle(tmp_path / "sg3.pkl", {"G": None, "G_ema": node}), device="cpu")


def test_tensorflow_era_pickles_are_recognised_and_refused(tmp_path):
    network = Reduce(FakeGlobal("dnnlib.tflib.network", "Network"), ())
    with pytest.raises(UnsupportedModelError, match="TensorFlow-era StyleGAN pickle .*not supported yet"):
        load_model_file(write_pickle(tmp_path / "tf.pkl", (network, network, network), protocol=2), device="cpu")
    with pytest.raises(UnsupportedModelError, match=r"TensorFlow-era StyleGAN pickle \(G, D, Gs\)"):
        load_model_file(write_pickle(tmp_path / "tf2.pkl", ({}, {}, {})), device="cpu")


def test_loaded_weights_are_independent_of_the_file_buffers(tmp_path, marker):
    """Two loads of one file give separate tensors (no aliasing of shared read-only bytes)."""
    G, _ = make_networks(seed=17)
    path = write_snapshot(tmp_path / "n.pkl", G, None, None, PickleStyle(), marker)
    first, second = load_nvidia_pickle(path).G, load_nvidia_pickle(path).G
    first.synthesis.b4.const.data.zero_()
    assert torch.equal(second.synthesis.b4.const, G.synthesis.b4.const)


def test_cyclic_module_tree_is_refused():
    from engine.models.nvidia_pickle import PersistentRecord, _state_dict
    record = PersistentRecord("Generator", {"_modules": OrderedDict()})
    record.state["_modules"]["loop"] = record
    with pytest.raises(UnsafeModelError, match="contains itself"):
        _state_dict(record, "G_ema.")


def test_non_persistent_buffers_none_entries_and_parameters_with_state(tmp_path, marker, networks):
    """Skipped: None parameters and non-persistent buffers; accepted: `_rebuild_parameter_with_state`."""
    G, D = networks
    top = snapshot(G, D, None, PickleStyle(), marker)
    mapping_state = top["G_ema"].args[0]["state"]["_modules"]["mapping"].args[0]["state"]
    mapping_state["_buffers"]["scratch"] = tensor_node(torch.ones(3))
    mapping_state["_non_persistent_buffers_set"] = {"scratch"}
    mapping_state["_parameters"]["unused"] = None
    fc0_params = mapping_state["_modules"]["fc0"].args[0]["state"]["_parameters"]
    plain = fc0_params["weight"]
    fc0_params["weight"] = Reduce(FakeGlobal("torch._utils", "_rebuild_parameter_with_state"),
                                  (plain.args[0], False, OrderedDict(), {"_is_param": True}))
    loaded = load_model_file(write_pickle(tmp_path / "n.pkl", top), device="cpu")
    assert_same_outputs(reference_outputs(G, D), reference_outputs(loaded.G, loaded.D))
    mapping_state["_non_persistent_buffers_set"] = set()
    with pytest.raises(ModelFileError, match="scratch"):
        load_model_file(write_pickle(tmp_path / "p.pkl", top), device="cpu")


def test_build_opcode_cannot_rewrite_stand_ins(tmp_path, marker, networks):
    """BUILD (state after construction) on a persistent record or EasyDict is refused."""
    G, _ = networks
    top = snapshot(G, None, None, PickleStyle(), marker)
    top["G_ema"].state = {"class_name": "Generator", "__class__": None}
    with pytest.raises(UnsafeModelError, match="sets state on a PersistentRecord"):
        load_model_file(write_pickle(tmp_path / "b.pkl", top), device="cpu")
    easy = Reduce(FakeGlobal("dnnlib.util", "EasyDict"), (), state={"spec": "O8"})
    with pytest.raises(UnsafeModelError, match="sets state on a EasyDictRecord"):
        load_model_file(write_pickle(tmp_path / "e.pkl", {"training_set_kwargs": easy}), device="cpu")


def test_shapes_are_checked_before_any_copy(tmp_path, marker, networks, monkeypatch):
    """A G_ema tensor with a huge zero-stride shape is refused without being materialised."""
    import engine.models.nvidia_pickle as reader
    G, _ = networks
    top = snapshot(G, None, None, PickleStyle(), marker)
    synthesis = top["G_ema"].args[0]["state"]["_modules"]["synthesis"].args[0]["state"]
    const = synthesis["_modules"]["b4"].args[0]["state"]["_parameters"]
    storage = const["const"].args[0].args[0]
    const["const"] = Reduce(REBUILD_TENSOR, (storage, 0, (1 << 14, 1 << 15), (0, 0), False, OrderedDict()))
    copies = []
    monkeypatch.setattr(reader, "_owned_float32", lambda t: copies.append(t) or t)
    with pytest.raises(ModelFileError, match=r"'synthesis.b4.const' has shape \[16384, 32768\], expected"):
        load_model_file(write_pickle(tmp_path / "big.pkl", top), device="cpu")
    assert copies == []


@pytest.mark.parametrize("protocol", [3, 4])
def test_mapped_payload_path_reproduces_the_source(tmp_path, marker, networks, monkeypatch, protocol):
    """Protocol 3+: every storage payload is lifted out of the stream and read in place from the mapping."""
    import engine.models.nvidia_pickle as reader
    monkeypatch.setattr(reader, "PAYLOAD_MIN_BYTES", 64)  # storages (≥ ~250 bytes), not 8-byte numpy scalars
    G, D = networks
    path = write_snapshot(tmp_path / "net.pkl", G, D, None, PickleStyle(protocol=protocol,
                          tensors=TensorLayout(channels_last=True, storage_padding=2)), marker)
    stream, payloads = reader._extract_payloads(memoryview(path.read_bytes()))
    assert len(payloads) == len(G.state_dict()) + len(D.state_dict()) + 2  # + augment_pipe's two buffers
    assert len(stream) < path.stat().st_size // 4
    loaded = load_model_file(path, device="cpu")
    assert_same_outputs(reference_outputs(G, D), reference_outputs(loaded.G, loaded.D))


def test_payload_indices_cannot_escape_the_payload_table(tmp_path):
    big = RawStream(legacy_storage_stream(b"\0" * (1 << 17), 1 << 15))
    tensor = Reduce(REBUILD_TENSOR, (big, 0, (4,), (1,), False, OrderedDict()))
    stray = Reduce(FakeGlobal("torch.storage", "_load_from_bytes"), (7,))
    path = write_pickle(tmp_path / "i.pkl", {"G_ema": None, "ok": tensor, "bad": stray}, protocol=4)
    with pytest.raises(UnsafeModelError, match="storage payload index 7 is out of range"):
        load_model_file(path, device="cpu")
