"""Cross-article linking: canonical entities, quote clusters and claim clusters.

Input: the per-article extractions (newsbench.extract.extract_article) and the articles.
Output: rows of the entities, quotes and claims tables with exactly the schema's columns,
origin "auto", deterministic in order and ids (newsbench.extract.ids).

Entities. In-article chains are merged across articles by their alias-resolved match key
(newsbench.extract.names.match_key), then by string similarity within blocks that share a
surname or a first word (rapidfuzz, same type; `similar_names`, a reduce per block), then a
chain that only ever gives a surname joins the one full name with that surname in its story.
A person never merges with a place; a person and an organisation with the same name only
within one story (where it is the NER mistyping "Trump" as ORG, not Harrison Ford and the Ford
company).

Speakers and claimants. A chain key becomes the canonical entity; a definite description of an
office ("the Syrian information minister") becomes the person written with that title elsewhere
in the story ("Information Minister Hamza al-Mustafa") when exactly one person holds it.

Clusters. Rows cut from one attributed sentence (same cue verb) are one remark. Quotes and
claims are compared only inside a story (articles without a story id form
one pool), and inside large blocks only through shared rare words (an inverted index), never
all pairs of a corpus. Quotes: fuzzy token overlap, including a short quote contained in a
longer version of the remark. Claims: idf-weighted overlap of content lemmas, canonical
entities and event classes (host ~ meet, data/claim_lexicon.yaml), numbers must agree,
average-link clustering.
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
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz

from newsbench.extract.claims import claim_lexicon
from newsbench.extract.ids import cluster_id, entity_id, occurrence_ids
from newsbench.extract.names import fold, is_acronym
from newsbench.extract.records import (
    ArticleExtraction,
    ArticleInput,
    Chain,
    as_article_input,
)
from newsbench.spill import SpilledTable, reduce_by_key
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

NodeKey = tuple[str, str]  # (article_id, chain key)


@dataclass(frozen=True, slots=True)
class _Entity:
    entity_id: str
    name: str
    type: str


class _ChainInfo(NamedTuple):
    """What linking reads of a chain (newsbench.extract.records.Chain), strings interned:
    a corpus repeats its names and types, so each is held once."""

    type: str
    match_key: str
    surname_only: bool
    alias_type: str | None
    titles: tuple[str, ...]

    @classmethod
    def of(cls, chain: Chain) -> _ChainInfo:
        return cls(
            sys.intern(chain.type),
            sys.intern(chain.match_key),
            chain.surname_only,
            None if chain.alias_type is None else sys.intern(chain.alias_type),
            tuple(map(sys.intern, chain.titles)),
        )


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


class _ChainTable(Mapping[NodeKey, _ChainInfo]):
    """Every chain of the corpus with its mentions, held column-wise.

    Linking's first pass keeps one entry per chain of every article, so per-chain objects
    would dominate its memory at scale (about 830 bytes a chain as records, tuples and small
    lists): here each chain is an index into columns of interned strings, and mentions are
    flat integer arrays plus a list of interned texts (about 470 bytes a chain in all, on BBC).
    `table[node]` makes the chain's _ChainInfo on demand.
    """

    def __init__(self) -> None:
        self._index: dict[NodeKey, int] = {}
        self._type: list[str] = []
        self._match_key: list[str] = []
        self._surname_only = bytearray()
        self._alias_type: list[str | None] = []
        self._titles: list[tuple[str, ...]] = []
        self._mention_chain = array("q")
        self._mention_start = array("q")
        self._mention_end = array("q")
        self._mention_text: list[str] = []
        self._order: Any = None  # mention positions grouped by chain (numpy), once all are in
        self._bounds: Any = None

    def add(self, article_id: str, chain: Chain) -> None:
        info = _ChainInfo.of(chain)
        self._index[(article_id, sys.intern(chain.key))] = len(self._type)
        self._type.append(info.type)
        self._match_key.append(info.match_key)
        self._surname_only.append(info.surname_only)
        self._alias_type.append(info.alias_type)
        self._titles.append(info.titles or ())

    def add_mention(
        self, article_id: str, chain_key: str | None, start: int, end: int, text: str
    ) -> None:
        i = self._index.get((article_id, chain_key))  # type: ignore[arg-type]
        if i is None:
            return  # a mention outside every chain is in no entity
        self._mention_chain.append(i)
        self._mention_start.append(start)
        self._mention_end.append(end)
        self._mention_text.append(sys.intern(text))  # names repeat
        self._order = None

    def __getitem__(self, node: NodeKey) -> _ChainInfo:
        i = self._index[node]
        return _ChainInfo(
            self._type[i],
            self._match_key[i],
            bool(self._surname_only[i]),
            self._alias_type[i],
            self._titles[i],
        )

    def __iter__(self) -> Iterator[NodeKey]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, node: object) -> bool:
        return node in self._index

    def _grouped(self) -> tuple[Any, Any]:
        if self._order is None:
            import numpy as np

            chain_of = np.frombuffer(self._mention_chain, dtype=np.int64)
            self._order = np.argsort(chain_of, kind="stable")
            self._bounds = np.searchsorted(
                chain_of[self._order], np.arange(len(self._type) + 1), side="left"
            )
        return self._order, self._bounds

    def mentions(self, node: NodeKey) -> list[tuple[str, int, int, str]]:
        """A chain's mentions as (article_id, start, end, text), in input order."""
        order, bounds = self._grouped()
        i = self._index[node]
        return [
            (node[0], self._mention_start[j], self._mention_end[j], self._mention_text[j])
            for j in order[bounds[i] : bounds[i + 1]].tolist()
        ]

    def n_mentions(self, node: NodeKey) -> int:
        _, bounds = self._grouped()
        i = self._index[node]
        return int(bounds[i + 1] - bounds[i])

    def drop_mentions(self) -> None:
        """The mentions are in the entity rows now: free them (the chains stay)."""
        self._mention_chain = array("q")
        self._mention_start = array("q")
        self._mention_end = array("q")
        self._mention_text = []
        self._order = self._bounds = None


