"""Near-duplicate and syndicated-copy detection with MinHash LSH (datasketch's scheme).

Per article (pure, in workers): a MinHash of lowercased word 5-shingles. Across articles: the
bands of datasketch's `MinHashLSH`, so candidates come from shared bands, never from all pairs.
An article's `near_duplicate_of` is the smallest article_id among the earlier-sorted articles
whose estimated Jaccard similarity reaches the threshold (through that article's own original).

`near_duplicates` (the build's) finds them with the band keys spilled to disk and sorted, so
memory holds the signatures (512 bytes an article) and one sort part, not an index: datasketch's
in-memory index holds 10.7 KiB an article on the distinct BBC texts (tracemalloc).
`near_duplicates_indexed` is datasketch's own index, kept as the reference the tests compare
with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from datasketch import LeanMinHash, MinHash, MinHashLSH

from newsbench.spill import SpilledTable

NUM_PERM = 128
SHINGLE = 5
THRESHOLD = 0.3  # two wire copies of one AFP story share about 0.38; distinct outlets < 0.05
SEED = 1
SCHEME = "affine32"  # datasketch 2 default, named so stored signatures stay comparable
_WORD = re.compile(r"\w+")
_CHUNK = 4096  # articles whose band rows are made at once
_BANDS = pa.schema([("key", pa.binary()), ("rank", pa.int64())])


def minhash_values(text: str) -> np.ndarray:
    """The signature of one text (hash values only: small and picklable)."""
    words = _WORD.findall(text.lower())
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    m = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    m.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    return m.hashvalues


def near_duplicates(
    ids: Sequence[str], signatures: Sequence[np.ndarray], threshold: float = THRESHOLD
) -> dict[str, str]:
    """article_id -> the article_id it is a near-duplicate of (only for those that are).

    Exactly `near_duplicates_indexed`, without the index: one row per (article, band) with the
    band's key goes to a spill file, which is sorted by key on disk; each run of equal keys is a
    bucket of candidates, and each article keeps the smallest earlier member of any of its
    buckets whose Jaccard estimate reaches the threshold.
    """
    if len(ids) < 2:
        return {}
    order = sorted(range(len(ids)), key=ids.__getitem__)  # rank -> position: ids ascending
    ranked_ids = [ids[k] for k in order]
    sig = signature_matrix(signatures)[np.asarray(order, dtype=np.int64)]
    best = np.full(len(ids), len(ids), dtype=np.int64)  # smallest matching earlier rank
    with SpilledTable(_BANDS) as bands:
        for table in band_rows(sig, threshold):
            bands.write(table)
        with bands.sorted_by("key") as ordered:  # stable: a bucket's ranks stay ascending
            for ranks in _buckets(ordered):
                match_earliest(ranks, sig, threshold, best)
    found = np.flatnonzero(best < len(ids)).tolist()
    return copies_of(ranked_ids, zip(found, best[found].tolist(), strict=True))


def signature_matrix(signatures: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """The signatures as one array (a matrix is used as it is), uint32 when the values fit
    (affine32's do): half the memory, the same equalities."""
    if isinstance(signatures, np.ndarray) and signatures.ndim == 2:
        sig = signatures
    else:
        sig = np.stack([np.asarray(s) for s in signatures])
    if sig.dtype == np.uint32 or not len(sig):
        return sig
    return sig.astype(np.uint32) if int(sig.max()) < 2**32 else sig


def copies_of(ranked_ids: Sequence[str], matches: Iterable[tuple[int, int]]) -> dict[str, str]:
    """article_id -> the earliest copy of its cluster, from (later, earlier) rank matches given
    in ascending order of `later`: earlier articles are resolved first."""
    out: dict[str, str] = {}
    for later, earlier in matches:
        first = ranked_ids[earlier]
        out[ranked_ids[later]] = out.get(first, first)
    return out


def band_rows(sig: np.ndarray, threshold: float) -> Iterator[pa.Table]:
    """(band key, rank) rows, a chunk of articles at a time. The bands are datasketch's own
    (`MinHashLSH(threshold, NUM_PERM).hashranges`); a key is the band's number and its values,
    so two articles share a key exactly when datasketch's index would return one for the other."""
    ranges = MinHashLSH(threshold=threshold, num_perm=NUM_PERM).hashranges
    for start in range(0, len(sig), _CHUNK):
        chunk = sig[start : start + _CHUNK]
        rank = np.arange(start, start + len(chunk), dtype=np.int64)
        for band, (lo, hi) in enumerate(ranges):
            values = np.ascontiguousarray(chunk[:, lo:hi]).view(np.uint8).reshape(len(chunk), -1)
            keys = np.empty((len(chunk), 2 + values.shape[1]), dtype=np.uint8)
            keys[:, 0], keys[:, 1], keys[:, 2:] = band >> 8, band & 0xFF, values
            key_array = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(keys.shape[1]), len(chunk), [None, pa.py_buffer(keys.tobytes())]
            ).cast(pa.binary())
            yield pa.table([key_array, pa.array(rank)], schema=_BANDS)


