"""The local runner: per-article stage functions mapped over batches on N worker processes.

Stage functions are pure and module-level, so the same functions run here, in a process pool,
or on Ray (newsbench.engines.ray_engine). Results keep input order, so output is identical
whatever the worker count. The cross-article stages are a keyed reduce (one key's rows at a
time, from a sort on disk) and the near-duplicate search; Ray runs both partitioned. This module
imports no cluster engine.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from newsbench.spill import SpilledTable

T = TypeVar("T")
R = TypeVar("R")
IN_FLIGHT_PER_WORKER = 2  # batches submitted ahead per worker: one running, one queued


def default_workers() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items (the last one shorter), made as they are read."""
    items = iter(items)
    while batch := list(itertools.islice(items, size)):
        yield batch


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
        """fn over each batch; yields result batches in input order.

        `batches` is read as results are taken: at most `IN_FLIGHT_PER_WORKER` batches per
        worker are read ahead (Pool.imap would read the whole iterable at once), so a
        generator of batches made from a spilled table keeps the build's memory bounded.
        """
        batches = iter(batches)
        if self.workers == 1:
            for batch in batches:
                yield fn(batch)
            return
        first = next(batches, None)
        second = next(batches, None) if first is not None else None
        if second is None:  # no pool for one batch
            if first is not None:
                yield fn(first)
            return
        pool = self._get_pool()
        pending: deque[Any] = deque(pool.apply_async(fn, (b,)) for b in (first, second))
        limit = IN_FLIGHT_PER_WORKER * self.workers
        for batch in batches:
            while len(pending) >= limit:
                yield pending.popleft().get()
            pending.append(pool.apply_async(fn, (batch,)))
        while pending:
            yield pending.popleft().get()

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