def _entity_input(extractions: Iterable[ArticleExtraction]) -> _ChainTable:
    """Linking's first pass: every chain, and every mention of a chain, column-wise."""
    chains = _ChainTable()
    for ex in extractions:
        for chain in ex.chains:
            chains.add(ex.article_id, chain)
        for m in ex.mentions:
            chains.add_mention(ex.article_id, m.chain, m.char_start, m.char_end, m.text)
    return chains


class _Links:
    """Edges between chains (positions in sorted node order) as two integer arrays: 16 bytes a
    link, where a union-find over node tuples held a dict entry per chain."""

    def __init__(self) -> None:
        self.a = array("q")
        self.b = array("q")

    def add(self, a: int, b: int) -> None:
        if a != b:
            self.a.append(a)
            self.b.append(b)

    def components(self, n: int) -> np.ndarray:
        """Each node's entity so far: the smallest node of its connected component."""
        return _components(n, np.frombuffer(self.a, np.int64), np.frombuffer(self.b, np.int64))


def _link_entities(
    chains: Mapping[NodeKey, _ChainInfo],
    story: Mapping[str, str | None],
    reduce: Reduce = reduce_by_key,
) -> np.ndarray:
    """Which chains are one entity: for each chain in sorted node order, the position of the
    first chain of its entity. The links of each step are integer pairs, and entities are their
    connected components (the fuzzy step is `reduce`d by block)."""
    nodes = sorted(chains)
    links = _Links()

    def scope(node: NodeKey) -> str:
        sid = story.get(node[0])
        return f"story:{sid}" if sid is not None else "pool"

    # 1. Equal keys: persons with full names everywhere, other names everywhere, a person and
    #    a non-place of the same name within one story.
    exact: dict[tuple[str, str], int] = {}  # (kind, match key) -> its first chain
    surname_only = array("q")
    for i, node in enumerate(nodes):
        chain = chains[node]
        if chain.type == "PERSON" and chain.surname_only:
            surname_only.append(i)
            continue
        kind = "P" if chain.type == "PERSON" else "N"
        links.add(exact.setdefault((kind, chain.match_key), i), i)
    mixed: dict[tuple[str, str], tuple[int, int]] = {}  # (story, key) -> first chain, kinds
    for i, node in enumerate(nodes):
        if story.get(node[0]) is not None and chains[node].type not in _PERSON_NOT:
            key = (scope(node), chains[node].match_key)
            first, kinds = mixed.get(key, (i, 0))
            mixed[key] = (first, kinds | (1 if chains[node].type == "PERSON" else 2))
    for i, node in enumerate(nodes):
        if story.get(node[0]) is not None and chains[node].type not in _PERSON_NOT:
            first, kinds = mixed[(scope(node), chains[node].match_key)]
            if kinds == 3:  # a person and a non-person of one name in one story
                links.add(first, i)
    del mixed
    # 2. Similar keys inside blocks sharing a surname (persons) or a first word (others): a
    #    keyed reduce by block, whose accepted pairs are links.
    with SpilledTable(NAME_KEYS) as names:
        for (kind, key), first in sorted(exact.items()):
            words = key.split()
            if words:
                names.append(
                    {
                        "block": f"{kind}:{words[-1] if kind == 'P' else words[0]}",
                        "key": key,
                        "type": chains[nodes[first]].type,
                        "node": first,
                    }
                )
        names.seal()
        del exact
        for pairs in reduce(similar_names, names, "block"):
            for a, b in zip(pairs["a"].to_pylist(), pairs["b"].to_pylist(), strict=True):
                links.add(a, b)
    # 3. Surname-only persons: the one full name with that surname in their story.
    entity = links.components(len(nodes))
    by_surname: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, node in enumerate(nodes):
        chain = chains[node]
        if chain.type == "PERSON" and not chain.surname_only and chain.match_key:
            by_surname[(scope(node), chain.match_key.split()[-1])].add(int(entity[i]))
    del entity
    leftovers: dict[tuple[str, str], int] = {}
    for i in surname_only:
        node = nodes[i]
        key = chains[node].match_key
        surname = key.split()[-1] if key else ""
        roots = by_surname.get((scope(node), surname), set())
        if len(roots) == 1 and len(key.split()) == 1:
            links.add(next(iter(roots)), i)
        elif story.get(node[0]) is not None:
            links.add(leftovers.setdefault((scope(node), key), i), i)
    return links.components(len(nodes))


