"""Score predictions against newsbench's gold annotations: `evaluate` and `format_report`.

``evaluate(task, predictions, gold=None)`` with task "quotes", "claims" or "entities".
predictions: a DataFrame, a Parquet file, a JSONL file (one row per line, the table's columns),
or a folder (``<dir>/data/<table>/*.parquet`` like a built dataset, else ``<dir>/*.parquet``).
gold: a built dataset folder (default ``dist/newsbench``) or a DataFrame of the task's table.

Scope. Only gold rows count as gold (``origin == "gold"``; a gold frame without an ``origin``
column is taken as all gold). The scored articles are the article_ids with at least one gold
row in the task's table (for entities: with at least one gold mention), unless ``gold_articles``
is given. Predicted rows for other articles are dropped and counted in ``n_pred_ignored``: an
article annotated as having no quote has no gold row, so predictions there are NOT penalised.
``pred_origin="auto"`` keeps only prediction rows with that origin (to score the dataset's own
automatic rows: ``evaluate("quotes", "dist/newsbench", pred_origin="auto")``).

Result keys (floats rounded to 4 places; every P/R/F1 dict has "precision", "recall", "f1"):

Common: "task", "main" (key path, "/"-separated, of the headline P/R/F1 dict), "n_gold" (gold rows),
"n_pred" (prediction rows given), "n_pred_ignored" (of those, rows outside the scored articles),
"n_gold_articles".

quotes (main "overlap_0.8"):
  "exact"          P/R/F1 + "tp": same article, equal text after normalize_quote_text
  "overlap_0.3"    P/R/F1 + "tp": greedy one-to-one matching at character IoU >= 0.3 (lenient)
  "overlap_0.8"    P/R/F1 + "tp": the same at IoU >= 0.8 (strict)
  "speaker_accuracy"   {"matching": "overlap_0.8", "n_matched", "by_entity", "by_name"}
  "end_to_end"         P/R/F1 + "tp", "matching": "overlap_0.8", "speaker": "speaker_entity_id"
  "end_to_end_by_name" the same with the normalized "speaker" name
  "kind_accuracy"      {"matching": "overlap_0.8", "n_matched", "accuracy"} (a missing
                       predicted kind counts as wrong)
  "by_kind"            {kind: {"n_gold", "recall_exact", "recall_overlap_0.3",
                       "recall_overlap_0.8"}}: recall of the gold quotes of each kind
  "clusters", "clusters_matched_only"   quote_cluster_id, see "Clusters" below (overlap_0.8)

claims (main "overlap_0.5"):
  "overlap_0.3", "overlap_0.5", "overlap_0.8"   P/R/F1 + "tp"
  "claimant_accuracy"  {"matching": "overlap_0.5", "n_matched", "by_entity", "by_name"}
  "clusters", "clusters_matched_only"   claim_cluster_id, see "Clusters" below (overlap_0.5)

entities (main "ner/strict"), plus "n_gold_mentions", "n_pred_mentions",
"n_pred_mentions_ignored":
  "ner"  {"strict", "exact", "partial", "ent_type"}: P/R/F1 + "correct", "incorrect",
         "partial", "missed", "spurious", "possible", "actual" (SemEval-2013 9.1, nervaluate)
  "clusters"                MUC/B-cubed/CEAF-e/CoNLL-F1 over mentions (article_id, char_start,
                            char_end) -> entity_id, all gold and all predicted mentions
  "clusters_gold_mentions"  the same restricted to mentions found exactly on both sides
                            ("given gold mentions": linking quality without detection errors)

Clusters dicts: {"muc", "b_cubed", "ceaf_e"} (P/R/F1 each), "conll_f1" (mean of the three F1s),
"n_gold_items", "n_pred_items", "n_common_items", and "matching" for quotes and claims.

Conventions:
* Speaker/claimant accuracy is over matched pairs; a null value is a value (gold null and
  predicted null agree: "not a named entity" predicted right). by_entity compares ids as
  strings, so it only means something when predictions use the gold entity ids; by_name
  compares `normalize_name` of the names. End-to-end counts a true positive when the span
  matches at IoU >= 0.8 AND the speaker agrees; duplicate predictions still match once.
* Claims use IoU >= 0.5 as the main threshold: claim spans are clauses whose boundaries
  legitimately vary (with or without the attribution), and above one half a prediction can
  reach only one of several disjoint gold spans, so the matching is unambiguous.
* Quote and claim clusters: items are gold rows; a matched prediction stands for its gold
  partner, an unmatched prediction is an item of the response only, an unmatched gold row an
  item of the key only (Pradhan et al. 2014). "clusters_matched_only" keeps matched items only.
* Entity mentions count once per (article_id, char_start, char_end) in the clusters (the first
  entity by entity_id keeps it); the NER scores keep every (mention, type) row given.
* Accuracies with no matched pair are 1.0 when gold and predictions are both empty, else 0.0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from newsbench.metrics import (
    Span,
    TypedSpan,
    cluster_scores,
    match_exact,
    match_spans,
    ner_scores,
    normalize_name,
    prf,
)

Task = Literal["quotes", "claims", "entities"]
TASKS: tuple[str, ...] = ("quotes", "claims", "entities")
DEFAULT_GOLD = Path("dist/newsbench")

QUOTE_THRESHOLDS = (0.3, 0.8)
QUOTE_MAIN = 0.8
CLAIM_THRESHOLDS = (0.3, 0.5, 0.8)
CLAIM_MAIN = 0.5

_SPAN_COLUMNS = ("article_id", "char_start", "char_end", "text")
_REQUIRED = {"quotes": _SPAN_COLUMNS, "claims": _SPAN_COLUMNS, "entities": ("type", "mentions")}

Record = dict[str, Any]


# --- loading -------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """Plain Python values: NaN/NA -> None, numpy scalars and arrays -> Python ones."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy array or scalar
        return _clean(value.tolist())
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _read_jsonl(path: Path) -> list[Record]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        return list(json.loads(text))
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not a JSON object per line ({err})") from err
    return rows


