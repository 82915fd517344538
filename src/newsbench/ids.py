"""Ids derived from content, so they are stable across rebuilds and across versions (as dolma).

Never from row order, worker scheduling or randomness: the same articles always give the same
ids, and an unchanged article keeps its quote and claim ids when others are added or removed.

- quote_id / claim_id = "q-" / "c-" + sha1(f"{article_id}|{origin}|{text}|{occurrence}")[:16],
  where occurrence is the row's index among rows with identical text in that article, by offset.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

ID_LENGTH = 16


def sha1_prefix(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:ID_LENGTH]


def occurrence_ids(prefix: str, article_id: str, origin: str, texts: Sequence[str]) -> list[str]:
    """Ids for rows of one article given in offset order; repeats are told apart by occurrence."""
    seen: dict[str, int] = defaultdict(int)
    ids = []
    for text in texts:
        ids.append(f"{prefix}-{sha1_prefix(f'{article_id}|{origin}|{text}|{seen[text]}')}")
        seen[text] += 1
    return ids