# Step 2's keys: one row per distinct match key, in a block of its surname (persons, "P:") or
# first word (other names, "N:"), with its type and its first chain (position in sorted order).
NAME_KEYS = pa.schema(
    [("block", pa.string()), ("key", pa.string()), ("type", pa.string()), ("node", pa.int64())]
)
NAME_PAIRS = pa.schema([("a", pa.int64()), ("b", pa.int64())])


def similar_names(keys: pa.Table) -> pa.Table:
    """Pairs of chains (a, b) whose match keys are one name written differently, among the
    NAME_KEYS rows of whole blocks: a pure reduce, as cluster_quotes. All pairs of a block of
    at most BLOCK_ALL_PAIRS keys; a larger block (a common surname or first word) is skipped."""
    found_a: list[int] = []
    found_b: list[int] = []
    rows = keys.sort_by([("block", "ascending"), ("key", "ascending")]).to_pylist()
    for block, group in itertools.groupby(rows, key=lambda r: r["block"]):
        members = list(group)
        if len(members) < 2 or len(members) > BLOCK_ALL_PAIRS:
            continue
        person = block.startswith("P:")
        for i, x in enumerate(members):
            a = x["key"]
            for y in members[i + 1 :]:
                b = y["key"]
                if min(len(a), len(b)) < ENTITY_FUZZY_MIN_CHARS:
                    continue
                if not _fuzzy_type_ok(x["type"], y["type"]):
                    continue
                if person and a.split()[0][:1] != b.split()[0][:1]:
                    continue  # different first names
                if fuzz.ratio(a, b) >= ENTITY_FUZZY_MIN:
                    found_a.append(x["node"])
                    found_b.append(y["node"])
    return pa.table(
        [pa.array(found_a, pa.int64()), pa.array(found_b, pa.int64())], schema=NAME_PAIRS
    )


