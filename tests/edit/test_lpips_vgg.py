"""VGG16-LPIPS from local files: loads both layouts, behaves as a distance, rejects wrong files."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from engine.edit.lpips_vgg import TAP_CHANNELS, VGG16_LAYOUT, load_vgg16_lpips


def backbone_state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    state, in_channels, index = {}, 3, 0
    for item in VGG16_LAYOUT:
        if item == "M":
            index += 1
            continue
        state[f"features.{index}.weight"] = torch.randn(item, in_channels, 3, 3, generator=gen) / (3 * in_channels ** 0.5)
        state[f"features.{index}.bias"] = torch.zeros(item)
        in_channels, index = item, index + 2
    return state


def heads_state() -> dict[str, torch.Tensor]:
    return {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(TAP_CHANNELS)}


@pytest.fixture()
def files(tmp_path):
    backbone, heads = tmp_path / "vgg16.pth", tmp_path / "lin.safetensors"
    torch.save(backbone_state(), backbone)
    save_file(heads_state(), str(heads))
    return backbone, heads


def test_distance_is_zero_for_equal_images_and_grows_with_distortion(files):
    lpips = load_vgg16_lpips(*files)
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(2))
    near, far = (image + 0.05 * noise).clamp(-1, 1), (image + 0.5 * noise).clamp(-1, 1)
    assert float(lpips(image, image)) == 0
    assert 0 < float(lpips(image, near)) < float(lpips(image, far))
    moving = near.clone().requires_grad_(True)
    lpips(moving, image).sum().backward()
    assert moving.grad.abs().sum() > 0 and all(p.grad is None for p in lpips.parameters())


def test_missing_or_misshaped_weights_are_named(files, tmp_path):
    backbone, heads = files
    state = heads_state()
    del state["lin3.model.1.weight"]
    save_file(state, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="lin3.model.1.weight"):
        load_vgg16_lpips(backbone, tmp_path / "bad.safetensors")
    state = backbone_state()
    state["features.5.weight"] = torch.zeros(128, 3, 3, 3)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"features.5.weight.*expected \[128, 64, 3, 3\]"):
        load_vgg16_lpips(tmp_path / "bad.pth", heads)
    with pytest.raises(ValueError, match="not found"):
        load_vgg16_lpips(tmp_path / "absent.pth", heads)


def test_pickles_with_code_are_refused(tmp_path, files):
    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))
    torch.save({"x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="not a tensor-only state dict"):
        load_vgg16_lpips(tmp_path / "evil.pth", files[1])
