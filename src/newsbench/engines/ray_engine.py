"""The Ray engine: the same pure stage functions as the local runner, on Ray Data past one machine.

`RayRunner.map_batches` ships each task batch as one pickled row, applies the stage function in
Ray tasks, and yields the result batches in input order: order is kept by Ray Data's
`preserve_order` and, whatever the scheduling, by re-sequencing on the batch index, so the build
writes the same bytes as the local runner. The cross-article stages are hash-partitioned:
`reduce_by_key` (quote and claim clustering and similar entity names, by block) is a Ray Data
groupby over hash buckets of keys with the same reduce function as the local runner, and
`near_duplicates` is a groupby over hash buckets of band keys whose tasks verify their
candidates (see docs/ray.md). The rest of entity linking, validation and the sorted write stay
on the driver.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import os
import pickle
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
import ray.data
from ray.data.context import ShuffleStrategy

from newsbench.dedup import THRESHOLD, band_rows, copies_of, match_earliest, signature_matrix
from newsbench.spill import SpilledTable, key_groups

T = TypeVar("T")
R = TypeVar("R")

_PICKLE = pickle.HIGHEST_PROTOCOL
MIN_WINDOW_BATCHES = 256  # task batches per Ray Data job of map_batches (32 articles each) ...
WINDOW_BATCHES_PER_CPU = 16  # ... or this many per CPU of the cluster, if more
_BUCKET = "__newsbench_bucket"
_AUTH_MODE = "RAY_AUTH_MODE"
# Ray Data retries a task whose worker died forever (max_retries=-1). The stage functions are
# pure, so a lost node is worth a few retries, but a file that kills its worker every time
# (a native crash, the OOM killer, NEWSBENCH_KILL_AT) must fail the build, not hang it.
MAX_RETRIES = 3


def _with_retry_limit(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """method(*args, **kwargs, max_retries=MAX_RETRIES) where this Ray accepts it.

    Ray 2.60 takes max_retries only through **ray_remote_args, deprecated for removal in 2.64
    with no named replacement yet: keep the limit while it is accepted, without the warning.
    """
    params = inspect.signature(method).parameters.values()
    if any(p.name == "max_retries" or p.kind is p.VAR_KEYWORD for p in params):
        kwargs["max_retries"] = MAX_RETRIES
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        return method(*args, **kwargs)


def _configure(ds: Any) -> None:
    """Deterministic, quiet execution, set on this dataset's own (deep-copied) DataContext.

    The process-wide DataContext is left alone, so other Ray Data users in the driver keep theirs.
    """
    ctx = ds.context
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.raise_original_map_exception = True  # a stage's own exception, as with the local runner


def _apply(table: pa.Table, fn: Callable[[list[Any]], list[Any]]) -> pa.Table:
    """Run fn on each pickled task batch of the block; results travel pickled.

    Pickle rather than Arrow: stage results are frozen dataclasses, Problems and numpy arrays,
    which have no Arrow type, and pickle round-trips them exactly.
    """
    index = table.column("i").to_pylist()
    results = [
        pickle.dumps(fn(pickle.loads(b)), _PICKLE) for b in table.column("batch").to_pylist()
    ]
    return pa.table(
        {"i": pa.array(index, pa.int64()), "result": pa.array(results, pa.large_binary())}
    )


class RayRunner:
    """Order-preserving map of a batch function over batches, on a Ray cluster.

    address None (and RAY_ADDRESS unset) starts a private local Ray instance with num_cpus CPUs;
    "auto" joins the cluster started on this node by `ray start --head`; "host:port" or
    "ray://host:10001" joins that cluster (num_cpus is then the cluster's business and ignored).
    Ray is shut down in close() only if this runner initialised it.
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.runtime_env = runtime_env
        self._started = False
        self._auth_mode: str | None = None

    def __enter__(self) -> RayRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._started and ray.is_initialized():
            ray.shutdown()
            # ray.init sets RAY_AUTH_MODE in this process's environment; later subprocesses
            # of the driver should not inherit what only this runner needed
            if self._auth_mode is None:
                os.environ.pop(_AUTH_MODE, None)
            else:
                os.environ[_AUTH_MODE] = self._auth_mode
        self._started = False

    def connect(self) -> None:
        """Initialise Ray once, lazily: a build that fails before the first stage starts nothing."""
        if ray.is_initialized():
            return
        address = self.address or os.environ.get("RAY_ADDRESS")
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "ignore_reinit_error": True,
            "logging_level": logging.WARNING,  # the build's own report is the progress output
        }
        if self.runtime_env:
            kwargs["runtime_env"] = self.runtime_env
        if address:
            kwargs["address"] = address  # a cluster's resources are its own: no num_cpus
        else:
            # "local": never join whatever cluster /tmp/ray/ray_current_cluster last named
            kwargs.update(address="local", num_cpus=self.num_cpus)
        self._auth_mode = os.environ.get(_AUTH_MODE)
        ray.init(**kwargs)
        self._started = True

    def map_batches(
        self, fn: Callable[[list[T]], list[R]], batches: Iterable[list[T]]
    ) -> Iterator[list[R]]:
        """fn over each batch in Ray tasks; yields result batches in input order.

        `batches` is read a window at a time (WINDOW_BATCHES_PER_CPU per cluster CPU, at least
        MIN_WINDOW_BATCHES), one Ray Data job per window: the driver holds one window's
        pickled batches, not every text of a corpus still to parse.
        """
        batches = iter(batches)
        first = list(itertools.islice(batches, MIN_WINDOW_BATCHES))
        if not first:
            return
        self.connect()
        size = max(
            MIN_WINDOW_BATCHES,
            WINDOW_BATCHES_PER_CPU * int(ray.cluster_resources().get("CPU", 1)),
        )
        window = first + list(itertools.islice(batches, size - len(first)))
        while window:
            yield from self._map_window(fn, window)
            window = list(itertools.islice(batches, size))

    def _map_window(
        self, fn: Callable[[list[T]], list[R]], batches: list[list[T]]
    ) -> Iterator[list[R]]:
        """One Ray Data job: fn over each batch of the window, results re-sequenced."""
        items = [{"i": i, "batch": pickle.dumps(b, _PICKLE)} for i, b in enumerate(batches)]
        ds = ray.data.from_items(items, override_num_blocks=len(items))  # one task batch a block
        _configure(ds)
        out = _with_retry_limit(
            ds.map_batches,
            _apply,
            fn_kwargs={"fn": fn},
            batch_size=None,
            batch_format="pyarrow",
            num_cpus=1,
        )
        pending: dict[int, bytes] = {}
        following = 0
        for row in out.iter_rows():
            pending[int(row["i"])] = row["result"]
            while following in pending:  # re-sequence: deterministic whatever the scheduling
                yield pickle.loads(pending.pop(following))
                following += 1
        if following != len(batches) or pending:
            raise RuntimeError(f"Ray returned {following} of {len(batches)} result batches")

    def reduce_by_key(
        self, fn: Callable[[pa.Table], pa.Table], rows: SpilledTable, key: str
    ) -> Iterator[pa.Table]:
        """fn over all the rows of each `key` value, on the cluster: a groupby over hash
        buckets of keys (4 per CPU), each bucket split by key inside its task. Results come in
        no particular order, and a key's rows reach fn in no particular order: fn must not
        depend on either (the clustering reduces sort by row)."""
        if not len(rows):
            return
        self.connect()
        buckets = max(1, 4 * int(ray.cluster_resources().get("CPU", 1)))
        ds = _dataset(_bucketed(batch, key, buckets) for batch in rows.batches())
        _configure(ds)
        ds.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED  # as for the LSH
        grouped = ds.groupby(_BUCKET, num_partitions=buckets)
        out = _with_retry_limit(
            grouped.map_groups,
            _reduce_bucket,
            fn_kwargs={"fn": fn, "key": key},
            batch_format="pyarrow",
        )
        yield from out.iter_batches(batch_size=None, batch_format="pyarrow")

    def near_duplicates(
        self, ids: Sequence[str], signatures: Sequence[np.ndarray], threshold: float = THRESHOLD
    ) -> dict[str, str]:
        """newsbench.dedup.near_duplicates, with the LSH buckets searched on the cluster."""
        self.connect()
        return near_duplicates(ids, signatures, threshold)


