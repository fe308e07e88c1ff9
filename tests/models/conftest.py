"""Fixtures for the model-file tests (helpers live in model_fixtures.py so test modules can import them)."""
from __future__ import annotations

import pytest

from model_fixtures import make_networks


@pytest.fixture(scope="session")
def networks():
    """A small random (G, D) pair; tests must not modify it."""
    return make_networks()