def load_table(source: str | Path | pd.DataFrame, table: str) -> list[Record]:
    """Rows of `table` from a DataFrame, a Parquet or JSONL file, or a folder, as plain dicts."""
    if isinstance(source, pd.DataFrame):
        return [_clean(r) for r in source.to_dict("records")]
    import pyarrow.parquet as pq

    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted((path / "data" / table).glob("*.parquet")) or sorted(path.glob("*.parquet"))
        if not files:
            raise FileNotFoundError(f"no {path}/data/{table}/*.parquet nor {path}/*.parquet")
    elif path.suffix in (".jsonl", ".ndjson", ".json"):
        return [_clean(r) for r in _read_jsonl(path)]
    elif path.suffix == ".parquet":
        files = [path]
    else:
        raise ValueError(f"{path}: expected a .parquet or .jsonl file or a folder")
    rows: list[Record] = []
    for f in files:
        rows.extend(_clean(r) for r in pq.read_table(f).to_pylist())
    return rows


def _check_columns(rows: list[Record], task: str, what: str) -> None:
    present = set().union(*(r.keys() for r in rows)) if rows else set(_REQUIRED[task])
    missing = [c for c in _REQUIRED[task] if c not in present]
    if missing:
        raise ValueError(f"{what} for {task!r} lack column(s) {missing}")


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}: expected an integer offset, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{what}: expected an integer offset, got {value!r}")
        return int(value)
    return int(value)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _id(value: Any) -> str | None:
    """Entity ids compare as stripped strings; empty means none."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --- helpers shared by the span tasks ------------------------------------------------------


def _span(row: Record, idx: int, id_col: str, what: str) -> Span:
    where = f"{what} row {idx}"
    return Span(
        doc=str(row["article_id"]),
        start=_int(row.get("char_start"), f"{where} char_start"),
        end=_int(row.get("char_end"), f"{where} char_end"),
        text=str(row.get("text") or ""),
        key=str(row.get(id_col) or ""),
    )


def _prf_row(tp: float, n_pred: int, n_gold: int) -> dict[str, Any]:
    return {**prf(tp, n_pred, n_gold), "tp": tp}


def _accuracy(correct: int, n: int, vacuous: bool) -> float:
    if n == 0:
        return 1.0 if vacuous else 0.0
    return correct / n


def _cluster_block(
    matches: list[tuple[int, int, float]],
    gold_cluster: list[Any],
    pred_cluster: list[Any],
    matching: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Cluster scores over gold rows; a matched prediction takes its gold partner's identity."""
    key = {
        ("gold", j): (c if c is not None else ("singleton", j)) for j, c in enumerate(gold_cluster)
    }
    partner = {i: j for i, j, _ in matches}
    response = {}
    for i, c in enumerate(pred_cluster):
        item = ("gold", partner[i]) if i in partner else ("pred", i)
        response[item] = c if c is not None else ("singleton", i)
    matched = {("gold", j) for _, j, _ in matches}
    both = _clusters_report(key, response)
    only = _clusters_report(
        {k: v for k, v in key.items() if k in matched},
        {k: v for k, v in response.items() if k in matched},
    )
    return {"matching": matching, **both}, {"matching": matching, **only}


