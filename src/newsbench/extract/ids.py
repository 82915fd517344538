"""Ids of the automatic rows, derived from content so they are stable across rebuilds.

Never from row order, worker scheduling or randomness: the same articles always give the same
ids, and an unchanged article keeps its ids when other articles are added or removed (except
entity and cluster ids, which depend on what is merged with what).

- quote_id   = "q-" + sha1(f"{article_id}|auto|{text}|{occurrence}")[:16]
- claim_id   = "c-" + the same
  occurrence: index of the row among rows with identical text in that article, by offset.
- entity_id  = "e-" + sha1(f"{type}|{canonical name}")[:16]; distinct entities that share type
  and name (two unrelated people called "Brown") get "|2", "|3", ... in order of first mention.
- cluster id = "qc-"/"cc-" + sha1 of the cluster's smallest member id [:16].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from newsbench.ids import occurrence_ids as shared_occurrence_ids
from newsbench.ids import sha1_prefix


def occurrence_ids(prefix: str, article_id: str, texts: Sequence[str]) -> list[str]:
    """Ids of automatic rows: see newsbench.ids (one formula for gold and auto rows)."""
    return shared_occurrence_ids(prefix, article_id, "auto", texts)


def entity_id(entity_type: str, name: str, rank: int = 1) -> str:
    """Id of an entity; `rank` > 1 for the later of several distinct entities with one name."""
    key = f"{entity_type}|{name}" if rank <= 1 else f"{entity_type}|{name}|{rank}"
    return f"e-{sha1_prefix(key)}"


def cluster_id(prefix: str, member_ids: Iterable[str]) -> str:
    """Id of a cluster: a hash of its smallest member id, so it does not depend on row order."""
    return f"{prefix}-{sha1_prefix(min(member_ids))}"
