"""Cross-article linking: canonical entities, quote clusters and claim clusters.

Input: the per-article extractions (newsbench.extract.extract_article) and the articles.
Output: rows of the entities, quotes and claims tables with exactly the schema's columns,
origin "auto", deterministic in order and ids (newsbench.extract.ids).

Entities. In-article chains are merged across articles by their alias-resolved match key
(newsbench.extract.names.match_key), then by string similarity within blocks that share a
surname or a first word (rapidfuzz, same type; `name_links`, a reduce per block), then a
chain that only ever gives a surname joins the one full name with that surname in its story.
A person never merges with a place; a person and an organisation with the same name only
within one story (where it is the NER mistyping "Trump" as ORG, not Harrison Ford and the Ford
company). Each of these steps is a keyed reduce returning links; entities are the connected
components of the links, and the chains, mentions and entity rows are sorted on disk.

Speakers and claimants. A chain key becomes the canonical entity; a definite description of an
office ("the Syrian information minister") becomes the person written with that title elsewhere
in the story ("Information Minister Hamza al-Mustafa") when exactly one person holds it.

Clusters. Rows cut from one attributed sentence (same cue verb) are one remark. Quotes and
claims are compared only inside a story (articles without a story id form
one pool), and inside large blocks only through shared rare words (an inverted index), never
all pairs of a corpus. Quotes: fuzzy token overlap, including a short quote contained in a
longer version of the remark. Claims: idf-weighted overlap of content lemmas, canonical
entities and event classes (host ~ meet, data/claim_lexicon.yaml), numbers must agree,
average-link clustering. A block of more than cluster_spilled.LARGE_BLOCK_ROWS rows (the pool,
at scale) gets the same clusters from newsbench.cluster_spilled, out of core.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
import sys
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from newsbench import cluster_spilled
from newsbench.extract.claims import claim_lexicon
from newsbench.extract.ids import cluster_id, entity_id, occurrence_ids
from newsbench.extract.names import fold, is_acronym
from newsbench.extract.records import (
    ArticleExtraction,
    ArticleInput,
    Chain,
    as_article_input,
)
from newsbench.spill import (
    BATCH_ROWS,
    SpilledTable,
    key_groups,
    rebatched,
    reduce_by_key,
    value_counts,
)
from newsbench.tables import arrow_schema, load_catalog

ORIGIN = "auto"
# Row columns come from the one schema declaration (schema/tables.yaml).
ENTITY_COLUMNS = tuple(load_catalog()["entities"].column_names)
QUOTE_COLUMNS = tuple(load_catalog()["quotes"].column_names)
CLAIM_COLUMNS = tuple(load_catalog()["claims"].column_names)
_SCHEMAS = {name: arrow_schema(load_catalog()[name]) for name in ("entities", "quotes", "claims")}
# Types a different-but-similar name may be merged across ("White House" ORG ~ FAC).
_FUZZY_COMPATIBLE = frozenset({frozenset({"ORG", "FAC"})})
_PERSON_NOT = frozenset({"GPE", "LOC"})  # never the same referent as a person
ENTITY_FUZZY_MIN = 92.0
ENTITY_FUZZY_MIN_CHARS = 8
QUOTE_MIN = 80.0
QUOTE_SHORT_WORDS = 3
CLAIM_MIN = 0.22
CLAIM_NUMBER_ONE_SIDED = 0.6
CLAIM_MIN_SHARED = 2
BLOCK_ALL_PAIRS = 300  # above this many items, candidates come from the inverted index
MAX_POSTING = 40  # words in more items than this do not make candidates


class UnionFind:
    """Disjoint sets over hashable items; the smallest item is a set's representative."""

    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def add(self, item: Hashable) -> None:
        self.parent.setdefault(item, item)

    def find(self, item: Hashable) -> Hashable:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            low, high = sorted((ra, rb), key=repr)
            self.parent[high] = low


# reduce(fn, keys, key column): fn over all the rows of each key value (newsbench.spill's
# reduce_by_key locally, a groupby over hash buckets of keys on Ray)
Reduce = Callable[[Callable[[pa.Table], pa.Table], SpilledTable, str], Iterable[pa.Table]]

# --- entities --------------------------------------------------------------------------------

# Entity linking holds integers per chain in memory (its links, their components, a sort order:
# about 50 bytes a chain); the chains, their mentions and the entity rows are spilled and sorted
# on disk (newsbench.spill), and every step that groups chains is a keyed reduce.
#
# Chains are nodes, numbered in (article_id, chain key) order: linking's first pass reads the
# articles in id order and each article's chains in key order, and its second pass recounts
# them the same way, so a node's number is never stored with its key.

# One row per chain, in node order.
CHAINS = pa.schema(
    [
        ("node", pa.int64()),
        ("story", pa.string()),
        ("type", pa.string()),
        ("match_key", pa.string()),
        ("surname_only", pa.bool_()),
        ("alias_type", pa.string()),
        ("titles", pa.list_(pa.string())),
    ]
)
# One row per mention of a chain, with its chain's type (what the entity's type is voted by).
MENTIONS = pa.schema(
    [
        ("node", pa.int64()),
        ("article_id", pa.string()),
        ("char_start", pa.int64()),
        ("char_end", pa.int64()),
        ("text", pa.string()),
        ("type", pa.string()),
    ]
)
# Steps 1 and 2 (`name_links`): one row per chain that gives a full name (a person's) or any
# name (the rest), in a block of its surname (persons, "P:") or first word (others, "N:").
NAME_KEYS = pa.schema(
    [("block", pa.string()), ("key", pa.string()), ("type", pa.string()), ("node", pa.int64())]
)
NAME_PAIRS = pa.schema([("a", pa.int64()), ("b", pa.int64())])
# Step 1b (`story_type_links`): chains of a story that may name a person, grouped by story and
# key; `person` says whether the chain is typed as one.
STORY_NAMES = pa.schema([("group", pa.string()), ("node", pa.int64()), ("person", pa.bool_())])
# Step 3 (`surname_links`): persons grouped by scope (a story, or the pool) and surname; a full
# name carries its entity so far, a surname-only chain its key.
SURNAMES = pa.schema(
    [
        ("group", pa.string()),
        ("node", pa.int64()),
        ("entity", pa.int64()),
        ("key", pa.string()),
        ("surname_only", pa.bool_()),
        ("in_story", pa.bool_()),
    ]
)
# An entity's parts, grouped by entity on disk: its mentions (article_id set) and the alias
# types of its chains (alias_type set).
ENTITY_PARTS = pa.schema(
    [
        ("entity", pa.int64()),
        ("article_id", pa.string()),
        ("char_start", pa.int64()),
        ("char_end", pa.int64()),
        ("text", pa.string()),
        ("type", pa.string()),
        ("alias_type", pa.string()),
    ]
)
# An entity's row before its id, in entity order, with what ranks it among entities of one
# type and name (its first mention).
_DRAFT_EXTRA = [
    ("entity", pa.int64()),
    ("first_article", pa.string()),
    ("first_start", pa.int64()),
    ("first_end", pa.int64()),
    ("first_text", pa.string()),
]
ENTITY_DRAFTS = pa.schema(
    [f for f in _SCHEMAS["entities"] if f.name != "entity_id"]
    + [pa.field(name, kind) for name, kind in _DRAFT_EXTRA]
)
# What the second pass reads of each chain's entity, in node order.
NODE_ENTITIES = pa.schema(
    [
        ("node", pa.int64()),
        ("entity_id", pa.string()),
        ("name", pa.string()),
        ("type", pa.string()),
    ]
)
_SEP = "\x1f"  # joins the parts of a composite reduce key
# Entity rows carry every mention, so their spill buffer is kept short: it holds rows as dicts.
DRAFT_BATCH_ROWS = 256
LARGE_ENTITY_PARTS = 2000  # an entity with more parts than this is drafted with Arrow