def _clusters_report(key: Mapping[Any, Any], response: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        **cluster_scores(key, response),
        "n_gold_items": len(key),
        "n_pred_items": len(response),
        "n_common_items": len(key.keys() & response.keys()),
    }


def _scope(pred_rows: list[Record], gold_articles: set[str]) -> tuple[list[Record], int]:
    kept = [r for r in pred_rows if str(r.get("article_id")) in gold_articles]
    return kept, len(pred_rows) - len(kept)


# --- tasks ---------------------------------------------------------------------------------


def _evaluate_quotes(gold: list[Record], preds: list[Record], articles: set[str]) -> dict:
    scored, ignored = _scope(preds, articles)
    g = [_span(r, j, "quote_id", "gold") for j, r in enumerate(gold)]
    p = [_span(r, i, "quote_id", "prediction") for i, r in enumerate(scored)]
    n_g, n_p = len(g), len(p)
    vacuous = n_g == 0 and n_p == 0
    main = f"overlap_{QUOTE_MAIN}"
    out: dict[str, Any] = {"main": main}

    exact = match_exact(p, g)
    out["exact"] = _prf_row(len(exact), n_p, n_g)
    by_threshold = {t: match_spans(p, g, t) for t in QUOTE_THRESHOLDS}
    for t, m in by_threshold.items():
        out[f"overlap_{t}"] = _prf_row(len(m), n_p, n_g)

    strict = by_threshold[QUOTE_MAIN]
    same_entity = [
        _id(scored[i].get("speaker_entity_id")) == _id(gold[j].get("speaker_entity_id"))
        for i, j, _ in strict
    ]
    same_name = [
        normalize_name(scored[i].get("speaker")) == normalize_name(gold[j].get("speaker"))
        for i, j, _ in strict
    ]
    out["speaker_accuracy"] = {
        "matching": main,
        "n_matched": len(strict),
        "by_entity": _accuracy(sum(same_entity), len(strict), vacuous),
        "by_name": _accuracy(sum(same_name), len(strict), vacuous),
    }
    out["end_to_end"] = {
        **_prf_row(sum(same_entity), n_p, n_g),
        "matching": main,
        "speaker": "speaker_entity_id",
    }
    out["end_to_end_by_name"] = {
        **_prf_row(sum(same_name), n_p, n_g),
        "matching": main,
        "speaker": "speaker (normalize_name)",
    }
    same_kind = [scored[i].get("kind") == gold[j].get("kind") for i, j, _ in strict]
    out["kind_accuracy"] = {
        "matching": main,
        "n_matched": len(strict),
        "accuracy": _accuracy(sum(same_kind), len(strict), vacuous),
    }

    found = {"exact": {j for _, j, _ in exact}}
    found.update({f"overlap_{t}": {j for _, j, _ in m} for t, m in by_threshold.items()})
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({str(r.get("kind")) for r in gold}):
        idx = [j for j, r in enumerate(gold) if str(r.get("kind")) == kind]
        row: dict[str, Any] = {"n_gold": len(idx)}
        for name, hit in found.items():
            row[f"recall_{name}"] = sum(j in hit for j in idx) / len(idx)
        by_kind[kind] = row
    out["by_kind"] = by_kind

    out["clusters"], out["clusters_matched_only"] = _cluster_block(
        strict,
        [_str_or_none(r.get("quote_cluster_id")) for r in gold],
        [_str_or_none(r.get("quote_cluster_id")) for r in scored],
        main,
    )
    return {"n_pred_ignored": ignored, **out}


def _evaluate_claims(gold: list[Record], preds: list[Record], articles: set[str]) -> dict:
    scored, ignored = _scope(preds, articles)
    g = [_span(r, j, "claim_id", "gold") for j, r in enumerate(gold)]
    p = [_span(r, i, "claim_id", "prediction") for i, r in enumerate(scored)]
    n_g, n_p = len(g), len(p)
    vacuous = n_g == 0 and n_p == 0
    main = f"overlap_{CLAIM_MAIN}"
    out: dict[str, Any] = {"main": main}
    by_threshold = {t: match_spans(p, g, t) for t in CLAIM_THRESHOLDS}
    for t, m in by_threshold.items():
        out[f"overlap_{t}"] = _prf_row(len(m), n_p, n_g)
    matches = by_threshold[CLAIM_MAIN]
    same_entity = sum(
        _id(scored[i].get("claimant_entity_id")) == _id(gold[j].get("claimant_entity_id"))
        for i, j, _ in matches
    )
    same_name = sum(
        normalize_name(scored[i].get("claimant")) == normalize_name(gold[j].get("claimant"))
        for i, j, _ in matches
    )
    out["claimant_accuracy"] = {
        "matching": main,
        "n_matched": len(matches),
        "by_entity": _accuracy(same_entity, len(matches), vacuous),
        "by_name": _accuracy(same_name, len(matches), vacuous),
    }
    out["clusters"], out["clusters_matched_only"] = _cluster_block(
        matches,
        [_str_or_none(r.get("claim_cluster_id")) for r in gold],
        [_str_or_none(r.get("claim_cluster_id")) for r in scored],
        main,
    )
    return {"n_pred_ignored": ignored, **out}


Mention = tuple[str, int, int]


def _flatten_entities(
    rows: list[Record], what: str, articles: set[str] | None
) -> tuple[list[TypedSpan], dict[Mention, str], int, set[int]]:
    """Typed mentions (every one), the mention -> entity partition (first entity wins),
    the number of mentions outside `articles` and the indices of rows with a kept mention."""
    typed: list[TypedSpan] = []
    partition: dict[Mention, str] = {}
    dropped = 0
    kept_rows: set[int] = set()
    order = sorted(
        range(len(rows)),
        key=lambda i: (rows[i].get("entity_id") is None, str(rows[i].get("entity_id")), i),
    )
    for i in order:
        row = rows[i]
        entity = _id(row.get("entity_id")) or f"__{what}_row_{i}"
        etype = str(row.get("type") or "")
        for k, m in enumerate(row.get("mentions") or []):
            where = f"{what} entity row {i} mention {k}"
            doc = str(m.get("article_id"))
            if articles is not None and doc not in articles:
                dropped += 1
                continue
            start = _int(m.get("char_start"), f"{where} char_start")
            end = _int(m.get("char_end"), f"{where} char_end")
            typed.append(TypedSpan(doc, start, end, etype))
            partition.setdefault((doc, start, end), entity)
            kept_rows.add(i)
    return typed, partition, dropped, kept_rows


def _evaluate_entities(gold: list[Record], preds: list[Record], articles: set[str] | None) -> dict:
    g_typed, g_part, _, g_rows = _flatten_entities(gold, "gold", articles)
    if articles is None:
        articles = {m.doc for m in g_typed}
    p_typed, p_part, dropped, kept_rows = _flatten_entities(preds, "prediction", articles)
    common = g_part.keys() & p_part.keys()
    return {
        "main": "ner/strict",
        "n_gold": len(g_rows),
        "n_gold_articles": len(articles),
        "n_pred_ignored": len(preds) - len(kept_rows),
        "n_gold_mentions": len(g_typed),
        "n_pred_mentions": len(p_typed) + dropped,
        "n_pred_mentions_ignored": dropped,
        "ner": ner_scores(p_typed, g_typed),
        "clusters": _clusters_report(g_part, p_part),
        "clusters_gold_mentions": _clusters_report(
            {k: v for k, v in g_part.items() if k in common},
            {k: v for k, v in p_part.items() if k in common},
        ),
    }


# --- entry points --------------------------------------------------------------------------


