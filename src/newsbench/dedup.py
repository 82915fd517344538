"""Near-duplicate and syndicated-copy detection with MinHash LSH (datasketch).

Per article (pure, in workers): a MinHash of lowercased word 5-shingles. Across articles: one
LSH index, so candidates come from shared bands, never from all pairs. An article's
`near_duplicate_of` is the smallest article_id among the earlier-sorted articles whose
estimated Jaccard similarity reaches the threshold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE = 5
THRESHOLD = 0.3  # two wire copies of one AFP story share about 0.38; distinct outlets < 0.05
SEED = 1
SCHEME = "affine32"  # datasketch 2 default, named so stored signatures stay comparable
_WORD = re.compile(r"\w+")


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
    """article_id -> the article_id it is a near-duplicate of (only for those that are)."""
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    hashes = {}
    out: dict[str, str] = {}
    for article_id, values in sorted(zip(ids, signatures, strict=True)):
        # LeanMinHash: a stored signature, without regenerating the permutations per article
        m = LeanMinHash(seed=SEED, hashvalues=values, scheme=SCHEME)
        candidates = sorted(c for c in lsh.query(m) if hashes[c].jaccard(m) >= threshold)
        if candidates:
            first = candidates[0]
            out[article_id] = out.get(first, first)  # point at the earliest copy of the cluster
        lsh.insert(article_id, m)
        hashes[article_id] = m
    return out
