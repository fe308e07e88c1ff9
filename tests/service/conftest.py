"""A real engine in-process on an ephemeral port serving a tiny generator."""
from __future__ import annotations

import pytest
from engine_fixtures import start_engine, write_tiny_model

from engine.client import EngineClient


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny.safetensors")


@pytest.fixture(scope="module")
def engine(tiny_model, tmp_path_factory):
    server = start_engine(tiny_model, tmp_path_factory.mktemp("engine"))
    yield server
    server.stop(0)


@pytest.fixture
def client(engine):
    with EngineClient(engine.address, timeout=60) as c:
        yield c