def _gold_rows(rows: list[Record]) -> list[Record]:
    if any("origin" in r for r in rows):
        return [r for r in rows if r.get("origin") == "gold"]
    return rows


def _round(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return round(value, 4)
    return value


def evaluate(
    task: Task,
    predictions: str | Path | pd.DataFrame,
    gold: str | Path | pd.DataFrame | None = None,
    *,
    gold_articles: Iterable[str] | None = None,
    pred_origin: str | None = None,
) -> dict[str, Any]:
    """Score `predictions` for `task` against the gold rows; returns a JSON-ready dict.

    See the module docstring for the input forms, the scope rules and every result key.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    gold_all = load_table(DEFAULT_GOLD if gold is None else gold, task)
    gold_rows = _gold_rows(gold_all)
    pred_rows = load_table(predictions, task)
    if pred_origin is not None:
        pred_rows = [r for r in pred_rows if r.get("origin") == pred_origin]
    _check_columns(gold_rows, task, "gold rows")
    _check_columns(pred_rows, task, "predictions")
    articles = None if gold_articles is None else {str(a) for a in gold_articles}

    if task == "entities":
        body = _evaluate_entities(gold_rows, pred_rows, articles)
    else:
        if articles is None:
            articles = {str(r["article_id"]) for r in gold_rows}
        else:
            gold_rows = [r for r in gold_rows if str(r["article_id"]) in articles]
        run = _evaluate_quotes if task == "quotes" else _evaluate_claims
        body = {
            "n_gold": len(gold_rows),
            "n_gold_articles": len(articles),
            **run(gold_rows, pred_rows, articles),
        }
    result = {
        "task": task,
        "main": body.pop("main"),
        "n_gold": body.pop("n_gold"),
        "n_pred": len(pred_rows),
        "n_pred_ignored": body.pop("n_pred_ignored"),
        "n_gold_articles": body.pop("n_gold_articles"),
        **body,
    }
    return _round(result)


# --- report --------------------------------------------------------------------------------

_PRF_KEYS = ("precision", "recall", "f1")


def format_report(result: Mapping[str, Any]) -> str:
    """A plain-text table of an `evaluate` result: P/R/F1 rows, then single values."""
    head = (
        f"task: {result.get('task')}   gold rows: {result.get('n_gold')}   "
        f"predicted rows: {result.get('n_pred')} ({result.get('n_pred_ignored')} ignored: "
        f"article without gold)   gold articles: {result.get('n_gold_articles')}"
    )
    extra = [
        f"{k}: {v}"
        for k, v in result.items()
        if k.startswith("n_") and k not in ("n_gold", "n_pred", "n_pred_ignored", "n_gold_articles")
    ]
    rows: list[tuple[str, str, str, str, str]] = []

    def walk(prefix: str, node: Mapping[str, Any], note: str = "") -> None:
        if isinstance(node.get("matching"), str):
            note = f" [{node['matching']}]"
        if all(k in node for k in _PRF_KEYS):
            p, r, f = (f"{node[k]:.4f}" for k in _PRF_KEYS)
            rows.append((prefix + note, p, r, f, ""))
        for k, v in node.items():
            if k in _PRF_KEYS or k == "tp":
                continue
            name = f"{prefix}.{k}" if prefix else k
            if isinstance(v, Mapping):
                walk(name, v, note)
            elif isinstance(v, float) and prefix:
                rows.append((name + note, "", "", "", f"{v:.4f}"))

    walk("", {k: v for k, v in result.items() if isinstance(v, Mapping)})
    width = max([len("metric"), *(len(r[0]) for r in rows)])
    lines = [head]
    if extra:
        lines.append("   ".join(extra))
    if "main" in result:
        lines.append(f"main metric: {result['main']}")
    lines.append("")
    header = ("metric", "precision", "recall", "f1", "value")
    lines.append(f"{header[0]:<{width}}  " + "  ".join(f"{h:>9}" for h in header[1:]))
    lines.append("-" * (width + 2 + 4 * 9 + 3 * 2))
    for row in rows:
        lines.append((f"{row[0]:<{width}}  " + "  ".join(f"{c:>9}" for c in row[1:])).rstrip())
    return "\n".join(lines) + "\n"
