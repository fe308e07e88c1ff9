"""The trainer on a tiny model and a synthetic teacher pool: learning, resumability, export."""
import json

import numpy as np
import pytest
import torch

import engine
import engine.models.loading
from engine.models.stylegan2 import StyleGAN2Config
from engine.training.__main__ import FACES64_DRAG_DEFAULTS, build_parser, train_config, main as training_main
from engine.training.pool import TeacherPool, images_to_uint8
from engine.training.train import (CHECKPOINT_NAME, DISTILLED_NAME, Trainer, TrainConfig, distillation_loss,
                                   load_snapshot_models)

Z_DIM = 8


def tiny_model_config():
    return StyleGAN2Config(img_resolution=16, channels={4: 32, 8: 32, 16: 16}, z_dim=Z_DIM, w_dim=32,
                           mapping_layers=2, d_channels={4: 32, 8: 16, 16: 16})


@pytest.fixture(scope="module")
def tiny_pool():
    """Images that are a smooth, learnable function of z (a fixed random linear map, tanh)."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(256, Z_DIM, generator=gen)
    proj = torch.randn(Z_DIM, 3 * 4 * 4, generator=gen) * 0.6
    small = torch.tanh(z @ proj).reshape(-1, 3, 4, 4)
    images = torch.nn.functional.interpolate(small, size=16, mode="bilinear", align_corners=False)
    return TeacherPool(z.numpy(), images_to_uint8(images))


def tiny_train_config(**overrides):
    base = dict(batch=8, distill_steps=4, warp_steps=0, sharpen_steps=4, d_fit_steps=2, r1_interval=2, log_every=1,
                checkpoint_minutes=60)
    return TrainConfig(**{**base, **overrides})


def make_trainer(run_dir, pool, **overrides):
    return Trainer(run_dir, pool, tiny_train_config(**overrides), tiny_model_config(), log=lambda line: None)


def fixed_batch_loss(trainer, pool):
    z, target = pool.batch(torch.arange(64))
    with torch.no_grad():
        fake = trainer.G.synthesis.run(trainer.G.mapping(z), noise_mode="none").image
        return distillation_loss(fake, target, downsampled_weight=1.0).item()


def test_distillation_steps_reduce_the_loss(tmp_path, tiny_pool):
    trainer = make_trainer(tmp_path, tiny_pool, distill_steps=40, sharpen_steps=0, d_fit_steps=0)
    before = fixed_batch_loss(trainer, tiny_pool)
    trainer.run()
    after = fixed_batch_loss(trainer, tiny_pool)
    assert after < 0.7 * before, (before, after)
    noise = [p for name, p in trainer.G.named_parameters() if name.endswith("noise_strength")]
    assert noise and all(p.item() == 0 for p in noise), "noise strengths must stay at 0"
    assert trainer.G_ema.w_avg.abs().sum() > 0, "G_ema must receive the tracked w_avg"


def test_mapping_gets_its_own_learning_rate_only_while_distilling(tmp_path, tiny_pool):
    trainer = make_trainer(tmp_path, tiny_pool, distill_steps=2, sharpen_steps=2, d_fit_steps=0,
                           distill_lr=1e-3, sharpen_g_lr=5e-4, distill_mapping_lr_scale=50.0)
    lrs = lambda: {g["name"]: g["lr"] for g in trainer.opt_G.param_groups}
    trainer.run(until_step=1)
    assert lrs() == {"synthesis": 1e-3, "mapping": 5e-2}
    trainer.run()
    assert lrs() == {"synthesis": 5e-4, "mapping": 5e-4}
    grouped = {id(p) for g in trainer.opt_G.param_groups for p in g["params"]}
    mapping = {id(p) for n, p in trainer.G.named_parameters() if n.startswith("mapping.")}
    assert mapping <= grouped and len(grouped) == sum(
        1 for n, _ in trainer.G.named_parameters() if not n.endswith("noise_strength"))


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_both_precisions_learn_and_keep_float32_weights(tmp_path, tiny_pool, precision):
    trainer = make_trainer(tmp_path, tiny_pool, distill_steps=40, sharpen_steps=0, d_fit_steps=0, precision=precision)
    before = fixed_batch_loss(trainer, tiny_pool)
    trainer.run()
    assert fixed_batch_loss(trainer, tiny_pool) < 0.75 * before
    assert all(p.dtype == torch.float32 for p in trainer.G.parameters())
    assert trainer.G.mapping.w_avg.dtype == torch.float32


def test_resume_continues_bit_identically(tmp_path, tiny_pool):
    straight = make_trainer(tmp_path / "straight", tiny_pool)
    straight.run()
    interrupted = make_trainer(tmp_path / "split", tiny_pool)
    interrupted.run(until_step=5)          # stops inside the sharpening phase
    assert (tmp_path / "split" / DISTILLED_NAME).exists()
    resumed = make_trainer(tmp_path / "split", tiny_pool)
    assert resumed.step == 5
    resumed.run()
    assert resumed.step == straight.step == 10
    for name in ("G", "D", "G_ema", "patch_D"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key} differs after resume"
    # The later phases really trained both discriminators.
    fresh = make_trainer(tmp_path / "fresh", tiny_pool)
    assert not torch.equal(fresh.D.b4.out.weight, resumed.D.b4.out.weight)
    assert not torch.equal(fresh.patch_D.net[0].weight, resumed.patch_D.net[0].weight)


def test_sharpening_moves_only_g_and_the_critic_and_fitting_d_moves_only_d(tmp_path, tiny_pool):
    trainer = make_trainer(tmp_path, tiny_pool, distill_steps=2, sharpen_steps=3, d_fit_steps=3, log_every=4)
    trainer.run(until_step=2)
    snapshot = lambda: {name: {k: v.clone() for k, v in getattr(trainer, name).state_dict().items()}
                        for name in ("G", "G_ema", "D", "patch_D")}
    changed = lambda a, b: {name for name in a if any(not torch.equal(a[name][k], b[name][k]) for k in a[name])}
    start = snapshot()
    trainer.run(until_step=5)
    assert trainer.phase() == "fit_d"
    sharpened = snapshot()
    assert changed(start, sharpened) == {"G", "G_ema", "patch_D"}
    trainer.run()
    assert changed(sharpened, snapshot()) == {"D"}, "fitting D must leave the shipped generator as it is"
    records = [json.loads(line) for line in (tmp_path / "train.log").read_text().splitlines()]
    logged = [(r["phase"], "g_adv" in r) for r in records if "phase" in r]
    assert ("sharpen", True) in logged and ("fit_d", False) in logged
    assert ("fit_d", True) not in logged, "a logged average must not mix the sharpening and D-only phases"


def test_a_checkpoint_of_the_earlier_trainer_is_refused_with_a_way_forward(tmp_path, tiny_pool):
    trainer = make_trainer(tmp_path, tiny_pool, distill_steps=1, sharpen_steps=0, d_fit_steps=0)
    trainer.run()
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    old = {k: v for k, v in json.loads(state["train_config"]).items() if k not in ("sharpen_steps", "d_fit_steps")}
    state["train_config"] = json.dumps({**old, "adv_steps": 400})
    torch.save(state, tmp_path / CHECKPOINT_NAME)
    with pytest.raises(ValueError, match="earlier trainer.*--init-from"):
        make_trainer(tmp_path, tiny_pool)


def test_resume_refuses_a_different_architecture(tmp_path, tiny_pool):
    make_trainer(tmp_path, tiny_pool, distill_steps=1, sharpen_steps=0, d_fit_steps=0).run()
    other = tiny_model_config()
    other.w_dim = 16
    with pytest.raises(ValueError, match="different architecture"):
        Trainer(tmp_path, tiny_pool, tiny_train_config(), other, log=lambda line: None)


def test_export_loads_through_the_public_loader(tmp_path, tiny_pool):
    trainer = make_trainer(tmp_path / "run", tiny_pool, distill_steps=3, sharpen_steps=0, d_fit_steps=0)
    trainer.run()
    out = tmp_path / "model.safetensors"
    assert training_main(["export", "--checkpoint", str(tmp_path / "run" / CHECKPOINT_NAME),
                          "--out", str(out)]) == 0
    G = engine.load_model(out, device="cpu")
    z = torch.randn(2, Z_DIM)
    with torch.no_grad():
        expected = trainer.G_ema(z, noise_mode="const")
        assert torch.allclose(G(z, noise_mode="const"), expected, atol=1e-5)
    info = engine.models.loading.read_model_info(out)
    assert "teacher: 3 distillation steps of batch 32 (" in info.description
    assert info.drag_defaults == FACES64_DRAG_DEFAULTS  # the settings tuned for the bundled model travel with it
    loaded_G, loaded_D, info = load_snapshot_models(tmp_path / "run" / CHECKPOINT_NAME)
    assert (info.step, info.phase) == (3, "distill")
    assert np.isclose(out.stat().st_size / 4, sum(t.numel() for t in [*loaded_G.state_dict().values(),
                                                                     *loaded_D.state_dict().values()]), rtol=0.05)


def test_stop_request_checkpoints_and_the_next_run_resumes_there(tmp_path, tiny_pool):
    trainer = make_trainer(tmp_path, tiny_pool)
    trainer.log_json = lambda record: trainer.request_stop() if record.get("step") == 3 else None
    trainer.run()                          # log_every=1: the stop arrives while logging step 3
    assert trainer.step == 3
    assert make_trainer(tmp_path, tiny_pool).step == 3


def test_warm_start_from_an_exported_model_begins_the_sharpening_phase(tmp_path, tiny_pool):
    distilled = make_trainer(tmp_path / "distilled", tiny_pool, distill_steps=3, sharpen_steps=0, d_fit_steps=0)
    distilled.run()
    out = tmp_path / "model.safetensors"
    training_main(["export", "--checkpoint", str(tmp_path / "distilled" / CHECKPOINT_NAME), "--out", str(out)])
    loaded = engine.models.loading.load_model_file(out, device="cpu")

    trainer = make_trainer(tmp_path / "adv", tiny_pool)
    trainer.warm_start(loaded.G, loaded.D, str(out))
    assert trainer.step == trainer.cfg.distill_steps and trainer.phase() == "sharpen"
    z = torch.randn(2, Z_DIM)
    with torch.no_grad():
        assert torch.equal(trainer.G_ema(z, noise_mode="const"), distilled.G_ema(z, noise_mode="const"))
        assert torch.allclose(trainer.G.eval()(z, noise_mode="const"), distilled.G_ema(z, noise_mode="const"),
                              atol=1e-5)
    trainer.G.train()
    trainer.run()
    assert trainer.step == trainer.cfg.total_steps
    continued = tmp_path / "continued.safetensors"
    training_main(["export", "--checkpoint", str(tmp_path / "adv" / CHECKPOINT_NAME), "--out", str(continued)])
    assert ("4 distillation steps of batch 32 (an earlier run, exported as model.safetensors), then 4 sharpening "
            "steps against a patch discriminator, then 2 discriminator-only steps"
            ) in engine.models.loading.read_model_info(continued).description
    with pytest.raises(ValueError, match="needs a new run"):
        trainer.warm_start(loaded.G, loaded.D, str(out))


def test_warm_start_refuses_another_architecture(tmp_path, tiny_pool):
    other = engine.models.stylegan2.Generator(StyleGAN2Config(
        img_resolution=16, channels={4: 16, 8: 16, 16: 16}, z_dim=Z_DIM, w_dim=32, mapping_layers=2))
    with pytest.raises(ValueError, match="another architecture"):
        make_trainer(tmp_path, tiny_pool).warm_start(other, None, "other.safetensors")


def test_the_run_command_passes_its_schedule_and_warp_rows_to_the_trainer():
    args = build_parser().parse_args(["run", "--distill-steps", "7", "--warp-steps", "5", "--warp-rows", "2",
                                      "--sharpen-steps", "3", "--d-fit-steps", "1", "--seed", "4"])
    cfg = train_config(args)
    assert (cfg.distill_steps, cfg.warp_steps, cfg.warp_rows, cfg.sharpen_steps, cfg.d_fit_steps, cfg.seed) == (
        7, 5, 2, 3, 1, 4)
    assert train_config(build_parser().parse_args(["run"])) == TrainConfig()  # the flags' defaults are the config's


@pytest.mark.parametrize("rows", [0, 99])
def test_a_warp_phase_needs_rows_the_model_has(tmp_path, tiny_pool, rows):
    with pytest.raises(ValueError, match=f"warp_rows must be between 1 and the model's .* got {rows}"):
        make_trainer(tmp_path, tiny_pool, warp_steps=2, warp_rows=rows)


def test_a_run_resumes_only_with_the_warp_rows_it_started_with(tmp_path, tiny_pool):
    make_trainer(tmp_path, tiny_pool, warp_steps=3, warp_rows=2).run(until_step=5)  # inside the warp phase
    with pytest.raises(ValueError, match="made with warp_rows 2, not 1; start a new run name"):
        make_trainer(tmp_path, tiny_pool, warp_steps=3, warp_rows=1)
    assert make_trainer(tmp_path, tiny_pool, warp_steps=3, warp_rows=2).step == 5
