"""Fault injection: `kill -9` the real build at every checkpoint it reaches.

The output folder starts as a previous build from different options (`--text-policy
reference`, so every published file differs from the new build). After a kill at any point the
folder is readable and byte-identical to either the previous output (killed before the swap) or
the new build (killed after it), never a mix; the next build then succeeds, produces exactly the
bytes of an uninterrupted build and leaves no staging folder behind.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsbench.check import check_output
from newsbench.faults import read_points

from conftest import RAW, run_build
from test_build import tree_hashes

# A story without gold, so the extract+link stage runs spaCy too (the seeds all carry gold and
# reach the extractors only through the baseline stage).
EXTRA = (
    "Council approves new bridge\n\n"
    "The city council approved plans for a new bridge over the river on Monday, officials said.\n"
    '"This bridge will connect two communities that have been apart for too long," said Mayor '
    "Jane Harper.\n"
    "The project is expected to cost 40 million dollars and to take three years, according to "
    "the council's transport committee.\n"
)
FAST = ("--workers", "1", "--no-cache")  # one process (kills land in it); extraction is real
STAGING = (".newsbench.building-", ".newsbench.old-")
# Every stage must be represented among the points a build reaches (prefixes of point names).
STAGES = (
    "lock:acquired",
    "stale:cleaned",
    "prepare:file:",
    "prepare:done",
    "dedup:done",
    "annotations:done",
    "extract:done",
    "baseline:done",
    "validate:done",
    "write:staging",
    "write:table:articles",
    "write:table:quotes",
    "write:table:claims",
    "write:table:entities",
    "write:figures",
    "write:croissant",
    "write:manifest",
    "card:done",
    "publish:fsynced",
    "publish:swapped",
    "publish:old-removed",
)
AFTER_SWAP = ("publish:swapped", "publish:old-removed")
CHECK_LOCK = threading.Lock()  # check_output runs in this process: one thread at a time


@dataclass(frozen=True)
class Setup:
    raw: Path
    previous: Path  # the --text-policy reference build the output folder starts as
    before: dict[str, str]  # its file hashes
    after: dict[str, str]  # file hashes of an uninterrupted full build
    points: list[str]  # the checkpoints that build reached, in order
    work: Path


def staging_left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(STAGING))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("faults")
    raw = work / "raw"
    shutil.copytree(RAW, raw)
    (raw / "extra").mkdir()
    (raw / "extra" / "bridge.txt").write_text(EXTRA, encoding="utf-8")

    previous = work / "previous" / "newsbench"
    proc = run_build("--raw", str(raw), "--out", str(previous), "--text-policy", "reference", *FAST)
    assert proc.returncode == 0, proc.stderr

    expected = work / "expected" / "newsbench"
    shutil.copytree(previous, expected)  # a build over an existing output reaches every point
    points_file = work / "points.txt"
    proc = run_build(
        "--raw",
        str(raw),
        "--out",
        str(expected),
        "--workers",
        "1",
        "--cache",  # cold: extraction runs; the builds after a kill read it warm
        str(work / "cache"),
        env={"NEWSBENCH_POINTS_FILE": str(points_file)},
    )
    assert proc.returncode == 0, proc.stderr
    assert check_output(expected) == []
    points = [name for name, _, _ in read_points(points_file)]
    before, after = tree_hashes(previous), tree_hashes(expected)
    assert before.keys() == after.keys()
    # every published data file differs, so a mixed folder cannot pass for either build
    assert all(before[k] != after[k] for k in before if k.startswith("data/")), "same bytes"
    yield Setup(raw, previous, before, after, points, work)


def test_build_reaches_a_checkpoint_in_every_stage(setup: Setup) -> None:
    assert len(setup.points) == len(set(setup.points)), "a point is reached twice"
    for stage in STAGES:
        assert any(p.startswith(stage) for p in setup.points), stage
    assert len(setup.points) >= 20
    assert setup.points.index("publish:fsynced") < setup.points.index("publish:swapped")
    n_files = sum(1 for p in setup.raw.rglob("*.txt") if "annotations" not in p.parts)
    assert [p for p in setup.points if p.startswith("prepare:file:")] == [
        f"prepare:file:{i}" for i in range(n_files)
    ]


def kill_and_recover(setup: Setup, index: int, point: str) -> list[str]:
    """Kill a build at `point` over a copy of the previous output, then rebuild; the failures."""
    fails: list[str] = []
    parent = setup.work / f"kill-{index:02d}"
    out = parent / "newsbench"
    shutil.copytree(setup.previous, out)
    args = ("--raw", str(setup.raw), "--out", str(out), "--workers", "1")

    proc = run_build(*args, "--no-cache", env={"NEWSBENCH_KILL_AT": point})
    if proc.returncode != -9:
        return [f"{point}: exit {proc.returncode}, not -9: {proc.stderr[-2000:]}"]
    if not out.is_dir():
        return [f"{point}: the output folder is gone after the kill"]
    want, which = (setup.after, "new") if point in AFTER_SWAP else (setup.before, "previous")
    got = tree_hashes(out)
    if got != want:
        mixed = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
        fails.append(f"{point}: output is not the {which} build; differs in {mixed}")
    with CHECK_LOCK:
        problems = check_output(out)
    if problems:
        fails.append(f"{point}: killed output does not validate: {problems[:3]}")

    proc = run_build(*args, "--cache", str(setup.work / "cache"))  # a normal build, warm cache
    if proc.returncode != 0:
        return [*fails, f"{point}: the build after the kill failed: {proc.stderr[-2000:]}"]
    if tree_hashes(out) != setup.after:
        fails.append(f"{point}: the build after the kill differs from an uninterrupted build")
    if staging_left(parent):
        fails.append(f"{point}: staging folders remain: {staging_left(parent)}")
    if not fails:
        shutil.rmtree(parent)
    return fails


def test_kill_at_every_checkpoint_leaves_old_or_new_output_never_a_mix(setup: Setup) -> None:
    points = setup.points
    assert len(points) >= 20
    start = time.perf_counter()
    jobs = min(4, os.cpu_count() or 1)  # each point has its own folder: independent builds
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda ip: kill_and_recover(setup, *ip), enumerate(points)))
    elapsed = time.perf_counter() - start
    print(f"\nkilled at {len(points)} points in {elapsed:.1f} s ({jobs} at a time): {points}")
    fails = [f for r in results for f in r]
    assert not fails, "\n".join(fails)


def test_cache_written_by_a_killed_build_is_reused_exactly(setup: Setup) -> None:
    """A build killed after extraction leaves complete cache entries; the next build that reads
    them produces the bytes of an uncached build."""
    parent = setup.work / "cached"
    out, cache = parent / "newsbench", parent / "cache"
    args = ("--raw", str(setup.raw), "--out", str(out), "--workers", "1", "--cache", str(cache))
    proc = run_build(*args, env={"NEWSBENCH_KILL_AT": "baseline:done"})
    assert proc.returncode == -9, proc.stderr
    assert not out.exists()
    assert list(cache.rglob("*.pkl")), "the killed build cached nothing"
    assert not list(cache.rglob(".tmp-*")), "a torn cache entry"
    proc = run_build(*args)
    assert proc.returncode == 0, proc.stderr
    assert tree_hashes(out) == setup.after
    assert staging_left(parent) == []


def test_build_killed_between_the_fallback_renames_is_restored(setup: Setup) -> None:
    """Without renameat2 the swap is two renames (out → .old-PID, stage → out); a build killed
    between them leaves no `out`. The next build restores the old folder before anything else."""
    parent = setup.work / "fallback"
    out = parent / "newsbench"
    shutil.copytree(setup.previous, parent / ".newsbench.old-4242")
    (parent / ".newsbench.building-4242").mkdir()  # the complete stage of the dead build
    args = ("--raw", str(setup.raw), "--out", str(out), *FAST)
    proc = run_build(*args, env={"NEWSBENCH_KILL_AT": "stale:cleaned"})
    assert proc.returncode == -9, proc.stderr
    assert tree_hashes(out) == setup.before
    assert staging_left(parent) == []
    proc = run_build(*args)
    assert proc.returncode == 0, proc.stderr
    assert tree_hashes(out) == setup.after
