"""Pure metric functions for the newsbench scorer: no I/O, no pandas.

Everything here works on plain Python values so that each figure can be checked by hand.
`newsbench.evaluate` turns dataset rows into these values and rounds the results.

Conventions (the ones a benchmark's reader needs to know):

* Precision, recall and F1 with a zero denominator: when gold AND predictions are both empty the
  system made no error, so all three are 1.0; otherwise a zero denominator gives 0.0. F1 is 0.0
  when precision + recall is 0. The same rule is used by every metric in this module.
* Spans are half-open character ranges ``[start, end)`` inside one article (``doc``); spans of
  different articles never match. A span with ``end <= start`` matches nothing.
* Overlap score of two spans = intersection over union, in characters (Jaccard of the two
  character sets). It is symmetric and is 1.0 only for identical spans.
* Matching is one-to-one and greedy: every (pred, gold) pair scoring at least the threshold is a
  candidate; candidates are taken best score first, ties broken deterministically by article,
  offsets, ids and finally input position; a pair is taken when neither side is taken yet.
  Above a threshold of 0.5 a span can reach at most one of several disjoint spans, so greedy and
  optimal matching then coincide.
* Clustering metrics take two partitions as ``{item: cluster_id}`` mappings (key = gold,
  response = predicted); cluster ids are compared only within one partition. Items present in
  only one partition are handled as in the CoNLL-2012 reference scorer (Pradhan et al. 2014):
  nothing is added or removed; B-cubed and CEAF-e are computed over each side's own items and
  clusters, and in MUC an item missing from the other side counts as its own part of the
  partition, so singletons (and missing items) contribute no links.
* One deliberate departure from the reference scorer: MUC when neither partition has a link
  (all singletons on both sides, or both empty) is 1.0, not 0.0, so that a partition scored
  against itself is always perfect (the 0/0 rule above).
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import NamedTuple

PRF = dict[str, float]

SCHEMES = ("strict", "exact", "partial", "ent_type")
"""The SemEval-2013 Task 9.1 NER schemes, as named by nervaluate."""


# --- precision, recall, F1 -----------------------------------------------------------------


def f1_score(precision: float, recall: float) -> float:
    """Harmonic mean; 0.0 when both are 0 (no division by zero)."""
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def prf(tp: float, n_pred: int, n_gold: int) -> PRF:
    """Precision, recall and F1 from a true-positive count and the two set sizes.

    ``tp`` may be fractional (the partial NER scheme counts half matches). Empty gold and empty
    predictions give 1.0 for all three (nothing to find, nothing wrongly found); any other zero
    denominator gives 0.0.
    """
    if tp < 0 or tp > n_pred or tp > n_gold:
        raise ValueError(f"tp={tp} must lie in [0, min(n_pred={n_pred}, n_gold={n_gold})]")
    return prf_from_ratios(tp, n_pred, tp, n_gold)


def prf_from_ratios(p_num: float, p_den: float, r_num: float, r_den: float) -> PRF:
    """Precision = p_num / p_den and recall = r_num / r_den, with the module's 0/0 rule."""
    if p_den == 0 and r_den == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    p = p_num / p_den if p_den else 0.0
    r = r_num / r_den if r_den else 0.0
    return {"precision": p, "recall": r, "f1": f1_score(p, r)}


# --- spans and matching --------------------------------------------------------------------


class Span(NamedTuple):
    """A character span of one article; ``text`` is used by exact matching, ``key`` (an id)
    only to break ties deterministically."""

    doc: str
    start: int
    end: int
    text: str = ""
    key: str = ""


Match = tuple[int, int, float]
"""(index into pred, index into gold, score)."""


def overlap_score(a: Span, b: Span) -> float:
    """Intersection over union of two spans, in characters; 0.0 across articles."""
    if a.doc != b.doc or a.end <= a.start or b.end <= b.start:
        return 0.0
    inter = min(a.end, b.end) - max(a.start, b.start)
    if inter <= 0:
        return 0.0
    return inter / ((a.end - a.start) + (b.end - b.start) - inter)


