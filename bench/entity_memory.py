#!/usr/bin/env python3
"""Entity linking's memory alone: its Python peak and what it still holds afterwards.

    python bench/entity_memory.py --raw ../shared/corpora/bbc --cache /tmp/newsbench-bench/cache

Measured, never asserted. Runs linking's entity phase (the first pass over the extractions,
the links, the entity rows and the office holders) on a corpus whose extractions are cached
(a build with the same --cache fills it), under tracemalloc, with Arrow's buffers allocated
from a pool of their own. "held after" is what stays in memory for the second pass and the
clustering. Before 2a400b3 linking kept a chain table and a map from chains to entities; to
measure that linker, run this script with PYTHONPATH pointing at that checkout's src/.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

MIB = 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True, help="a filled extraction cache")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    import pyarrow as pa
    import scipy.sparse.csgraph  # noqa: F401  linking's import: a fixed cost, not per article

    from newsbench import extract
    from newsbench import link as linking
    from newsbench.cache import PackedExtractions, ResultCache, extractor_fingerprint
    from newsbench.pipeline import BuildConfig, make_runner, model_description, prepare_stage

    cfg = BuildConfig(raw=args.raw, workers=args.workers, on_error="skip", cache=args.cache)
    with make_runner(cfg) as runner:
        articles, _, _ = prepare_stage(cfg, runner)
    cache = ResultCache(args.cache / "extract", extractor_fingerprint(model_description(None)))
    blobs = []
    for a in articles:
        blob = cache.get_packed(cache.key(a["outlet"], a["text"]))
        if blob is None:
            sys.exit(f"{a['article_id']}: not in the extraction cache; build with --cache first")
        blobs.append((a["article_id"], blob))
    packed = PackedExtractions(blobs)
    del blobs
    inputs = [
        extract.ArticleInput(a["article_id"], "", a["outlet"], a["story_id"]) for a in articles
    ]
    story = {a.article_id: a.story_id for a in inputs}
    n = len(inputs)
    gc.collect()
    pool = pa.system_memory_pool()  # unused before: its high-water mark is linking's
    arrow_before = pool.bytes_allocated()
    pa.set_memory_pool(pool)
    tracemalloc.start()
    started = time.perf_counter()
    entities: Any
    if hasattr(linking, "_ChainTable"):  # the linker before 2a400b3
        chains = linking._entity_input(packed)
        entities = linking.SpilledTable(linking._SCHEMAS["entities"])
        members = linking._entity_members(chains, linking._link_entities(chains, story))
        by_node, places = linking._spill_entities(chains, members, entities)
        del members
        entities.seal()
        chains.drop_mentions()
        offices = linking._OfficeHolders(chains, by_node, places, story)
    else:
        chains, mentions = linking._entity_input(packed, story)
        with chains:
            with mentions:
                label = linking._link_entities(chains)
                entities, node_entities, places = linking._spill_entities(chains, mentions, label)
            del label
            offices = linking._story_offices(chains, node_entities, places)
    seconds = time.perf_counter() - started
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {
        "articles": n,
        "entities": len(entities),
        "seconds": round(seconds, 1),
        "python_peak_mib": round(peak / MIB, 1),
        "python_peak_kib_per_article": round(peak / n / 1024, 2),
        "held_after_mib": round(held / MIB, 1),
        "held_after_kib_per_article": round(held / n / 1024, 2),
        "arrow_peak_mib": round((pool.max_memory() - arrow_before) / MIB, 1),
    }
    del offices
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
