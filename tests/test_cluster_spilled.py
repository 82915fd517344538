"""The out-of-core pieces of newsbench.cluster_spilled against their in-memory counterparts
(tests/test_link.py checks the whole clustering both ways on BBC articles)."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from newsbench import cluster_spilled, link, spill
from newsbench.spill import SpilledTable


def test_run_heads_carry_a_run_across_batches() -> None:
    keys = ["a", "a", "a", "b", "b", "c", "d", "d"]
    table = pa.table({"key": keys, "value": [1, 2, 3, 4, 5, 6, 7, 8]})
    batches = [table.slice(0, 2), table.slice(2, 2), table.slice(4, 1), table.slice(5, 3)]
    heads = [
        h
        for _, part in cluster_spilled.run_heads(
            (b.to_batches()[0] for b in batches), "key", "value"
        )
        for h in part.tolist()
    ]
    assert heads == [1, 1, 1, 4, 4, 6, 7, 7]


def test_first_of_equal_gives_each_item_the_first_with_its_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Items with a key join the first item of that key, across batches and sort parts; items
    without one stay their own."""
    monkeypatch.setattr(spill, "SORT_BUDGET_BYTES", 256)
    rng = random.Random(5)
    n = 400
    keyed = {i: f"k{rng.randrange(40)}" for i in range(n) if rng.random() < 0.8}
    table = SpilledTable(cluster_spilled.GROUP_KEYS, 9)
    for i, key in keyed.items():
        table.append({"key": key, "item": i})
    first = cluster_spilled.first_of_equal(table, n).tolist()
    expected = list(range(n))
    seen: dict[str, int] = {}
    for i, key in keyed.items():
        expected[i] = seen.setdefault(key, i)
    assert first == expected
    assert len(set(first)) < n - 100


@pytest.mark.parametrize("m", [250, 1500])
def test_candidate_pairs_are_those_of_the_in_memory_index(
    m: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All pairs of a small block; in a large one the pairs sharing a word held by 2 to
    MAX_POSTING items, each once, in ascending order: link._candidate_pairs's pairs. Words are
    drawn Zipf-like, so some are held by more than MAX_POSTING items and make no pairs."""
    monkeypatch.setattr(spill, "SORT_BUDGET_BYTES", 4096)
    monkeypatch.setattr(cluster_spilled, "BATCH_ROWS", 64)
    monkeypatch.setattr(cluster_spilled, "PAIR_CHUNK", 100)
    rng = random.Random(m)
    weights = [1 / (r + 1) for r in range(3000)]
    words = [set(rng.choices(range(3000), weights, k=rng.randrange(1, 9))) for _ in range(m)]
    codes = cluster_spilled._Codes()
    for w in words:
        codes.add(w)
    found = [
        pair
        for a, b in cluster_spilled.candidate_pairs(codes)
        for pair in zip(a.tolist(), b.tolist(), strict=True)
    ]
    expected = list(link._candidate_pairs(list(range(m)), words.__getitem__))
    assert found == expected
    if m > link.BLOCK_ALL_PAIRS:
        holders = np.bincount([t for w in words for t in w])
        assert (holders > link.MAX_POSTING).any()  # common words were left out
        assert 0 < len(found) < m * (m - 1) // 2
