"""Figures for the card, drawn at build time: where people would rather look than read.

PNG bytes are deterministic (Agg backend, fixed size and DPI, no Software/date metadata), so a
rebuild of the same inputs stays byte-identical.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from newsbench.spill import column_values

FIGURES_DIR = "figures"
_METADATA = {"Software": None}


def _article_label(article: dict[str, Any]) -> str:
    short = (
        article["article_id"].split("_")[0]
        if "_" in article["article_id"]
        else article["article_id"]
    )
    return f"{short} ({article['outlet']})" if article.get("outlet") else short


def _save(fig: Any, path: Path) -> None:
    fig.savefig(path, dpi=100, metadata=_METADATA)
    plt.close(fig)


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def claims_coverage(tables: dict[str, list[dict[str, Any]]], path: Path, top: int = 25) -> bool:
    """Claim clusters × articles: which outlet reports which claim."""
    if len(tables["articles"]) > 40:  # one column per article: unreadable past that
        return False
    articles = sorted(tables["articles"], key=lambda a: a["article_id"])
    by_cluster: dict[str, set[str]] = defaultdict(set)
    label: dict[str, str] = {}
    for c in sorted(tables["claims"], key=lambda c: (c["claim_cluster_id"], len(c["text"] or ""))):
        by_cluster[c["claim_cluster_id"]].add(c["article_id"])
        # reference builds carry no text: label by cluster id
        label.setdefault(c["claim_cluster_id"], _short(c["text"] or c["claim_cluster_id"]))
    clusters = sorted(
        (k for k, v in by_cluster.items() if len(v) > 1), key=lambda k: (-len(by_cluster[k]), k)
    )[:top]
    if not clusters:
        return False
    ids = [a["article_id"] for a in articles]
    matrix = [[1 if a in by_cluster[k] else 0 for a in ids] for k in clusters]
    fig, ax = plt.subplots(figsize=(6 + 0.9 * len(ids), 1.4 + 0.32 * len(clusters)))
    ax.imshow(matrix, cmap="Blues", aspect="auto", vmin=0, vmax=1.4)
    ax.set_xticks(range(len(ids)), [_article_label(a) for a in articles], rotation=30, ha="right")
    ax.set_yticks(range(len(clusters)), [label[k] for k in clusters], fontsize=8)
    ax.set_title("Claims reported by more than one article")
    fig.tight_layout()
    _save(fig, path)
    return True


def entities_by_outlet(tables: dict[str, list[dict[str, Any]]], path: Path, top: int = 12) -> bool:
    """Most-mentioned entities, stacked by article."""
    if len(tables["articles"]) > 40:  # one bar segment per article: unreadable past that
        return False
    articles = sorted(tables["articles"], key=lambda a: a["article_id"])
    ents = heapq.nsmallest(
        top, tables["entities"], key=lambda e: (-len(e["mentions"]), e["entity_id"])
    )
    if not ents:
        return False
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.4 * len(ents)))
    left = [0] * len(ents)
    for article in articles:
        counts = [
            sum(1 for m in e["mentions"] if m["article_id"] == article["article_id"]) for e in ents
        ]
        ax.barh(range(len(ents)), counts, left=left, label=_article_label(article))
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_yticks(range(len(ents)), [f"{e['name']} ({e['type']})" for e in ents], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("mentions")
    ax.set_title("Most-mentioned entities, by article")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _save(fig, path)
    return True


def quotes_per_speaker(tables: dict[str, list[dict[str, Any]]], path: Path, top: int = 12) -> bool:
    counts = Counter(s or "(unattributed)" for s in column_values(tables["quotes"], "speaker"))
    if not counts:
        return False
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.4 * len(rows)))
    ax.barh(range(len(rows)), [n for _, n in rows], color="#4c72b0")
    ax.set_yticks(range(len(rows)), [_short(s, 40) for s, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("quotes (direct, partial and indirect)")
    ax.set_title("Quotes per speaker")
    fig.tight_layout()
    _save(fig, path)
    return True


def draw_all(tables: dict[str, list[dict[str, Any]]], out: Path) -> dict[str, str]:
    """Draw every figure that has data; returns {name: relative path} for the card."""
    folder = out / FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for name, fn in (
        ("claims_coverage", claims_coverage),
        ("entities_by_outlet", entities_by_outlet),
        ("quotes_per_speaker", quotes_per_speaker),
    ):
        path = folder / f"{name}.png"
        if fn(tables, path):
            drawn[name] = f"{FIGURES_DIR}/{name}.png"
    if not drawn:
        folder.rmdir()
    return drawn
