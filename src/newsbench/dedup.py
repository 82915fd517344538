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
    signature_of: dict[str, np.ndarray] = {}  # the caller's arrays, not copies
    out: dict[str, str] = {}
    for article_id, values in sorted(zip(ids, signatures, strict=True), key=lambda p: p[0]):
        # LeanMinHash: a stored signature, without regenerating the permutations per article;
        # it copies the values, so it lives only while the index hashes its bands
        m = LeanMinHash(seed=SEED, hashvalues=values, scheme=SCHEME)
        candidates = sorted(
            c for c in lsh.query(m) if _jaccard(signature_of[c], m.hashvalues) >= threshold
        )
        if candidates:
            first = candidates[0]
            out[article_id] = out.get(first, first)  # point at the earliest copy of the cluster
        lsh.insert(article_id, m, check_duplication=False)  # ids are unique
        signature_of[article_id] = np.asarray(values, dtype=np.uint64)  # a copy only if not
    return out


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The estimate MinHash.jaccard computes (same seed and scheme: one build's signatures)."""
    return float(np.count_nonzero(a == b)) / float(len(a))