# --- the keyed reduce -------------------------------------------------------------------------


def _dataset(blocks: Iterable[pa.Table]) -> Any:
    """A Ray dataset of the blocks, each put in the object store as soon as it is made: the
    driver holds references, never every block of a spill file at once."""
    return ray.data.from_arrow_refs([ray.put(block) for block in blocks])


def _bucketed(batch: pa.RecordBatch, key: str, buckets: int) -> pa.Table:
    """The batch with its hash bucket: crc32 of the key, so stable across processes and runs
    (Python's hash of a str is salted per process)."""
    values = batch.column(key).to_pylist()
    code = {v: zlib.crc32(str(v).encode("utf-8")) % buckets for v in set(values)}
    table = pa.Table.from_batches([batch])
    return table.append_column(_BUCKET, pa.array([code[v] for v in values], pa.int64()))


def _reduce_bucket(table: pa.Table, fn: Callable[[pa.Table], pa.Table], key: str) -> pa.Table:
    """fn over each key of one hash bucket, in key order (a stable sort, then runs of equal
    keys): the same calls the local runner makes, one key's rows each."""
    table = table.drop_columns([_BUCKET])
    table = table.take(pc.sort_indices(table, [(key, "ascending")]))
    return pa.concat_tables([fn(group) for group in key_groups(table.to_batches(), key)])


