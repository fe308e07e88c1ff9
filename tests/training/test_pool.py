"""The teacher pool: deterministic, resumable after an interruption, pixels round-trip."""
import numpy as np
import pytest
import torch
from torch import nn

from engine.training import pool as pool_module
from engine.training.pool import TeacherPool, build_pool, images_to_uint8, uint8_to_images


class TinyTeacher(nn.Module):
    """A cheap stand-in with the teacher's interface (z [N, 100] → [N, 3, 64, 64] in [-1, 1])."""

    def __init__(self, fail_after_calls=None):
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(100, 3 * 8 * 8)
        self.calls, self.fail_after_calls = 0, fail_after_calls

    def forward(self, z):
        self.calls += 1
        if self.fail_after_calls is not None and self.calls > self.fail_after_calls:
            raise KeyboardInterrupt("simulated interruption")
        small = torch.tanh(self.proj(z)).reshape(-1, 3, 8, 8)
        return nn.functional.interpolate(small, size=64, mode="nearest")


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(pool_module, "POOL_CHUNK", 16)


def test_interrupted_build_resumes_to_the_same_pool(tmp_path):
    straight = build_pool(tmp_path / "a", TinyTeacher(), size=40, seed=3, log=lambda s: None)
    with pytest.raises(KeyboardInterrupt):
        build_pool(tmp_path / "b", TinyTeacher(fail_after_calls=1), size=40, seed=3, log=lambda s: None)
    with pytest.raises(FileNotFoundError, match="incomplete"):
        TeacherPool.open(tmp_path / "b")
    resumed = build_pool(tmp_path / "b", TinyTeacher(), size=40, seed=3, log=lambda s: None)
    assert np.array_equal(np.asarray(straight.z), np.asarray(resumed.z))
    assert np.array_equal(np.asarray(straight.images), np.asarray(resumed.images))
    assert np.asarray(straight.z).std() > 0.5
    other_seed = build_pool(tmp_path / "c", TinyTeacher(), size=40, seed=4, log=lambda s: None)
    assert not np.array_equal(np.asarray(other_seed.z), np.asarray(straight.z))


def test_batches_pair_each_z_with_its_teacher_image(tmp_path):
    teacher = TinyTeacher()
    pool = build_pool(tmp_path, teacher, size=20, seed=0, log=lambda s: None)
    z, images = pool.batch(torch.tensor([7, 2, 11]))
    with torch.no_grad():
        expected = teacher(z)
    assert images.shape == (3, 3, 64, 64)
    assert (images - expected).abs().max() <= 1 / 127.5 + 1e-6   # uint8 quantisation only


def test_existing_pool_of_another_size_is_rejected(tmp_path):
    build_pool(tmp_path, TinyTeacher(), size=20, seed=0, log=lambda s: None)
    with pytest.raises(ValueError, match="20 samples"):
        build_pool(tmp_path, TinyTeacher(), size=30, seed=0, log=lambda s: None)


def test_pixel_conversion_round_trips():
    pixels = np.random.default_rng(0).integers(0, 256, size=(2, 5, 5, 3), dtype=np.uint8)
    assert np.array_equal(images_to_uint8(uint8_to_images(pixels)), pixels)
