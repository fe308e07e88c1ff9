"""Fixtures for the model-file tests (helpers live in model_fixtures.py so test modules can import them)."""
from __future__ import annotations

import pytest
import torch

from model_fixtures import make_networks


@pytest.fixture(scope="session")
def networks():
    """A small random (G, D) pair; tests must not modify it."""
    return make_networks()


@pytest.fixture(autouse=True)
def single_thread():
    """These networks are tiny: one thread is faster, and immune to a busy machine's thread contention."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
