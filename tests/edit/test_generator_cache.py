"""GeneratorCache: least recently used out first, under both the entry and the byte cap."""
from __future__ import annotations

import copy

import pytest
import torch

from engine.edit.generator_cache import GeneratorCache, owned_bytes


def net(features: int) -> torch.nn.Module:
    return torch.nn.Linear(features, features, bias=False)   # features² float32 weights


def test_owned_bytes_counts_own_storage_but_not_storage_shared_with_base():
    base = net(16)
    assert owned_bytes(base) == 16 * 16 * 4
    twin = copy.deepcopy(base, memo={id(p): p for p in base.parameters()})
    twin.register_buffer("extra", torch.zeros(10))
    assert owned_bytes(twin, base) == 10 * 4
    assert owned_bytes(copy.deepcopy(base), base) == 16 * 16 * 4


def test_entry_cap_evicts_least_recently_used():
    cache = GeneratorCache(max_entries=2, max_bytes=10**9)
    a, b, c = net(4), net(4), net(4)
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") is a           # "a" is now the most recently used
    assert cache.put("c", c) == ["b"]
    assert "b" not in cache and cache.get("a") is a and cache.get("c") is c and len(cache) == 2


def test_byte_cap_evicts_until_it_fits():
    cache = GeneratorCache(max_entries=10, max_bytes=3 * 1024)
    for key in "abc":
        cache.put(key, net(16))             # 1 KiB each
    assert cache.total_bytes == 3 * 1024
    assert cache.put("d", net(16)) == ["a"]
    assert cache.put("e", net(22)) == ["b", "c"]   # 1936 bytes: needs two entries' room
    assert sorted(k for k in "abcde" if k in cache) == ["d", "e"]


def test_replacing_a_key_and_popping():
    cache = GeneratorCache(max_entries=2, max_bytes=10**9)
    first, second = net(4), net(4)
    cache.put("s", first)
    cache.put("s", second)
    assert len(cache) == 1 and cache.get("s") is second
    assert cache.pop("s") is second and cache.pop("s") is None and cache.get("s") is None


def test_too_large_or_bad_caps_are_refused():
    with pytest.raises(ValueError, match="max_bytes"):
        GeneratorCache(max_bytes=100).put("x", net(16))
    with pytest.raises(ValueError, match="max_entries"):
        GeneratorCache(max_entries=0)
