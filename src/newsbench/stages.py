"""Per-article stage functions: pure, module-level, over batches.

One signature each (a batch in, a batch out, same order), so the local runner's process pool
and the Ray engine run exactly the same code. Nothing here touches the output folder.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsbench.cache import ResultCache, pack_extraction
from newsbench.dedup import minhash_values
from newsbench.faults import checkpoint
from newsbench.normalize import check_partition, load_rules, normalize
from newsbench.problems import Problem
from newsbench.read import RawDocument, Source, read_source

# One news article is a few thousand characters; spaCy refuses texts over 1,000,000 (E088) and
# needs about 1 GB per 100,000 words, so a longer "article" is a file to split, not to parse.
MAX_ARTICLE_CHARS = 1_000_000


@dataclass(frozen=True)
class PrepareTask:
    """Reads: a raw file. Writes: one articles row (or a Problem) and its MinHash signature."""

    index: int
    source: Source
    rules_path: str | None
    max_file_bytes: int
    cache_dir: str | None = None  # the prepare cache (newsbench.cache); None: no cache
    fingerprint: str = ""  # newsbench.cache.prepare_fingerprint of the code and rules


def article_row(doc: RawDocument, rules_path: str | None = None) -> dict[str, Any] | Problem:
    """Normalize one raw document into an articles row."""
    result = normalize(doc.raw_text, load_rules(rules_path))
    broken = check_partition(doc.raw_text, result)
    if broken:  # a bug in the normalizer, never silently published
        return Problem(
            doc.source_file,
            "provenance partition broken: " + "; ".join(broken),
            "report this as a newsbench bug with the file",
            stage="normalize",
        )
    if len(result.text) > MAX_ARTICLE_CHARS:
        return Problem(
            doc.source_file,
            f"article text has {len(result.text):,} characters, over the "
            f"{MAX_ARTICLE_CHARS:,}-character limit for one article (spaCy's own limit)",
            "split the file into one file per article",
            stage="normalize",
        )
    if not result.text:
        reasons = sorted({s.label for s in result.removed})
        return Problem(
            doc.source_file,
            f"no article text left after cleaning (all removed as: {', '.join(reasons)})",
            "check the file holds an article, or adjust rules/normalize.yaml",
            stage="normalize",
        )
    meta = doc.meta
    return {
        "article_id": doc.article_id,
        "story_id": meta.get("story_id"),
        "source_file": doc.source_file,
        "outlet": meta.get("outlet"),
        "url": meta.get("url"),
        "language": meta.get("language"),
        "published_date": meta.get("published_date"),
        "rights": meta.get("rights"),
        "title": result.title,
        "text": result.text,
        "raw_sha256": doc.raw_sha256,
        "encoding": doc.encoding,
        "n_words": result.n_words,
        "kept": [{"start": s.start, "end": s.end, "role": s.label} for s in result.kept],
        "removed": [{"start": s.start, "end": s.end, "reason": s.label} for s in result.removed],
        "near_duplicate_of": None,
    }


def prepare_key(cache: ResultCache, doc: RawDocument) -> str:
    """Everything an articles row is computed from besides the code and rules (fingerprinted)."""
    return cache.key(
        doc.article_id,
        doc.source_file,
        doc.encoding,
        repr(sorted(doc.meta.items())),
        doc.raw_sha256,
    )


Prepared = tuple[dict[str, Any] | Problem, Any, bool]


def prepare_batch(batch: list[PrepareTask]) -> list[Prepared]:
    """Read, decode, normalize and sign each file: (row or Problem, MinHash values or None,
    whether it came from the cache).

    An unchanged file (same bytes, id, metadata, code and rules) comes from the prepare cache:
    it is read and hashed, never cleaned or signed again.
    """
    out: list[Prepared] = []
    first = batch[0] if batch else None  # one build: every task names the same cache
    cache = ResultCache(
        Path(first.cache_dir) if first and first.cache_dir else None,
        first.fingerprint if first else "",
    )
    for task in batch:
        checkpoint(f"prepare:file:{task.index}")
        doc = read_source(task.source, task.max_file_bytes)
        if isinstance(doc, Problem):
            out.append((doc, None, False))
            continue
        key = prepare_key(cache, doc)
        cached = cache.load(key)
        if cached is not None:
            out.append((*cached, True))
            continue
        row = article_row(doc, task.rules_path)
        signature = None if isinstance(row, Problem) else minhash_values(row["text"])
        if not isinstance(row, Problem):
            cache.put(key, (row, signature))
        out.append((row, signature, False))
    return out


@dataclass(frozen=True)
class ExtractTask:
    """Reads: an article's id, text, outlet and story. Writes: its packed ArticleExtraction."""

    article_id: str
    text: str
    outlet: str | None
    story_id: str | None
    model: str | None


@functools.cache
def load_nlp(model: str | None) -> Any:
    """The spaCy pipeline, loaded once per process."""
    from newsbench import extract

    return extract.load_nlp(model)


def extract_batch(batch: list[ExtractTask]) -> list[tuple[str, bytes]]:
    """spaCy over the batch with nlp.pipe, then the pure per-article extractors; each result is
    packed here, in the worker (newsbench.cache.pack_extraction): (article id, packed records)."""
    from newsbench import extract

    if not batch:
        return []
    nlp = load_nlp(batch[0].model)
    inputs = [extract.ArticleInput(t.article_id, t.text, t.outlet, t.story_id) for t in batch]
    docs = nlp.pipe((a.text for a in inputs), batch_size=32)
    return [
        (a.article_id, pack_extraction(extract.extract_article(a, doc)))
        for a, doc in zip(inputs, docs, strict=True)
    ]