# --- near-duplicates: LSH candidate generation as a Ray Data groupby --------------------------


def matches_in_bucket(table: pa.Table, sig: np.ndarray, threshold: float) -> pa.Table:
    """(later, earlier): each rank's smallest earlier rank that shares a band key with it in
    this bucket and reaches the threshold, verified here; at most one row per rank.

    The local search's own scan (newsbench.dedup.match_earliest) per key, over every key of the
    bucket (Arrow's hash group_by finds them at once: most are singletons, and a Python call per
    key is 4-15x slower). The smallest match over all buckets is the local search's, because
    each bucket gives the smallest within it. Copies cost one comparison each, and no
    candidate pair leaves the task: 60 copies of one text send 59 rows a band, not 1,770 pairs.
    """
    grouped = table.group_by("key").aggregate([("rank", "list"), ("rank", "count")])
    shared = grouped.filter(pc.greater(grouped["rank_count"], 1))
    best: dict[int, int] = {}
    if shared.num_rows:
        ranks = np.unique(pc.list_flatten(shared["rank_list"]).to_numpy())  # this task's ranks
        local = np.full(len(ranks), len(sig), dtype=np.int64)  # indexed by position in ranks
        view = _RankView(ranks, local)
        for members in shared["rank_list"].to_pylist():
            match_earliest(np.unique(np.asarray(members, np.int64)), sig, threshold, view)
        found = local < len(sig)
        best = dict(zip(ranks[found].tolist(), local[found].tolist(), strict=True))
    return pa.table(
        {"later": pa.array(list(best), pa.int64()), "earlier": pa.array(best.values(), pa.int64())}
    )


class _RankView:
    """`best` indexed by rank, held for this task's ranks only (positions in `ranks`)."""

    def __init__(self, ranks: np.ndarray, values: np.ndarray) -> None:
        self.ranks, self.values = ranks, values

    def __getitem__(self, rank: np.ndarray) -> np.ndarray:
        return self.values[np.searchsorted(self.ranks, rank)]

    def __setitem__(self, rank: np.ndarray, value: Any) -> None:
        self.values[np.searchsorted(self.ranks, rank)] = value


def _matches_in_bucket_ref(table: pa.Table, signatures: list[Any], threshold: float) -> pa.Table:
    """matches_in_bucket with the signatures from the object store (one copy per node)."""
    return matches_in_bucket(table, ray.get(signatures[0]), threshold)


def lsh_matches(
    signatures: Sequence[np.ndarray], threshold: float = THRESHOLD, buckets: int | None = None
) -> dict[int, int]:
    """later -> the smallest earlier row (positions in `signatures`) sharing an LSH band with it
    whose Jaccard estimate reaches the threshold: a groupby on the cluster, verified in its
    tasks. Ray must be initialised (RayRunner.connect())."""
    if len(signatures) < 2:
        return {}
    sig = signature_matrix(signatures)
    buckets = buckets or max(1, 4 * int(ray.cluster_resources().get("CPU", 1)))
    # the local search's band rows (newsbench.dedup.band_rows: band number and values as one
    # key), each with the hash bucket of its key, so equal keys always meet in one bucket
    ds = _dataset(
        _bucketed(batch, "key", buckets)
        for table in band_rows(sig, threshold)
        for batch in table.to_batches()
    )
    _configure(ds)
    # a few large groups: the pull-based sort shuffle runs as plain tasks, where the default
    # hash shuffle first starts aggregator actors (measured 1.1-1.4 s against 8-15 s on the BBC
    # corpus's 67k band rows, 2 CPUs)
    ds.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    grouped = ds.groupby(_BUCKET, num_partitions=buckets)
    found = _with_retry_limit(
        grouped.map_groups,
        _matches_in_bucket_ref,
        fn_kwargs={"signatures": [ray.put(sig)], "threshold": threshold},  # a list: not resolved
        batch_format="pyarrow",
    )
    best: dict[int, int] = {}
    for batch in found.iter_batches(batch_size=None, batch_format="numpy"):
        for later, earlier in zip(batch["later"].tolist(), batch["earlier"].tolist(), strict=True):
            if earlier < best.get(later, later):
                best[later] = earlier
    return best


def near_duplicates(
    ids: Sequence[str], signatures: Sequence[np.ndarray], threshold: float = THRESHOLD
) -> dict[str, str]:
    """Exactly newsbench.dedup.near_duplicates, with the matches from `lsh_matches`; the driver
    only points each copy at the earliest of its cluster."""
    order = sorted(range(len(ids)), key=lambda k: ids[k])  # rank -> position, as dedup sorts
    ranked_ids = [ids[k] for k in order]
    best = lsh_matches([signatures[k] for k in order], threshold)
    return copies_of(ranked_ids, sorted(best.items()))
