#!/usr/bin/env python3
"""Dev-time check of our StyleGAN2 numerics and pickle loader against NVIDIA's own code (not part of CI).

Two steps, each run in its own environment:

1. `make OUT_DIR --nvidia-code DIR`, run in a throw-away venv that has torch and a copy of NVIDIA's
   StyleGAN2 code (DIR holds `dnnlib/`, `torch_utils/`, `training/networks.py`; e.g. the `stylegan2`
   folder of the PyPI package draggan==1.1.6). It builds NVIDIA networks with random weights in several
   configurations, pickles them with NVIDIA's own persistence (genuine NVIDIA-made files), and records
   their fp32 outputs (images at const noise, each block's features, D logits and block outputs) to .npz.
2. `check OUT_DIR`, run in latentdrag's venv: loads every pickle with our restricted loader, recomputes
   the same outputs with our networks and prints the max abs difference per quantity.

Nothing NVIDIA made (code, pickles, outputs) belongs in this repository; OUT_DIR lives under /tmp.
"""
from __future__ import annotations

import argparse
import copy
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import torch

# name: (G kwargs, D kwargs, pickle protocol). conv_clamp is left out of the kwargs where NVIDIA's
# defaults (256) apply, as in stylegan3-repo training snapshots.
CONFIGS = {
    "small64": (dict(z_dim=64, w_dim=64, c_dim=0, img_resolution=64, img_channels=3,
                     mapping_kwargs=dict(num_layers=2),
                     synthesis_kwargs=dict(channel_base=2048, channel_max=128, num_fp16_res=0, conv_clamp=None)),
                dict(c_dim=0, img_resolution=64, img_channels=3, channel_base=2048, channel_max=128,
                     num_fp16_res=0, conv_clamp=None), 2),
    "res256_clamp_default": (dict(z_dim=512, w_dim=512, c_dim=0, img_resolution=256, img_channels=3,
                                  mapping_kwargs=dict(num_layers=2),
                                  synthesis_kwargs=dict(channel_base=16384, channel_max=512)),
                             dict(c_dim=0, img_resolution=256, img_channels=3, channel_base=16384,
                                  channel_max=512), 3),
    "ffhq512": (dict(z_dim=512, w_dim=512, c_dim=0, img_resolution=512, img_channels=3,
                     mapping_kwargs=dict(num_layers=8),
                     synthesis_kwargs=dict(channel_base=32768, channel_max=512, num_fp16_res=4)),
                dict(c_dim=0, img_resolution=512, img_channels=3, channel_base=32768, channel_max=512,
                     num_fp16_res=4, conv_clamp=256, epilogue_kwargs=dict(mbstd_group_size=4)), 4),
    "resnet128": (dict(z_dim=128, w_dim=128, c_dim=0, img_resolution=128, img_channels=3,
                       mapping_kwargs=dict(num_layers=4),
                       synthesis_kwargs=dict(channel_base=4096, channel_max=256, architecture="resnet",
                                             conv_clamp=None, num_fp16_res=0)),
                  dict(c_dim=0, img_resolution=128, img_channels=3, architecture="skip", channel_base=4096,
                       channel_max=256, conv_clamp=None, num_fp16_res=0,
                       epilogue_kwargs=dict(mbstd_group_size=2, mbstd_num_channels=2)), 4),
    "conditional64": (dict(z_dim=64, w_dim=64, c_dim=5, img_resolution=64, img_channels=3,
                           mapping_kwargs=dict(num_layers=3),
                           synthesis_kwargs=dict(channel_base=2048, channel_max=128, num_fp16_res=2)),
                      dict(c_dim=5, img_resolution=64, img_channels=3, architecture="orig", channel_base=2048,
                           channel_max=128, num_fp16_res=2, mapping_kwargs=dict(num_layers=2)), 2),
}
BATCH = 2
PSI = 0.7