def _by_doc(spans: Sequence[Span]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(spans):
        out[s.doc].append(i)
    return out


def overlapping_pairs(pred: Sequence[Span], gold: Sequence[Span]) -> list[tuple[int, int]]:
    """All (pred index, gold index) pairs sharing at least one character in the same article.

    Sorted sweep per article, so long documents do not cost |pred| x |gold| comparisons.
    """
    out: list[tuple[int, int]] = []
    gold_by_doc = _by_doc(gold)
    for doc, p_idx in _by_doc(pred).items():
        g_idx = [j for j in gold_by_doc.get(doc, []) if gold[j].end > gold[j].start]
        if not g_idx:
            continue
        g_idx.sort(key=lambda j: gold[j].start)
        starts = [gold[j].start for j in g_idx]
        max_len = max(gold[j].end - gold[j].start for j in g_idx)
        for i in p_idx:
            p = pred[i]
            if p.end <= p.start:
                continue
            # golds starting before p.end, scanned backwards until none can reach p.start
            hi = bisect_left(starts, p.end)
            for k in range(hi - 1, -1, -1):
                g = gold[g_idx[k]]
                if g.start + max_len <= p.start:
                    break
                if g.end > p.start:
                    out.append((i, g_idx[k]))
    return out


def _greedy(candidates: list[tuple[tuple, int, int, float]]) -> list[Match]:
    """Take candidates in sort-key order while both sides are free (one-to-one)."""
    candidates.sort(key=lambda c: c[0])
    used_p: set[int] = set()
    used_g: set[int] = set()
    out: list[Match] = []
    for _, i, j, score in candidates:
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        out.append((i, j, score))
    return out


def _tie_break(p: Span, g: Span, i: int, j: int) -> tuple:
    return (p.doc, p.start, p.end, g.start, g.end, p.key, g.key, i, j)


def match_spans(pred: Sequence[Span], gold: Sequence[Span], threshold: float) -> list[Match]:
    """Greedy one-to-one matching of spans with overlap_score >= threshold (0 < threshold <= 1).

    Best score first, so an exact span always wins over a looser one; duplicate predictions can
    match at most one gold span each and the extra copies count as false positives.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    candidates = []
    for i, j in overlapping_pairs(pred, gold):
        score = overlap_score(pred[i], gold[j])
        if score >= threshold:
            candidates.append(((-score, *_tie_break(pred[i], gold[j], i, j)), i, j, score))
    return _greedy(candidates)


# Quotation marks folded to ASCII: straight and curly, low-9, primes, guillemets, CJK, fullwidth.
_DOUBLE_QUOTES = '"\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u301d\u301e\u301f\uff02'
_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u0060\u00b4\uff07"
_QUOTE_TABLE = str.maketrans(
    {**dict.fromkeys(_DOUBLE_QUOTES, '"'), **dict.fromkeys(_SINGLE_QUOTES, "'")}
)


def normalize_quote_text(text: str | None) -> str:
    """Fold quotation marks to ASCII, collapse whitespace, strip quote marks and spaces at the ends.

    So ``“We will win,”`` and ``"We  will win,"`` compare equal; inner quotes and apostrophes are
    kept (folded), and letters, case and other punctuation are left alone: it is an exact match.
    """
    if not text:
        return ""
    folded = " ".join(text.translate(_QUOTE_TABLE).split())
    return folded.strip(" \"'")


def match_exact(pred: Sequence[Span], gold: Sequence[Span]) -> list[Match]:
    """One-to-one matching of spans of the same article whose normalized texts are equal.

    Among equal texts (a remark repeated in one article) the closest offsets pair up first.
    Texts that normalize to "" never match. Score is 1.0.
    """
    gold_groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for j, g in enumerate(gold):
        norm = normalize_quote_text(g.text)
        if norm:
            gold_groups[(g.doc, norm)].append(j)
    candidates = []
    for i, p in enumerate(pred):
        norm = normalize_quote_text(p.text)
        for j in gold_groups.get((p.doc, norm), []) if norm else []:
            g = gold[j]
            key = (abs(p.start - g.start) + abs(p.end - g.end), *_tie_break(p, g, i, j))
            candidates.append((key, i, j, 1.0))
    return _greedy(candidates)


def normalize_name(name: str | None) -> str | None:
    """Canonical form of a person or organisation name for comparing speakers and claimants.

    NFKC, quote marks folded, case-folded, whitespace collapsed, punctuation and spaces stripped at
    both ends ("Tom  Lee," == "tom lee"). None or an empty result gives None.
    """
    if name is None:
        return None
    text = unicodedata.normalize("NFKC", str(name)).translate(_QUOTE_TABLE).casefold()
    text = " ".join(text.split())
    while text and (unicodedata.category(text[0])[0] in "PZ" or text[0] in "\"'"):
        text = text[1:]
    while text and (unicodedata.category(text[-1])[0] in "PZ" or text[-1] in "\"'"):
        text = text[:-1]
    return text or None


# --- clustering metrics --------------------------------------------------------------------


def _clusters(partition: Mapping[Hashable, Hashable]) -> dict[Hashable, set[Hashable]]:
    out: dict[Hashable, set[Hashable]] = defaultdict(set)
    for item, cid in partition.items():
        out[cid].add(item)
    return dict(out)


def _muc_side(
    clusters: Iterable[set[Hashable]], other: Mapping[Hashable, Hashable]
) -> tuple[int, int]:
    """Vilain et al.: sum(|S| - |p(S)|) and sum(|S| - 1); items absent from `other` are parts."""
    num = den = 0
    for cluster in clusters:
        parts = set()
        missing = 0
        for item in cluster:
            if item in other:
                parts.add(other[item])
            else:
                missing += 1
        num += len(cluster) - len(parts) - missing
        den += len(cluster) - 1
    return num, den


def muc(key: Mapping[Hashable, Hashable], response: Mapping[Hashable, Hashable]) -> PRF:
    """MUC (Vilain et al. 1995): link-based; recall = correct links kept / links in the key.

    Singletons carry no links, so they contribute nothing to either side. No links on either
    side gives 1.0 (see module docstring: the reference scorer reports 0 there).
    """
    r_num, r_den = _muc_side(_clusters(key).values(), response)
    p_num, p_den = _muc_side(_clusters(response).values(), key)
    return prf_from_ratios(p_num, p_den, r_num, r_den)


def _contingency(
    key: Mapping[Hashable, Hashable], response: Mapping[Hashable, Hashable]
) -> dict[tuple[Hashable, Hashable], int]:
    """|K ∩ R| for every key cluster K and response cluster R that share an item."""
    counts: dict[tuple[Hashable, Hashable], int] = defaultdict(int)
    for item, k in key.items():
        if item in response:
            counts[(k, response[item])] += 1
    return counts


def b_cubed(key: Mapping[Hashable, Hashable], response: Mapping[Hashable, Hashable]) -> PRF:
    """B-cubed (Bagga & Baldwin 1998): per-item precision and recall, averaged over items.

    Recall averages |K(m) ∩ R(m)| / |K(m)| over the key's items, precision the converse over the
    response's items; an item missing from the other side scores 0 there (Pradhan et al. 2014).
    """
    key_sizes = {k: len(v) for k, v in _clusters(key).items()}
    resp_sizes = {r: len(v) for r, v in _clusters(response).items()}
    r_num = p_num = 0.0
    for (k, r), n in _contingency(key, response).items():
        r_num += n * n / key_sizes[k]
        p_num += n * n / resp_sizes[r]
    return prf_from_ratios(p_num, len(response), r_num, len(key))


def ceaf_e(key: Mapping[Hashable, Hashable], response: Mapping[Hashable, Hashable]) -> PRF:
    """Entity-based CEAF (Luo 2005) with phi4(K, R) = 2|K ∩ R| / (|K| + |R|).

    The best one-to-one alignment of key and response clusters (scipy's linear_sum_assignment,
    solved per connected component of overlapping clusters) gives the similarity total;
    recall divides it by the number of key clusters, precision by the number of response ones.
    """
    key_cl = _clusters(key)
    resp_cl = _clusters(response)
    overlap = _contingency(key, response)
    sim = {(k, r): 2 * n / (len(key_cl[k]) + len(resp_cl[r])) for (k, r), n in overlap.items()}
    total = _max_assignment(sim)
    return prf_from_ratios(total, len(resp_cl), total, len(key_cl))


def _max_assignment(sim: Mapping[tuple[Hashable, Hashable], float]) -> float:
    """Maximum total weight of a one-to-one assignment over a sparse bipartite similarity."""
    if not sim:
        return 0.0
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    # connected components with union-find over ("k", k) and ("r", r) nodes
    parent: dict[tuple[str, Hashable], tuple[str, Hashable]] = {}

    def find(x: tuple[str, Hashable]) -> tuple[str, Hashable]:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for k, r in sim:
        a, b = find(("k", k)), find(("r", r))
        if a != b:
            parent[a] = b
    components: dict[tuple[str, Hashable], list[tuple[Hashable, Hashable]]] = defaultdict(list)
    for k, r in sim:
        components[find(("k", k))].append((k, r))
    total = 0.0
    for edges in components.values():
        if len(edges) == 1:
            total += sim[edges[0]]
            continue
        rows = {k: i for i, k in enumerate(dict.fromkeys(k for k, _ in edges))}
        cols = {r: i for i, r in enumerate(dict.fromkeys(r for _, r in edges))}
        matrix = np.zeros((len(rows), len(cols)))
        for k, r in edges:
            matrix[rows[k], cols[r]] = sim[(k, r)]
        ri, ci = linear_sum_assignment(matrix, maximize=True)
        total += float(matrix[ri, ci].sum())
    return total


def conll_f1(key: Mapping[Hashable, Hashable], response: Mapping[Hashable, Hashable]) -> float:
    """CoNLL-2012 score: the unweighted mean of the MUC, B-cubed and CEAF-e F1s."""
    return cluster_scores(key, response)["conll_f1"]


def cluster_scores(
    key: Mapping[Hashable, Hashable], response: Mapping[Hashable, Hashable]
) -> dict[str, PRF | float]:
    """MUC, B-cubed, CEAF-e (each precision/recall/f1) and their CoNLL-F1, in one call."""
    m, b, c = muc(key, response), b_cubed(key, response), ceaf_e(key, response)
    return {"muc": m, "b_cubed": b, "ceaf_e": c, "conll_f1": (m["f1"] + b["f1"] + c["f1"]) / 3}


# --- NER mentions (SemEval-2013 Task 9.1 schemes) ------------------------------------------


class TypedSpan(NamedTuple):
    """An entity mention: a span of one article with its entity type."""

    doc: str
    start: int
    end: int
    type: str


def align_mentions(pred: Sequence[TypedSpan], gold: Sequence[TypedSpan]) -> list[Match]:
    """One-to-one alignment of overlapping mentions, shared by all four NER schemes.

    Preference order: same boundaries, then same type, then higher overlap (IoU), then the
    deterministic tie-break. Any shared character makes a candidate (nervaluate's default
    min_overlap_percentage=1 does the same).
    """
    as_spans_p = [Span(m.doc, m.start, m.end, key=m.type) for m in pred]
    as_spans_g = [Span(m.doc, m.start, m.end, key=m.type) for m in gold]
    candidates = []
    for i, j in overlapping_pairs(as_spans_p, as_spans_g):
        p, g = pred[i], gold[j]
        same_span = (p.start, p.end) == (g.start, g.end)
        score = overlap_score(as_spans_p[i], as_spans_g[j])
        key = (
            not same_span,
            p.type != g.type,
            -score,
            *_tie_break(as_spans_p[i], as_spans_g[j], i, j),
        )
        candidates.append((key, i, j, score))
    return _greedy(candidates)


def ner_scores(
    pred: Sequence[TypedSpan], gold: Sequence[TypedSpan]
) -> dict[str, dict[str, float | int]]:
    """Mention-level P/R/F1 under the four SemEval-2013 Task 9.1 schemes (as in nervaluate).

    Each aligned pair falls in one scenario; unaligned predictions are spurious (SPU), unaligned
    gold mentions missed (MIS):

    ==========================  ======  =====  =======  ========
    aligned pair                strict  exact  partial  ent_type
    ==========================  ======  =====  =======  ========
    same span, same type        COR     COR    COR      COR
    same span, other type       INC     COR    COR      INC
    overlap only, same type     INC     INC    PAR      COR
    overlap only, other type    INC     INC    PAR      INC
    ==========================  ======  =====  =======  ========

    precision = (COR + 0.5 PAR) / ACT and recall = (COR + 0.5 PAR) / POS, with
    ACT = COR + INC + PAR + SPU (= number of predictions) and POS = COR + INC + PAR + MIS
    (= number of gold mentions); PAR is non-zero only in `partial`. `strict` is the CoNLL
    entity-level score (exact span and type). Both lists empty give 1.0 (nervaluate gives 0).
    nervaluate aligns separately per scheme, in input order; the counts agree with it except
    when one prediction overlaps several gold mentions (or one gold mention several predictions).
    """
    counts = {s: dict.fromkeys(("correct", "incorrect", "partial"), 0) for s in SCHEMES}
    matches = align_mentions(pred, gold)
    for i, j, _ in matches:
        same_span = (pred[i].start, pred[i].end) == (gold[j].start, gold[j].end)
        same_type = pred[i].type == gold[j].type
        outcome = {
            "strict": "correct" if same_span and same_type else "incorrect",
            "exact": "correct" if same_span else "incorrect",
            "partial": "correct" if same_span else "partial",
            "ent_type": "correct" if same_type else "incorrect",
        }
        for scheme, kind in outcome.items():
            counts[scheme][kind] += 1
    out: dict[str, dict[str, float | int]] = {}
    for scheme in SCHEMES:
        c = counts[scheme]
        tp = c["correct"] + 0.5 * c["partial"]
        row: dict[str, float | int] = dict(prf(tp, len(pred), len(gold)))
        row.update(c)
        row["missed"] = len(gold) - len(matches)
        row["spurious"] = len(pred) - len(matches)
        row["possible"] = len(gold)
        row["actual"] = len(pred)
        out[scheme] = row
    return out
