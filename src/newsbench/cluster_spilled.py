"""Clustering a block too large for memory: the same clusters as newsbench.link, from disk.

`link.cluster_quotes` and `link.cluster_claims` hold a block's keys as Python objects: about
530 bytes a claim and 740 a quote at their peak. That is fine for a story, not for the pool of
every article without a story id, which grows with the corpus. A block of more than
`LARGE_BLOCK_ROWS` rows is clustered here instead, from its spilled keys (QUOTE_KEYS or
CLAIM_KEYS rows of that block, in row order):

1. Equal keys (syndicated copies, a repeated remark) are grouped by an external sort on the
   key, so only each group's first item (its representative) is compared, as in-memory.
2. The representatives' words become integer codes (CSR arrays), and candidate pairs come
   from the inverted index of those codes, one posting size at a time; pairs found through
   several words are made unique by an external sort.
3. Each candidate pair is compared as in-memory (the same float operations, so the same
   edges); edges are spilled to disk. Claims: average link, one component of the strong edges
   at a time; quotes: union-find.
4. A cluster's id comes from its smallest member id, found by an external sort on the label.

In memory: a few integers per row and per representative, the block's distinct words, and
the edges of the clusters (never every edge). Quote texts are read back from a temporary
file through mmap. The result is the same rows, byte for byte: tests/test_link.py runs both
ways on the BBC corpus.
"""

from __future__ import annotations

import math
import mmap
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsbench import link
from newsbench.extract.ids import cluster_id
from newsbench.spill import SpilledTable, value_counts

LARGE_BLOCK_ROWS = 10_000  # blocks above this many rows are clustered out of core
BATCH_ROWS = 4096  # rows per batch of this module's own spill files
PAIR_CHUNK = 1 << 20  # candidate pairs made in memory at once

GROUP_KEYS = pa.schema([("key", pa.string()), ("item", pa.int64())])
PAIRS = pa.schema([("pair", pa.int64())])
EDGES = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("weight", pa.float64())])
MEMBERS = pa.schema(
    [("order", pa.string()), ("label", pa.int64()), ("row", pa.int64()), ("id", pa.string())]
)
_NONE = object()


# --- runs of a sorted table --------------------------------------------------------------------


def run_heads(
    batches: Iterable[pa.RecordBatch], key: str, value: str
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """The batches of a table sorted by `key`, each with, for every row, the `value` of the
    first row of its run (consecutive rows of equal key; a run may span batches)."""
    last_key: Any = _NONE
    last_head: Any = None
    for batch in batches:
        if not batch.num_rows:
            continue
        keys = batch.column(key)
        values = batch.column(value).to_numpy(zero_copy_only=False)
        starts = np.ones(batch.num_rows, dtype=bool)
        if batch.num_rows > 1:
            differs = pc.not_equal(keys.slice(1), keys.slice(0, batch.num_rows - 1))
            starts[1:] = differs.to_numpy(zero_copy_only=False)
        continues = keys[0].as_py() == last_key
        starts[0] = not continues
        run = np.cumsum(starts) - 1
        heads = values[starts]
        if continues:
            heads = np.concatenate((np.array([last_head], dtype=heads.dtype), heads))
            run += 1
        yield batch, heads[run]
        last_key, last_head = keys[-1].as_py(), heads[-1]


def first_of_equal(keyed: SpilledTable, n: int) -> np.ndarray:
    """For each item 0..n-1, the first item with the same key (GROUP_KEYS rows, written in item
    order); an item without a row is its own. The external sort is stable, so a run's first
    row is its smallest item."""
    first = np.arange(n, dtype=np.int64)
    with keyed, keyed.sorted_by("key") as ordered:
        for batch, heads in run_heads(ordered.batches(), "key", "item"):
            first[batch.column("item").to_numpy()] = heads
    return first


# --- representatives and their words ---------------------------------------------------------


class _Codes:
    """Each representative's word codes (sorted, distinct) as CSR arrays: 4 bytes a word and 8
    an item, where a Python set of strings took over 200."""

    def __init__(self) -> None:
        self.offsets = array("q", [0])
        self.codes = array("i")

    def add(self, codes: Iterable[int]) -> None:
        self.codes.extend(sorted(set(codes)))
        self.offsets.append(len(self.codes))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, k: int) -> list[int]:
        return self.codes[self.offsets[k] : self.offsets[k + 1]].tolist()

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.frombuffer(self.offsets, dtype=np.int64), np.frombuffer(
            self.codes, dtype=np.int32
        )


