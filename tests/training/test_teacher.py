"""The teacher DCGAN: layout compatible with the published state dict, and weights read from a wheel
without importing it."""
import io
import zipfile

import pytest
import torch

from engine.training.teacher import (TEACHER_STATE_KEY, TEACHER_WEIGHTS_MEMBER, DCGANGenerator, fetch_teacher_wheel,
                                     read_teacher_state)

# Parameter shapes of `netG_state_dict` in gan-face-generate 1.1.1 (the tutorial DCGAN, nz=100, ngf=64).
PUBLISHED_CONV_SHAPES = {
    "main.0.weight": (100, 512, 4, 4), "main.3.weight": (512, 256, 4, 4), "main.6.weight": (256, 128, 4, 4),
    "main.9.weight": (128, 64, 4, 4), "main.12.weight": (64, 3, 4, 4),
}
PUBLISHED_BATCHNORMS = {"main.1": 512, "main.4": 256, "main.7": 128, "main.10": 64}


def write_fake_wheel(path, state):
    buffer = io.BytesIO()
    torch.save({TEACHER_STATE_KEY: state}, buffer)
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(TEACHER_WEIGHTS_MEMBER, buffer.getvalue())
        # A module that would fail loudly if anything imported or executed it.
        wheel.writestr("gan_face_generate/__init__.py", "raise RuntimeError('teacher code must never run')\n")


def test_layout_matches_published_state_dict():
    state = DCGANGenerator().state_dict()
    for name, shape in PUBLISHED_CONV_SHAPES.items():
        assert tuple(state[name].shape) == shape
    for prefix, channels in PUBLISHED_BATCHNORMS.items():
        for suffix in ("weight", "bias", "running_mean", "running_var"):
            assert tuple(state[f"{prefix}.{suffix}"].shape) == (channels,)
    expected = len(PUBLISHED_CONV_SHAPES) + 5 * len(PUBLISHED_BATCHNORMS)   # + num_batches_tracked
    assert len(state) == expected


def test_output_is_a_64px_rgb_image_in_tanh_range():
    torch.manual_seed(0)
    teacher = DCGANGenerator().eval()
    z = torch.randn(3, 100)
    with torch.no_grad():
        flat = teacher(z)
        spatial = teacher(z[:, :, None, None])
    assert flat.shape == (3, 3, 64, 64)
    assert torch.equal(flat, spatial)
    assert flat.abs().max() <= 1


def test_weights_round_trip_through_a_wheel_without_running_its_code(tmp_path):
    torch.manual_seed(1)
    source = DCGANGenerator()
    wheel = tmp_path / "gan_face_generate-1.1.1-py3-none-any.whl"
    write_fake_wheel(wheel, source.state_dict())
    assert fetch_teacher_wheel(tmp_path) == wheel     # cached: no download attempted
    loaded = DCGANGenerator()
    loaded.load_state_dict(read_teacher_state(wheel))
    z = torch.randn(2, 100)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(z), source.eval()(z))


def test_wheel_without_weights_is_a_clear_error(tmp_path):
    wheel = tmp_path / "gan_face_generate-1.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("gan_face_generate/models.py", "")
    with pytest.raises(ValueError, match="weights.tar"):
        read_teacher_state(wheel)
