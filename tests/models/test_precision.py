"""Precision choice: explicit values are honoured, "auto" follows the hardware, bad names are refused."""
import pytest
import torch

from engine.models.precision import autocast, native_bf16, resolve_precision


def test_explicit_precisions_are_honoured():
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) == torch.float32
    assert resolve_precision("bfloat16", cpu) == torch.bfloat16


def test_auto_uses_bf16_exactly_where_the_device_has_it():
    cpu = torch.device("cpu")
    expected = torch.bfloat16 if native_bf16(cpu) else torch.float32
    assert resolve_precision("auto", cpu) == expected


def test_unknown_precision_names_the_choices():
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", torch.device("cpu"))


def test_autocast_runs_convolutions_in_the_chosen_dtype():
    x, w = torch.randn(1, 4, 8, 8), torch.randn(4, 4, 3, 3)
    with autocast(torch.device("cpu"), torch.bfloat16):
        assert torch.nn.functional.conv2d(x, w).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), torch.float32):
        assert torch.nn.functional.conv2d(x, w).dtype == torch.float32