@dataclass(frozen=True, slots=True)
class _Entity:
    entity_id: str
    name: str
    type: str


def _full_form(text: str, entity_type: str) -> bool:
    if is_acronym(text):
        return False
    return entity_type != "PERSON" or len(text.split()) >= 2


def _canonical_name(mentions: list[tuple[str, int, str]], entity_type: str) -> str:
    """Most frequent full form; a tie goes to the first in (article_id, offset) order."""
    ordered = sorted(mentions)
    full = [m[2] for m in ordered if _full_form(m[2], entity_type)] or [m[2] for m in ordered]
    counts = Counter(full)
    first = {}
    for n, text in enumerate(full):
        first.setdefault(text, n)
    return min(counts, key=lambda t: (-counts[t], first[t]))


def _fuzzy_type_ok(a: str, b: str) -> bool:
    return a == b or frozenset({a, b}) in _FUZZY_COMPATIBLE


def _article_chains(ex: ArticleExtraction) -> list[Chain]:
    """An article's chains in node order: by key (of two with one key, the later counts)."""
    by_key = {chain.key: chain for chain in ex.chains}
    return [by_key[key] for key in sorted(by_key)]


def _entity_input(
    extractions: Iterable[ArticleExtraction], story: Mapping[str, str | None]
) -> tuple[SpilledTable, SpilledTable]:
    """Linking's first pass: every chain (CHAINS) and every mention of a chain (MENTIONS),
    spilled. A mention outside every chain is in no entity."""
    chains = SpilledTable(CHAINS)
    mentions = SpilledTable(MENTIONS)
    previous: str | None = None
    for ex in extractions:
        if previous is not None and ex.article_id <= previous:
            raise ValueError(
                f"linking reads articles in id order: {ex.article_id!r} came after {previous!r}"
            )
        previous = ex.article_id
        node_of: dict[str, tuple[int, str]] = {}
        for chain in _article_chains(ex):
            node_of[chain.key] = (len(chains), chain.type)
            chains.append(
                {
                    "node": len(chains),
                    "story": story.get(ex.article_id),
                    "type": chain.type,
                    "match_key": chain.match_key,
                    "surname_only": chain.surname_only,
                    "alias_type": chain.alias_type,
                    "titles": list(chain.titles or ()),
                }
            )
        for m in ex.mentions:
            found = node_of.get(m.chain)
            if found is not None:
                mentions.append(
                    {
                        "node": found[0],
                        "article_id": ex.article_id,
                        "char_start": m.char_start,
                        "char_end": m.char_end,
                        "text": m.text,
                        "type": found[1],
                    }
                )
    return chains.seal(), mentions.seal()


class _Links:
    """Edges between chains (node numbers) as two integer arrays: 16 bytes a link."""

    def __init__(self) -> None:
        self.a = array("q")
        self.b = array("q")

    def extend(self, pairs: pa.Table) -> None:
        """The (a, b) rows of a NAME_PAIRS table, self-links dropped."""
        a = pairs.column("a").to_numpy()
        b = pairs.column("b").to_numpy()
        keep = a != b
        self.a.frombytes(np.ascontiguousarray(a[keep], np.int64).tobytes())
        self.b.frombytes(np.ascontiguousarray(b[keep], np.int64).tobytes())

    def components(self, n: int) -> np.ndarray:
        """Each node's entity so far: the smallest node of its connected component."""
        return _components(n, np.frombuffer(self.a, np.int64), np.frombuffer(self.b, np.int64))


def _chain_rows(chains: SpilledTable, *columns: str) -> Iterator[tuple[Any, ...]]:
    """Some columns of the chain table, row by row as tuples, in node order."""
    for batch in chains.batches():
        yield from zip(*(batch.column(c).to_pylist() for c in columns), strict=True)


def _scope(story_id: str | None) -> str:
    return f"story:{story_id}" if story_id is not None else "pool"


def _link_entities(chains: SpilledTable, reduce: Reduce = reduce_by_key) -> np.ndarray:
    """Which chains are one entity: for each node, the first node of its entity. Every step
    that groups chains is a keyed `reduce` whose output is links (node pairs); entities are the
    connected components of the links."""
    n = len(chains)
    links = _Links()
    # 1. Equal keys (persons with full names everywhere, other names everywhere) and 2.
    #    similar keys inside a block: one reduce by block. 1b. A person and a non-place of
    #    the same name within one story: a reduce by (story, key).
    with SpilledTable(NAME_KEYS) as names, SpilledTable(STORY_NAMES) as in_story:
        for node, sid, kind, key, surname_only in _chain_rows(
            chains, "node", "story", "type", "match_key", "surname_only"
        ):
            if sid is not None and kind not in _PERSON_NOT:
                in_story.append(
                    {"group": f"story:{sid}{_SEP}{key}", "node": node, "person": kind == "PERSON"}
                )
            if kind == "PERSON" and surname_only:
                continue
            names.append({"block": _name_block(kind, key), "key": key, "type": kind, "node": node})
        for pairs in reduce(name_links, names.seal(), "block"):
            links.extend(pairs)
        for pairs in reduce(story_type_links, in_story.seal(), "group"):
            links.extend(pairs)
    # 3. Surname-only persons: the one full name with that surname in their story.
    entity = links.components(n)
    with SpilledTable(SURNAMES) as surnames:
        for node, sid, kind, key, surname_only in _chain_rows(
            chains, "node", "story", "type", "match_key", "surname_only"
        ):
            if kind != "PERSON" or not (surname_only or key):
                continue
            surname = key.split()[-1] if key else ""
            surnames.append(
                {
                    "group": f"{_scope(sid)}{_SEP}{surname}",
                    "node": node,
                    "entity": None if surname_only else int(entity[node]),
                    "key": key,
                    "surname_only": surname_only,
                    "in_story": sid is not None,
                }
            )
        del entity
        for pairs in reduce(surname_links, surnames.seal(), "group"):
            links.extend(pairs)
    return links.components(n)


def _name_block(kind: str, key: str) -> str:
    """A name's block: a person's surname, another name's first word ("P:" or "N:" alone for
    a key without words, which only equal keys join)."""
    prefix = "P" if kind == "PERSON" else "N"
    words = key.split()
    if not words:
        return f"{prefix}:"
    return f"{prefix}:{words[-1] if prefix == 'P' else words[0]}"