def _entity_members(chains: _ChainTable, entity: np.ndarray) -> list[list[NodeKey]]:
    """The chains of each entity (in node order, entities by their first chain), from each
    chain's entity in sorted node order (_link_entities)."""
    nodes = sorted(chains)
    order = np.argsort(entity, kind="stable")  # by entity, which is its first chain's position
    starts = np.flatnonzero(np.diff(entity[order], prepend=-1))
    bounds = np.append(starts, len(order)).tolist()
    positions = order.tolist()
    return [[nodes[k] for k in positions[lo:hi]] for lo, hi in itertools.pairwise(bounds)]


def _spill_entities(
    chains: _ChainTable,
    members: list[list[NodeKey]],
    out: SpilledTable,
) -> tuple[dict[NodeKey, _Entity], set[str]]:
    """Entity rows, in id order, appended to `out`; returns the entity of each chain and the
    words of every place (GPE, NORP) name, for the office holders.

    An entity's mentions are made twice, once to name it and once for its row, so that the
    mentions of one entity at a time are in memory, never those of all of them.
    """
    drafts = []
    for nodes in members:
        mentions = sorted({m for node in nodes for m in chains.mentions(node)})
        if not mentions:
            continue
        votes: Counter[str] = Counter()
        for node in nodes:
            votes[chains[node].type] += chains.n_mentions(node)
        alias_types = sorted({chains[n].alias_type for n in nodes if chains[n].alias_type})
        if alias_types and votes.get("PERSON", 0) * 2 <= sum(votes.values()):
            entity_type = alias_types[0]
        else:
            entity_type = min(votes, key=lambda t: (-votes[t], t))
        name = _canonical_name([(m[0], m[1], m[3]) for m in mentions], entity_type)
        drafts.append((entity_type, name, mentions[0], nodes))
        del mentions
    del members
    # Ids: distinct entities with one type and name are ranked by their first mention (unique
    # to its entity: no ties).
    drafts.sort(key=lambda d: d[:3])
    rank: Counter[tuple[str, str]] = Counter()
    ranked = []
    for entity_type, name, _, nodes in drafts:
        rank[(entity_type, name)] += 1
        eid = entity_id(entity_type, name, rank[(entity_type, name)])
        ranked.append((eid, entity_type, name, nodes))
    del drafts
    ranked.sort(key=lambda r: r[0])
    by_node: dict[NodeKey, _Entity] = {}
    places: set[str] = set()
    for eid, entity_type, name, nodes in ranked:
        mentions = sorted({m for node in nodes for m in chains.mentions(node)})
        entity = _Entity(eid, name, entity_type)
        if entity_type in ("GPE", "NORP"):
            places.update(_OfficeHolders.word(w) for m in mentions for w in m[3].split())
        out.append(
            _ordered(
                {
                    "entity_id": eid,
                    "name": name,
                    "type": entity_type,
                    "aliases": sorted({m[3] for m in mentions}),
                    "mentions": [
                        {"article_id": a, "char_start": s, "char_end": e, "text": t}
                        for a, s, e, t in mentions
                    ],
                    "n_articles": len({m[0] for m in mentions}),
                    "origin": ORIGIN,
                },
                ENTITY_COLUMNS,
            )
        )
        for node in nodes:
            by_node[node] = entity
    return by_node, places


