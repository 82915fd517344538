"""Inter-annotator agreement between the independent passes in raw/annotations/passes/.

Pass 2 is scored against pass 1 with the benchmark's own scorer, so agreement and system scores
are the same numbers computed the same way (span F1 is symmetric; speaker agreement and cluster
B-cubed are read off the matched pairs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from newsbench import annotations as gold
from newsbench.evaluate import evaluate


def _resolve_pass(
    folder: Path, registry: dict[str, dict[str, Any]], articles: dict[str, dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    ann, problems = gold.load_annotations(folder, folder)
    if problems:
        raise ValueError("; ".join(p.render() for p in problems))
    # A pass may use slugs the final registry does not have: keep them as their own entities.
    ann.entities = dict(registry)
    for parts in ann.articles.values():
        for _, sections in parts:
            for key, rows in (
                ("speaker", sections.get("quotes")),
                ("claimant", sections.get("claims")),
            ):
                for row in rows or []:
                    slug = row.get(key) if isinstance(row, dict) else None
                    if isinstance(slug, str) and slug not in ann.entities:
                        ann.entities[slug] = {
                            "name": slug.replace("-", " "),
                            "type": "PERSON",
                            "file": str(folder),
                        }
    rows, _, problems = gold.resolve(ann, articles)
    if problems:
        raise ValueError("; ".join(p.render() for p in problems))
    return rows


def compute_agreement(
    annotations_dir: Path, articles: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Agreement of pass2 with pass1 for quotes and claims; None when the passes are absent."""
    p1, p2 = (
        annotations_dir / gold.PASSES_DIR / "pass1",
        annotations_dir / gold.PASSES_DIR / "pass2",
    )
    if not (p1.is_dir() and p2.is_dir()):
        return None
    registry_ann, _ = gold.load_annotations(annotations_dir, annotations_dir)
    by_id = {a["article_id"]: a for a in articles}
    first = _resolve_pass(p1, registry_ann.entities, by_id)
    second = _resolve_pass(p2, registry_ann.entities, by_id)
    out: dict[str, Any] = {"n_articles": len({r["article_id"] for r in first["quotes"]})}
    q = evaluate("quotes", pd.DataFrame(second["quotes"]), pd.DataFrame(first["quotes"]))
    c = evaluate("claims", pd.DataFrame(second["claims"]), pd.DataFrame(first["claims"]))
    out["quotes"] = {
        "n_pass1": len(first["quotes"]),
        "n_pass2": len(second["quotes"]),
        "span_f1_exact": q["exact"]["f1"],
        "span_f1_overlap_0.8": q["overlap_0.8"]["f1"],
        "span_f1_overlap_0.3": q["overlap_0.3"]["f1"],
        "speaker_agreement": q["speaker_accuracy"]["by_name"],
        "speaker_agreement_by_entity": q["speaker_accuracy"]["by_entity"],
        "cluster_b_cubed_f1": q["clusters"]["b_cubed"]["f1"],
    }
    out["claims"] = {
        "n_pass1": len(first["claims"]),
        "n_pass2": len(second["claims"]),
        "span_f1_overlap_0.5": c["overlap_0.5"]["f1"],
        "span_f1_overlap_0.3": c["overlap_0.3"]["f1"],
        "claimant_agreement": c["claimant_accuracy"]["by_name"],
        "cluster_b_cubed_f1": c["clusters"]["b_cubed"]["f1"],
        "cluster_b_cubed_f1_matched_only": c["clusters_matched_only"]["b_cubed"]["f1"],
        "cluster_conll_f1": c["clusters"]["conll_f1"],
    }
    return out


def agreement_markdown(agreement: dict[str, Any] | None) -> str:
    if not agreement:
        return "No independent annotation passes were found, so no agreement is reported."
    q, c = agreement["quotes"], agreement["claims"]
    return "\n".join(
        [
            f"Quotes and claims were annotated twice, independently, on {agreement['n_articles']} "
            "articles (pass 2 did not see pass 1), then adjudicated into the published gold. "
            "Agreement of pass 2 with pass 1, computed with `newsbench evaluate`:",
            "",
            "| measure | quotes | claims |",
            "| --- | --- | --- |",
            f"| rows (pass 1 / pass 2) | {q['n_pass1']} / {q['n_pass2']} | "
            f"{c['n_pass1']} / {c['n_pass2']} |",
            f"| span F1, exact (quotes) / overlap ≥ 0.5 (claims) | {q['span_f1_exact']:.3f} | "
            f"{c['span_f1_overlap_0.5']:.3f} |",
            f"| span F1, overlap ≥ 0.8 (quotes) / ≥ 0.3 (claims) "
            f"| {q['span_f1_overlap_0.8']:.3f} | {c['span_f1_overlap_0.3']:.3f} |",
            f"| speaker / claimant agreement on matched spans (by name) | "
            f"{q['speaker_agreement']:.3f} | {c['claimant_agreement']:.3f} |",
            f"| cross-outlet cluster B-cubed F1 | {q['cluster_b_cubed_f1']:.3f} | "
            f"{c['cluster_b_cubed_f1']:.3f} |",
            f"| claim cluster B-cubed F1 on matched claims only | – | "
            f"{c['cluster_b_cubed_f1_matched_only']:.3f} |",
        ]
    )
