"""Hand-computed checks of newsbench.metrics, plus comparisons with reference implementations.

Expected values are written as fractions so each can be checked on paper. The comparisons with
neleval, nervaluate and seqeval skip when those packages are not installed.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from fractions import Fraction as F

import pytest

from newsbench.metrics import (
    Span,
    TypedSpan,
    b_cubed,
    ceaf_e,
    cluster_scores,
    conll_f1,
    f1_score,
    match_exact,
    match_spans,
    muc,
    ner_scores,
    normalize_name,
    normalize_quote_text,
    overlap_score,
    overlapping_pairs,
    prf,
)


def f1(p: F, r: F) -> F:
    return 2 * p * r / (p + r) if p + r else F(0)


def assert_prf(got: dict, precision, recall, f1_value=None) -> None:
    """Compare a precision/recall/f1 dict with exact fractions (F1 derived unless given)."""
    precision, recall = F(precision), F(recall)
    expected_f1 = f1(precision, recall) if f1_value is None else F(f1_value)
    assert got["precision"] == pytest.approx(float(precision), abs=1e-12)
    assert got["recall"] == pytest.approx(float(recall), abs=1e-12)
    assert got["f1"] == pytest.approx(float(expected_f1), abs=1e-12)


def partition(*clusters: str) -> dict[str, int]:
    """partition("abc", "de") -> {a: 0, b: 0, c: 0, d: 1, e: 1}; one letter = one item."""
    out = {}
    for cid, items in enumerate(clusters):
        for item in items:
            assert item not in out, f"{item} twice"
            out[item] = cid
    return out


# --- prf -----------------------------------------------------------------------------------


def test_prf_counts():
    assert_prf(prf(3, 4, 6), F(3, 4), F(3, 6))  # F1 = 2*(3/4)*(1/2)/(5/4) = 3/5
    assert prf(3, 4, 6)["f1"] == pytest.approx(3 / 5)
    assert_prf(prf(2.5, 5, 5), F(1, 2), F(1, 2))  # fractional tp (partial NER matches)


def test_prf_zero_conventions():
    assert prf(0, 0, 0) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}  # nothing to find
    assert prf(0, 3, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}  # empty gold
    assert prf(0, 0, 3) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}  # empty predictions
    assert prf(0, 2, 2) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert f1_score(0.0, 0.0) == 0.0


def test_prf_rejects_impossible_counts():
    with pytest.raises(ValueError):
        prf(3, 2, 5)
    with pytest.raises(ValueError):
        prf(-1, 2, 5)


# --- spans ---------------------------------------------------------------------------------


def S(start: int, end: int, doc: str = "a", text: str = "", key: str = "") -> Span:
    return Span(doc, start, end, text, key)


def test_overlap_score_is_intersection_over_union():
    assert overlap_score(S(0, 10), S(0, 10)) == 1.0
    assert overlap_score(S(0, 10), S(5, 15)) == pytest.approx(5 / 15)  # |5| / |15|
    assert overlap_score(S(0, 10), S(2, 6)) == pytest.approx(4 / 10)  # contained: 4 / 10
    assert overlap_score(S(2, 6), S(0, 10)) == overlap_score(S(0, 10), S(2, 6))  # symmetric
    assert overlap_score(S(0, 5), S(5, 10)) == 0.0  # touching, half-open
    assert overlap_score(S(0, 10), S(0, 10, doc="b")) == 0.0  # other article
    assert overlap_score(S(3, 3), S(0, 10)) == 0.0  # empty span
    assert overlap_score(S(3, 3), S(3, 3)) == 0.0


def test_match_spans_threshold_is_inclusive():
    gold = [S(0, 10)]
    assert match_spans([S(0, 8)], gold, 0.8) == [(0, 0, pytest.approx(8 / 10))]  # 8/10 >= 0.8
    assert match_spans([S(0, 7)], gold, 0.8) == []  # 7/10 < 0.8
    assert len(match_spans([S(7, 10)], gold, 0.3)) == 1  # 3/10 >= 0.3
    assert match_spans([S(8, 10)], gold, 0.3) == []  # 2/10
    with pytest.raises(ValueError):
        match_spans([], [], 0.0)


def test_match_spans_best_score_first_not_input_order():
    # P0=[0,10) scores 8/10 with G0=[0,8) and 8/10 with G1=[2,10); P1=[2,10) scores 1 with G1.
    # Best first: (P1, G1) = 1.0 is taken, then (P0, G0) = 0.8; input order would lose a match.
    gold = [S(0, 8), S(2, 10)]
    pred = [S(0, 10), S(2, 10)]
    got = match_spans(pred, gold, 0.8)
    assert sorted((i, j) for i, j, _ in got) == [(0, 0), (1, 1)]


def test_match_spans_duplicates_match_once():
    gold = [S(0, 10)]
    pred = [S(0, 10, key="q1"), S(0, 10, key="q2")]
    got = match_spans(pred, gold, 0.3)
    assert len(got) == 1
    assert_prf(prf(len(got), len(pred), len(gold)), F(1, 2), F(1, 1))


def test_match_spans_ties_are_broken_by_offsets_then_ids_not_input_order():
    gold = [S(0, 10)]
    # same offsets and score: the smaller id wins whatever the input order
    a, b = S(0, 10, key="q-a"), S(0, 10, key="q-b")
    assert match_spans([b, a], gold, 0.5) == [(1, 0, 1.0)]
    assert match_spans([a, b], gold, 0.5) == [(0, 0, 1.0)]
    # equal scores 5/15 with two golds: the gold that starts first wins
    pred = [S(5, 15)]
    gold2 = [S(10, 20, key="z"), S(0, 10, key="y")]
    assert match_spans(pred, gold2, 0.3) == [(0, 1, pytest.approx(1 / 3))]


def test_match_spans_never_crosses_articles_and_handles_empty():
    assert match_spans([S(0, 10, doc="a")], [S(0, 10, doc="b")], 0.3) == []
    assert match_spans([], [S(0, 10)], 0.3) == []
    assert match_spans([S(0, 10)], [], 0.3) == []


def test_overlapping_pairs_equals_brute_force():
    rng = random.Random(7)
    for _ in range(200):

        def spans(n: int) -> list[Span]:
            out = []
            for _ in range(n):
                s = rng.randrange(0, 60)
                out.append(S(s, s + rng.randrange(0, 25), doc=rng.choice("ab")))
            return out

        pred, gold = spans(rng.randrange(0, 8)), spans(rng.randrange(0, 8))
        brute = {
            (i, j)
            for i, p in enumerate(pred)
            for j, g in enumerate(gold)
            if overlap_score(p, g) > 0
        }
        assert set(overlapping_pairs(pred, gold)) == brute


def test_match_spans_is_optimal_above_one_half_on_disjoint_gold():
    # With disjoint gold spans and threshold > 0.5 each prediction reaches at most one gold span,
    # so the greedy matching has the maximum size; check against brute force.
    rng = random.Random(11)
    for _ in range(100):
        gold, pos = [], 0
        for _ in range(rng.randrange(1, 5)):
            pos += rng.randrange(0, 5)
            length = rng.randrange(3, 15)
            gold.append(S(pos, pos + length))
            pos += length
        pred = []
        for _ in range(rng.randrange(0, 6)):
            s = rng.randrange(0, pos + 1)
            pred.append(S(s, s + rng.randrange(1, 15)))
        got = match_spans(pred, gold, 0.6)
        ok = [[overlap_score(p, g) >= 0.6 for g in gold] for p in pred]
        best = 0
        for perm in itertools.permutations(range(len(gold)), min(len(gold), len(pred))):
            for chosen in itertools.combinations(range(len(pred)), len(perm)):
                best = max(best, sum(ok[i][j] for i, j in zip(chosen, perm, strict=True)))
        assert len(got) == best


# --- exact match ---------------------------------------------------------------------------


def test_normalize_quote_text():
    assert normalize_quote_text("\u201cWe will win,\u201d") == "We will win,"
    assert normalize_quote_text('"We  will\n win,"') == "We will win,"
    assert normalize_quote_text("\u00ab Nous gagnerons \u00bb") == "Nous gagnerons"
    assert normalize_quote_text("\u2018It\u2019s a \u201cfair\u201d deal\u2019") == (
        'It\'s a "fair" deal'
    )  # inner marks folded, outer stripped
    assert normalize_quote_text("\u201e\u00a0Ja\u00a0\u201c") == "Ja"
    assert normalize_quote_text("We will win") != normalize_quote_text("we will win")  # case
    assert normalize_quote_text(None) == ""
    assert normalize_quote_text(' " " ') == ""


def test_match_exact_same_article_one_to_one():
    gold = [
        S(0, 12, text="We will win."),
        S(40, 52, text="We will win."),  # the same remark twice in one article
        S(0, 12, doc="b", text="We will win."),
    ]
    pred = [
        S(41, 55, text="\u201cWe will win.\u201d"),  # closest to the second gold copy
        S(0, 12, text="We will win."),
        S(0, 12, text="We will win."),  # a third copy in article a: no gold left
        S(0, 12, doc="c", text="We will win."),  # other article
        S(0, 0, text=" \u201d "),  # empty after normalization: never matches
    ]
    got = sorted((i, j) for i, j, _ in match_exact(pred, gold))
    assert got == [(0, 1), (1, 0)]
    assert_prf(prf(len(got), len(pred), len(gold)), F(2, 5), F(2, 3))


def test_normalize_name():
    assert normalize_name("  Tom   Lee, ") == "tom lee"
    assert normalize_name("\u201cTOM LEE\u201d") == "tom lee"
    assert normalize_name("Ann-Marie O\u2019Neil") == "ann-marie o'neil"
    assert normalize_name(None) is None
    assert normalize_name(" , ") is None


# --- clustering ----------------------------------------------------------------------------


def test_pradhan_2014_worked_example():
    # Key {a,b,c} {d,e,f,g}; response {a,b} {c,d} {f,g,h,i}: e is missing from the response,
    # h and i are extra (twinless) mentions.
    key = partition("abc", "defg")
    resp = partition("ab", "cd", "fghi")
    # MUC recall: {abc} -> parts {ab}{c}: 3-2; {defg} -> {d}{e}{fg}: 4-3; over (3-1)+(4-1).
    # MUC precision: {ab}: 2-1; {cd} -> {c}{d}: 2-2; {fghi} -> {fg}{h}{i}: 4-3; over 1+1+3.
    assert_prf(muc(key, resp), F(2, 5), F(2, 5))
    # B3 recall over the 7 key mentions: (2^2/3 + 1^2/3 + 1^2/4 + 2^2/4) / 7 = (35/12)/7 = 5/12
    # B3 precision over the 8 response mentions: (2^2/2 + 1^2/2 + 1^2/2 + 2^2/4) / 8 = 4/8
    assert_prf(b_cubed(key, resp), F(1, 2), F(5, 12))
    # CEAF-e: phi4(abc, ab) = 4/5, phi4(defg, fghi) = 4/8; best total 13/10
    assert_prf(ceaf_e(key, resp), F(13, 10) / 3, F(13, 10) / 2)
    expected = (f1(F(2, 5), F(2, 5)) + f1(F(1, 2), F(5, 12)) + f1(F(13, 30), F(13, 20))) / 3
    assert conll_f1(key, resp) == pytest.approx(float(expected))


def test_bagga_baldwin_1998_example():
    # Key {1..5} {6,7} {8..12} (letters a..l); MUC cannot tell the two responses apart.
    key = partition("abcde", "fg", "hijkl")
    merge_small = partition("abcde", "fghijkl")  # {6,7} merged into {8..12}
    merge_large = partition("abcdehijkl", "fg")  # {1..5} merged with {8..12}
    # MUC: recall (4+1+4)/(4+1+4) = 1, precision 9/10 for both
    assert_prf(muc(key, merge_small), F(9, 10), 1)
    assert_prf(muc(key, merge_large), F(9, 10), 1)
    # B3 precision: (5*5/5 + 2*2/7 + 5*5/7)/12 = 16/21 and (5*5/10 + 5*5/10 + 2*2/2)/12 = 7/12
    assert_prf(b_cubed(key, merge_small), F(16, 21), 1)
    assert_prf(b_cubed(key, merge_large), F(7, 12), 1)


# Key and responses of the CoNLL reference scorer's test cases TC-A-2..4 (key {a} {bc} {def}).
TC_A_KEY = partition("a", "bc", "def")


def test_reference_scorer_case_missing_mentions():
    resp = partition("a", "de")  # TC-A-2
    # MUC recall: {bc} -> 2 missing: 2-0-2 = 0; {def} -> {de}{f}: 3-2 = 1; over 1+2
    assert_prf(muc(TC_A_KEY, resp), 1, F(1, 3))
    assert_prf(b_cubed(TC_A_KEY, resp), F(3, 3), F(7, 3) / 6)  # recall (1 + 2/3 + 2/3)/6
    assert_prf(ceaf_e(TC_A_KEY, resp), F(9, 5) / 2, F(9, 5) / 3)  # 1 + 4/5


def test_reference_scorer_case_extra_mentions():
    resp = partition("a", "bcx", "defy", "z")  # TC-A-3
    assert_prf(muc(TC_A_KEY, resp), F(3, 5), 1)
    assert_prf(b_cubed(TC_A_KEY, resp), (4 + F(7, 12)) / 9, 1)  # 1 + 2*2/3 + 3*3/4 over 9
    total = 1 + F(4, 5) + F(6, 7)  # phi4: a-a, bc-bcx, def-defy
    assert_prf(ceaf_e(TC_A_KEY, resp), total / 4, total / 3)


def test_reference_scorer_case_missing_and_extra_mentions():
    resp = partition("a", "bcx", "dy", "z")  # TC-A-4
    assert_prf(muc(TC_A_KEY, resp), F(1, 3), F(1, 3))
    # recall (1 + 1 + 1 + 1/3)/6; precision (1 + 2/3 + 2/3 + 1/2)/7
    assert_prf(b_cubed(TC_A_KEY, resp), (1 + F(4, 3) + F(1, 2)) / 7, (3 + F(1, 3)) / 6)
    total = 1 + F(4, 5) + F(2, 5)
    assert_prf(ceaf_e(TC_A_KEY, resp), total / 4, total / 3)


def test_ceaf_e_uses_the_optimal_not_the_greedy_alignment():
    # phi4(K1={abcd}, R1={abcef}) = 6/9 is the largest cell, but taking it leaves K2={ef} with
    # nothing; the optimum pairs K1-R2={d} (2/5) and K2-R1 (4/7): total 34/35 > 2/3.
    key = partition("abcd", "ef")
    resp = partition("abcef", "d")
    assert_prf(ceaf_e(key, resp), F(34, 35) / 2, F(34, 35) / 2)


def test_ceaf_e_matches_brute_force_assignment():
    rng = random.Random(3)
    for _ in range(60):
        key = {i: rng.randrange(4) for i in rng.sample(range(12), rng.randrange(1, 12))}
        resp = {i: rng.randrange(4) for i in rng.sample(range(14), rng.randrange(1, 14))}
        kc, rc = defaultdict(set), defaultdict(set)
        for i, c in key.items():
            kc[c].add(i)
        for i, c in resp.items():
            rc[c].add(i)
        ks, rs = list(kc.values()), list(rc.values())
        best = 0.0
        small, large = (ks, rs) if len(ks) <= len(rs) else (rs, ks)
        for perm in itertools.permutations(range(len(large)), len(small)):
            total = sum(
                2 * len(small[a] & large[b]) / (len(small[a]) + len(large[b]))
                for a, b in enumerate(perm)
            )
            best = max(best, total)
        got = ceaf_e(key, resp)
        assert got["recall"] == pytest.approx(best / len(ks))
        assert got["precision"] == pytest.approx(best / len(rs))


def test_cluster_edge_cases():
    key = partition("abc", "de")
    for scores in (cluster_scores(key, key), cluster_scores({}, {})):
        for m in ("muc", "b_cubed", "ceaf_e"):
            assert_prf(scores[m], 1, 1)
        assert scores["conll_f1"] == 1.0
    # all singletons on both sides: no links, MUC is 1.0 by the 0/0 rule (scorer.pl says 0)
    singles = partition("a", "b", "c")
    assert_prf(muc(singles, singles), 1, 1)
    assert conll_f1(singles, singles) == 1.0
    # empty response, and empty key
    for m in (muc, b_cubed, ceaf_e):
        assert_prf(m(key, {}), 0, 0)
        assert_prf(m({}, key), 0, 0)
    # one big cluster against gold: MUC recall 3/3, precision 3/4
    assert_prf(muc(key, partition("abcde")), F(3, 4), 1)
    # cluster ids are compared only within one side: renaming changes nothing
    renamed = {item: f"x{cid}" for item, cid in partition("ab", "cde").items()}
    assert cluster_scores(key, renamed) == cluster_scores(key, partition("ab", "cde"))


def _sets(mapping: dict) -> dict:
    out = defaultdict(set)
    for item, cid in mapping.items():
        out[cid].add(item)
    return dict(out)


def test_clusters_agree_with_neleval(monkeypatch):
    coref = pytest.importorskip("neleval.coref_metrics")
    # neleval 3.1.1's own Hungarian solver uses np.int, removed in numpy 2: give its CEAF the
    # scipy solver (same contract: minimise, return (row, col) pairs). Optimality of ours is
    # checked independently against brute force above.
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    def solve(cost):
        return np.column_stack(linear_sum_assignment(cost)).reshape(-1, 2)

    monkeypatch.setattr(coref, "linear_assignment", solve)
    rng = random.Random(2024)
    cases = [
        (partition("abc", "defg"), partition("ab", "cd", "fghi")),
        (TC_A_KEY, partition("a", "bcx", "dy", "z")),
    ]
    for _ in range(100):
        key = {i: rng.randrange(5) for i in rng.sample(range(15), rng.randrange(1, 15))}
        resp = {i: rng.randrange(6) for i in rng.sample(range(18), rng.randrange(1, 18))}
        cases.append((key, resp))
    for key, resp in cases:
        for ours, theirs in (
            (muc, coref.muc),
            (b_cubed, coref.b_cubed),
            (ceaf_e, coref.entity_ceaf),
        ):
            p_num, p_den, r_num, r_den = theirs(_sets(key), _sets(resp))
            got = ours(key, resp)
            if p_den == 0 and r_den == 0:  # MUC with no links anywhere: our documented 1.0
                assert got == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
                continue
            p, r, f = coref._prf(p_num, p_den, r_num, r_den)
            assert got["precision"] == pytest.approx(float(p))
            assert got["recall"] == pytest.approx(float(r))
            assert got["f1"] == pytest.approx(float(f))


# --- NER -----------------------------------------------------------------------------------


def T(start: int, end: int, type_: str, doc: str = "a") -> TypedSpan:
    return TypedSpan(doc, start, end, type_)


# one of each SemEval scenario: exact, wrong type, overlap, overlap + wrong type, miss, spurious
NER_GOLD = [T(0, 5, "PER"), T(10, 15, "ORG"), T(20, 30, "LOC"), T(40, 45, "PER"), T(50, 55, "ORG")]
NER_PRED = [T(0, 5, "PER"), T(10, 15, "PER"), T(20, 25, "LOC"), T(40, 48, "ORG"), T(60, 65, "PER")]


def test_ner_scenarios_hand_computed():
    got = ner_scores(NER_PRED, NER_GOLD)
    # strict: COR 1 (exact+type), INC 3, MIS 1, SPU 1 -> 1/5 and 1/5
    assert {k: got["strict"][k] for k in ("correct", "incorrect", "partial")} == {
        "correct": 1,
        "incorrect": 3,
        "partial": 0,
    }
    assert (got["strict"]["missed"], got["strict"]["spurious"]) == (1, 1)
    assert (got["strict"]["possible"], got["strict"]["actual"]) == (5, 5)
    assert_prf(got["strict"], F(1, 5), F(1, 5))
    # exact: boundaries only -> COR 2 (first two), INC 2
    assert (got["exact"]["correct"], got["exact"]["incorrect"]) == (2, 2)
    assert_prf(got["exact"], F(2, 5), F(2, 5))
    # partial: COR 2 + PAR 2 counted half -> (2 + 2/2)/5
    assert (got["partial"]["correct"], got["partial"]["partial"]) == (2, 2)
    assert_prf(got["partial"], F(3, 5), F(3, 5))
    # ent_type: type with any overlap -> COR 2 (first and third)
    assert (got["ent_type"]["correct"], got["ent_type"]["incorrect"]) == (2, 2)
    assert_prf(got["ent_type"], F(2, 5), F(2, 5))


def test_ner_edge_cases():
    empty = ner_scores([], [])
    assert all(empty[s]["f1"] == 1.0 for s in empty)
    no_pred = ner_scores([], NER_GOLD)
    assert no_pred["strict"]["missed"] == 5 and no_pred["strict"]["f1"] == 0.0
    no_gold = ner_scores(NER_PRED, [])
    assert no_gold["partial"]["spurious"] == 5 and no_gold["partial"]["precision"] == 0.0
    # duplicate prediction: the copy is spurious; other article: no match
    dup = ner_scores([T(0, 5, "PER"), T(0, 5, "PER"), T(0, 5, "PER", doc="b")], [T(0, 5, "PER")])
    assert dup["strict"]["correct"] == 1 and dup["strict"]["spurious"] == 2
    assert_prf(dup["strict"], F(1, 3), 1)
    # an exact span is preferred over a better-typed overlap for the same gold mention
    pref = ner_scores([T(0, 8, "PER"), T(0, 10, "ORG")], [T(0, 10, "PER")])
    assert pref["exact"]["correct"] == 1 and pref["strict"]["incorrect"] == 1


NERVALUATE_CASES = [
    (NER_GOLD, NER_PRED),
    (  # two articles, nested-free, several types
        [
            T(0, 4, "PER"),
            T(6, 12, "GPE"),
            T(20, 31, "ORG"),
            T(0, 4, "PER", "b"),
            T(9, 15, "LOC", "b"),
        ],
        [
            T(0, 4, "PER"),
            T(6, 10, "GPE"),
            T(19, 31, "PER"),
            T(0, 4, "ORG", "b"),
            T(30, 33, "GPE", "b"),
        ],
    ),
    (  # all correct but one spurious in an article without gold
        [T(3, 9, "PER")],
        [T(3, 9, "PER"), T(0, 2, "ORG", "b")],
    ),
]


@pytest.mark.parametrize(("gold", "pred"), NERVALUATE_CASES)
def test_ner_agrees_with_nervaluate(gold, pred):
    nervaluate = pytest.importorskip("nervaluate")
    docs = sorted({m.doc for m in gold} | {m.doc for m in pred})
    tags = sorted({m.type for m in gold} | {m.type for m in pred})

    def as_docs(mentions):  # nervaluate's dict loader uses inclusive end offsets
        return [
            [{"label": m.type, "start": m.start, "end": m.end - 1} for m in mentions if m.doc == d]
            for d in docs
        ]

    theirs = nervaluate.Evaluator(as_docs(gold), as_docs(pred), tags=tags, loader="dict")
    theirs = theirs.evaluate()["overall"]
    ours = ner_scores(pred, gold)
    for scheme in ("strict", "exact", "partial", "ent_type"):
        t = theirs[scheme]
        o = ours[scheme]
        assert (o["correct"], o["incorrect"], o["partial"], o["missed"], o["spurious"]) == (
            t.correct,
            t.incorrect,
            t.partial,
            t.missed,
            t.spurious,
        ), scheme
        assert o["precision"] == pytest.approx(t.precision)
        assert o["recall"] == pytest.approx(t.recall)
        assert o["f1"] == pytest.approx(t.f1)


def test_ner_strict_agrees_with_seqeval():
    seqeval_metrics = pytest.importorskip("seqeval.metrics")
    gold = [T(0, 4, "PER"), T(6, 12, "GPE"), T(12, 15, "GPE"), T(20, 31, "ORG")]
    pred = [T(0, 4, "PER"), T(6, 15, "GPE"), T(20, 31, "PER"), T(33, 35, "LOC")]

    def tags(mentions):  # one token per character, IOB2
        out = ["O"] * 40
        for m in mentions:
            out[m.start] = f"B-{m.type}"
            for k in range(m.start + 1, m.end):
                out[k] = f"I-{m.type}"
        return [out]

    ours = ner_scores(pred, gold)["strict"]
    assert ours["precision"] == pytest.approx(
        seqeval_metrics.precision_score(tags(gold), tags(pred))
    )
    assert ours["recall"] == pytest.approx(seqeval_metrics.recall_score(tags(gold), tags(pred)))
    assert ours["f1"] == pytest.approx(seqeval_metrics.f1_score(tags(gold), tags(pred)))
    assert_prf(ours, F(1, 4), F(1, 4))  # only PER [0,4) is exact in span and type
