"""The local runner: per-article stage functions mapped over batches on N worker processes.

Stage functions are pure and module-level, so the same functions run here, in a process pool,
or on Ray (newsbench.engines.ray_engine). Results keep input order, so output is identical
whatever the worker count. The cross-article stages are a keyed reduce (one key's rows at a
time, from a sort on disk) and the near-duplicate search; Ray runs both partitioned. This module
imports no cluster engine.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from newsbench.spill import SpilledTable

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def batched(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class LocalRunner:
    """Order-preserving map of a batch function over batches, in-process or on a pool."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self._pool: Any = None

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def _get_pool(self) -> Any:
        if self._pool is None:
            # forkserver: workers start from a clean process, not a fork of one holding
            # pyarrow or spaCy threads; each worker loads what it needs once and keeps it.
            ctx = mp.get_context("forkserver")
            self._pool = ctx.Pool(self.workers)
        return self._pool

    def map_batches(
        self, fn: Callable[[list[T]], list[R]], batches: Iterable[list[T]]
    ) -> Iterator[list[R]]:
        """fn over each batch; yields result batches in input order."""
        batches = list(batches)
        if self.workers == 1 or len(batches) <= 1:
            for batch in batches:
                yield fn(batch)
            return
        yield from self._get_pool().imap(fn, batches, chunksize=1)

    def reduce_by_key(
        self, fn: Callable[[pa.Table], pa.Table], rows: SpilledTable, key: str
    ) -> Iterator[pa.Table]:
        """fn over all the rows of each `key` value, one value at a time (newsbench.spill)."""
        from newsbench.spill import reduce_by_key

        return reduce_by_key(fn, rows, key)

    def near_duplicates(
        self, ids: Sequence[str], signatures: Sequence[np.ndarray]
    ) -> dict[str, str]:
        """article_id -> the earliest article it nearly duplicates (newsbench.dedup)."""
        from newsbench.dedup import near_duplicates

        return near_duplicates(ids, signatures)
