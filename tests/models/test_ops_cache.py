"""Weight-derived values (demodulation norms, transposed kernels, dtype copies) are cached for frozen
weights, follow every change of the weight, and never cut gradients to weights being trained."""
import torch

from engine.models.ops import make_resample_filter, modulated_conv2d


def run(x, weight, styles, up):
    return modulated_conv2d(x, weight, styles, up=up, padding=1, resample_filter=make_resample_filter(),
                            fused=False)


def reference(x, weight, styles, up):
    """The fused path builds per-sample weights each call: no cache involved."""
    return modulated_conv2d(x, weight, styles, up=up, padding=1, resample_filter=make_resample_filter(),
                            fused=True)


def test_cached_passes_follow_in_place_weight_changes():
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(8, 6, 3, 3), requires_grad=False)
    x, styles = torch.randn(2, 6, 5, 5), torch.randn(2, 6)
    for up in (1, 2):
        first = run(x, weight, styles, up)
        torch.testing.assert_close(first, reference(x, weight, styles, up), atol=1e-5, rtol=1e-4)
        with torch.no_grad():
            weight[:, :3].mul_(-3.0)          # as an optimiser or load_state_dict would, in place
        changed = run(x, weight, styles, up)
        torch.testing.assert_close(changed, reference(x, weight, styles, up), atol=1e-5, rtol=1e-4)
        assert not torch.allclose(first, changed)


def test_bf16_copies_follow_weight_changes():
    torch.manual_seed(1)
    weight = torch.nn.Parameter(torch.randn(4, 4, 3, 3), requires_grad=False)
    x, styles = torch.randn(1, 4, 6, 6), torch.randn(1, 4)
    for _ in range(2):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = run(x, weight, styles, 1).float()
        error = (out - reference(x, weight, styles, 1)).abs().max()
        assert error < 0.1, error    # bf16 rounding; a stale copy of the old weight is off by ~1
        with torch.no_grad():
            weight[:, :2].mul_(-3.0)


def test_gradients_reach_weights_that_are_being_trained():
    torch.manual_seed(2)
    weight = torch.nn.Parameter(torch.randn(8, 6, 3, 3))
    x, styles = torch.randn(2, 6, 5, 5), torch.randn(2, 6, requires_grad=True)
    for up in (1, 2):
        weight.grad = None
        run(x, weight, styles, up).square().sum().backward()
        expected = torch.autograd.grad(reference(x, weight, styles, up).square().sum(), weight)[0]
        torch.testing.assert_close(weight.grad, expected, atol=1e-4, rtol=1e-4)


def test_a_float32_input_under_autocast_uses_the_cached_weight_copy_with_autocast_s_values():
    """The const block feeds float32 activations to a bf16 pass: the conv takes the weight's cached
    bf16 copy (no conversion per pass) and computes exactly what autocast's own casts computed."""
    torch.manual_seed(2)
    weight = torch.nn.Parameter(torch.randn(8, 8, 3, 3), requires_grad=False)
    x, styles = torch.randn(1, 8, 4, 4), torch.randn(1, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = run(x, weight, styles, 1)
        cached = weight.__dict__.get("_latentdrag_derived", {}).get("as torch.bfloat16", (None, None))[1]
        by_autocast = torch.nn.functional.conv2d(x * styles.reshape(1, -1, 1, 1), weight, padding=1)
    assert out.dtype == torch.bfloat16 and cached is not None and cached.dtype == torch.bfloat16
    demodulation = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()
    assert torch.equal(out, by_autocast * demodulation.reshape(1, -1, 1, 1).to(torch.bfloat16))
