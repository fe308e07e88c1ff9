"""A bounded store for per-session generator copies (pivotal tuning, noise-optimised twins).

Every "faithful" inversion yields its own tuned generator: about 12 MB for the bundled 64 px model,
about 120 MB for a 512 px FFHQ-size model. Sessions come and go without telling anyone, so the
service keeps those copies here: least recently used first out once either cap is exceeded.
Defaults: 16 entries and 1 GiB.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable

import torch

DEFAULT_MAX_ENTRIES = 16
DEFAULT_MAX_BYTES = 1 << 30


def _tensors(module: torch.nn.Module) -> list[torch.Tensor]:
    return list(module.parameters()) + list(module.buffers())


def owned_bytes(module: torch.nn.Module, base: torch.nn.Module | None = None) -> int:
    """Bytes of `module`'s parameters and buffers, not counting storage it shares with `base`."""
    shared = {t.untyped_storage().data_ptr() for t in _tensors(base)} if base is not None else set()
    seen: set[int] = set()
    total = 0
    for tensor in _tensors(module):
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in shared or ptr in seen:
            continue
        seen.add(ptr)
        total += storage.nbytes()
    return total


class GeneratorCache:
    """Thread-safe LRU of generators keyed by session (or revision) id, capped by count and bytes."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[Hashable, tuple[torch.nn.Module, int]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: Hashable, generator: torch.nn.Module, base: torch.nn.Module | None = None
            ) -> list[Hashable]:
        """Store `generator` (its size counted without storage shared with `base`); returns the keys
        evicted to make room. A generator larger than `max_bytes` on its own is refused."""
        size = owned_bytes(generator, base)
        if size > self.max_bytes:
            raise ValueError(f"generator needs {size} bytes, more than the cache's max_bytes {self.max_bytes}")
        evicted = []
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (generator, size)
            while len(self._entries) > self.max_entries or self._total() > self.max_bytes:
                old_key, _ = self._entries.popitem(last=False)
                evicted.append(old_key)
        return evicted

    def get(self, key: Hashable) -> torch.nn.Module | None:
        """The stored generator (now most recently used), or None if absent or evicted."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def pop(self, key: Hashable) -> torch.nn.Module | None:
        with self._lock:
            entry = self._entries.pop(key, None)
            return None if entry is None else entry[0]

    def _total(self) -> int:
        return sum(size for _, size in self._entries.values())

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return self._total()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries
