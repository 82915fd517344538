"""newsbench.evaluate on small realistic gold tables built inline.

Each task: gold scored against itself is perfect everywhere; a deliberately damaged copy gives
the hand-computed figures written below as fractions; Parquet, JSONL and dataset-folder inputs
give the same result as a DataFrame.
"""

from __future__ import annotations

import json
from fractions import Fraction as F
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsbench.evaluate import evaluate, format_report, load_table

ARTICLES = {
    "a1": (
        'President Jane Doe said: "We will rebuild the bridge by spring." Mayor Tom Lee told '
        "reporters that the city would pay half of the cost. \u201cIt is a fair deal for "
        "everyone,\u201d Lee said."
    ),
    "a2": (
        'Doe promised that "we will rebuild the bridge by spring". Opposition leader Ann Roe '
        'called the plan "a fantasy".'
    ),
    "a3": '"The bridge is safe," an engineer from the Transport Ministry said on Monday.',
    "a4": 'Jane Doe told a crowd: "We will rebuild the bridge by spring." The crowd cheered.',
    "a5": 'Nobody annotated this article. "Nothing to see," a bystander said.',
}


def find(article: str, text: str, occurrence: int = 0) -> tuple[int, int]:
    """Offsets of the n-th occurrence of text in the article (checked to exist)."""
    body, start = ARTICLES[article], -1
    for _ in range(occurrence + 1):
        start = body.index(text, start + 1)
    return start, start + len(text)


def span_row(article: str, text: str, occurrence: int = 0, shift: int = 0) -> dict:
    start, end = find(article, text, occurrence)
    start, end = start + shift, end + shift
    return {
        "article_id": article,
        "text": ARTICLES[article][start:end],
        "char_start": start,
        "char_end": end,
    }


def f(x) -> float:
    return round(float(x), 4)


def f1(p, r) -> F:
    p, r = F(p), F(r)
    return 2 * p * r / (p + r) if p + r else F(0)


def check_prf(got: dict, precision, recall) -> None:
    assert (got["precision"], got["recall"], got["f1"]) == (
        f(precision),
        f(recall),
        f(f1(precision, recall)),
    )


def all_numbers(node, path=""):
    """(path, value) for every float in a result, skipping counts."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from all_numbers(v, f"{path}.{k}" if path else k)
    elif isinstance(node, float):
        yield path, node


# --- quotes --------------------------------------------------------------------------------


def quote(qid, article, text, speaker, entity, kind, cluster, occurrence=0, shift=0, **kw):
    row = {"quote_id": qid, **span_row(article, text, occurrence, shift)}
    row.update(
        speaker=speaker,
        speaker_entity_id=entity,
        cue="said",
        kind=kind,
        quote_cluster_id=cluster,
        origin="gold",
    )
    row.update(kw)
    return row


REBUILD = "We will rebuild the bridge by spring."
GOLD_QUOTES = [
    quote("q1", "a1", REBUILD, "Jane Doe", "E_DOE", "direct", "C_rebuild"),
    quote(
        "q2", "a1", "the city would pay half of the cost", "Tom Lee", "E_LEE", "indirect", "C_pay"
    ),
    quote("q3", "a1", "It is a fair deal for everyone,", "Tom Lee", "E_LEE", "direct", "C_fair"),
    quote(
        "q4",
        "a2",
        "we will rebuild the bridge by spring",
        "Jane Doe",
        "E_DOE",
        "partial",
        "C_rebuild",
    ),
    quote("q5", "a2", "a fantasy", "Ann Roe", "E_ROE", "partial", "C_fantasy"),
    quote("q6", "a3", "The bridge is safe,", "an engineer", None, "direct", "C_safe"),
    quote("q7", "a4", REBUILD, "Jane Doe", "E_DOE", "direct", "C_rebuild"),
]
# an automatic row in the gold table: never counted as gold
AUTO_QUOTE = quote(
    "q8", "a5", "Nothing to see,", "a bystander", None, "direct", "C_x", origin="auto"
)


def gold_quotes() -> pd.DataFrame:
    return pd.DataFrame([*GOLD_QUOTES, AUTO_QUOTE])


def damaged_quotes() -> pd.DataFrame:
    """Drop q5; shift q3 by 8 characters; give q2 the wrong speaker; split q7 off its cluster;
    duplicate q6; add a prediction in a5, which has no gold quote."""
    rows = {r["quote_id"]: dict(r) for r in GOLD_QUOTES}
    del rows["q5"]
    rows["q3"] = quote(
        "q3",
        "a1",
        "It is a fair deal for everyone,",
        "Tom Lee",
        "E_LEE",
        "direct",
        "C_fair",
        shift=8,
    )
    rows["q2"].update(speaker="Jane Doe", speaker_entity_id="E_DOE")
    rows["q7"].update(quote_cluster_id="C_rebuild_2")
    rows["q6dup"] = {**rows["q6"], "quote_id": "q6dup"}
    rows["q9"] = {**AUTO_QUOTE, "quote_id": "q9", "origin": "auto"}
    preds = pd.DataFrame(list(rows.values()))
    return preds.drop(columns=["origin"])


def test_gold_rows_are_consistent_with_articles():
    for row in [*GOLD_QUOTES, AUTO_QUOTE]:
        assert ARTICLES[row["article_id"]][row["char_start"] : row["char_end"]] == row["text"]


def test_quotes_gold_against_itself_is_perfect():
    gold = gold_quotes()
    result = evaluate("quotes", gold[gold.origin == "gold"], gold)
    assert (result["n_gold"], result["n_pred"], result["n_pred_ignored"]) == (7, 7, 0)
    assert result["n_gold_articles"] == 4
    numbers = dict(all_numbers(result))
    assert numbers and all(v == 1.0 for v in numbers.values()), numbers
    assert result["speaker_accuracy"]["n_matched"] == 7
    json.dumps(result, allow_nan=False)


def test_quotes_damaged_copy_hand_computed():
    # IoU of the shifted q3 (31 characters moved by 8): (31-8)/(31+8) = 23/39, in [0.3, 0.8)
    assert 0.3 <= F(23, 39) < 0.8
    r = evaluate("quotes", damaged_quotes(), gold_quotes())
    # 8 predictions given, the one in a5 ignored; 7 scored: q1 q2 q3' q4 q6 q6dup q7
    assert (r["n_gold"], r["n_pred"], r["n_pred_ignored"], r["n_gold_articles"]) == (7, 8, 1, 4)
    assert r["main"] == "overlap_0.8"
    # exact: q1 q2 q4 q6 q7 (q3' has other text, q6dup is a second copy) -> 5/7, 5/7
    check_prf(r["exact"], F(5, 7), F(5, 7))
    assert r["exact"]["tp"] == 5
    # lenient: q3' matches too -> 6/7, 6/7; strict: 5/7, 5/7
    check_prf(r["overlap_0.3"], F(6, 7), F(6, 7))
    check_prf(r["overlap_0.8"], F(5, 7), F(5, 7))
    # speaker on the 5 strict matches: q2 wrong -> 4/5 by id and by name
    sa = r["speaker_accuracy"]
    assert sa == {"matching": "overlap_0.8", "n_matched": 5, "by_entity": 0.8, "by_name": 0.8}
    # end to end: 4 right spans with the right speaker over 7 and 7
    check_prf(r["end_to_end"], F(4, 7), F(4, 7))
    assert r["end_to_end"]["speaker"] == "speaker_entity_id"
    check_prf(r["end_to_end_by_name"], F(4, 7), F(4, 7))
    assert r["kind_accuracy"]["accuracy"] == 1.0
    # by kind: direct q1 q3 q6 q7, partial q4 q5, indirect q2
    assert r["by_kind"]["direct"] == {
        "n_gold": 4,
        "recall_exact": f(F(3, 4)),
        "recall_overlap_0.3": 1.0,
        "recall_overlap_0.8": f(F(3, 4)),
    }
    assert r["by_kind"]["partial"]["recall_overlap_0.3"] == f(F(1, 2))
    assert r["by_kind"]["indirect"]["recall_exact"] == 1.0

    # Clusters over gold items g1..g7 at the 0.8 matching.
    # key: {g1 g4 g7} {g2} {g3} {g5} {g6}
    # response: {g1 g4} {g7} {g2} {p3'} {g6 p6dup}   (p = a prediction without gold partner)
    c = r["clusters"]
    assert c["matching"] == "overlap_0.8"
    assert (c["n_gold_items"], c["n_pred_items"], c["n_common_items"]) == (7, 7, 5)
    # MUC: recall {g1 g4 g7} -> 2 parts: (3-2)/2; precision {g1 g4}: 1/1, {g6 p6dup}: 0/1
    muc_p, muc_r = F(1, 2), F(1, 2)
    check_prf(c["muc"], muc_p, muc_r)
    # B3 recall: (2/3 + 2/3 + 1/3 + 1 + 0 + 0 + 1)/7 = 11/21
    # B3 precision: (1 + 1 + 1 + 1 + 0 + 1/2 + 0)/7 = 9/14
    b3_p, b3_r = F(9, 14), F(11, 21)
    check_prf(c["b_cubed"], b3_p, b3_r)
    # CEAF-e: phi4 rebuild 2*2/(3+2) + pay 1 + safe 2*1/(1+2) = 37/15; 5 and 5 clusters
    ce = F(37, 15) / 5
    check_prf(c["ceaf_e"], ce, ce)
    assert c["conll_f1"] == f((f1(muc_p, muc_r) + f1(b3_p, b3_r) + f1(ce, ce)) / 3)

    # Matched items only (g1 g2 g4 g6 g7): key {g1 g4 g7} {g2} {g6}; response {g1 g4} {g7} {g2}
    # {g6}. MUC 1/1, 1/2; B3 1, (2/3+2/3+1/3+1+1)/5 = 11/15; CEAF-e 14/5 over 4 and 3.
    m = r["clusters_matched_only"]
    check_prf(m["muc"], 1, F(1, 2))
    check_prf(m["b_cubed"], 1, F(11, 15))
    check_prf(m["ceaf_e"], F(14, 5) / 4, F(14, 5) / 3)


def test_quotes_empty_predictions():
    empty = pd.DataFrame(columns=["article_id", "char_start", "char_end", "text"])
    r = evaluate("quotes", empty, gold_quotes())
    assert (r["n_pred"], r["n_pred_ignored"]) == (0, 0)
    for key in ("exact", "overlap_0.3", "overlap_0.8", "end_to_end"):
        assert (r[key]["precision"], r[key]["recall"], r[key]["f1"]) == (0.0, 0.0, 0.0)
    assert r["speaker_accuracy"]["by_entity"] == 0.0
    assert r["clusters"]["b_cubed"]["recall"] == 0.0


def test_quotes_only_origin_gold_counts_and_pred_origin_filter():
    gold = gold_quotes()
    # The whole table as predictions, keeping its automatic rows only: q8 lies in a5 -> ignored
    r = evaluate("quotes", gold, gold, pred_origin="auto")
    assert (r["n_gold"], r["n_pred"], r["n_pred_ignored"]) == (7, 1, 1)
    check_prf(r["overlap_0.8"], 0, 0)
    # gold_articles narrows the scope: a1 only (q1 q2 q3)
    r = evaluate("quotes", gold[gold.origin == "gold"], gold, gold_articles=["a1"])
    assert (r["n_gold"], r["n_pred"], r["n_pred_ignored"], r["n_gold_articles"]) == (3, 7, 4, 1)
    assert r["overlap_0.8"]["f1"] == 1.0


def test_missing_columns_and_bad_offsets_are_reported():
    with pytest.raises(ValueError, match="char_end"):
        evaluate(
            "quotes",
            pd.DataFrame([{"article_id": "a1", "char_start": 0, "text": "x"}]),
            gold_quotes(),
        )
    bad = pd.DataFrame([{**GOLD_QUOTES[0], "char_start": 1.5}])
    with pytest.raises(ValueError, match="integer offset"):
        evaluate("quotes", bad, gold_quotes())
    with pytest.raises(ValueError, match="task"):
        evaluate("tweets", bad, gold_quotes())  # type: ignore[arg-type]


# --- file inputs ---------------------------------------------------------------------------


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return path


def write_jsonl(df: pd.DataFrame, path: Path) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in df.to_dict("records"):
            clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            fh.write(json.dumps(clean, ensure_ascii=False) + "\n")
    return path


def test_parquet_jsonl_and_dataset_folder_inputs_agree(tmp_path):
    preds, gold = damaged_quotes(), gold_quotes()
    expected = evaluate("quotes", preds, gold)
    # gold as a built dataset: <dir>/data/quotes/*.parquet, with a stray file beside it
    dataset = tmp_path / "newsbench"
    write_parquet(gold.iloc[:4], dataset / "data" / "quotes" / "train-00000-of-00002.parquet")
    write_parquet(gold.iloc[4:], dataset / "data" / "quotes" / "train-00001-of-00002.parquet")
    (dataset / "data" / "quotes" / "stats.json").write_text("{}")
    parquet = write_parquet(preds, tmp_path / "preds.parquet")
    jsonl = write_jsonl(preds, tmp_path / "preds.jsonl")
    assert evaluate("quotes", parquet, dataset) == expected
    assert evaluate("quotes", str(jsonl), str(dataset)) == expected
    assert evaluate("quotes", jsonl, gold) == expected
    # JSONL ids that look like numbers stay strings
    (tmp_path / "num.jsonl").write_text('{"article_id": "001", "char_start": 0, "char_end": 2}\n')
    assert load_table(tmp_path / "num.jsonl", "quotes")[0]["article_id"] == "001"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        evaluate("quotes", parquet, tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        evaluate("quotes", tmp_path / "missing.jsonl", gold)


def test_entities_parquet_with_mention_lists_loads(tmp_path):
    path = write_parquet(damaged_entities(), tmp_path / "entities.parquet")
    jsonl = write_jsonl(damaged_entities(), tmp_path / "entities.jsonl")
    expected = evaluate("entities", damaged_entities(), gold_entities())
    assert evaluate("entities", path, gold_entities()) == expected
    # pandas gives the mention lists as numpy arrays of dicts
    assert evaluate("entities", pd.read_parquet(path), gold_entities()) == expected
    assert evaluate("entities", jsonl, gold_entities()) == expected


# --- entities ------------------------------------------------------------------------------


def mention(article: str, text: str, occurrence: int = 0, shift_start: int = 0) -> dict:
    start, end = find(article, text, occurrence)
    start += shift_start
    return {
        "article_id": article,
        "char_start": start,
        "char_end": end,
        "text": ARTICLES[article][start:end],
    }


def entity(eid: str, name: str, type_: str, mentions: list[dict], origin: str = "gold") -> dict:
    return {
        "entity_id": eid,
        "name": name,
        "type": type_,
        "aliases": sorted({m["text"] for m in mentions}),
        "mentions": mentions,
        "n_articles": len({m["article_id"] for m in mentions}),
        "origin": origin,
    }


JD1 = mention("a1", "Jane Doe")
DOE2 = mention("a2", "Doe")
JD4 = mention("a4", "Jane Doe")
TL1 = mention("a1", "Tom Lee")
LEE1 = mention("a1", "Lee", occurrence=1)  # "... for everyone," Lee said.
AR2 = mention("a2", "Ann Roe")
TM3 = mention("a3", "Transport Ministry")

GOLD_ENTITIES = [
    entity("E_DOE", "Jane Doe", "PERSON", [JD1, DOE2, JD4]),
    entity("E_LEE", "Tom Lee", "PERSON", [TL1, LEE1]),
    entity("E_ROE", "Ann Roe", "PERSON", [AR2]),
    entity("E_MIN", "Transport Ministry", "ORG", [TM3]),
]


def gold_entities() -> pd.DataFrame:
    auto = entity("auto-1", "bystander", "PERSON", [mention("a5", "bystander")], origin="auto")
    return pd.DataFrame([*GOLD_ENTITIES, auto])


def damaged_entities() -> pd.DataFrame:
    """Split Jane Doe (a4 apart); "Mayor Tom Lee" for "Tom Lee"; the ministry typed GPE;
    Ann Roe missed; a spurious "bridge"; one entity only in a5 (no gold there)."""
    mtl1 = mention("a1", "Mayor Tom Lee")
    rows = [
        entity("P_DOE", "Jane Doe", "PERSON", [JD1, DOE2], origin="auto"),
        entity("P_DOE2", "Jane Doe", "PERSON", [JD4], origin="auto"),
        entity("P_LEE", "Tom Lee", "PERSON", [mtl1, LEE1], origin="auto"),
        entity("P_MIN", "Transport Ministry", "GPE", [TM3], origin="auto"),
        entity("P_BRIDGE", "bridge", "PRODUCT", [mention("a1", "bridge")], origin="auto"),
        entity("P_BY", "bystander", "PERSON", [mention("a5", "bystander")], origin="auto"),
    ]
    return pd.DataFrame(rows)


def test_entity_mentions_are_consistent_with_articles():
    for row in GOLD_ENTITIES:
        for m in row["mentions"]:
            assert ARTICLES[m["article_id"]][m["char_start"] : m["char_end"]] == m["text"]


def test_entities_gold_against_itself_is_perfect():
    gold = gold_entities()
    result = evaluate("entities", gold[gold.origin == "gold"], gold)
    assert (result["n_gold"], result["n_pred"], result["n_pred_ignored"]) == (4, 4, 0)
    assert (result["n_gold_mentions"], result["n_gold_articles"]) == (7, 4)
    numbers = dict(all_numbers(result))
    assert numbers and all(v == 1.0 for v in numbers.values()), numbers
    json.dumps(result, allow_nan=False)


def test_entities_damaged_copy_hand_computed():
    r = evaluate("entities", damaged_entities(), gold_entities())
    assert (r["n_gold"], r["n_pred"], r["n_pred_ignored"]) == (4, 6, 1)
    assert (r["n_gold_mentions"], r["n_pred_mentions"], r["n_pred_mentions_ignored"]) == (7, 8, 1)
    assert r["main"] == "ner/strict"
    ner = r["ner"]
    # 7 gold, 7 scored predictions. Aligned: JD1 DOE2 JD4 LEE1 exact+type; "Mayor Tom Lee" over
    # "Tom Lee" (overlap, same type); ministry (same span, GPE vs ORG); Ann Roe missed;
    # "bridge" spurious.
    counts = {s: tuple(ner[s][k] for k in ("correct", "incorrect", "partial")) for s in ner}
    assert counts == {
        "strict": (4, 2, 0),
        "exact": (5, 1, 0),
        "partial": (5, 0, 1),
        "ent_type": (5, 1, 0),
    }
    assert all((ner[s]["missed"], ner[s]["spurious"]) == (1, 1) for s in ner)
    check_prf(ner["strict"], F(4, 7), F(4, 7))
    check_prf(ner["exact"], F(5, 7), F(5, 7))
    check_prf(ner["partial"], F(11, 14), F(11, 14))  # (5 + 1/2)/7
    check_prf(ner["ent_type"], F(5, 7), F(5, 7))

    # Clusters over mentions. key: {JD1 DOE2 JD4} {TL1 LEE1} {AR2} {TM3}
    # response: {JD1 DOE2} {JD4} {MTL1 LEE1} {TM3} {bridge1}   (MTL1, bridge1: response only)
    c = r["clusters"]
    assert (c["n_gold_items"], c["n_pred_items"], c["n_common_items"]) == (7, 7, 5)
    # MUC recall: Doe (3-2) + Lee (2 - 1 part - 1 missing = 0) over 2 + 1 -> 1/3
    # MUC precision: {JD1 DOE2} 1/1, {MTL1 LEE1} (2-1-1)/1 -> 1/2
    muc_p, muc_r = F(1, 2), F(1, 3)
    check_prf(c["muc"], muc_p, muc_r)
    # B3 recall: (2/3 + 2/3 + 1/3 + 0 + 1/2 + 0 + 1)/7 = (19/6)/7 = 19/42
    # B3 precision: (1 + 1 + 1 + 0 + 1/2 + 1 + 0)/7 = 9/14
    b3_p, b3_r = F(9, 14), F(19, 42)
    check_prf(c["b_cubed"], b3_p, b3_r)
    # CEAF-e: Doe-P_DOE 2*2/5 + Lee-P_LEE 2*1/4 + ministry 1 = 23/10; 5 response, 4 key clusters
    check_prf(c["ceaf_e"], F(23, 10) / 5, F(23, 10) / 4)
    ce_p, ce_r = F(23, 50), F(23, 40)
    assert c["conll_f1"] == f((f1(muc_p, muc_r) + f1(b3_p, b3_r) + f1(ce_p, ce_r)) / 3)

    # Given gold mentions (JD1 DOE2 JD4 LEE1 TM3): key {JD1 DOE2 JD4} {LEE1} {TM3};
    # response {JD1 DOE2} {JD4} {LEE1} {TM3}. MUC 1/1, 1/2; B3 1, 11/15; CEAF-e 14/5 over 4, 3.
    g = r["clusters_gold_mentions"]
    assert g["n_common_items"] == 5
    check_prf(g["muc"], 1, F(1, 2))
    check_prf(g["b_cubed"], 1, F(11, 15))
    check_prf(g["ceaf_e"], F(14, 5) / 4, F(14, 5) / 3)


def test_entities_duplicate_mention_counts_once_in_clusters():
    dup = pd.DataFrame(
        [
            entity("A", "Jane Doe", "PERSON", [JD1, DOE2, JD4]),
            entity("B", "Jane Doe", "PERSON", [JD1]),  # the same mention in a second entity
        ]
    )
    gold = pd.DataFrame(GOLD_ENTITIES[:1])
    r = evaluate("entities", dup, gold)
    assert r["clusters"]["n_pred_items"] == 3
    assert r["clusters"]["conll_f1"] == 1.0  # entity "A" (first by id) keeps the mention
    check_prf(r["ner"]["strict"], F(3, 4), 1)  # the copy is a spurious typed mention


# --- claims --------------------------------------------------------------------------------


def claim(cid, article, text, claimant, entity_id, cluster, shift=0):
    return {
        "claim_id": cid,
        **span_row(article, text, shift=shift),
        "claimant": claimant,
        "claimant_entity_id": entity_id,
        "claim_cluster_id": cluster,
        "origin": "gold",
    }


PAY = "the city would pay half of the cost"
GOLD_CLAIMS = [
    claim("c1", "a1", PAY, "Tom Lee", "E_LEE", "K_pay"),
    claim("c2", "a1", REBUILD, "Jane Doe", "E_DOE", "K_spring"),
    claim("c3", "a3", "The bridge is safe,", "an engineer", None, "K_safe"),
    claim("c4", "a4", REBUILD, "Jane Doe", "E_DOE", "K_spring"),
    claim("c5", "a2", "we will rebuild the bridge by spring", "Jane Doe", "E_DOE", "K_spring"),
]


def damaged_claims() -> pd.DataFrame:
    """Drop c3; shift c1 7 characters left; c2 attributed to Tom Lee; c5 split off."""
    rows = {r["claim_id"]: dict(r) for r in GOLD_CLAIMS}
    del rows["c3"]
    rows["c1"] = claim("c1", "a1", PAY, "Tom Lee", "E_LEE", "K_pay", shift=-7)
    rows["c2"].update(claimant="TOM LEE", claimant_entity_id="E_LEE")
    rows["c5"].update(claim_cluster_id="K_spring_b")
    return pd.DataFrame(list(rows.values()))


def test_claims_gold_against_itself_is_perfect():
    gold = pd.DataFrame(GOLD_CLAIMS)
    result = evaluate("claims", gold, gold)
    assert result["main"] == "overlap_0.5"
    numbers = dict(all_numbers(result))
    assert numbers and all(v == 1.0 for v in numbers.values()), numbers


def test_claims_damaged_copy_hand_computed():
    # shifted c1: (35-7)/(35+7) = 2/3, in [0.5, 0.8)
    assert 0.5 <= F(28, 42) < 0.8
    r = evaluate("claims", damaged_claims(), pd.DataFrame(GOLD_CLAIMS))
    assert (r["n_gold"], r["n_pred"], r["n_pred_ignored"], r["n_gold_articles"]) == (5, 4, 0, 4)
    check_prf(r["overlap_0.3"], 1, F(4, 5))
    check_prf(r["overlap_0.5"], 1, F(4, 5))
    check_prf(r["overlap_0.8"], F(3, 4), F(3, 5))
    ca = r["claimant_accuracy"]
    assert ca == {"matching": "overlap_0.5", "n_matched": 4, "by_entity": 0.75, "by_name": 0.75}
    # clusters at 0.5: key {g1} {g2 g4 g5} {g3}; response {g1} {g2 g4} {g5}
    c = r["clusters"]
    check_prf(c["muc"], 1, F(1, 2))  # (3-2)/2; precision {g2 g4} 1/1
    check_prf(c["b_cubed"], 1, F(8, 3) / 5)  # recall (1 + 2/3 + 2/3 + 1/3 + 0)/5
    check_prf(c["ceaf_e"], F(9, 5) / 3, F(9, 5) / 3)  # 1 + 2*2/5
    m = r["clusters_matched_only"]  # g3 gone: recall (1 + 2/3 + 2/3 + 1/3)/4; CEAF 9/5 over 3, 2
    check_prf(m["b_cubed"], 1, F(2, 3))
    check_prf(m["ceaf_e"], F(9, 5) / 3, F(9, 5) / 2)


# --- report --------------------------------------------------------------------------------


def test_format_report_lists_every_metric():
    result = evaluate("quotes", damaged_quotes(), gold_quotes())
    text = format_report(result)
    lines = text.splitlines()
    assert lines[0].startswith("task: quotes")
    row = next(line for line in lines if line.startswith("overlap_0.8 "))
    assert row.split()[1:] == [
        f"{result['overlap_0.8'][k]:.4f}" for k in ("precision", "recall", "f1")
    ]
    assert any(line.startswith("speaker_accuracy.by_entity [overlap_0.8]") for line in lines)
    assert any(line.startswith("clusters.conll_f1 [overlap_0.8]") for line in lines)
    ent = format_report(evaluate("entities", damaged_entities(), gold_entities()))
    assert "ner.partial" in ent and "clusters_gold_mentions.ceaf_e" in ent


def test_default_gold_is_dist_newsbench(tmp_path, monkeypatch):
    write_parquet(gold_quotes(), tmp_path / "dist" / "newsbench" / "data" / "quotes" / "q.parquet")
    monkeypatch.chdir(tmp_path)
    assert evaluate("quotes", damaged_quotes()) == evaluate(
        "quotes", damaged_quotes(), gold_quotes()
    )