def _pairs(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> pa.Table:
    return pa.table(
        [pa.array(np.asarray(a, np.int64)), pa.array(np.asarray(b, np.int64))], schema=NAME_PAIRS
    )


def _rows(table: pa.Table, *columns: str) -> list[tuple[Any, ...]]:
    """Some columns of a reduce's rows as sorted tuples (most reduces see a handful of rows:
    Python beats Arrow's fixed cost per call there)."""
    return sorted(zip(*(table.column(c).to_pylist() for c in columns), strict=True))


def name_links(chains: pa.Table) -> pa.Table:
    """Links of steps 1 and 2 among the NAME_KEYS rows (one per chain) of whole blocks: every
    chain to the first chain (smallest node) of its key, and the first chains of keys that
    are one name written differently (`_similar_pairs`). A pure reduce, as cluster_quotes."""
    found_a: list[int] = []
    found_b: list[int] = []
    firsts: list[tuple[str, str, int, str]] = []  # the first chain of each key with words
    for (_, key), group in itertools.groupby(
        _rows(chains, "block", "key", "node", "type"), key=lambda r: r[:2]
    ):
        first, *rest = group
        found_a += [first[2]] * len(rest)
        found_b += [row[2] for row in rest]
        if key.split():
            firsts.append(first)
    similar_a, similar_b = _similar_pairs(firsts)
    return _pairs(found_a + similar_a, found_b + similar_b)


def story_type_links(chains: pa.Table) -> pa.Table:
    """Step 1b among STORY_NAMES rows: where one story names both a person and a non-place
    with one key (the NER typing "Trump" as ORG), all its chains of that key join the first."""
    found_a: list[int] = []
    found_b: list[int] = []
    for _, group in itertools.groupby(_rows(chains, "group", "node", "person"), key=lambda r: r[0]):
        members = list(group)
        if len({person for _, _, person in members}) == 2:  # both kinds
            found_a += [members[0][1]] * (len(members) - 1)
            found_b += [node for _, node, _ in members[1:]]
    return _pairs(found_a, found_b)


def surname_links(persons: pa.Table) -> pa.Table:
    """Step 3 among SURNAMES rows: a surname-only chain joins the one full name (entity so
    far) with that surname in its scope; failing that, in a story, the first surname-only chain
    with its key."""
    found_a: list[int] = []
    found_b: list[int] = []
    rows = _rows(persons, "group", "node", "entity", "key", "surname_only", "in_story")
    for _, group in itertools.groupby(rows, key=lambda r: r[0]):
        members = list(group)
        roots = {entity for _, _, entity, _, only, _ in members if not only}
        first_of: dict[str, int] = {}
        for _, node, _, key, only, in_story in members:
            if not only:
                continue
            if len(roots) == 1 and len(key.split()) == 1:
                found_a.append(next(iter(roots)))
                found_b.append(node)
            elif in_story and first_of.setdefault(key, node) != node:
                found_a.append(first_of[key])
                found_b.append(node)
    return _pairs(found_a, found_b)


def _similar_pairs(keys: list[tuple[str, str, int, str]]) -> tuple[list[int], list[int]]:
    """Step 2 over (block, key, node, type) tuples sorted by block and key, one per key: all
    pairs of a block of at most BLOCK_ALL_PAIRS keys (a larger block, a common surname or first
    word, is skipped) of one type (or ORG ~ FAC), first initial (persons) and a fuzzy match."""
    found_a: list[int] = []
    found_b: list[int] = []
    for block, group in itertools.groupby(keys, key=lambda r: r[0]):
        members = list(group)
        if len(members) < 2 or len(members) > BLOCK_ALL_PAIRS:
            continue
        person = block.startswith("P:")
        for i, (_, a, a_node, a_type) in enumerate(members):
            for _, b, b_node, b_type in members[i + 1 :]:
                if min(len(a), len(b)) < ENTITY_FUZZY_MIN_CHARS:
                    continue
                if not _fuzzy_type_ok(a_type, b_type):
                    continue
                if person and a.split()[0][:1] != b.split()[0][:1]:
                    continue  # different first names
                if fuzz.ratio(a, b) >= ENTITY_FUZZY_MIN:
                    found_a.append(a_node)
                    found_b.append(b_node)
    return found_a, found_b


def _entity_parts(chains: SpilledTable, mentions: SpilledTable, entity: np.ndarray) -> SpilledTable:
    """ENTITY_PARTS rows (each chain's mentions and alias type, with its entity), sorted by
    entity on disk."""
    parts = SpilledTable(ENTITY_PARTS)
    with parts:
        for batch in mentions.batches():
            labels = pa.array(entity[batch.column("node").to_numpy()])
            columns = {name: batch.column(name) for name in MENTIONS.names if name != "node"}
            alias = pa.nulls(batch.num_rows, pa.string())
            parts.write(pa.table({"entity": labels, **columns, "alias_type": alias}))
        for batch in chains.batches():
            aliased = batch.filter(pc.is_valid(batch.column("alias_type")))
            if aliased.num_rows:
                k = aliased.num_rows
                parts.write(
                    pa.table(
                        {
                            "entity": pa.array(entity[aliased.column("node").to_numpy()]),
                            "article_id": pa.nulls(k, pa.string()),
                            "char_start": pa.nulls(k, pa.int64()),
                            "char_end": pa.nulls(k, pa.int64()),
                            "text": pa.nulls(k, pa.string()),
                            "type": pa.nulls(k, pa.string()),
                            "alias_type": aliased.column("alias_type"),
                        }
                    )
                )
        return parts.sorted_by("entity")


def _entity_drafts(parts: SpilledTable, places: set[str]) -> SpilledTable:
    """One ENTITY_DRAFTS row per entity with mentions, in entity order, from its parts; adds
    the words of every place (GPE, NORP) name to `places`, for the office holders.

    An entity of many mentions (a country's name, say: its mentions grow with the corpus) is
    made with Arrow (`_large_draft`), at some 60 bytes a mention rather than a kilobyte of
    Python objects; the rest, most of them, with Python (`_draft`), which is faster for few.
    """
    drafts = SpilledTable(ENTITY_DRAFTS, batch_rows=DRAFT_BATCH_ROWS)
    for group in key_groups(parts.batches(), "entity"):
        if group.num_rows > LARGE_ENTITY_PARTS:
            large = _large_draft(group, places)
            if large is not None:
                drafts.write(large)  # after the rows pending: entity order is kept
            continue
        row = _draft(group, places)
        if row is not None:
            drafts.append(row)
    return drafts.seal()


def _entity_type(votes: Mapping[str, int], alias_types: list[str]) -> str:
    """The type most of the mentions' chains give (the alias table's, unless mostly persons)."""
    if alias_types and votes.get("PERSON", 0) * 2 <= sum(votes.values()):
        return alias_types[0]
    return min(votes, key=lambda t: (-votes[t], t))


def _draft(group: pa.Table, places: set[str]) -> dict[str, Any] | None:
    """One entity's ENTITY_DRAFTS row from its ENTITY_PARTS rows, with Python objects."""
    columns = {c: group.column(c).to_pylist() for c in ENTITY_PARTS.names}
    said = [
        (a, s, e, t, kind)
        for a, s, e, t, kind in zip(
            columns["article_id"],
            columns["char_start"],
            columns["char_end"],
            columns["text"],
            columns["type"],
            strict=True,
        )
        if a is not None
    ]
    if not said:
        return None
    mentions = sorted({m[:4] for m in said})
    votes = Counter(m[4] for m in said)  # a chain votes its type once per mention
    entity_type = _entity_type(votes, sorted({a for a in columns["alias_type"] if a}))
    name = _canonical_name([(m[0], m[1], m[3]) for m in mentions], entity_type)
    if entity_type in ("GPE", "NORP"):
        places.update(_OfficeHolders.word(w) for m in mentions for w in m[3].split())
    first = mentions[0]
    return {
        "name": name,
        "type": entity_type,
        "aliases": sorted({m[3] for m in mentions}),
        "mentions": [
            {"article_id": a, "char_start": s, "char_end": e, "text": t} for a, s, e, t in mentions
        ],
        "n_articles": len({m[0] for m in mentions}),
        "origin": ORIGIN,
        "entity": columns["entity"][0],
        "first_article": first[0],
        "first_start": first[1],
        "first_end": first[2],
        "first_text": first[3],
    }


_MENTION_KEYS = ["article_id", "char_start", "char_end", "text"]


def _large_draft(group: pa.Table, places: set[str]) -> pa.Table | None:
    """`_draft` with Arrow: the same row, as a one-row ENTITY_DRAFTS table. Python objects are
    made for the entity's distinct texts only, never for each mention."""
    said = group.filter(pc.is_valid(group.column("article_id")))
    if not said.num_rows:
        return None
    mentions = (
        said.select(_MENTION_KEYS)
        .group_by(_MENTION_KEYS, use_threads=False)
        .aggregate([])
        .sort_by([(k, "ascending") for k in _MENTION_KEYS])  # code-point order, as `sorted`
    )
    counted = pc.value_counts(said.column("type")).flatten()
    votes = dict(zip(counted[0].to_pylist(), counted[1].to_pylist(), strict=True))
    alias_types = sorted(a for a in pc.unique(group.column("alias_type")).to_pylist() if a)
    entity_type = _entity_type(votes, alias_types)
    # _canonical_name over the distinct texts: how many mentions each has, and its first
    # (article_id, offset), which is its first row in the sorted mentions
    encoded = pc.dictionary_encode(mentions.column("text")).combine_chunks()
    which = encoded.indices.to_numpy()
    texts = encoded.dictionary.to_pylist()
    counts = np.bincount(which, minlength=len(texts)).tolist()
    first_row = np.full(len(texts), len(which), dtype=np.int64)
    np.minimum.at(first_row, which, np.arange(len(which)))
    article_of = mentions.column("article_id").take(pa.array(first_row)).to_pylist()
    start_of = mentions.column("char_start").take(pa.array(first_row)).to_pylist()
    full = [k for k, t in enumerate(texts) if _full_form(t, entity_type)] or range(len(texts))
    best = min(full, key=lambda k: (-counts[k], article_of[k], start_of[k], texts[k]))
    if entity_type in ("GPE", "NORP"):
        places.update(_OfficeHolders.word(w) for t in texts for w in t.split())
    first = mentions.slice(0, 1).to_pylist()[0]
    mention_type = ENTITY_DRAFTS.field("mentions").type
    entry = pa.StructArray.from_arrays(
        [mentions.column(k).combine_chunks() for k in _MENTION_KEYS], names=_MENTION_KEYS
    ).cast(mention_type.value_type)
    row = {
        "name": [texts[best]],
        "type": [entity_type],
        "aliases": [sorted(texts)],
        "mentions": pa.ListArray.from_arrays(pa.array([0, len(entry)], pa.int32()), entry),
        "n_articles": [pc.count_distinct(mentions.column("article_id")).as_py()],
        "origin": [ORIGIN],
        "entity": [group.column("entity")[0].as_py()],
        "first_article": [first["article_id"]],
        "first_start": [first["char_start"]],
        "first_end": [first["char_end"]],
        "first_text": [first["text"]],
    }
    return pa.table(
        [
            row[f.name] if isinstance(row[f.name], pa.Array) else pa.array(row[f.name], f.type)
            for f in ENTITY_DRAFTS
        ],
        schema=ENTITY_DRAFTS,
    )


_RANKS = pa.schema([("entity", pa.int64()), ("entity_id", pa.string())])


def _entity_ids(drafts: SpilledTable) -> SpilledTable:
    """Each draft's entity id, in entity order: distinct entities with one type and name are
    ranked by their first mention (unique to its entity: no ties). Sorted on disk by name,
    ranked within a name, sorted back by entity."""
    wanted = ["entity", "name", "type", "first_article", "first_start", "first_end", "first_text"]
    narrow = SpilledTable(pa.schema([ENTITY_DRAFTS.field(c) for c in wanted]))
    with narrow:
        for batch in drafts.batches():
            narrow.write(batch.select(wanted))
        ids = SpilledTable(_RANKS)
        with ids, narrow.sorted_by("name") as by_name:
            for group in key_groups(by_name.batches(), "name"):
                rows = sorted(
                    zip(*(group.column(c).to_pylist() for c in wanted), strict=True),
                    key=lambda r: (r[2], r[3], r[4], r[5], r[6]),
                )
                rank: Counter[str] = Counter()
                for row in rows:
                    rank[row[2]] += 1
                    ids.append(
                        {"entity": row[0], "entity_id": entity_id(row[2], row[1], rank[row[2]])}
                    )
            return ids.sorted_by("entity")


def _spill_entities(
    chains: SpilledTable, mentions: SpilledTable, entity: np.ndarray
) -> tuple[SpilledTable, SpilledTable, set[str]]:
    """The entity rows (ENTITY_COLUMNS, in id order), each chain's entity (NODE_ENTITIES, in
    node order; chains of an entity without mentions have none) and the words of every place
    name. Memory holds one entity's parts, a sort's budget, and integers per chain."""
    places: set[str] = set()
    with _entity_parts(chains, mentions, entity) as parts:
        drafts = _entity_drafts(parts, places)
    unsorted = SpilledTable(_SCHEMAS["entities"])
    info = SpilledTable(NODE_ENTITIES)  # written in entity order, then sorted by node
    order = np.argsort(entity, kind="stable")  # nodes by entity
    by_entity = entity[order]
    with drafts, _entity_ids(drafts) as ids, unsorted, info:
        pairs = zip(
            rebatched(drafts.batches(), BATCH_ROWS),
            rebatched(ids.batches(), BATCH_ROWS),
            strict=True,
        )
        for draft, found in pairs:
            labels = draft.column("entity").to_numpy()
            if not np.array_equal(labels, found.column("entity").to_numpy()):
                raise RuntimeError("entity ids out of step with the entity rows")
            eids = found.column("entity_id")
            unsorted.write(
                pa.table(
                    [eids if c == "entity_id" else draft.column(c) for c in ENTITY_COLUMNS],
                    schema=_SCHEMAS["entities"],
                )
            )
            # each entity's chains are its run in `order`: expand the runs, one row a chain
            low = np.searchsorted(by_entity, labels, side="left")
            counts = np.searchsorted(by_entity, labels, side="right") - low
            owner = np.repeat(np.arange(len(labels)), counts)
            offsets = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
            info.write(
                pa.table(
                    {
                        "node": pa.array(order[np.repeat(low, counts) + offsets]),
                        "entity_id": eids.take(pa.array(owner)),
                        "name": draft.column("name").take(pa.array(owner)),
                        "type": draft.column("type").take(pa.array(owner)),
                    },
                    schema=NODE_ENTITIES,
                )
            )
        return unsorted.sorted_by("entity_id"), info.sorted_by("node"), places


class _NodeEntities:
    """A cursor over NODE_ENTITIES rows in node order: the entities of the next nodes."""

    def __init__(self, table: SpilledTable) -> None:
        self._rows = itertools.chain.from_iterable(
            zip(*(b.column(c).to_pylist() for c in NODE_ENTITIES.names), strict=True)
            for b in table.batches()
        )
        self._next: tuple[int, str, str, str] | None = next(self._rows, None)

    def upto(self, end: int) -> dict[int, _Entity]:
        """The entities of the nodes before `end` not yet read."""
        found = {}
        while self._next is not None and self._next[0] < end:
            node, eid, name, kind = self._next
            found[node] = _Entity(eid, name, kind)
            self._next = next(self._rows, None)
        return found


class _OfficeHolders:
    """ "the Syrian information minister" → the person written as "Information Minister Hamza
    al-Mustafa" in the same story (or article): the office words must be equal, and place
    words, when both sides have them, must agree. Ambiguous offices resolve to nobody."""

    _DROP = frozenset({"the", "a", "an", "his", "her", "its", "their", "former", "then"})

    def __init__(self, places: set[str]) -> None:
        self.places = places  # words of place names (GPE, NORP), as `word` folds them
        self.holders: dict[str, list[tuple[frozenset[str], frozenset[str], _Entity]]] = defaultdict(
            list
        )

    @staticmethod
    def scope(article_id: str, story_id: str | None) -> str:
        return f"story:{story_id}" if story_id is not None else f"article:{article_id}"

    def add(self, scope: str, titles: Iterable[str], entity: _Entity | None) -> None:
        """A chain's titles, if its entity is a person."""
        if entity is None or entity.type != "PERSON":
            return
        for title in titles:
            core, places = self._split(title)
            if core:
                self.holders[scope].append((core, places, entity))

    def forget(self, scope: str) -> None:
        self.holders.pop(scope, None)

    @staticmethod
    def word(text: str) -> str:
        return fold(text).replace(".", "").strip("'’s")

    def _split(self, phrase: str) -> tuple[frozenset[str], frozenset[str]]:
        words = [self.word(w) for w in phrase.split()]
        words = [w for w in words if w and w not in self._DROP]
        places = frozenset(w for w in words if w in self.places)
        return frozenset(w for w in words if w not in self.places), places

    def resolve(self, scope: str, description: str | None) -> _Entity | None:
        if not description or not description.lower().startswith("the "):
            return None
        core, places = self._split(description)
        if not core:
            return None
        found = {
            e.entity_id: e
            for c, p, e in self.holders.get(scope, [])
            if c == core and (not places or not p or places & p)
        }
        return next(iter(found.values())) if len(found) == 1 else None


def _story_offices(
    chains: SpilledTable, node_entities: SpilledTable, places: set[str]
) -> _OfficeHolders:
    """Office holders of every story (their titles are compared across the story's articles);
    an article without a story has its own, added while it is read."""
    offices = _OfficeHolders(places)
    entities = _NodeEntities(node_entities)
    for node, sid, titles in _chain_rows(chains, "node", "story", "titles"):
        found = entities.upto(node + 1).get(node)
        if sid is not None and titles:
            offices.add(f"story:{sid}", titles, found)
    return offices


# --- clustering helpers ----------------------------------------------------------------------


def block_of(story_id: str | None) -> str:
    """The block an article's quotes and claims are compared in: its story, or the pool of
    articles without one. Blocks are independent, so clustering is partitioned by block."""
    return "pool" if story_id is None else "story:" + story_id


def _blocks(block_names: Sequence[str]) -> list[list[int]]:
    """Indices grouped by block, blocks in name order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(block_names):
        groups[name].append(i)
    return [groups[k] for k in sorted(groups)]


def _candidate_pairs(
    block: list[int], tokens: Callable[[int], Collection[str]]
) -> Iterator[tuple[int, int]]:
    """All pairs of a small block; in a large one, pairs sharing a word that is not common.

    Pairs come in ascending order, one item's partners at a time, so memory holds one item's
    candidates rather than every pair of the block. `tokens(i)` gives item i's words (made on
    demand: only the items compared need them).
    """
    if len(block) <= BLOCK_ALL_PAIRS:
        for n, a in enumerate(block):
            for b in block[n + 1 :]:
                yield a, b
        return
    ordered = sorted(block)
    postings: dict[str, list[int]] = defaultdict(list)
    for i in ordered:
        for t in tokens(i):
            postings[t].append(i)
    for a in ordered:
        partners: set[int] = set()
        for t in tokens(a):
            ids = postings[t]
            if 1 < len(ids) <= MAX_POSTING:
                partners.update(b for b in ids if b > a)
        for b in sorted(partners):
            yield a, b


def _grouped(block: list[int], key_of: Callable[[int], Hashable | None]) -> tuple[list[int], Any]:
    """Items of a block grouped by an exact comparison key: the representatives (each group's
    first item, in block order) and, for each item of the block, the index of its group.

    The reduce-by-key before any pairwise work: syndicated copies and repeated remarks compare
    equal to each other and alike to everything else, so only one of them is compared, however
    many copies a large corpus holds (an inverted index alone would drop their words as too
    common). An item whose key is None is a group of its own. Groups are an integer array, not
    a list of members each: in a large block most groups have one.
    """
    first: dict[Hashable, int] = {}
    reps: list[int] = []
    group = array("i")
    for i in block:
        key = key_of(i)
        k = len(reps) if key is None else first.setdefault(key, len(reps))
        if k == len(reps):
            reps.append(i)
        group.append(k)
    return reps, np.frombuffer(group, dtype=np.int32)


def _average_link(
    n: int,
    edges: Mapping[tuple[int, int], float],
    threshold: float,
    sizes: Sequence[int] | None = None,
) -> list[int]:
    """Average-link clustering over a sparse similarity graph (a missing edge counts as 0).

    Items may start as groups (`sizes`, default 1 each); an edge then holds the sum of the
    similarities between the two groups' members. Returns a label per item: the smallest item
    index of its cluster.
    """
    size = {i: (sizes[i] if sizes is not None else 1) for i in range(n)}
    weight: dict[int, dict[int, float]] = defaultdict(dict)
    for (a, b), sim in edges.items():
        weight[a][b] = weight[a].get(b, 0.0) + sim
        weight[b][a] = weight[b].get(a, 0.0) + sim
    heap = [
        (-avg, a, b)
        for (a, b), total in sorted(edges.items())
        if (avg := total / (size[a] * size[b])) >= threshold
    ]
    heapq.heapify(heap)
    merged_into: dict[int, int] = {}
    while heap:
        neg, a, b = heapq.heappop(heap)
        if a in merged_into or b in merged_into:
            continue
        current = weight[a].get(b, 0.0) / (size[a] * size[b])
        if abs(current + neg) > 1e-12:  # stale entry: the clusters changed since it was pushed
            if current >= threshold:
                heapq.heappush(heap, (-current, a, b))
            continue
        keep, drop = min(a, b), max(a, b)
        merged_into[drop] = keep
        size[keep] += size.pop(drop)
        for other, w in weight.pop(drop).items():
            weight[other].pop(drop, None)
            if other != keep:
                weight[keep][other] = weight[keep].get(other, 0.0) + w
                weight[other][keep] = weight[keep][other]
        weight[keep].pop(keep, None)
        for other in sorted(weight[keep]):
            avg = weight[keep][other] / (size[keep] * size[other])
            if avg >= threshold:
                heapq.heappush(heap, (-avg, min(keep, other), max(keep, other)))

    def label(i: int) -> int:
        while i in merged_into:
            i = merged_into[i]
        return i

    return [label(i) for i in range(n)]


class _Edges:
    """A sparse similarity graph as three growing arrays (item, item, weight): 20 bytes an
    edge, where a dict of tuple keys took about 140 (and average-link's adjacency dicts as many
    again, for every edge of a block)."""

    def __init__(self) -> None:
        self.a = array("i")
        self.b = array("i")
        self.weight = array("d")

    def add(self, a: int, b: int, weight: float) -> None:
        self.a.append(a)
        self.b.append(b)
        self.weight.append(weight)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of n items joined by the edges (a, b): each item's label is the
    smallest item of its component."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    if n == 0:
        return np.empty(0, dtype=np.int64)
    graph = coo_array((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    smallest = np.full(label.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, label, np.arange(n))
    return smallest[label]


def _average_link_by_component(
    n: int, edges: _Edges, threshold: float, sizes: Sequence[int]
) -> np.ndarray:
    """_average_link, one connected component of the at-or-above-threshold graph at a time.

    The same labels as one run over the whole graph: an average at or above the threshold
    needs one pair at or above it, so no merge ever joins two components, and a component's
    merges read only edges inside it (in the same order: local indices keep the items' order).
    Memory is the edge arrays plus one component's dicts, not dicts of every edge of a block:
    in a large pool nearly every edge joins two items that never merge with anything.
    """
    a = np.frombuffer(edges.a, dtype=np.int32).astype(np.int64)
    b = np.frombuffer(edges.b, dtype=np.int32).astype(np.int64)
    weight = np.frombuffer(edges.weight, dtype=np.float64)
    size = np.asarray(sizes, dtype=np.int64)
    strong = weight / (size[a] * size[b]) >= threshold  # the same float division as Python's
    component = _components(n, a[strong], b[strong])
    inside = component[a] == component[b]
    a, b, weight = a[inside], b[inside], weight[inside]
    order = np.lexsort((b, a, component[a]))  # by component, then (a, b)
    a, b, weight = a[order], b[order], weight[order]
    edge_bounds = np.flatnonzero(np.diff(component[a])) + 1
    starts = np.concatenate(([0], edge_bounds)).astype(np.int64)
    stops = np.concatenate((edge_bounds, [len(a)])).astype(np.int64)
    # Items grouped by component (a stable sort keeps each group ascending): a component's
    # members are a slice, found by binary search, not a scan of every item per component.
    by_component = np.argsort(component, kind="stable")
    grouped = component[by_component]
    with_edges = component[a[starts[starts < stops]]] if len(a) else np.empty(0, np.int64)
    lows = np.searchsorted(grouped, with_edges, side="left").tolist()
    highs = np.searchsorted(grouped, with_edges, side="right").tolist()
    labels = np.arange(n)
    for start, stop, low, high in zip(
        starts[starts < stops].tolist(), stops[starts < stops].tolist(), lows, highs, strict=True
    ):
        members = by_component[low:high]  # ascending
        local_a = np.searchsorted(members, a[start:stop]).tolist()
        local_b = np.searchsorted(members, b[start:stop]).tolist()
        local_edges = dict(
            zip(zip(local_a, local_b, strict=True), weight[start:stop].tolist(), strict=True)
        )
        local = _average_link(len(members), local_edges, threshold, size[members].tolist())
        labels[members] = members[local]
    return labels


def _cluster_ids(prefix: str, row_ids: Iterable[str], labels: Sequence[Hashable]) -> Iterator[str]:
    """Each row's cluster id (newsbench.extract.ids.cluster_id: from the cluster's smallest
    member id), in row order. Holds the smallest id of each cluster, not every member's."""
    smallest: dict[Hashable, str] = {}
    for row_id, lab in zip(row_ids, labels, strict=True):
        if lab not in smallest or row_id < smallest[lab]:
            smallest[lab] = row_id
    ids = {lab: cluster_id(prefix, (first,)) for lab, first in smallest.items()}
    del smallest
    return (ids[lab] for lab in labels)


