#!/usr/bin/env python3
"""Where the build process's memory goes, per article: a tracemalloc breakdown.

    python bench/memory_profile.py --raw ../shared/corpora/bbc --cache /tmp/newsbench-bench/cache

Measured, never asserted. Traces the build process only (the workers are separate processes)
through the stages that hold per-article data: the articles rows (spilled to disk) and the
MinHash signatures, the extraction records (from the extraction cache, which a first run
fills) as objects and as the build holds them (packed in a spill file), and linking from the
spill file (its transient peak; its rows are spilled to disk as Arrow, and what they would cost
as dicts is given for comparison). Python objects, plus the high-water mark of linking's Arrow
buffers (its sorts and batches, from a memory pool of their own): RSS is higher by the
allocators' slack, and bench/run_bench.py measures RSS.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
from pathlib import Path

MIB = 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True, help="extraction cache (filled if cold)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    import pyarrow as pa

    from newsbench import extract
    from newsbench.cache import PackedExtractions, ResultCache, extractor_fingerprint
    from newsbench.link import link_spilled
    from newsbench.pipeline import (
        BuildConfig,
        extract_stage,
        make_runner,
        model_description,
        prepare_stage,
    )

    cfg = BuildConfig(raw=args.raw, workers=args.workers, on_error="skip", cache=args.cache)
    with make_runner(cfg) as runner:
        articles, _, _ = prepare_stage(cfg, runner)
        extract_stage(articles, cfg, runner)  # fills the cache when cold; results dropped
        del articles
        gc.collect()

        import scipy.sparse.csgraph  # noqa: F401  linking's import: a fixed cost, not per article

        tracemalloc.start()
        articles, signatures, _ = prepare_stage(cfg, runner)
        with_signatures = tracemalloc.get_traced_memory()[0]
        del signatures
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        as_dicts = list(articles)
        article_dicts = tracemalloc.get_traced_memory()[0] - base
        del as_dicts
        gc.collect()
        cache = ResultCache(args.cache / "extract", extractor_fingerprint(model_description(None)))
        keys = [cache.key(a["outlet"], a["text"]) for a in articles]
        records = [cache.get(k, a["article_id"]) for a, k in zip(articles, keys, strict=True)]
        assert all(r is not None for r in records), "extraction cache incomplete"
        as_objects = tracemalloc.get_traced_memory()[0] - base
        del records
        gc.collect()
        before_packed = tracemalloc.get_traced_memory()[0]
        packed = PackedExtractions(
            (a["article_id"], cache.get_packed(k)) for a, k in zip(articles, keys, strict=True)
        )
        loaded = tracemalloc.get_traced_memory()[0]
        inputs = [  # as the build makes them: linking reads no text
            extract.ArticleInput(a["article_id"], "", a["outlet"], a["story_id"]) for a in articles
        ]
        tracemalloc.reset_peak()
        # Arrow's buffers are not Python objects: linking allocates them from a pool of its own
        # (the system allocator's, unused before), whose high-water mark is linking's alone
        arrow_pool = pa.system_memory_pool()
        arrow_before = arrow_pool.bytes_allocated()
        pa.set_memory_pool(arrow_pool)
        rows = link_spilled(packed, inputs)  # as the build links: from the spill file
        linked, peak = tracemalloc.get_traced_memory()
        arrow_peak = arrow_pool.max_memory() - arrow_before
        packed.close()
        del packed, inputs
        gc.collect()
        rows_only = tracemalloc.get_traced_memory()[0] - base
        as_rows = {name: table.to_pylist() for name, table in rows.items()}
        dicts = tracemalloc.get_traced_memory()[0] - base - rows_only
        del as_rows
    n = len(articles)
    kib = {
        "articles rows (spilled to disk: what stays in memory)": base / n / 1024,
        "the same rows if they were dicts (not how the build holds them)": article_dicts / n / 1024,
        "the articles spill file, on disk (Arrow bytes)": articles.nbytes / n / 1024,
        "MinHash signatures": (with_signatures - base) / n / 1024,
        "extraction records, as objects (not how the build holds them)": as_objects / n / 1024,
        "extraction records, packed and spilled (the index in memory)": (loaded - before_packed)
        / n
        / 1024,
        "linking, transient peak": (peak - loaded) / n / 1024,
        "linking, Arrow buffers' peak (sorts, batches: not in the line above)": arrow_peak
        / n
        / 1024,
        "linking's rows (spilled to disk: what stays in memory)": rows_only / n / 1024,
        "linking's rows if they were dicts (not how the build holds them)": dicts / n / 1024,
        "linking's spill files, on disk (Arrow bytes)": sum(t.nbytes for t in rows.values())
        / n
        / 1024,
    }
    result = {
        "articles": n,
        "rows": {k: len(v) for k, v in rows.items()},  # type: ignore[arg-type]
        "kib_per_article": {k: round(v, 1) for k, v in kib.items()},
        "peak_mib": round((peak) / MIB, 1),
        "linking_arrow_peak_mib": round(arrow_peak / MIB, 1),
        "after_link_mib": round(linked / MIB, 1),
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
