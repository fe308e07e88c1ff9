"""Makes the plugin package (its pure modules; the Krita-only ones are never imported here) and the
shared `tests.support` helpers importable in plain pytest; a real engine for the worker-side tests."""
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
for folder in (REPO_ROOT / "krita_plugin", REPO_ROOT):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from engine.client import EngineClient  # noqa: E402
from tests.support.engine_server import model_for_tests, running_engine  # noqa: E402


@pytest.fixture(scope="module")
def engine_address(tmp_path_factory):
    """A real engine with the small test model and an inversion cut to a few steps."""
    root = tmp_path_factory.mktemp("engine")
    with running_engine(model_for_tests(root), root, {"w_steps": 3, "w_plus_steps": 3}) as address:
        yield address


@pytest.fixture
def client(engine_address):
    with EngineClient(engine_address) as engine:
        yield engine
