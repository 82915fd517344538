"""Near-duplicate detection: the build's search over band keys sorted on disk gives exactly what
datasketch's own LSH index gives, on the seeds, on planted copies and on the BBC corpus."""

from __future__ import annotations

import glob
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from newsbench import dedup, spill

from conftest import RAW


def seeds_with_copies() -> tuple[list[str], list[np.ndarray]]:
    """The seeds plus planted copies: truncated and edited reposts, copies of copies, many
    copies of one text, and unrelated short texts."""
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(RAW.glob("*.txt"))}
    rng = random.Random(5)
    for k, source in enumerate(sorted(texts)):
        words = texts[source].split()
        texts[f"copy_{k}_a"] = " ".join(words[: int(len(words) * 0.8)])
        texts[f"copy_{k}_b"] = " ".join(words[len(words) // 3 :]) + " Updated."
        texts[f"copy_{k}_c"] = texts[f"copy_{k}_b"] + " Corrected."  # a copy of a copy
    base = texts[sorted(texts)[0]].split()
    for n in range(60):  # one text syndicated sixty times, each with a word changed
        words = list(base)
        words[rng.randrange(len(words))] = f"edit{n}"
        texts[f"wire_{n:02d}"] = " ".join(words)
    texts["zz_short"] = "nothing at all like the others " * 3
    texts["aa_empty"] = ""
    ids = sorted(texts, reverse=True)  # input order must not matter
    return ids, [dedup.minhash_values(texts[i]) for i in ids]


@pytest.mark.parametrize("threshold", [0.1, dedup.THRESHOLD, 0.6, 0.9])
def test_equals_datasketchs_index_on_planted_copies(threshold: float) -> None:
    ids, sigs = seeds_with_copies()
    expected = dedup.near_duplicates_indexed(ids, sigs, threshold)
    assert len(expected) > 60  # the copies are found
    assert dedup.near_duplicates(ids, sigs, threshold) == expected


def test_signatures_as_one_matrix_find_the_same_copies() -> None:
    """The build keeps the signatures as one uint32 matrix, a row per article (prepare_stage):
    the copies found are those of the list of rows, and a uint32 matrix is used as it is."""
    ids, sigs = seeds_with_copies()
    matrix = np.concatenate([dedup.signature_matrix(sigs[:50]), dedup.signature_matrix(sigs[50:])])
    assert matrix.dtype == np.uint32 and matrix.shape == (len(ids), dedup.NUM_PERM)
    assert dedup.signature_matrix(matrix) is matrix
    assert dedup.near_duplicates(ids, matrix) == dedup.near_duplicates_indexed(ids, sigs)


def test_copies_point_at_the_earliest_original() -> None:
    ids, sigs = seeds_with_copies()
    found = dedup.near_duplicates(ids, sigs)
    wires = {found.get(f"wire_{n:02d}") for n in range(60)}
    assert len(wires) == 1 and None not in wires  # one original for all sixty
    assert all(original not in found for original in found.values())  # never a copy


def test_equals_datasketchs_index_on_bbc_with_an_on_disk_sort(
    bbc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sorted(bbc.rglob("*.txt"))
    ids = [f.relative_to(bbc).with_suffix("").as_posix() for f in files]
    sigs = [dedup.minhash_values(f.read_bytes().decode("utf-8", "replace")) for f in files]
    expected = dedup.near_duplicates_indexed(ids, sigs)
    assert len(expected) > 50  # the corpus holds real reposts
    assert dedup.near_duplicates(ids, sigs) == expected
    monkeypatch.setattr(spill, "SORT_BUDGET_BYTES", 256 * 1024)  # range-partitioned, ~10 parts
    assert dedup.near_duplicates(ids, sigs) == expected


def test_fewer_than_two_articles_have_no_duplicates() -> None:
    ids, sigs = seeds_with_copies()
    assert dedup.near_duplicates([], []) == {}
    assert dedup.near_duplicates(ids[:1], sigs[:1]) == {}


def test_the_built_seeds_mark_the_wire_copy(built: Path) -> None:
    """Two seeds are close copies of one AFP wire story: the later id points at the earlier."""
    (path,) = glob.glob(str(built / "data" / "articles" / "*.parquet"))
    rows = pq.read_table(path, columns=["article_id", "near_duplicate_of"]).to_pylist()
    marked = {r["article_id"]: r["near_duplicate_of"] for r in rows if r["near_duplicate_of"]}
    assert marked == {"003_1aac22ea31ac63a2": "000_e5de351659e7d52d"}


def test_the_smallest_match_wins_whichever_band_finds_it() -> None:
    """An original that shares only the last band with a copy (Jaccard just over the threshold)
    beats a later one that shares thirty bands: buckets are visited in key order (band 0
    first), so the copy's best match must still go down when a later band finds a smaller one."""
    rng = np.random.default_rng(11)
    copy = rng.integers(0, 2**32, dedup.NUM_PERM, dtype=np.uint64).astype(np.uint32)
    near = rng.integers(0, 2**32, dedup.NUM_PERM, dtype=np.uint64).astype(np.uint32)
    near[108:128] = copy[108:128]  # band 36 (values 108-110) and the 17 values past the bands
    near[0:60:3] = copy[0:60:3]  # one value of each of bands 0-19: no other band is shared
    far = rng.integers(0, 2**32, dedup.NUM_PERM, dtype=np.uint64).astype(np.uint32)
    far[0:93] = copy[0:93]  # bands 0-30
    ids, sigs = ["a_near", "b_far", "c_copy"], [near, far, copy]
    assert float(np.count_nonzero(near == copy)) / dedup.NUM_PERM >= dedup.THRESHOLD
    expected = dedup.near_duplicates_indexed(ids, sigs)
    assert expected["c_copy"] == "a_near"
    assert dedup.near_duplicates(ids, sigs) == expected
