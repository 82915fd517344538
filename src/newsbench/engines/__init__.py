"""Execution engines for the per-article stages: the local process pool, or Ray past one machine.

`make_runner` is the one place that picks an engine, so the pipeline never names Ray. The local
path imports nothing from here but `runner`; Ray is imported only when `engine == "ray"`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from newsbench.runner import LocalRunner

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from newsbench.spill import SpilledTable

T = TypeVar("T")
R = TypeVar("R")

ENGINES = ("local", "ray")


class Runner(Protocol):
    """What the pipeline needs from an engine: an order-preserving map over batches (the
    per-article stages), a keyed reduce and the near-duplicate search (cross-article stages)."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...

    def close(self) -> None: ...

    def map_batches(
        self, fn: Callable[[list[T]], list[R]], batches: Iterable[list[T]]
    ) -> Iterator[list[R]]: ...

    def reduce_by_key(
        self, fn: Callable[[pa.Table], pa.Table], rows: SpilledTable, key: str
    ) -> Iterator[pa.Table]: ...

    def near_duplicates(
        self, ids: Sequence[str], signatures: Sequence[np.ndarray]
    ) -> dict[str, str]: ...


class EngineUnavailable(RuntimeError):
    """The engine's optional dependency is not installed (a setup problem, not a bug)."""


def make_runner(engine: str, workers: int, address: str | None = None) -> Runner:
    """The runner for `engine`: LocalRunner(workers) or RayRunner(address, workers).

    For Ray, `workers` caps the CPUs of a local Ray instance this runner starts; when joining an
    existing cluster (`address` or RAY_ADDRESS) the cluster's own resources apply and it is ignored.
    """
    if engine == "local":
        return LocalRunner(workers)
    if engine == "ray":
        try:
            from newsbench.engines.ray_engine import RayRunner
        except ImportError as exc:  # ray_engine imports ray at module level
            if (exc.name or "ray").partition(".")[0] != "ray":
                raise  # a bug of ours, not a missing extra
            raise EngineUnavailable(
                f"--engine ray needs Ray: install newsbench[ray] (pip install 'newsbench[ray]') "
                f"on the driver and every worker node ({exc})"
            ) from exc
        return RayRunner(address=address, num_cpus=workers or None)
    raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
