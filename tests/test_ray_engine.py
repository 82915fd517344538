"""The Ray engine: same stage functions, same order, byte-identical output to the local runner.

Skipped when Ray (the optional `[ray]` extra) is absent. One local Ray instance (2 CPUs) serves the
whole module: starting Ray costs several seconds and about 1.3 GiB.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

ray = pytest.importorskip("ray")

from newsbench import dedup, pipeline  # noqa: E402
from newsbench.engines import EngineUnavailable, make_runner  # noqa: E402
from newsbench.engines.ray_engine import (  # noqa: E402
    RayRunner,
    lsh_matches,
    matches_in_bucket,
    near_duplicates,
)
from newsbench.pipeline import BuildConfig  # noqa: E402
from newsbench.read import discover  # noqa: E402
from newsbench.runner import LocalRunner, batched  # noqa: E402
from newsbench.stages import PrepareTask, prepare_batch  # noqa: E402

from conftest import BBC, RAW, ROOT, run_build  # noqa: E402

# Ray's own DataContext copies trip its own deprecation warnings; nothing of ours
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

# test-local batch functions travel to the workers by value: this module is not importable there
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def runner() -> Iterator[RayRunner]:
    """One local Ray for the module; runners made inside it reuse it and leave it running."""
    r = RayRunner(num_cpus=2)
    r.connect()
    yield r
    r.close()
    assert not ray.is_initialized()


def slow_first(batch: list[int]) -> list[int]:
    """Earlier batches finish later, so completion order is the reverse of input order."""
    time.sleep(0.05 * max(0, 6 - batch[0]))
    return [x * 10 for x in batch]


def refuse_odd(batch: list[int]) -> list[int]:
    if batch[0] % 2:
        raise ValueError(f"odd batch {batch}")
    return batch


def crash_on_three(batch: list[int]) -> list[int]:
    """A worker that dies every time, as on a native crash or the OOM killer."""
    if batch[0] == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return batch


def prepare_tasks() -> list[PrepareTask]:
    sources, problems = discover(RAW)
    assert sources and not problems
    return [PrepareTask(i, s, None, 10**7) for i, s in enumerate(sources)]


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_map_batches_keeps_input_order_whatever_finishes_first(runner: RayRunner) -> None:
    batches = [[i] for i in range(8)]
    assert list(runner.map_batches(slow_first, batches)) == [[i * 10] for i in range(8)]
    assert list(runner.map_batches(slow_first, [])) == []


def test_map_batches_reads_a_window_at_a_time(
    runner: RayRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver holds one window of pickled batches, not the whole input."""
    from newsbench.engines import ray_engine

    monkeypatch.setattr(ray_engine, "MIN_WINDOW_BATCHES", 3)
    monkeypatch.setattr(ray_engine, "WINDOW_BATCHES_PER_CPU", 1)  # 2 CPUs: windows of 3
    read = [0]

    def batches() -> Iterator[list[int]]:
        for i in range(8):
            read[0] += 1
            yield [i]

    read_at_result = []
    results = []
    for result in runner.map_batches(slow_first, batches()):
        read_at_result.append(read[0])
        results.append(result)
    assert results == [[i * 10] for i in range(8)]
    assert read_at_result == [3, 3, 3, 6, 6, 6, 8, 8]


def test_a_stage_error_reaches_the_driver_as_its_own_type(runner: RayRunner) -> None:
    with pytest.raises(ValueError, match="odd batch"):
        list(runner.map_batches(refuse_odd, [[0], [1], [2]]))
    assert list(runner.map_batches(refuse_odd, [[0], [2]])) == [[0], [2]]  # Ray still usable


def test_a_worker_that_always_dies_fails_the_map_instead_of_hanging(runner: RayRunner) -> None:
    start = time.perf_counter()
    with pytest.raises(ray.exceptions.RayError):
        list(runner.map_batches(crash_on_three, [[1], [3]]))
    assert time.perf_counter() - start < 120
    assert list(runner.map_batches(crash_on_three, [[1], [2]])) == [[1], [2]]


def test_prepare_batch_on_ray_equals_local(runner: RayRunner) -> None:
    tasks = prepare_tasks()
    batches = list(batched(tasks, 2))  # several batches, so several Ray tasks
    on_ray = list(runner.map_batches(prepare_batch, batches))
    local = list(LocalRunner(1).map_batches(prepare_batch, batches))
    assert [len(b) for b in on_ray] == [len(b) for b in batches]
    flat_ray = [x for b in on_ray for x in b]
    flat_local = [x for b in local for x in b]
    rows = [row for row, _, _ in flat_ray]
    assert all(isinstance(row, dict) for row in rows)  # the seeds are clean: no Problem
    assert [row["article_id"] for row in rows if isinstance(row, dict)] == [
        t.source.article_id for t in tasks
    ]
    for (row_r, sig_r, _), (row_l, sig_l, _) in zip(flat_ray, flat_local, strict=True):
        assert row_r == row_l
        assert np.array_equal(sig_r, sig_l)