def _randomize(module: torch.nn.Module, seed: int) -> None:
    """NVIDIA's init leaves biases, noise strengths and w_avg at zero; perturb everything so it all counts."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if name.endswith("resample_filter"):
                continue
            tensor.add_(torch.randn(tensor.shape, generator=gen) * 0.2)


def _inputs(z_dim: int, c_dim: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    z = rng.randn(BATCH, z_dim).astype(np.float32)
    c = np.eye(max(c_dim, 1), dtype=np.float32)[rng.randint(0, max(c_dim, 1), size=BATCH)][:, :c_dim]
    return z, c


def make(out_dir: Path, nvidia_code: Path) -> None:
    sys.path.insert(0, str(nvidia_code))
    import dnnlib  # noqa: F401  (NVIDIA's; only in the throw-away venv)
    from training import networks  # NVIDIA's

    out_dir.mkdir(parents=True, exist_ok=True)
    for index, (name, (g_kwargs, d_kwargs, protocol)) in enumerate(CONFIGS.items()):
        torch.manual_seed(index)
        G = networks.Generator(**copy.deepcopy(g_kwargs)).eval().requires_grad_(False)
        D = networks.Discriminator(**copy.deepcopy(d_kwargs)).eval().requires_grad_(False)
        _randomize(G, 100 + index)
        _randomize(D, 200 + index)
        G_training = copy.deepcopy(G)
        _randomize(G_training, 300 + index)
        snapshot = {"G": G_training, "D": D, "G_ema": G, "augment_pipe": None,
                    "training_set_kwargs": dnnlib.EasyDict(path="faces.zip", use_labels=G.c_dim > 0)}
        with open(out_dir / f"{name}.pkl", "wb") as f:
            pickle.dump(snapshot, f, protocol=protocol)
        z, c = _inputs(G.z_dim, G.c_dim)
        zt, ct = torch.from_numpy(z), torch.from_numpy(c)
        with torch.no_grad():
            ws = G.mapping(zt, ct, truncation_psi=PSI)
            img, feats = G.synthesis(ws, noise_mode="const", force_fp32=True, return_feature=True)
            d_feats = []
            hooks = [getattr(D, f"b{res}").register_forward_hook(lambda m, i, o: d_feats.append(o[0]))
                     for res in D.block_resolutions]
            logits = D(img, ct, force_fp32=True)
            for hook in hooks:
                hook.remove()
        arrays = {"z": z, "c": c, "ws": ws.numpy(), "image": img.numpy(), "logits": logits.numpy()}
        arrays.update({f"features.b{res}": f.float().numpy() for res, f in zip(G.synthesis.block_resolutions, feats)})
        arrays.update({f"d_features.b{res}": f.float().numpy() for res, f in zip(D.block_resolutions, d_feats)})
        np.savez(out_dir / f"{name}.npz", **arrays)
        print(f"{name}: wrote {name}.pkl (protocol {protocol}) and outputs")


def check(out_dir: Path) -> dict[str, dict[str, float]]:
    from engine.models.loading import load_model_file

    results: dict[str, dict[str, float]] = {}
    for npz_path in sorted(out_dir.glob("*.npz")):
        name = npz_path.stem
        ref = dict(np.load(npz_path))
        model = load_model_file(out_dir / f"{name}.pkl", device="cpu")
        G, D = model.G, model.D
        z, c = torch.from_numpy(ref["z"]), torch.from_numpy(ref["c"])
        diffs: dict[str, float] = {}
        with torch.no_grad():
            ws = G.mapping(z, c if G.c_dim else None, truncation_psi=PSI)
            diffs["ws"] = float((ws - torch.from_numpy(ref["ws"])).abs().max())
            ws_ref = torch.from_numpy(ref["ws"])  # isolate synthesis from mapping differences
            image = G.synthesis(ws_ref, noise_mode="const")
            diffs["image"] = float((image - torch.from_numpy(ref["image"])).abs().max())
            # The unfused modulated conv (training and drag gradients) computes the same function.
            unfused = G.synthesis.run(ws_ref, noise_mode="const", fused=False).image
            diffs["image (unfused path)"] = float((unfused - torch.from_numpy(ref["image"])).abs().max())
            block_diffs = []
            for block in G.blocks:
                feats = G.synthesize(ws_ref, feature_block=block.name, stop_at_features=True).features[block.name]
                block_diffs.append(float((feats - torch.from_numpy(ref[f"features.{block.name}"])).abs().max()))
            diffs["features(max over blocks)"] = max(block_diffs)
            d_feats: list[torch.Tensor] = []
            logits = D(torch.from_numpy(ref["image"]), c if G.c_dim else None, features=d_feats)
            diffs["D logits"] = float((logits - torch.from_numpy(ref["logits"])).abs().max())
            d_ref = [ref[f"d_features.b{res}"] for res in D.block_resolutions]
            diffs["D blocks(max)"] = max(float((ours - torch.from_numpy(theirs)).abs().max())
                                         for ours, theirs in zip(d_feats, d_ref))
        cfg = model.meta.config
        print(f"{name}: res {cfg.img_resolution}, arch {cfg.architecture}/{cfg.d_architecture}, conv_clamp "
              f"{cfg.conv_clamp}, c_dim {cfg.c_dim}: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
        results[name] = diffs
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    make_p = sub.add_parser("make", help="(throw-away venv) build NVIDIA pickles + reference outputs")
    make_p.add_argument("out_dir", type=Path)
    make_p.add_argument("--nvidia-code", type=Path, required=True)
    check_p = sub.add_parser("check", help="(latentdrag venv) compare our loader/networks to the references")
    check_p.add_argument("out_dir", type=Path)
    check_p.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.step == "make":
        make(args.out_dir, args.nvidia_code)
        return 0
    results = check(args.out_dir)
    worst = max(v for diffs in results.values() for v in diffs.values())
    print(json.dumps({"worst_max_abs_diff": worst, "tolerance": args.tolerance}))
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
