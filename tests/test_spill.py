"""Spilled tables (newsbench.spill): rows on disk as Arrow, read back in order, sorted on disk.

Real rows: BBC articles keyed by a hash of their text (uniform keys, as the tables' ids are)
and the seed dataset's rows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsbench import spill
from newsbench.spill import SpilledTable, rebatched, spilled
from newsbench.tables import arrow_schema, load_catalog
from newsbench.write import write_table

SCHEMA = pa.schema([("id", pa.string()), ("file", pa.string()), ("text", pa.string())])


@pytest.fixture(scope="module")
def bbc_rows(bbc: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((bbc / "business").glob("*.txt"))[:300]:
        text = path.read_text(encoding="utf-8")
        rows.append(
            {"id": hashlib.sha1(text.encode()).hexdigest()[:8], "file": path.name, "text": text}
        )
    rows.append({**rows[7], "file": "again"})  # a repeated key: the sort must stay stable
    return rows


def test_rows_come_back_in_order_across_batches(bbc_rows: list[dict[str, Any]]) -> None:
    with SpilledTable(SCHEMA, batch_rows=64) as table:
        table.extend(bbc_rows)
        assert len(table) == len(bbc_rows)
        assert list(table) == bbc_rows
        assert [b.num_rows for b in table.batches()][:2] == [64, 64]
        assert list(table.column("file")) == [r["file"] for r in bbc_rows]
        with pytest.raises(RuntimeError, match="sealed"):
            table.append(bbc_rows[0])


def test_readers_do_not_share_a_cursor(bbc_rows: list[dict[str, Any]]) -> None:
    with spilled(bbc_rows, SCHEMA) as table:
        first, second = table.batches(), table.batches()
        a = next(first)
        b = next(second)
        assert a.equals(b)
        rest = [r for batch in first for r in batch.to_pylist()]
        assert a.to_pylist() + rest == bbc_rows


@pytest.mark.parametrize("budget", [None, 20_000], ids=["in-memory", "range-partitioned"])
def test_sorted_by_is_pythons_stable_sort(
    bbc_rows: list[dict[str, Any]], budget: int | None
) -> None:
    with spilled(bbc_rows, SCHEMA) as table:
        if budget is not None:
            assert table.nbytes > 10 * budget  # many parts
        with table.sorted_by("id", budget) as ordered:
            assert list(ordered) == sorted(bbc_rows, key=lambda r: r["id"])


def test_sorted_output_comes_back_in_batches_of_the_tables_size(
    bbc_rows: list[dict[str, Any]],
) -> None:
    """A sort writes each part whole; its readers still get batch_rows rows at a time (what
    validation and the entity rows' readers hold), not a part at once."""
    with SpilledTable(SCHEMA, batch_rows=50).extend(bbc_rows).seal() as table:
        assert len(table) > 4 * 50
        with table.sorted_by("id") as ordered:
            sizes = [batch.num_rows for batch in ordered.batches()]
        assert sum(sizes) == len(bbc_rows) and max(sizes) == 50


def test_with_column_and_mapped_keep_the_order(bbc_rows: list[dict[str, Any]]) -> None:
    with spilled(bbc_rows, SCHEMA) as table:
        files = [f"#{i}" for i in range(len(table))]
        with table.with_column("file", files) as renamed:
            assert list(renamed.column("file")) == files
            assert list(renamed.column("text")) == [r["text"] for r in bbc_rows]
        with pytest.raises(ValueError, match="fewer values"):
            table.with_column("file", files[1:])
        blank = table.mapped(lambda b: b.set_column(2, "text", pa.nulls(b.num_rows, pa.string())))
        assert set(blank.column("text")) == {None}
        blank.close()


@pytest.mark.parametrize("budget", [None, 20_000], ids=["in-memory", "range-partitioned"])
def test_reduce_by_key_sees_each_key_once_with_all_its_rows(
    bbc_rows: list[dict[str, Any]], budget: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local keyed reduce: one call per key, keys ascending, every row of the key in that
    call and in input order, even when a key's rows span batches and the sort goes to disk."""
    if budget is not None:
        monkeypatch.setattr(spill, "SORT_BUDGET_BYTES", budget)
    schema = SCHEMA.append(pa.field("row", pa.int64()))
    rows = [{**r, "id": r["id"][0], "row": k} for k, r in enumerate(bbc_rows)]  # 16 keys
    calls: list[tuple[str, list[int]]] = []

    def fn(group: pa.Table) -> pa.Table:
        keys = set(group["id"].to_pylist())
        assert len(keys) == 1
        calls.append((keys.pop(), group["row"].to_pylist()))
        return group.select(["row"])

    with SpilledTable(schema, batch_rows=7) as table:
        table.extend(rows)
        out = list(spill.reduce_by_key(fn, table, "id"))
    expected: dict[str, list[int]] = {}
    for r in rows:
        expected.setdefault(r["id"], []).append(r["row"])
    assert calls == sorted(expected.items())
    assert sorted(x for t in out for x in t["row"].to_pylist()) == list(range(len(rows)))
    calls.clear()  # rows already in key order take the path without the sort
    with spilled(sorted(rows, key=lambda r: r["id"]), schema) as table:
        list(spill.reduce_by_key(fn, table, "id"))
    assert calls == sorted(expected.items())


def test_key_groups_joins_runs_across_batches() -> None:
    batches = [
        pa.record_batch({"k": ["a", "a"], "v": [1, 2]}),
        pa.record_batch({"k": ["a", "b"], "v": [3, 4]}),
        pa.record_batch({"k": ["c"], "v": [5]}),
        pa.record_batch({"k": ["c", "d", "d"], "v": [6, 7, 8]}),
    ]
    groups = [g.to_pydict() for g in spill.key_groups(batches, "k")]
    assert groups == [
        {"k": ["a"] * 3, "v": [1, 2, 3]},
        {"k": ["b"], "v": [4]},
        {"k": ["c", "c"], "v": [5, 6]},
        {"k": ["d", "d"], "v": [7, 8]},
    ]


def test_rebatched_gives_exact_sizes(bbc_rows: list[dict[str, Any]]) -> None:
    with SpilledTable(SCHEMA, batch_rows=37).extend(bbc_rows).seal() as table:
        sizes = [t.num_rows for t in rebatched(table.batches(), 100)]
        assert sizes == [100] * (len(bbc_rows) // 100) + [len(bbc_rows) % 100]


def test_a_closed_table_cannot_be_read(bbc_rows: list[dict[str, Any]]) -> None:
    table = spilled(bbc_rows[:3], SCHEMA)
    table.close()
    with pytest.raises(ValueError, match="closed"):
        list(table)


@pytest.mark.parametrize("name", ["claims", "entities"])
def test_parquet_written_through_an_on_disk_sort_is_byte_identical(
    built: Path, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed dataset's rows, shuffled, written with a sort budget small enough to range-
    partition them: the file is byte for byte the one the build wrote (sorted in memory)."""
    catalog = load_catalog()
    (published,) = sorted((built / "data" / name).glob("*.parquet"))
    rows = pq.read_table(published).to_pylist()
    rows = rows[1::2] + rows[::2]
    monkeypatch.setattr(spill, "SORT_BUDGET_BYTES", 2_000)
    assert spilled(rows, arrow_schema(catalog[name])).nbytes > 10 * 2_000
    paths, _ = write_table(catalog, name, rows, tmp_path)
    assert [p.name for p in paths] == [published.name]
    assert paths[0].read_bytes() == published.read_bytes()


@pytest.mark.parametrize("kill_at", [None, "write:table:claims"], ids=["finished", "killed"])
def test_spill_files_leave_nothing_in_tmpdir(tmp_path: Path, kill_at: str | None) -> None:
    """Spill files are anonymous: a finished build, and a build killed with SIGKILL while its
    spilled tables are open (mid-write), leave nothing in TMPDIR."""
    from conftest import RAW, run_build

    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    if kill_at:
        env["NEWSBENCH_KILL_AT"] = kill_at
    out = tmp_path / "out"
    proc = run_build("--raw", str(RAW), "--out", str(out), "--workers", "1", env=env)
    assert (proc.returncode == 0) == (kill_at is None), proc.stderr[-2000:]
    assert out.is_dir() == (kill_at is None)
    assert sorted(p.name for p in tmpdir.iterdir()) == []


def test_row_groups_count_the_same_bytes_whatever_the_batches(built: Path) -> None:
    """The card's num_bytes sums the row groups' Arrow sizes: cut from spilled batches (slices),
    each must count what the same rows count built fresh, or the card would change with the
    spill's batch size."""
    catalog = load_catalog()
    (path,) = sorted((built / "data" / "quotes").glob("*.parquet"))
    rows = pq.read_table(path).to_pylist()  # nullable columns with nulls: validity bitmaps
    schema = arrow_schema(catalog["quotes"])
    # groups inside one batch (slices at an offset) and groups across two
    with SpilledTable(schema, batch_rows=25).extend(rows).seal() as table:
        groups = list(rebatched(table.batches(), 10))
    fresh = [pa.Table.from_pylist(rows[i : i + 10], schema=schema) for i in range(0, len(rows), 10)]
    assert [g.nbytes for g in groups] == [f.nbytes for f in fresh]
    assert all(g.equals(f) for g, f in zip(groups, fresh, strict=True))


def test_reduce_by_key_refuses_null_keys() -> None:
    schema = pa.schema([("k", pa.string()), ("v", pa.int64())])
    with (
        spilled([{"k": "a", "v": 1}, {"k": None, "v": 2}], schema) as table,
        pytest.raises(ValueError, match="key column 'k' holds nulls"),
    ):
        list(spill.reduce_by_key(lambda t: t, table, "k"))


def test_repeated_values_are_found_across_batches_and_sort_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Values held by more than one row, found by an external sort of the one column: a pair
    that straddles two batches of the sorted column is found, as are pairs in a sort of many
    parts; nulls and values held once are not."""
    import random

    schema = pa.schema([("value", pa.string())])
    straddling = [f"v{k:02d}" for k in range(12)] + ["v04"]  # sorted: v00..v04 | v04 v05..
    table = SpilledTable(schema, batch_rows=5).extend({"value": v} for v in straddling[::-1])
    assert spill.repeated_values(table, "value") == {"v04"}

    monkeypatch.setattr(spill, "SORT_BUDGET_BYTES", 512)
    rng = random.Random(11)
    values: list[str | None] = [f"id-{k:04d}" for k in range(600)]
    values += ["id-0007", "id-0300", "id-0300", None, None]
    rng.shuffle(values)
    table = SpilledTable(schema, batch_rows=5).extend({"value": v} for v in values)
    assert spill.repeated_values(table, "value") == {"id-0007", "id-0300"}
    once = SpilledTable(schema, batch_rows=2).extend({"value": v} for v in ["b", None, "a", None])
    assert spill.repeated_values(once, "value") == set()  # nulls twice: not a repeated value