@pytest.mark.parametrize("use_gold", [False, True], ids=["no-gold", "gold"])
def test_build_on_ray_is_byte_identical_to_local(
    runner: RayRunner, use_gold: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = BuildConfig(
        raw=RAW, out=tmp_path / "local" / "newsbench", workers=1, cache=None, use_gold=use_gold
    )
    pipeline.build(cfg)

    calls: list[str] = []
    map_batches, reduce_by_key = RayRunner.map_batches, RayRunner.reduce_by_key
    near = RayRunner.near_duplicates

    def spy_map(self: RayRunner, fn: Any, batches: Any) -> Any:
        calls.append(fn.__name__)
        return map_batches(self, fn, batches)

    def spy_reduce(self: RayRunner, fn: Any, rows: Any, key: str) -> Any:
        calls.append(fn.__name__)
        return reduce_by_key(self, fn, rows, key)

    def spy_near(self: RayRunner, ids: Any, signatures: Any) -> Any:
        calls.append("near_duplicates")
        return near(self, ids, signatures)

    monkeypatch.setattr(RayRunner, "map_batches", spy_map)
    monkeypatch.setattr(RayRunner, "reduce_by_key", spy_reduce)
    monkeypatch.setattr(RayRunner, "near_duplicates", spy_near)
    ray_cfg = dataclasses.replace(cfg, out=tmp_path / "ray" / "newsbench", engine="ray")
    pipeline.build(ray_cfg)

    # extraction, entity linking's three reduces and the clustering reduces run on Ray in
    # both: for every article without gold, or for the gold baseline; near-duplicates are a
    # groupby
    assert calls == [
        "prepare_batch",
        "near_duplicates",
        "extract_batch",
        "name_links",
        "story_type_links",
        "surname_links",
        "cluster_quotes",
        "cluster_claims",
    ]
    assert ray.is_initialized()  # the build's runner did not shut down the module's Ray
    local, on_ray = tree_hashes(cfg.out), tree_hashes(ray_cfg.out)
    assert any(k.endswith(".parquet") for k in local)
    assert on_ray == local


def test_cli_build_joins_a_running_cluster(runner: RayRunner, built: Path, tmp_path: Path) -> None:
    """--engine ray --ray-address: a second driver process joins the module's cluster."""
    address = ray.get_runtime_context().gcs_address
    out = tmp_path / "newsbench"
    args = ["--raw", str(RAW), "--out", str(out), "--no-cache"]
    proc = run_build(*args, "--engine", "ray", "--ray-address", address)
    assert proc.returncode == 0, proc.stderr
    assert tree_hashes(out) == tree_hashes(built)


def test_make_runner_picks_the_engine(runner: RayRunner) -> None:
    assert isinstance(make_runner("local", 2), LocalRunner)
    made = make_runner("ray", 2, None)
    assert isinstance(made, RayRunner) and made.num_cpus == 2
    with made:
        assert list(made.map_batches(slow_first, [[6], [7]])) == [[60], [70]]
    assert ray.is_initialized()  # not started by `made`, so not stopped by it
    with pytest.raises(ValueError, match="unknown engine"):
        make_runner("dask", 2)


def test_missing_ray_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "newsbench.engines.ray_engine")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as if not installed
    with pytest.raises(EngineUnavailable, match=r"newsbench\[ray\]"):
        make_runner("ray", 1)