# --- quotes ----------------------------------------------------------------------------------

_CONTRACTIONS = (
    ("n't", " not"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'m", " am"),
    ("'d", " would"),
    ("'s", " s"),
)


def quote_words(text: str) -> str:
    """Comparison form of a quote: folded, contractions expanded, punctuation dropped."""
    folded = fold(text)
    for short, long in _CONTRACTIONS:
        folded = folded.replace(short, long)
    return " ".join(re.findall(r"\w+", folded))


def quote_similarity(a: str, b: str) -> float:
    """0-100: how surely two quote texts are the same remark (a trimmed version counts)."""
    if a == b:  # syndicated copies: the common case at scale, and the cheapest
        return 100.0 if a else 0.0
    short, long = sorted((a, b), key=lambda t: (len(t), t))
    if not short:
        return 0.0
    if len(short.split()) <= QUOTE_SHORT_WORDS:
        return 100.0 if f" {short} " in f" {long} " else 0.0
    return max(fuzz.partial_ratio(short, long), fuzz.token_sort_ratio(short, long))


def same_remark(a: str, b: str) -> bool:
    """`quote_similarity(a, b) >= QUOTE_MIN`, decided for less (most of quote clustering's
    time is this comparison, and few candidate pairs pass).

    The partial score is rapidfuzz's ratio of the shorter text against a part `w` of the
    longer one, 200 * LCS(short, w) / (len(short) + len(w)); as LCS(short, w) <= len(w), it
    reaches QUOTE_MIN only if LCS(short, long), which bounds LCS(short, w), is at least
    QUOTE_MIN / (200 - QUOTE_MIN) of the shorter text (2/3 at 80). That bit-parallel LCS is
    far cheaper than the alignment, which then runs with rapidfuzz's score cut-off.
    """
    if a == b:
        return bool(a)
    short, long = sorted((a, b), key=lambda t: (len(t), t))
    if not short:
        return False
    if len(short.split()) <= QUOTE_SHORT_WORDS:
        return f" {short} " in f" {long} "
    if fuzz.token_sort_ratio(short, long, score_cutoff=QUOTE_MIN):
        return True
    if LCSseq.similarity(short, long) * (200.0 - QUOTE_MIN) < QUOTE_MIN * len(short):
        return False
    return bool(fuzz.partial_ratio(short, long, score_cutoff=QUOTE_MIN))


def _quote_clusters(
    attributions: Sequence[tuple[str, int] | None],
    words: Sequence[str],
    speakers: Sequence[str | None],
    block_names: Sequence[str],
    row_ids: Iterable[str],
) -> Iterator[str]:
    uf = UnionFind()
    for i in range(len(words)):
        uf.add(i)

    def tokens(i: int) -> set[str]:
        return set(words[i].split())

    same_attribution: dict[tuple[str, int], int] = {}
    for i, cue in enumerate(attributions):  # rows cut from one attributed sentence: one remark
        if cue is not None:
            first = same_attribution.setdefault(cue, i)
            uf.union(first, i)

    def same_remark_key(i: int) -> Hashable | None:
        """Equal words join when comparing them would: not a short fragment without speaker."""
        if not words[i] or (len(words[i].split()) <= QUOTE_SHORT_WORDS and speakers[i] is None):
            return None
        return (words[i], speakers[i])

    for block in _blocks(block_names):
        reps, group = _grouped(block, same_remark_key)
        for i, k in zip(block, group.tolist(), strict=True):
            if i != reps[k]:
                uf.union(reps[k], i)
        for a, b in _candidate_pairs(reps, tokens):
            if uf.find(a) == uf.find(b):
                continue  # already one remark: the comparison cannot change anything
            sa, sb = speakers[a], speakers[b]
            short = min(len(words[a].split()), len(words[b].split()))
            if short <= QUOTE_SHORT_WORDS and (sa is None or sa != sb):
                continue  # a two-word fragment only joins the same speaker's longer remark
            if sa is not None and sb is not None and sa != sb:
                continue
            if same_remark(words[a], words[b]):
                uf.union(a, b)
    return _cluster_ids("qc", row_ids, [uf.find(i) for i in range(len(words))])


# --- claims ----------------------------------------------------------------------------------


def _numbers_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b:
        return True
    sa, sb = set(a), set(b)
    return sa <= sb or sb <= sa


def claim_features(lemmas: Iterable[str], entity_ids: Iterable[str]) -> set[str]:
    """What claim clustering compares: content lemmas, canonical entities ("@id") and the event
    class of each lemma that has one ("#meet" for meet/host/welcome), so that two wordings of one
    event share a feature."""
    classes = claim_lexicon().event_class
    lemmas = set(map(sys.intern, lemmas))  # a corpus's claims share a few thousand features
    return (
        lemmas
        | {sys.intern("@" + e) for e in entity_ids}
        | {sys.intern("#" + classes[t]) for t in lemmas if t in classes}
    )


def _claim_clusters(
    numbers: Sequence[tuple[str, ...]],
    features: Sequence[tuple[str, ...]],
    block_names: Sequence[str],
    row_ids: Iterable[str],
) -> Iterator[str]:
    labels = np.arange(len(features))

    def same_claim_key(i: int) -> Hashable | None:
        """Equal features and numbers: similarity 1 with each other, equal to everything else."""
        if len(features[i]) < CLAIM_MIN_SHARED:
            return None  # no edge even between equal copies
        # features are sorted: equal sets, equal tuples; numbers compare as sets
        return (features[i], tuple(sorted(set(numbers[i]))) if numbers[i] else ())

    for block in _blocks(block_names):
        df: Counter[str] = Counter()
        for i in block:
            df.update(features[i])
        n = len(block)
        idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        del df
        reps, group = _grouped(block, same_claim_key)
        sizes = np.bincount(group, minlength=len(reps)).tolist()
        edges = _Edges()
        rep_features = [features[i] for i in reps]  # the items compared, by group
        for ka, kb in _candidate_pairs(list(range(len(reps))), rep_features.__getitem__):
            a, b = reps[ka], reps[kb]
            if not _numbers_agree(numbers[a], numbers[b]):
                continue
            mine = set(features[a])
            shared = mine.intersection(features[b])
            if len(shared) < CLAIM_MIN_SHARED:
                continue  # one rare name in common is a topic, not a fact
            union = mine.union(features[b])
            # fsum: exactly rounded, so the same whatever order a set iterates in
            sim = math.fsum(idf[t] for t in shared) / math.fsum(idf[t] for t in union)
            if bool(numbers[a]) != bool(numbers[b]):
                sim *= CLAIM_NUMBER_ONE_SIDED  # a number only one side states: maybe a new fact
            if sim > 0:  # the sum over all member pairs of the two groups
                edges.add(ka, kb, sim * sizes[ka] * sizes[kb])
        del idf
        clusters = _average_link_by_component(len(reps), edges, CLAIM_MIN, sizes)
        del edges, rep_features
        # each item: the first item of its cluster's first group
        labels[block] = np.asarray(reps)[clusters][group]
    return _cluster_ids("cc", row_ids, labels.tolist())


# --- clustering, a reduce per block -----------------------------------------------------------

QUOTE_KEYS = pa.schema(
    [
        ("row", pa.int64()),
        ("quote_id", pa.string()),
        ("block", pa.string()),
        ("article_id", pa.string()),
        ("attribution", pa.int64()),
        ("words", pa.string()),
        ("speaker", pa.string()),
    ]
)
CLAIM_KEYS = pa.schema(
    [
        ("row", pa.int64()),
        ("claim_id", pa.string()),
        ("block", pa.string()),
        ("numbers", pa.list_(pa.string())),
        ("features", pa.list_(pa.string())),  # sorted
    ]
)
CLUSTERS = pa.schema([("row", pa.int64()), ("cluster_id", pa.string())])


_CONVERT_ROWS = 4096  # Arrow values turned into Python objects at once


def _values(column: pa.ChunkedArray, convert: Callable[[Any], Any] | None = None) -> Iterator[Any]:
    """A column's values, converted a slice at a time: the Python objects of a whole column's
    strings (before interning) would be the reduce's largest transient."""
    for chunk in column.chunks:
        for start in range(0, len(chunk), _CONVERT_ROWS):
            values = chunk.slice(start, _CONVERT_ROWS).to_pylist()
            yield from values if convert is None else map(convert, values)


def _intern(value: str | None) -> str | None:
    """Equal strings as one object: copies of a remark or of a claim share their keys."""
    return None if value is None else sys.intern(value)


def _by_row(keys: pa.Table) -> pa.Table:
    """The keys in row order (a copy only if they are not: the local reduce gives them so)."""
    rows = keys["row"]
    if len(rows) < 2 or pc.all(pc.less(rows[:-1], rows[1:])).as_py():
        return keys
    return keys.sort_by("row")


def _cluster_table(rows: pa.ChunkedArray, ids: Iterator[str]) -> pa.Table:
    """(row, cluster_id) from the ids as they are made, 65,536 at a time (never one list)."""
    chunks = []
    while batch := list(itertools.islice(ids, 65536)):
        chunks.append(pa.array(batch, pa.string()))
    return pa.table([rows, pa.chunked_array(chunks, pa.string())], schema=CLUSTERS)


def cluster_quotes(keys: pa.Table) -> pa.Table:
    """Quote cluster ids (row, cluster_id) of the QUOTE_KEYS rows of whole blocks, given in any
    order: a pure reduce. Blocks never share a cluster, so the result is the same whether it
    gets one block (locally) or a hash bucket of them (on Ray)."""
    keys = _by_row(keys)
    cues = zip(_values(keys["article_id"], _intern), _values(keys["attribution"]), strict=True)
    ids = _quote_clusters(
        [None if cue is None else (article_id, cue) for article_id, cue in cues],
        list(_values(keys["words"], _intern)),
        list(_values(keys["speaker"], _intern)),
        list(_values(keys["block"], _intern)),
        _values(keys["quote_id"]),
    )
    return _cluster_table(keys["row"], ids)


def cluster_claims(keys: pa.Table) -> pa.Table:
    """Claim cluster ids (row, cluster_id) of the CLAIM_KEYS rows of whole blocks, given in any
    order: a pure reduce, as cluster_quotes."""
    keys = _by_row(keys)
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # equal keys held once

    def one(values: list[str]) -> tuple[str, ...]:
        key = tuple(map(sys.intern, values))
        return shared.setdefault(key, key)

    ids = _claim_clusters(
        list(_values(keys["numbers"], one)),
        list(_values(keys["features"], one)),
        list(_values(keys["block"], _intern)),
        _values(keys["claim_id"]),
    )
    return _cluster_table(keys["row"], ids)


# --- the tables ------------------------------------------------------------------------------


def _ordered(row: dict[str, Any], columns: Iterable[str]) -> dict[str, Any]:
    return {c: row[c] for c in columns}


def link(
    extractions: Sequence[ArticleExtraction], articles: Sequence[ArticleInput | Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Rows of the entities, quotes and claims tables (origin "auto"), as lists of dicts."""
    spilled = link_spilled(extractions, articles)
    try:
        return {name: table.to_pylist() for name, table in spilled.items()}
    finally:
        for table in spilled.values():
            table.close()


def link_spilled(
    extractions: Sequence[ArticleExtraction],
    articles: Sequence[ArticleInput | Mapping[str, Any]],
    reduce: Reduce = reduce_by_key,
) -> dict[str, SpilledTable]:
    """Rows of the entities, quotes and claims tables for the given articles (origin "auto"),
    spilled to disk as Arrow as they are made (newsbench.spill), never held as a whole.

    Two passes over the extractions (chains and mentions, then quotes and claims), each article
    in id order, and no record kept past its pass: given a sequence that unpacks records on
    access (newsbench.cache.PackedExtractions, which also says `article_ids`, in order), the
    records of every article are never in memory at once. Entity rows are spilled before the
    second pass; quote and claim rows during it, with the keys clustering compares. Clustering
    is then `reduce` of cluster_quotes and cluster_claims over the keys, block by block (one
    block at a time locally; hash buckets of blocks on Ray), and the cluster ids are filled in.
    """
    inputs = {a.article_id: a for a in (as_article_input(x) for x in articles)}
    article_ids = getattr(extractions, "article_ids", None)
    if article_ids is None:  # plain records: put them in article order
        extractions = sorted(extractions, key=lambda e: e.article_id)
        article_ids = [e.article_id for e in extractions]
    missing = [aid for aid in article_ids if aid not in inputs]
    if missing:
        raise ValueError(f"extractions for unknown article(s): {missing[:5]}")
    story = {aid: a.story_id for aid, a in inputs.items()}
    chains, mentions = _entity_input(extractions, story)
    with chains:
        with mentions:
            entity = _link_entities(chains, reduce)
            entity_table, node_entities, places = _spill_entities(chains, mentions, entity)
        del entity
        offices = _story_offices(chains, node_entities, places)
    del places
    entities = _NodeEntities(node_entities)
    next_node = 0

    quote_table = SpilledTable(_SCHEMAS["quotes"])
    quote_keys = SpilledTable(QUOTE_KEYS)  # what clustering compares, spilled with the rows
    claim_table = SpilledTable(_SCHEMAS["claims"])
    claim_keys = SpilledTable(CLAIM_KEYS)
    for ex in extractions:
        block = block_of(story[ex.article_id])
        scope = _OfficeHolders.scope(ex.article_id, story[ex.article_id])
        article_chains = _article_chains(ex)
        found = entities.upto(next_node + len(article_chains))
        by_key = {
            chain.key: found[next_node + k]
            for k, chain in enumerate(article_chains)
            if next_node + k in found
        }
        next_node += len(article_chains)
        if story[ex.article_id] is None:  # its office holders are its own
            for chain in article_chains:
                offices.add(scope, chain.titles, by_key.get(chain.key))

        ordered = sorted(ex.quotes, key=lambda q: (q.char_start, q.char_end))
        for q, qid in zip(
            ordered, occurrence_ids("q", ex.article_id, [q.text for q in ordered]), strict=True
        ):
            speaker, speaker_id = _who(by_key, offices, scope, q.speaker_chain, q.speaker_text)
            quote_keys.append(
                {
                    "row": len(quote_keys),
                    "quote_id": qid,
                    "block": block,
                    "article_id": q.article_id,
                    "attribution": q.attribution,
                    "words": quote_words(q.text),
                    "speaker": speaker_id,
                }
            )
            quote_table.append(
                _ordered(
                    {
                        "quote_id": qid,
                        "article_id": q.article_id,
                        "text": q.text,
                        "char_start": q.char_start,
                        "char_end": q.char_end,
                        "speaker": speaker,
                        "speaker_entity_id": speaker_id,
                        "cue": q.cue,
                        "kind": q.kind,
                        "quote_cluster_id": None,
                        "origin": ORIGIN,
                    },
                    QUOTE_COLUMNS,
                )
            )
        outlet = inputs[ex.article_id].outlet
        ordered_claims = sorted(ex.claims, key=lambda c: (c.char_start, c.char_end))
        for c, cid in zip(
            ordered_claims,
            occurrence_ids("c", ex.article_id, [c.text for c in ordered_claims]),
            strict=True,
        ):
            claimant, claimant_id = _who(by_key, offices, scope, c.claimant_chain, c.claimant_text)
            entity_ids = {by_key[k].entity_id for k in c.chains if k in by_key}
            claim_keys.append(
                {
                    "row": len(claim_keys),
                    "claim_id": cid,
                    "block": block,
                    "numbers": list(c.numbers),
                    "features": sorted(claim_features(c.lemmas, entity_ids)),
                }
            )
            claim_table.append(
                _ordered(
                    {
                        "claim_id": cid,
                        "article_id": c.article_id,
                        "text": c.text,
                        "char_start": c.char_start,
                        "char_end": c.char_end,
                        "claimant": claimant if claimant is not None else outlet,
                        "claimant_entity_id": claimant_id,
                        "claim_cluster_id": None,
                        "origin": ORIGIN,
                    },
                    CLAIM_COLUMNS,
                )
            )
        if story[ex.article_id] is None:
            offices.forget(scope)  # the article's own holders (a story's stay for the others)
    node_entities.close()  # clustering needs only the spilled keys
    quote_table.seal()
    claim_table.seal()
    quote_clusters = _clustered(reduce, cluster_quotes, cluster_spilled.quote_clusters, quote_keys)
    quotes = _filled(quote_table, "quote_cluster_id", quote_clusters)
    claim_clusters = _clustered(reduce, cluster_claims, cluster_spilled.claim_clusters, claim_keys)
    claims = _filled(claim_table, "claim_cluster_id", claim_clusters)
    return {"entities": entity_table, "quotes": quotes, "claims": claims}


def _who(
    by_key: Mapping[str, _Entity],
    offices: _OfficeHolders,
    scope: str,
    chain: str | None,
    text: str | None,
) -> tuple[str | None, str | None]:
    """A speaker's or claimant's name and entity id: its chain's entity, else the one holder
    of the office it describes, else its own words (and no entity)."""
    if chain is not None and chain in by_key:
        return by_key[chain].name, by_key[chain].entity_id
    holder = offices.resolve(scope, text)
    if holder is not None:
        return holder.name, holder.entity_id
    return text, None


def _clustered(
    reduce: Reduce,
    fn: Callable[[pa.Table], pa.Table],
    large_fn: Callable[[SpilledTable], Iterable[pa.Table]],
    keys: SpilledTable,
) -> Iterator[str]:
    """Each row's cluster id, in row order: `fn` reduced per block, the results sorted back by
    row (checked: every row exactly once, whatever engine ran the reduce).

    A block of more than cluster_spilled.LARGE_BLOCK_ROWS rows (the pool of articles without a
    story id, at scale) is not handed to `fn` as one table: `large_fn` clusters it from its
    spilled rows, out of core, here on the driver whatever the engine (its work is a sequence
    of external sorts, not many independent keys).
    """
    found = SpilledTable(CLUSTERS)
    with keys:
        small, large = _split_large_blocks(keys)
        with small:
            for table in reduce(fn, small, "block"):
                found.write(table)
        for block in large:
            with block:
                for table in large_fn(block):
                    found.write(table)
    expected = 0
    with found, found.sorted_by("row") as ordered:
        for batch in ordered.batches():
            rows = batch.column("row").to_numpy()
            if not np.array_equal(rows, np.arange(expected, expected + len(rows))):
                raise RuntimeError(f"the clustering reduce lost or repeated rows near {expected}")
            expected += len(rows)
            yield from batch.column("cluster_id").to_pylist()
    if expected != len(keys):
        raise RuntimeError(f"the clustering reduce returned {expected} of {len(keys)} rows")


def _split_large_blocks(keys: SpilledTable) -> tuple[SpilledTable, list[SpilledTable]]:
    """The rows of blocks of at most LARGE_BLOCK_ROWS rows (`keys` itself when there is no
    larger block), and the rows of each larger block in a table of its own, in row order."""
    sizes: Counter[str] = Counter()
    for batch in keys.batches():
        sizes.update(value_counts(batch.column("block")))
    large = sorted(b for b, n in sizes.items() if n > cluster_spilled.LARGE_BLOCK_ROWS)
    if not large:
        return keys, []
    small = SpilledTable(keys.schema, keys.batch_rows)
    parts = [SpilledTable(keys.schema, keys.batch_rows) for _ in large]
    chosen = pa.array(large, pa.string())
    for batch in keys.batches():
        blocks = batch.column("block")
        small.write(batch.filter(pc.invert(pc.is_in(blocks, value_set=chosen))))
        for name, part in zip(large, parts, strict=True):
            part.write(batch.filter(pc.equal(blocks, name)))
    return small.seal(), [part.seal() for part in parts]


def _filled(table: SpilledTable, column: str, values: Iterable[Any]) -> SpilledTable:
    """`table` with `column` set (a new spill file; the old one is closed)."""
    with table:
        return table.with_column(column, values)
