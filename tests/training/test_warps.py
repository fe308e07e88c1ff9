"""Warps for drag-friendly sharpening: they move content the way the field says, only where it says,
and the trainer learns them through the encoder, resumably."""
import json

import torch

from engine.training.train import CHECKPOINT_NAME, Trainer, load_snapshot_models
from engine.training.warps import WarpEncoder, WarpSpec, random_bump_fields, warp_images

from test_train import make_trainer, tiny_pool  # noqa: F401  (the fixture is used by name)


def blob(x: float, y: float, size: int = 64, sigma: float = 1.5) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    return torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))[None, None]


def centroid(image: torch.Tensor) -> tuple[float, float]:
    m = image[0, 0]
    ys, xs = torch.meshgrid(torch.arange(m.shape[0], dtype=torch.float32),
                            torch.arange(m.shape[1], dtype=torch.float32), indexing="ij")
    return float((m * xs).sum() / m.sum()), float((m * ys).sum() / m.sum())


def test_a_bump_moves_the_content_at_its_centre_and_nothing_far_away():
    size, shift, sigma = 64, torch.tensor([4.0, -3.0]), 10.0
    coords = torch.arange(size, dtype=torch.float32)
    g = lambda c: torch.exp(-0.5 * ((coords - c) / sigma) ** 2)
    bump = g(30)[:, None] * g(20)[None, :]                     # centre (x 20, y 30)
    field = shift[None, :, None, None] * bump[None, None]
    near, far = blob(20, 30), blob(55, 5)
    moved = centroid(warp_images(near, field))
    # Backward sampling lands a little short of the full shift (the field decays away from the centre).
    assert 0.8 * 4 < moved[0] - 20 <= 4 and -3 <= moved[1] - 30 < -0.8 * 3
    assert torch.allclose(warp_images(far, field), far, atol=2e-3)
    assert torch.allclose(warp_images(near, torch.zeros_like(field)), near, atol=1e-6)


def test_random_fields_respect_the_spec_and_the_seed():
    spec = WarpSpec(max_bumps=2, sigma=(0.1, 0.1), max_shift=0.05)
    a = random_bump_fields(16, 32, torch.Generator().manual_seed(1), spec)
    b = random_bump_fields(16, 32, torch.Generator().manual_seed(1), spec)
    assert a.shape == (16, 2, 32, 32) and torch.equal(a, b)
    # Two bumps of at most 0.05·32 = 1.6 px each.
    assert 0 < a.norm(dim=1).amax() <= 2 * 1.6 + 1e-5


def test_the_encoder_offsets_nothing_for_a_zero_field():
    encoder = WarpEncoder(w_dim=16, rows=3)
    torch.nn.init.normal_(encoder.net[-1].weight)
    w = torch.randn(4, 16)
    fields = random_bump_fields(4, 32, torch.Generator().manual_seed(0))
    assert torch.equal(encoder(torch.zeros_like(fields), w), torch.zeros(4, 3, 16))
    assert encoder(fields, w).shape == (4, 3, 16) and encoder(fields, w).abs().amax() > 0


def test_the_warp_phase_trains_g_and_the_encoder_between_distillation_and_sharpening(tmp_path, tiny_pool):  # noqa: F811
    options = dict(distill_steps=2, warp_steps=3, sharpen_steps=2, d_fit_steps=1, warp_share=1.0, warp_rows=2)
    straight = make_trainer(tmp_path / "straight", tiny_pool, **options)
    assert [straight.phase(s) for s in range(8)] == ["distill"] * 2 + ["warp"] * 3 + ["sharpen"] * 2 + ["fit_d"]
    start = {k: v.clone() for k, v in straight.warp_encoder.state_dict().items()}
    straight.run(until_step=5)
    assert any(not torch.equal(start[k], v) for k, v in straight.warp_encoder.state_dict().items())
    straight.run()
    split = make_trainer(tmp_path / "split", tiny_pool, **options)
    split.run(until_step=3)                # stops inside the warp phase
    resumed: Trainer = make_trainer(tmp_path / "split", tiny_pool, **options)
    resumed.run()
    for name in ("G", "G_ema", "warp_encoder"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), f"{name} differs after resume"
    records = [json.loads(line) for line in (tmp_path / "straight" / "train.log").read_text().splitlines()]
    warp_records = [r for r in records if r.get("phase") == "warp"]
    assert warp_records and all("l1_moved" in r and "l1_moved_no_offset" in r for r in warp_records)
    stage = load_snapshot_models(tmp_path / "straight" / CHECKPOINT_NAME)[2].stage()
    assert ("2 distillation steps of batch 32, then 3 steps of distillation toward locally warped teacher images, "
            "then 2 sharpening steps") in stage