class _Texts:
    """Strings written once to an anonymous temporary file, read back by index through mmap:
    their bytes are the kernel's page cache, not the process's heap."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="newsbench-texts-")  # noqa: SIM115 - closed by close()
        self._offsets = array("q", [0])
        self._map: mmap.mmap | None = None

    def add(self, text: str) -> None:
        data = text.encode("utf-8")
        self._file.write(data)
        self._offsets.append(self._offsets[-1] + len(data))

    def get(self, k: int) -> str:
        start, end = self._offsets[k], self._offsets[k + 1]
        if start == end:
            return ""
        if self._map is None:
            self._file.flush()
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        return self._map[start:end].decode("utf-8")

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        self._file.close()


def _vocabulary(words: Iterable[str]) -> dict[str, int]:
    """Codes for a block's distinct words, in sorted order."""
    return {word: code for code, word in enumerate(sorted(words))}


# --- candidate pairs ---------------------------------------------------------------------------


def candidate_pairs(words: _Codes) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The pairs link._candidate_pairs gives for these representatives, as arrays (a, b) with
    a < b, in ascending order: all pairs of at most BLOCK_ALL_PAIRS items, else the pairs that
    share a word held by 2 to MAX_POSTING items, made a posting size at a time and made unique
    by an external sort."""
    m = len(words)
    if m <= link.BLOCK_ALL_PAIRS:
        a, b = np.triu_indices(m, 1)
        if len(a):
            yield a.astype(np.int64), b.astype(np.int64)
        return
    offsets, codes = words.arrays()
    item = np.repeat(np.arange(m, dtype=np.int64), np.diff(offsets))
    holders = np.bincount(codes, minlength=1)
    kept = (holders[codes] > 1) & (holders[codes] <= link.MAX_POSTING)
    code, item = codes[kept], item[kept]
    order = np.lexsort((item, code))  # postings: by word, each in item order
    code, item = code[order], item[order]
    starts = np.flatnonzero(np.diff(code, prepend=-1))
    lengths = np.diff(np.append(starts, len(code)))
    pairs = SpilledTable(PAIRS, BATCH_ROWS)
    with pairs:
        for size in range(2, link.MAX_POSTING + 1):
            first, second = np.triu_indices(size, 1)
            heads = starts[lengths == size]
            step = max(1, PAIR_CHUNK // len(first))
            for lo in range(0, len(heads), step):
                members = item[heads[lo : lo + step, None] + np.arange(size)]
                key = members[:, first].ravel() * m + members[:, second].ravel()
                pairs.write(pa.table({"pair": key}, schema=PAIRS))
        del item, code, order
        with pairs.sorted_by("pair") as ordered:
            last = -1
            for batch in ordered.batches():
                key = batch.column("pair").to_numpy()
                fresh = np.diff(key, prepend=last) != 0
                last = int(key[-1])
                key = key[fresh]
                if len(key):
                    yield key // m, key % m


# --- edges and labels ----------------------------------------------------------------------------


def _components_of_edges(n: int, edges: SpilledTable, strong: Any) -> np.ndarray:
    """Connected components (link._components) of the edges that `strong(batch)` selects."""
    a_parts, b_parts = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for batch in edges.batches():
        keep = strong(batch)
        a_parts.append(batch.column("a").to_numpy()[keep])
        b_parts.append(batch.column("b").to_numpy()[keep])
    return link._components(n, np.concatenate(a_parts), np.concatenate(b_parts))


def cluster_id_tables(
    prefix: str, keys: SpilledTable, id_column: str, label: np.ndarray
) -> Iterator[pa.Table]:
    """(row, cluster_id) for every row of `keys` (in no particular order): the id made from
    the smallest member id of the row's cluster (rows of equal `label`), as link._cluster_ids.
    A row alone in its cluster is its own; the others are sorted on disk by (label, id)."""
    count = np.bincount(label, minlength=len(label))
    shared = SpilledTable(MEMBERS, BATCH_ROWS)
    with shared:
        item = 0
        for batch in keys.batches():
            labels = label[item : item + batch.num_rows]
            item += batch.num_rows
            alone = count[labels] == 1
            rows, ids = batch.column("row"), batch.column(id_column)
            own = pc.filter(ids, pa.array(alone)).to_pylist()
            yield pa.table(
                [
                    pc.filter(rows, pa.array(alone)),
                    pa.array([cluster_id(prefix, (i,)) for i in own], pa.string()),
                ],
                schema=link.CLUSTERS,
            )
            together = pa.array(~alone)
            ids = pc.filter(ids, together)
            labels = labels[~alone]
            order = [
                f"{lab:020d}\x1f{i}"
                for lab, i in zip(labels.tolist(), ids.to_pylist(), strict=True)
            ]
            shared.write(
                pa.table(
                    [
                        pa.array(order, pa.string()),
                        pa.array(labels, pa.int64()),
                        pc.filter(rows, together),
                        ids,
                    ],
                    schema=MEMBERS,
                )
            )
        with shared.sorted_by("order") as ordered:
            last, made = None, ""
            for batch, smallest in run_heads(ordered.batches(), "label", "id"):
                ids_made = []
                for first in smallest.tolist():
                    if first != last:  # a run's rows come together
                        last, made = first, cluster_id(prefix, (first,))
                    ids_made.append(made)
                yield pa.table(
                    [batch.column("row"), pa.array(ids_made, pa.string())], schema=link.CLUSTERS
                )


# --- claims ----------------------------------------------------------------------------------


def claim_clusters(keys: SpilledTable) -> Iterator[pa.Table]:
    """(row, cluster_id) of the CLAIM_KEYS rows of one block, given in row order: the rows
    link.cluster_claims gives for the same keys."""
    n = len(keys)
    df: Counter[str] = Counter()
    equal = SpilledTable(GROUP_KEYS, BATCH_ROWS)
    item = 0
    for batch in keys.batches():
        features = batch.column("features")
        df.update(value_counts(pc.list_flatten(features)))
        key, items = [], []
        for i, (f, numbers) in enumerate(
            zip(features.to_pylist(), batch.column("numbers").to_pylist(), strict=True)
        ):
            if len(f) >= link.CLAIM_MIN_SHARED:  # else no edge even between equal copies
                key.append(repr((f, sorted(set(numbers)))))
                items.append(item + i)
        equal.write(
            pa.table([pa.array(key, pa.string()), pa.array(items, pa.int64())], schema=GROUP_KEYS)
        )
        item += batch.num_rows
    first = first_of_equal(equal, n)
    reps = np.flatnonzero(first == np.arange(n))
    group = np.searchsorted(reps, first)
    sizes = np.bincount(group, minlength=len(reps)).tolist()
    del first

    vocabulary = _vocabulary(df)
    idf = [math.log((n + 1) / (df[t] + 0.5)) for t in sorted(df)]
    del df
    features, numbers = _Codes(), _Codes()
    number_codes: dict[str, int] = {}
    is_rep = np.zeros(n, dtype=bool)
    is_rep[reps] = True
    item = 0
    for batch in keys.batches():
        chosen = batch.filter(pa.array(is_rep[item : item + batch.num_rows]))
        item += batch.num_rows
        for f, nums in zip(
            chosen.column("features").to_pylist(), chosen.column("numbers").to_pylist(), strict=True
        ):
            features.add(vocabulary[t] for t in f)
            numbers.add(number_codes.setdefault(x, len(number_codes)) for x in nums)
    del vocabulary, number_codes, is_rep

    edges = SpilledTable(EDGES, BATCH_ROWS)
    with edges:
        for a_batch, b_batch in candidate_pairs(features):
            found_a, found_b, weights = array("q"), array("q"), array("d")
            last_a, mine = -1, set()
            for a, b in zip(a_batch.tolist(), b_batch.tolist(), strict=True):
                na, nb = numbers.get(a), numbers.get(b)
                if na and nb and not (set(na) <= set(nb) or set(nb) <= set(na)):
                    continue  # link._numbers_agree
                if a != last_a:
                    last_a, mine = a, set(features.get(a))
                theirs = features.get(b)
                shared = mine.intersection(theirs)
                if len(shared) < link.CLAIM_MIN_SHARED:
                    continue
                union = mine.union(theirs)
                sim = math.fsum(idf[t] for t in shared) / math.fsum(idf[t] for t in union)
                if bool(na) != bool(nb):
                    sim *= link.CLAIM_NUMBER_ONE_SIDED
                if sim > 0:
                    found_a.append(a)
                    found_b.append(b)
                    weights.append(sim * sizes[a] * sizes[b])
            edges.write(
                pa.table(
                    [
                        pa.array(found_a, pa.int64()),
                        pa.array(found_b, pa.int64()),
                        pa.array(weights, pa.float64()),
                    ],
                    schema=EDGES,
                )
            )
        del features, numbers, idf
        size = np.asarray(sizes, dtype=np.int64)

        def strong(batch: pa.RecordBatch) -> np.ndarray:
            a, b = batch.column("a").to_numpy(), batch.column("b").to_numpy()
            return batch.column("weight").to_numpy() / (size[a] * size[b]) >= link.CLAIM_MIN

        component = _components_of_edges(len(reps), edges, strong)
        inside = link._Edges()  # the edges within a component: all average link reads
        for batch in edges.batches():
            a, b = batch.column("a").to_numpy(), batch.column("b").to_numpy()
            keep = component[a] == component[b]
            inside.a.extend(a[keep].astype(np.int32).tolist())
            inside.b.extend(b[keep].astype(np.int32).tolist())
            inside.weight.extend(batch.column("weight").to_numpy()[keep].tolist())
    clusters = link._average_link_by_component(len(reps), inside, link.CLAIM_MIN, sizes)
    del inside, component
    label = reps[clusters][group]  # each row: the first row of its cluster's first group
    yield from cluster_id_tables("cc", keys, "claim_id", label)


# --- quotes ----------------------------------------------------------------------------------


class _UnionFind:
    """Union-find over 0..n-1 in an int64 array (8 bytes an item, not a dict entry)."""

    def __init__(self, parent: np.ndarray) -> None:
        self.parent = array("q", parent.tobytes())

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def quote_clusters(keys: SpilledTable) -> Iterator[pa.Table]:
    """(row, cluster_id) of the QUOTE_KEYS rows of one block, given in row order: the rows
    link.cluster_quotes gives for the same keys."""
    n = len(keys)
    attributed = SpilledTable(GROUP_KEYS, BATCH_ROWS)
    equal = SpilledTable(GROUP_KEYS, BATCH_ROWS)
    item = 0
    for batch in keys.batches():
        cue_keys, cue_items, same_keys, same_items = [], [], [], []
        columns = (
            batch.column(c).to_pylist() for c in ("article_id", "attribution", "words", "speaker")
        )
        for i, (article_id, cue, words, speaker) in enumerate(zip(*columns, strict=True)):
            if cue is not None:  # rows cut from one attributed sentence: one remark
                cue_keys.append(repr((article_id, cue)))
                cue_items.append(item + i)
            # link._quote_clusters' same_remark_key
            if words and not (len(words.split()) <= link.QUOTE_SHORT_WORDS and speaker is None):
                same_keys.append(repr((words, speaker)))
                same_items.append(item + i)
        attributed.write(
            pa.table(
                [pa.array(cue_keys, pa.string()), pa.array(cue_items, pa.int64())],
                schema=GROUP_KEYS,
            )
        )
        equal.write(
            pa.table(
                [pa.array(same_keys, pa.string()), pa.array(same_items, pa.int64())],
                schema=GROUP_KEYS,
            )
        )
        item += batch.num_rows
    remark = first_of_equal(attributed, n)
    first = first_of_equal(equal, n)
    items = np.arange(n, dtype=np.int64)
    joined = link._components(n, np.concatenate((remark, first)), np.concatenate((items, items)))
    del remark
    reps = np.flatnonzero(first == items)
    del first, items
    uf = _UnionFind(joined)
    del joined

    vocabulary: dict[str, int] = {}  # codes in order of first use: pairs do not depend on it
    is_rep = np.zeros(n, dtype=bool)
    is_rep[reps] = True
    tokens, texts = _Codes(), _Texts()
    word_count = array("i")
    speaker_code = array("i")
    speakers: dict[str, int] = {}
    item = 0
    try:
        for batch in keys.batches():
            chosen = batch.filter(pa.array(is_rep[item : item + batch.num_rows]))
            item += batch.num_rows
            for words, speaker in zip(
                chosen.column("words").to_pylist(),
                chosen.column("speaker").to_pylist(),
                strict=True,
            ):
                split = words.split()
                tokens.add(vocabulary.setdefault(t, len(vocabulary)) for t in split)
                texts.add(words)
                word_count.append(len(split))
                speaker_code.append(
                    -1 if speaker is None else speakers.setdefault(speaker, len(speakers))
                )
        del vocabulary, speakers, is_rep
        row = reps.tolist()
        for a_batch, b_batch in candidate_pairs(tokens):
            for a, b in zip(a_batch.tolist(), b_batch.tolist(), strict=True):
                if uf.find(row[a]) == uf.find(row[b]):
                    continue  # already one remark: the comparison cannot change anything
                sa, sb = speaker_code[a], speaker_code[b]
                short = min(word_count[a], word_count[b])
                if short <= link.QUOTE_SHORT_WORDS and (sa < 0 or sa != sb):
                    continue  # a two-word fragment only joins the same speaker's longer remark
                if sa >= 0 and sb >= 0 and sa != sb:
                    continue
                if link.same_remark(texts.get(a), texts.get(b)):
                    uf.union(row[a], row[b])
    finally:
        texts.close()
    label = np.fromiter((uf.find(i) for i in range(n)), dtype=np.int64, count=n)
    del uf
    yield from cluster_id_tables("qc", keys, "quote_id", label)
