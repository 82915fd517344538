"""Write: deterministic Parquet into a temporary sibling folder, then an atomic swap.

Byte-identical output for the same inputs: rows sorted by primary key, explicit Arrow schema
(an all-null column never becomes `null`), fixed row-group size, zstd, no pandas metadata.
Atomic: the new folder is complete before it replaces the old one in a single rename, so a
failed or killed build leaves the previous output untouched. A lock file keeps two builds from
writing the same output at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from newsbench.faults import checkpoint
from newsbench.spill import SpilledTable, rebatched, spilled
from newsbench.tables import Catalog, arrow_schema

ROW_GROUP_SIZE = 10_000  # rows; a few MB per group for articles, small enough for the Hub viewer
MAX_SHARD_BYTES = 500 * 1024 * 1024
SPLIT = "test"


def parquet_path(out: Path, table: str, shard: int = 0, n_shards: int = 1) -> Path:
    return out / "data" / table / f"{SPLIT}-{shard:05d}-of-{n_shards:05d}.parquet"


def write_table(
    catalog: Catalog,
    name: str,
    rows: list[dict[str, Any]] | SpilledTable,
    out: Path,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    row_group_size: int = ROW_GROUP_SIZE,
) -> tuple[list[Path], int]:
    """One table, sorted by its primary key, as `test-0000k-of-0000n.parquet` shards of at most
    about `max_shard_bytes` (Arrow size, an upper bound of the compressed file) in row groups of
    `row_group_size` rows. Returns (paths, Arrow bytes).

    Streaming: the rows are spilled (newsbench.spill) and sorted on disk, and each row group is
    written as soon as it is full, so memory holds one row group, not the table. Shards get
    their final names (which say how many there are) once the last one is written.

    An empty table is one file with no row group at all (a zero-row group breaks readers that
    take their batch size from the first row group, as `datasets` does).
    """
    table = catalog[name]
    schema = arrow_schema(table)
    source = spilled(rows, schema)
    ordered = source.sorted_by(table.primary_key)
    if source is not rows:
        source.close()
    folder = out / "data" / name
    folder.mkdir(parents=True, exist_ok=True)
    partial: list[Path] = []
    writer: pq.ParquetWriter | None = None
    total = shard_bytes = 0
    try:
        for chunk in rebatched(ordered.batches(), row_group_size):
            if writer is not None and shard_bytes + chunk.nbytes > max_shard_bytes:
                writer.close()
                writer = None
            if writer is None:
                partial.append(folder / f".partial-{len(partial):05d}.parquet")
                writer = _parquet_writer(partial[-1], schema)
                shard_bytes = 0
            writer.write_table(chunk, row_group_size=row_group_size)
            shard_bytes += chunk.nbytes
            total += chunk.nbytes
        if not partial:
            partial.append(folder / f".partial-{0:05d}.parquet")
            writer = _parquet_writer(partial[-1], schema)
    finally:
        if writer is not None:
            writer.close()
        ordered.close()
    paths = [parquet_path(out, name, k, len(partial)) for k in range(len(partial))]
    for temporary, path in zip(partial, paths, strict=True):
        temporary.rename(path)
    return paths, total


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(
        path,
        schema,
        compression="zstd",
        compression_level=9,
        use_dictionary=True,
        write_statistics=True,
    )


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks (Parquet shards can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(path: Path, data: Any) -> None:
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )


def write_jsonl(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


# --- atomic publish of the output folder ------------------------------------------------------

_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def staging_dir(out: Path) -> Path:
    """A fresh temporary sibling of `out` (same filesystem, so the final rename is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.building-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    return stage


def fsync_tree(root: Path) -> None:
    """Flush every file and folder of the new output to disk before it goes live."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as fh:
                os.fsync(fh.fileno())
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def publish_dir(stage: Path, out: Path) -> None:
    """Make `stage` the new `out` in one atomic step, then delete the old output."""
    fsync_tree(stage)
    checkpoint("publish:fsynced")
    if out.exists() and _exchange(stage, out):
        checkpoint("publish:swapped")
        shutil.rmtree(stage)  # stage now holds the previous output
        checkpoint("publish:old-removed")
    else:
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.rename(out, old)
            os.rename(stage, out)
            shutil.rmtree(old)
        else:
            os.rename(stage, out)
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_stale(out: Path) -> list[Path]:
    """Remove staging folders left by killed builds (only while holding the lock)."""
    removed = []
    if out.parent.is_dir():
        for p in out.parent.glob(f".{out.name}.building-*"):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
        for p in out.parent.glob(f".{out.name}.old-*"):
            if not out.exists():
                os.rename(p, out)  # a build died between its two renames: restore the old output
            else:
                shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


class LockBusy(RuntimeError):
    pass


@contextlib.contextmanager
def output_lock(out: Path, timeout: float = 0.0) -> Iterator[None]:
    """Exclusive lock on `out` (a sibling lock file), waiting up to `timeout` seconds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.parent / f".{out.name}.lock"
    fh = open(lock_path, "a+")  # noqa: SIM115 - held for the duration of the context
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"another build is writing {out} (lock {lock_path} is held); "
                        "wait for it to finish or pass --lock-timeout SECONDS"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        fh.close()
