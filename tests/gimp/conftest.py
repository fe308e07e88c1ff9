"""Shared fixtures of the GIMP plug-in tests.

The plug-in's pure helpers live next to the plug-in file (they are installed with it), not in the
`engine` package: they are made importable the way the plug-in itself imports them, and the repository
root for the shared `tests.support` helpers.
"""
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
for folder in (REPO_ROOT / "gimp_plugin" / "latentdrag_gimp", REPO_ROOT):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from tests.support.engine_server import model_for_tests, running_engine  # noqa: E402

# Inversion cut to a few steps: these tests are about the plug-in, not inversion quality, and every
# step counts on a shared 2-core machine.
SHORT_INVERSION = {"w_steps": 2, "w_plus_steps": 2, "w_avg_samples": 50}


@pytest.fixture(scope="module")
def engine_address(tmp_path_factory):
    """A real engine on a free loopback port with the bundled model (a small random one until it is
    trained), one per test module."""
    folder = tmp_path_factory.mktemp("engine")
    with running_engine(model_for_tests(folder), folder, SHORT_INVERSION) as address:
        yield address
