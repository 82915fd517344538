"""Spill: a table's rows kept on disk as Arrow, written and read back in record batches.

At scale the output rows do not fit in memory as Python objects (about 23 KiB per article as
dicts). A `SpilledTable` buffers a few thousand rows, turns them into an Arrow record batch with
the table's schema and appends it to an Arrow IPC stream in an anonymous temporary file (in
TMPDIR; unnamed, so even a killed build leaves nothing behind). Readers get the batches back in
the order they were written; any number of readers may run at once (each reads with its own
offset). `sorted_by` is an external sort: a range partition on sampled keys, then each part
sorted in memory, so memory stays bounded by `SORT_BUDGET_BYTES` whatever the table's size.
"""

from __future__ import annotations

import io
import itertools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

BATCH_ROWS = 4096  # rows per spilled record batch
SORT_BUDGET_BYTES = 64 * 1024 * 1024  # Arrow bytes sorted in memory at once (twice that held)
SAMPLE_KEYS_PER_PART = 2_000  # keys sampled per part to choose the range partition's boundaries
_END = object()


class _PositionalReader(io.RawIOBase):
    """Reads a file descriptor with pread at its own offset, so readers never share a cursor."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd, self._pos, self._size = fd, 0, size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = os.pread(self._fd, min(len(view), max(self._size - self._pos, 0)), self._pos)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


class SpilledTable:
    """Rows of one table in an anonymous Arrow IPC file: append, seal, then read in batches."""

    def __init__(self, schema: pa.Schema, batch_rows: int = BATCH_ROWS) -> None:
        self.schema = schema
        self.batch_rows = batch_rows
        self.num_rows = 0
        self.nbytes = 0  # Arrow bytes of the batches written
        self._file = tempfile.TemporaryFile(prefix="newsbench-rows-")  # noqa: SIM115 - closed by close()
        self._writer: pa.RecordBatchStreamWriter | None = pa.ipc.new_stream(
            pa.PythonFile(self._file, mode="w"), schema
        )
        self._pending: list[dict[str, Any]] = []
        self._size = 0

    # --- writing -----------------------------------------------------------------------------

    def append(self, row: Mapping[str, Any]) -> None:
        if self._writer is None:
            raise RuntimeError("the table is sealed: no more rows can be added")
        self._pending.append(row)  # type: ignore[arg-type]
        if len(self._pending) >= self.batch_rows:
            self._flush()

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> SpilledTable:
        for row in rows:
            self.append(row)
        return self

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        """Append Arrow data (after any pending rows), in batches of at most `batch_rows`: a
        reader then holds a batch's rows at a time, however large the data written (a sort's
        whole part, say)."""
        self._flush()
        if data.num_rows == 0:
            return
        if data.schema != self.schema:
            data = data.cast(self.schema)
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        for batch in data.to_batches(max_chunksize=self.batch_rows):
            self._write_batch(batch)

    def _flush(self) -> None:
        if self._writer is None:
            raise RuntimeError("the table is sealed: no more rows can be added")
        if self._pending:
            self._write_batch(pa.RecordBatch.from_pylist(self._pending, schema=self.schema))
            self._pending = []

    def _write_batch(self, batch: pa.RecordBatch) -> None:
        assert self._writer is not None
        self._writer.write_batch(batch)
        self.num_rows += batch.num_rows
        self.nbytes += batch.nbytes

    def seal(self) -> SpilledTable:
        """No more rows: end the stream so it can be read (idempotent)."""
        if self._writer is not None:
            self._flush()
            self._writer.close()
            self._writer = None
            self._file.flush()
            self._size = self._file.seek(0, io.SEEK_END)
        return self

    # --- reading -----------------------------------------------------------------------------

    def batches(self) -> Iterator[pa.RecordBatch]:
        self.seal()
        if self._file.closed:
            raise ValueError("the spilled table is closed")
        raw = _PositionalReader(self._file.fileno(), self._size)
        with pa.ipc.open_stream(io.BufferedReader(raw, buffer_size=1 << 20)) as reader:
            yield from reader

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.batches():
            yield from batch.to_pylist()

    def __len__(self) -> int:
        return self.num_rows + len(self._pending)

    def column(self, name: str) -> Iterator[Any]:
        """One column's values, batch by batch."""
        for batch in self.batches():
            yield from batch.column(name).to_pylist()

    def to_pylist(self) -> list[dict[str, Any]]:
        return list(self)

    def to_table(self) -> pa.Table:
        """Everything in memory at once: for small tables (the gold, tests)."""
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._file.close()

    def __enter__(self) -> SpilledTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- whole-table operations, streaming -------------------------------------------------

    def mapped(self, fn: Callable[[pa.RecordBatch], pa.RecordBatch]) -> SpilledTable:
        """A new table with `fn` applied to every batch."""
        out = SpilledTable(self.schema, self.batch_rows)
        for batch in self.batches():
            out.write(fn(batch))
        return out.seal()

    def with_column(self, name: str, values: Iterable[Any]) -> SpilledTable:
        """A new table with column `name` set from `values`, given in row order (consumed a
        batch at a time: a generator is never held whole)."""
        index = self.schema.get_field_index(name)
        field = self.schema.field(index)
        values = iter(values)
        out = SpilledTable(self.schema, self.batch_rows)
        for batch in self.batches():
            part = list(itertools.islice(values, batch.num_rows))
            if len(part) != batch.num_rows:
                raise ValueError(f"fewer values than the {len(self)} rows")
            out.write(batch.set_column(index, field, pa.array(part, type=field.type)))
        if next(values, _END) is not _END:
            raise ValueError(f"more values than the {len(self)} rows")
        return out.seal()

    def sorted_by(self, key: str, budget_bytes: int | None = None) -> SpilledTable:
        """A new table in ascending order of `key` (stable, code-point order, as `sorted`).

        Up to `budget_bytes` (default `SORT_BUDGET_BYTES`) the table is sorted in memory;
        past it, the rows are range-partitioned on boundaries taken from a sample of the keys,
        and each part (about the budget's size) is sorted in turn.
        """
        self.seal()  # pending rows count in nbytes only once written
        budget = SORT_BUDGET_BYTES if budget_bytes is None else budget_bytes
        out = SpilledTable(self.schema, self.batch_rows)
        parts = -(-self.nbytes // budget) if budget > 0 else 1
        if parts <= 1:
            out.write(_sort(self.to_table(), key))
            return out.seal()
        import numpy as np

        bounds = self._boundaries(key, parts)
        pieces = [SpilledTable(self.schema, self.batch_rows) for _ in range(len(bounds) + 1)]
        try:
            for batch in self.batches():
                keys = np.asarray(batch.column(key).to_pylist(), dtype=object)
                which = np.searchsorted(bounds, keys, side="right")
                for part in np.unique(which):
                    pieces[int(part)].write(batch.filter(pa.array(which == part)))
            for piece in pieces:
                out.write(_sort(piece.to_table(), key))
                piece.close()
        finally:
            for piece in pieces:
                piece.close()
        return out.seal()

    def _boundaries(self, key: str, parts: int) -> Any:
        import numpy as np

        step = max(1, len(self) // (SAMPLE_KEYS_PER_PART * parts))  # the sample is held as objects
        sample: list[Any] = []
        seen = 0
        for batch in self.batches():
            values = batch.column(key).to_pylist()
            first = (-seen) % step
            sample += values[first::step]
            seen += len(values)
        sample.sort()
        picks = sorted({sample[len(sample) * i // parts] for i in range(1, parts)})
        return np.asarray(picks, dtype=object)


def _sort(table: pa.Table, key: str) -> pa.Table:
    return table.take(pc.sort_indices(table, [(key, "ascending")]))


def spilled(rows: Iterable[Mapping[str, Any]] | SpilledTable, schema: pa.Schema) -> SpilledTable:
    """`rows` as a sealed SpilledTable (rows already spilled are returned as they are)."""
    if isinstance(rows, SpilledTable):
        return rows.seal()
    return SpilledTable(schema).extend(rows).seal()


def rebatched(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """The same rows as tables of exactly `rows` rows (the last one may be shorter), each of
    one fresh chunk per column."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            held.append(batch.slice(0, take))
            batch = batch.slice(take)
            count += take
            if count == rows:
                yield _compact(held)
                held, count = [], 0
    if count:
        yield _compact(held)


def _compact(batches: list[pa.RecordBatch]) -> pa.Table:
    """One table of fresh, unsliced arrays: `nbytes` (the card's num_bytes) is then the same
    whatever batches the rows came in (a slice's nbytes can count part of its parent)."""
    table = pa.Table.from_batches(batches)
    return pa.table(
        [pa.concat_arrays(column.chunks) for column in table.columns], schema=table.schema
    )


def key_groups(batches: Iterable[pa.RecordBatch], key: str) -> Iterator[pa.Table]:
    """One table per run of equal `key` values, from batches sorted (or grouped) by `key`."""
    held: list[pa.RecordBatch] = []
    current: Any = _END
    for batch in batches:
        values = batch.column(key).to_pylist()
        start = 0
        for end in range(1, len(values) + 1):
            if end < len(values) and values[end] == values[start]:
                continue
            if values[start] != current:
                if held:
                    yield pa.Table.from_batches(held)
                held, current = [], values[start]
            held.append(batch.slice(start, end - start))
            start = end
    if held:
        yield pa.Table.from_batches(held)


def reduce_by_key(
    fn: Callable[[pa.Table], pa.Table], rows: SpilledTable, key: str
) -> Iterator[pa.Table]:
    """`fn` over all the rows of each `key` value, one value at a time, in ascending key order.

    The local form of a hash-partitioned reduce: the rows are sorted by key on disk, so memory
    holds one key's rows (and `fn`'s work on them), never the table. Rows already in key order
    (one key, say) are not sorted: a key's rows are then read once, not copied by the sort.
    """
    if _ascending(rows.batches(), key):
        yield from map(fn, key_groups(rows.batches(), key))
        return
    with rows.sorted_by(key) as ordered:
        yield from map(fn, key_groups(ordered.batches(), key))


def _ascending(batches: Iterable[pa.RecordBatch], key: str) -> bool:
    """Whether the key column never decreases (a pass over that column only)."""
    last: Any = _END
    for batch in batches:
        column = batch.column(key)
        if column.null_count:
            raise ValueError(f"reduce_by_key: the key column {key!r} holds nulls")
        if not len(column):
            continue
        if (
            len(column) > 1
            and not pc.all(pc.less_equal(column.slice(0, len(column) - 1), column.slice(1))).as_py()
        ):
            return False
        if last is not _END and column[0].as_py() < last:
            return False
        last = column[-1].as_py()
    return True


def value_counts(values: pa.Array | pa.ChunkedArray) -> dict[Any, int]:
    """How many times each value occurs (Arrow's hash count, as a dict)."""
    counted = pc.value_counts(values)
    return dict(
        zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True)
    )


def repeated_values(rows: SpilledTable, column: str) -> set[Any]:
    """The values of `column` held by more than one row (nulls aside), by an external sort of
    that column alone: bounded memory however many rows (usually the answer is empty)."""
    field = rows.schema.field(column)
    found: set[Any] = set()
    with SpilledTable(pa.schema([field]), rows.batch_rows) as values:
        for batch in rows.batches():  # written out: a kept slice would hold its whole batch
            present = pc.drop_null(batch.column(column))
            values.write(pa.record_batch([present], schema=values.schema))
        with values.sorted_by(column) as ordered:
            last: Any = _END
            for batch in ordered.batches():
                array = batch.column(0)
                if not len(array):
                    continue
                if last is not _END and array[0].as_py() == last:
                    found.add(last)
                same = pc.equal(array.slice(1), array.slice(0, len(array) - 1))
                found.update(array.slice(1).filter(same).to_pylist())
                last = array[-1].as_py()
    return found


def column_values(rows: Iterable[Mapping[str, Any]] | SpilledTable, name: str) -> Iterator[Any]:
    """One column of a list of rows or of a spilled table (read without the other columns)."""
    if isinstance(rows, SpilledTable):
        return rows.column(name)
    return (row.get(name) for row in rows)