class _OfficeHolders:
    """ "the Syrian information minister" → the person written as "Information Minister Hamza
    al-Mustafa" in the same story (or article): the office words must be equal, and place
    words, when both sides have them, must agree. Ambiguous offices resolve to nobody."""

    _DROP = frozenset({"the", "a", "an", "his", "her", "its", "their", "former", "then"})

    def __init__(
        self,
        chains: Mapping[NodeKey, _ChainInfo],
        by_node: Mapping[NodeKey, _Entity],
        places: set[str],
        story: Mapping[str, str | None],
    ) -> None:
        self.story = story
        self.places = places  # words of place names (GPE, NORP), as `word` folds them
        self.holders: dict[str, list[tuple[frozenset[str], frozenset[str], _Entity]]] = defaultdict(
            list
        )
        for (article_id, key), chain in chains.items():
            entity = by_node.get((article_id, key))
            if entity is None or entity.type != "PERSON":
                continue
            for title in chain.titles:
                core, places = self._split(title)
                if core:
                    self.holders[self._scope(article_id)].append((core, places, entity))

    def _scope(self, article_id: str) -> str:
        sid = self.story.get(article_id)
        return f"story:{sid}" if sid is not None else f"article:{article_id}"

    @staticmethod
    def word(text: str) -> str:
        return fold(text).replace(".", "").strip("'’s")

    def _split(self, phrase: str) -> tuple[frozenset[str], frozenset[str]]:
        words = [self.word(w) for w in phrase.split()]
        words = [w for w in words if w and w not in self._DROP]
        places = frozenset(w for w in words if w in self.places)
        return frozenset(w for w in words if w not in self.places), places

    def resolve(self, article_id: str, description: str | None) -> _Entity | None:
        if not description or not description.lower().startswith("the "):
            return None
        core, places = self._split(description)
        if not core:
            return None
        found = {
            e.entity_id: e
            for c, p, e in self.holders.get(self._scope(article_id), [])
            if c == core and (not places or not p or places & p)
        }
        return next(iter(found.values())) if len(found) == 1 else None


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
    labels = np.arange(n)
    for start, stop in zip(
        np.concatenate(([0], edge_bounds)), np.concatenate((edge_bounds, [len(a)])), strict=True
    ):
        if start == stop:
            continue
        members = np.flatnonzero(component == component[a[start]])  # ascending
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
            if quote_similarity(words[a], words[b]) >= QUOTE_MIN:
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
    chains = _entity_input(extractions)
    entity_table = SpilledTable(_SCHEMAS["entities"])
    members = _entity_members(chains, _link_entities(chains, story, reduce))  # union-find freed
    by_node, places = _spill_entities(chains, members, entity_table)
    del members
    entity_table.seal()
    chains.drop_mentions()
    offices = _OfficeHolders(chains, by_node, places, story)
    del chains, places

    def who(article_id: str, chain: str | None, text: str | None) -> tuple[str | None, str | None]:
        if chain is not None and (article_id, chain) in by_node:
            entity = by_node[(article_id, chain)]
            return entity.name, entity.entity_id
        holder = offices.resolve(article_id, text)
        if holder is not None:
            return holder.name, holder.entity_id
        return text, None

    quote_table = SpilledTable(_SCHEMAS["quotes"])
    quote_keys = SpilledTable(QUOTE_KEYS)  # what clustering compares, spilled with the rows
    claim_table = SpilledTable(_SCHEMAS["claims"])
    claim_keys = SpilledTable(CLAIM_KEYS)
    for ex in extractions:
        block = block_of(story[ex.article_id])
        ordered = sorted(ex.quotes, key=lambda q: (q.char_start, q.char_end))
        for q, qid in zip(
            ordered, occurrence_ids("q", ex.article_id, [q.text for q in ordered]), strict=True
        ):
            speaker, speaker_id = who(ex.article_id, q.speaker_chain, q.speaker_text)
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
            claimant, claimant_id = who(ex.article_id, c.claimant_chain, c.claimant_text)
            entity_ids = {
                by_node[(ex.article_id, k)].entity_id
                for k in c.chains
                if (ex.article_id, k) in by_node
            }
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
    by_node.clear()  # `who` is done with it; clustering needs only the spilled keys
    quote_table.seal()
    claim_table.seal()
    quote_clusters = _clustered(reduce, cluster_quotes, quote_keys)
    quotes = _filled(quote_table, "quote_cluster_id", quote_clusters)
    claim_clusters = _clustered(reduce, cluster_claims, claim_keys)
    claims = _filled(claim_table, "claim_cluster_id", claim_clusters)
    return {"entities": entity_table, "quotes": quotes, "claims": claims}


def _clustered(
    reduce: Reduce, fn: Callable[[pa.Table], pa.Table], keys: SpilledTable
) -> Iterator[str]:
    """Each row's cluster id, in row order: `fn` reduced per block, the results sorted back by
    row (checked: every row exactly once, whatever engine ran the reduce)."""
    found = SpilledTable(CLUSTERS)
    with keys:
        for table in reduce(fn, keys, "block"):
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


def _filled(table: SpilledTable, column: str, values: Iterable[Any]) -> SpilledTable:
    """`table` with `column` set (a new spill file; the old one is closed)."""
    with table:
        return table.with_column(column, values)
