"""Large tables are written as test-0000k-of-0000n.parquet shards that every reader accepts."""

from __future__ import annotations

from pathlib import Path

import mlcroissant as mlc
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from newsbench.check import check_output
from newsbench.tables import TABLE_NAMES

from conftest import RAW, run_build


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sharded") / "newsbench"
    proc = run_build(
        "--raw",
        str(RAW),
        "--out",
        str(out),
        "--max-shard-mb",
        "0.004",
        "--row-group-size",
        "2",
        "--workers",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_tables_are_sharded_and_hold_the_same_rows(
    sharded: Path, built: Path, name: str, tmp_path: Path
) -> None:
    shards = sorted((sharded / "data" / name).glob("*.parquet"))
    n = len(shards)
    assert n > 1
    assert [s.name for s in shards] == [f"test-{k:05d}-of-{n:05d}.parquet" for k in range(n)]
    for s in shards:
        assert pq.ParquetFile(s).metadata.num_row_groups >= 1
        assert all(
            pq.ParquetFile(s).metadata.row_group(g).num_rows <= 2
            for g in range(pq.ParquetFile(s).metadata.num_row_groups)
        )
    sharded_rows = [r for s in shards for r in pq.read_table(s).to_pylist()]
    assert sharded_rows == pq.read_table(built / "data" / name).to_pylist()  # same order too
    ds = load_dataset(
        str(sharded),
        name,
        split="test",
        verification_mode="all_checks",
        cache_dir=str(tmp_path / "cache"),
    )
    assert ds.num_rows == len(sharded_rows)


def test_sharded_folder_validates_and_croissant_reads_the_file_sets(sharded: Path) -> None:
    assert check_output(sharded) == []
    dataset = mlc.Dataset(jsonld=sharded / "croissant.json")
    assert dataset.metadata.ctx.issues.errors == set()
    ids = sorted(r["claims/claim_id"].decode() for r in dataset.records(record_set="claims"))
    expected = sorted(
        r["claim_id"]
        for s in (sharded / "data" / "claims").glob("*.parquet")
        for r in pq.read_table(s).to_pylist()
    )
    assert ids == expected