def _buckets(bands: SpilledTable) -> Iterator[np.ndarray]:
    """The ranks of each run of two or more equal keys in key-sorted band rows."""
    held_key: bytes | None = None
    held: list[np.ndarray] = []
    for batch in bands.batches():
        keys = batch.column("key").to_pylist()
        ranks = batch.column("rank").to_numpy()
        starts = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
        for n, start in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(keys)
            if keys[start] != held_key:
                if sum(map(len, held)) > 1:
                    yield np.concatenate(held)
                held_key, held = keys[start], []
            held.append(ranks[start:end])
    if sum(map(len, held)) > 1:
        yield np.concatenate(held)


def match_earliest(ranks: np.ndarray, sig: np.ndarray, threshold: float, best: Any) -> None:
    """For each member of one bucket (ranks ascending), lower `best` to the smallest earlier
    member whose Jaccard estimate reaches the threshold. A member whose `best` is already
    smaller than a candidate cannot gain from it, so copies cost one comparison each. `best` is
    indexed by rank with arrays of ranks: an array of every rank here, a view of a task's ranks
    on Ray (newsbench.engines.ray_engine)."""
    for i in range(len(ranks) - 1):
        candidate = ranks[i]
        later = ranks[i + 1 :]
        later = later[best[later] > candidate]
        if not len(later):
            continue
        best[later[similar(sig[later], sig[candidate], threshold)]] = candidate


def similar(a: np.ndarray, b: np.ndarray, threshold: float) -> np.ndarray:
    """Whether each pair of signature rows reaches the threshold, with MinHash.jaccard's
    arithmetic (equal values over the number of values, in float64) so results match
    datasketch's exactly."""
    same = np.count_nonzero(a == b, axis=-1)
    return same.astype(np.float64) / float(a.shape[-1]) >= threshold


def near_duplicates_indexed(
    ids: Sequence[str], signatures: Sequence[np.ndarray], threshold: float = THRESHOLD
) -> dict[str, str]:
    """The reference: `near_duplicates` with datasketch's own in-memory LSH index, queried for
    each article in id order before it is inserted."""
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    stored: dict[str, LeanMinHash] = {}
    out: dict[str, str] = {}
    for article_id, values in sorted(zip(ids, signatures, strict=True), key=lambda p: p[0]):
        m = LeanMinHash(seed=SEED, hashvalues=values, scheme=SCHEME)
        candidates = sorted(c for c in lsh.query(m) if stored[c].jaccard(m) >= threshold)
        if candidates:
            first = candidates[0]
            out[article_id] = out.get(first, first)
        lsh.insert(article_id, m, check_duplication=False)  # ids are unique
        stored[article_id] = m
    return out
