"""The local runner reads its batches as it goes: memory holds the batches in flight, not the
input (a corpus's texts still to parse would otherwise all sit in the build process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsbench import pipeline, stages
from newsbench.runner import IN_FLIGHT_PER_WORKER, LocalRunner


class Counted:
    """An iterable of batches that records how many were read when each result came."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.read = 0

    def __iter__(self) -> Iterator[list[int]]:
        for i in range(self.n):
            self.read += 1
            yield [3 * i + 2, 3 * i, 3 * i + 1]


@pytest.mark.parametrize("workers", [1, 2])
def test_map_batches_reads_ahead_a_bounded_number_of_batches(workers: int) -> None:
    batches = Counted(40)
    read_at_result = []
    with LocalRunner(workers) as runner:
        results = []
        for result in runner.map_batches(sorted, batches):  # sorted: a picklable batch fn
            read_at_result.append(batches.read)
            results.append(result)
    assert results == [[3 * i, 3 * i + 1, 3 * i + 2] for i in range(40)]  # input order
    ahead = 1 if workers == 1 else IN_FLIGHT_PER_WORKER * workers
    assert read_at_result[0] <= ahead + 1
    assert all(read - done <= ahead for done, read in enumerate(read_at_result, 1))


def test_map_batches_of_nothing_or_one_batch_starts_no_pool() -> None:
    with LocalRunner(2) as runner:
        assert list(runner.map_batches(sorted, iter([]))) == []
        assert list(runner.map_batches(sorted, iter([[2, 1]]))) == [[1, 2]]
        assert runner._pool is None


def test_extract_stage_sends_batches_while_it_reads_the_articles(
    bbc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch goes to the workers before the rest of the articles is read."""
    files = sorted(bbc.rglob("*.txt"))[:200]
    read = [0]

    def articles() -> Iterator[dict[str, Any]]:
        for i, f in enumerate(files):
            read[0] += 1
            text = f.read_text(encoding="utf-8", errors="replace")
            yield {"article_id": f"a{i:03d}", "text": text, "outlet": "bbc", "story_id": None}

    read_at_batch: list[int] = []

    class Stop(Exception):
        pass

    def spy(batch: list[stages.ExtractTask]) -> list[tuple[str, bytes]]:
        read_at_batch.append(read[0])
        raise Stop

    monkeypatch.setattr(stages, "extract_batch", spy)
    with pytest.raises(Stop):
        pipeline.extract_stage(articles(), pipeline.BuildConfig(cache=None), LocalRunner(1))
    assert read_at_batch == [pipeline.EXTRACT_BATCH]