def test_local_path_never_imports_ray() -> None:
    code = (
        "import sys\n"
        "from newsbench import pipeline\n"
        "from newsbench.engines import make_runner\n"
        "with make_runner('local', 1) as r:\n"
        "    assert list(r.map_batches(sorted, [[2, 1]])) == [[1, 2]]\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


def signatures_with_copies() -> tuple[list[str], list[np.ndarray]]:
    """The seeds plus planted copies: edited reposts, a chain of copies, and unrelated texts."""
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(RAW.glob("*.txt"))}
    base = sorted(texts)
    for k, source in enumerate(base):
        words = texts[source].split()
        texts[f"copy_{k}_a"] = " ".join(words[: int(len(words) * 0.8)])  # truncated repost
        texts[f"copy_{k}_b"] = " ".join(words[len(words) // 3 :]) + " Updated."
    texts["zz_unrelated"] = "nothing at all like the others " * 3
    ids = sorted(texts, reverse=True)  # input order must not matter
    return ids, [dedup.minhash_values(texts[i]) for i in ids]


def test_near_duplicates_on_ray_equals_datasketch(runner: RayRunner) -> None:
    ids, sigs = signatures_with_copies()
    expected = dedup.near_duplicates_indexed(ids, sigs)
    assert expected  # the planted copies are found
    assert near_duplicates(ids, sigs) == expected
    assert runner.near_duplicates(ids, sigs) == expected
    for threshold in (0.1, 0.6):
        assert near_duplicates(ids, sigs, threshold) == dedup.near_duplicates_indexed(
            ids, sigs, threshold
        )
    assert near_duplicates(ids[:1], sigs[:1]) == {}
    matches = lsh_matches(sigs, buckets=3)
    assert matches and all(earlier < later for later, earlier in matches.items())
    assert lsh_matches(sigs, buckets=7) == matches  # buckets change no result


def test_near_duplicates_on_ray_equals_datasketch_on_bbc(runner: RayRunner) -> None:
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not beside the repository")
    files = sorted(BBC.rglob("*.txt"))
    ids = [f.relative_to(BBC).with_suffix("").as_posix() for f in files]
    sigs = [dedup.minhash_values(f.read_bytes().decode("utf-8", "replace")) for f in files]
    expected = dedup.near_duplicates_indexed(ids, sigs)
    assert len(expected) > 50  # the corpus holds real reposts
    assert near_duplicates(ids, sigs) == expected


def test_a_bucket_verifies_its_candidates_and_sends_one_row_per_match(runner: RayRunner) -> None:
    """A bucket holding 60 copies of one BBC text and 40 other BBC articles sends one (later,
    earlier) row per copy, pointing at the first copy (the smallest earlier match), not the
    1,770 candidate pairs of the copies. With all the band rows in one bucket, its rows are
    datasketch's matches."""
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not beside the repository")
    files = sorted((BBC / "tech").glob("*.txt"))[:41]
    texts = [files[0].read_text(encoding="utf-8")] * 59 + [
        f.read_text(encoding="utf-8") for f in files
    ]
    sig = np.stack([dedup.minhash_values(t) for t in texts]).astype(np.uint32)  # rank = position
    bands = pa.concat_tables(dedup.band_rows(sig, dedup.THRESHOLD))
    rows = matches_in_bucket(bands, sig, dedup.THRESHOLD)
    found = dict(zip(rows["later"].to_pylist(), rows["earlier"].to_pylist(), strict=True))
    assert rows.num_rows == len(found)  # one row per matched rank
    assert {k: v for k, v in found.items() if k < 60} == dict.fromkeys(range(1, 60), 0)
    ids = [f"{k:03d}" for k in range(len(texts))]
    assert {ids[k]: ids[v] for k, v in found.items()} == dedup.near_duplicates_indexed(
        ids, list(sig)
    )


def keep_key_and_rows(group: pa.Table) -> pa.Table:
    """What one reduce call saw: its keys (must be one) and its rows."""
    keys = sorted(set(group["key"].to_pylist()))
    rows = sorted(group["row"].to_pylist())
    return pa.table({"keys": [keys], "rows": [rows]})


def test_reduce_by_key_on_ray_sees_each_key_once_with_all_its_rows(runner: RayRunner) -> None:
    from newsbench.spill import SpilledTable, reduce_by_key

    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not beside the repository")
    files = sorted(BBC.rglob("*.txt"))[:2000]
    schema = pa.schema([("key", pa.string()), ("row", pa.int64())])
    with SpilledTable(schema, batch_rows=100) as rows:  # 19 batches; keys span batches
        for k, f in enumerate(files):
            rows.append({"key": f.parent.name + f.stem[:1], "row": k})
        on_ray = [
            r for t in runner.reduce_by_key(keep_key_and_rows, rows, "key") for r in t.to_pylist()
        ]
        local = [r for t in reduce_by_key(keep_key_and_rows, rows, "key") for r in t.to_pylist()]
    assert all(len(r["keys"]) == 1 for r in on_ray)
    assert len(local) > 20
    assert sorted(on_ray, key=lambda r: r["keys"]) == local


def test_clustering_on_ray_equals_local(runner: RayRunner) -> None:
    """Quote and claim clustering reduced per hash bucket of blocks on Ray gives the rows the
    local reduce (one block at a time) gives, on BBC articles spread over stories and the pool."""
    from newsbench.extract import ArticleInput, extract_article, load_nlp
    from newsbench.link import link_spilled

    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not beside the repository")
    nlp = load_nlp()
    files = sorted((BBC / "tech").glob("*.txt"))[:40]
    articles = [
        ArticleInput(f"t{p.stem}", p.read_text(encoding="utf-8"), "BBC", [None, "a", "b"][k % 3])
        for k, p in enumerate(files)
    ]
    records = [
        extract_article(a, d)
        for a, d in zip(articles, nlp.pipe(a.text for a in articles), strict=True)
    ]
    results = []
    for reduce in (None, runner.reduce_by_key):
        tables = link_spilled(records, articles, *([reduce] if reduce else []))
        results.append({name: table.to_pylist() for name, table in tables.items()})
        for table in tables.values():
            table.close()
    assert results[0]["quotes"] and results[0]["claims"]
    assert results[1] == results[0]
