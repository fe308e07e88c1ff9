"""Fixtures shared by the editing tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Batch-1 optimisation on a tiny model: on a busy 2-core machine two threads ran ~30× slower
    than one (thread hand-offs cost more than the work). Use with `pytest.mark.usefixtures`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
