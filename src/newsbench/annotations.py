"""Gold annotations: YAML anchored by strings, resolved to offsets in articles.text.

The format is described in docs/annotation-format.md. Anchors are strings, not offsets, so gold
survives changes to the cleaning rules; when an anchor no longer matches, or matches more than
once without an `occurrence`, the build names the file, the annotation and the closest match.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from newsbench.ids import occurrence_ids
from newsbench.problems import Problem
from newsbench.safe_yaml import YamlError, load_yaml
from newsbench.tables import entity_types, load_catalog

ANNOTATIONS_DIR = "annotations"
PASSES_DIR = "passes"
ENTITY_TYPES = entity_types()  # declared once, in schema/tables.yaml
QUOTE_KINDS = load_catalog()["quotes"].column("kind").allowed or ()


@dataclass
class AnnotationSet:
    """Everything read from one annotations folder, before resolution."""

    entities: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {name, type, file}
    articles: dict[str, list[tuple[str, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # article_id -> [(file, section dict)]


def _word_pattern(anchor: str) -> re.Pattern[str]:
    """Whole-word: not preceded or followed by a letter or digit."""
    return re.compile(r"(?<![^\W_])" + re.escape(anchor) + r"(?![^\W_])")


def _closest(anchor: str, text: str) -> str:
    if not text:
        return "(article text is empty)"
    hit = fuzz.partial_ratio_alignment(anchor, text)
    start, end = hit.dest_start, hit.dest_end
    while start > 0 and text[start - 1].isalnum():  # widen to whole words
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    found = text[start:end]
    return f"closest match {found!r} ({hit.score:.0f}% similar)"


def load_annotations(
    folder: Path, raw_root: Path | None = None
) -> tuple[AnnotationSet, list[Problem]]:
    """Read every *.yaml below folder (except passes/), merging sections by article_id."""
    out = AnnotationSet()
    problems: list[Problem] = []
    if not folder.is_dir():
        return out, problems
    root = raw_root or folder.parent
    for path in sorted(folder.rglob("*.yaml")):
        rel_to_folder = path.relative_to(folder)
        if rel_to_folder.parts[0] == PASSES_DIR and folder.name == ANNOTATIONS_DIR:
            continue
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        try:
            data = load_yaml(path)
        except YamlError as exc:
            problems.append(
                Problem(
                    rel,
                    str(exc),
                    "fix the YAML (safe YAML only: no tags, no aliases)",
                    line=exc.line,
                    stage="annotations",
                )
            )
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(
                Problem(
                    rel,
                    "expected a mapping at the top level",
                    "see docs/annotation-format.md",
                    stage="annotations",
                )
            )
            continue
        unknown = set(data) - {"entities", "article_id", "mentions", "quotes", "claims"}
        for key in sorted(unknown):
            problems.append(
                Problem(
                    rel,
                    f"unknown top-level key {key!r}",
                    "use entities, article_id, mentions, quotes, claims",
                    field=key,
                    stage="annotations",
                )
            )
        for i, ent in enumerate(data.get("entities") or []):
            where = f"entities[{i}]"
            if not isinstance(ent, dict) or not all(
                isinstance(ent.get(k), str) for k in ("id", "name", "type")
            ):
                problems.append(
                    Problem(
                        rel,
                        f"{where}: needs string id, name and type",
                        "",
                        field=where,
                        stage="annotations",
                    )
                )
                continue
            if ent["type"] not in ENTITY_TYPES:
                problems.append(
                    Problem(
                        rel,
                        f"{where} ({ent['id']}): unknown type {ent['type']!r}",
                        f"use one of {', '.join(ENTITY_TYPES)}",
                        field=f"{where}.type",
                        stage="annotations",
                    )
                )
                continue
            if ent["id"] in out.entities:
                problems.append(
                    Problem(
                        rel,
                        f"{where}: entity id {ent['id']!r} declared twice "
                        f"(also in {out.entities[ent['id']]['file']})",
                        "keep one declaration",
                        field=where,
                        stage="annotations",
                    )
                )
                continue
            out.entities[ent["id"]] = {"name": ent["name"], "type": ent["type"], "file": rel}
        sections = {k: data[k] for k in ("mentions", "quotes", "claims") if k in data}
        if sections:
            if not isinstance(data.get("article_id"), str):
                problems.append(
                    Problem(
                        rel,
                        "mentions, quotes or claims need an `article_id:`",
                        "",
                        field="article_id",
                        stage="annotations",
                    )
                )
                continue
            out.articles[data["article_id"]].append((rel, sections))
    return out, problems


@dataclass
class _Resolver:
    article_id: str
    text: str
    file: str
    problems: list[Problem]

    def find(self, anchor: Any, where: str) -> list[tuple[int, int]] | None:
        """Resolve one anchor; None (with a problem recorded) when it cannot be resolved."""
        occurrence: Any = None
        if isinstance(anchor, dict):
            occurrence = anchor.get("occurrence")
            anchor = anchor.get("text")
        if not isinstance(anchor, str) or not anchor.strip():
            self._problem(where, "anchor text missing or empty", "give the exact text as `text:`")
            return None
        spans = [(m.start(), m.end()) for m in _word_pattern(anchor).finditer(self.text)]
        if not spans:
            self._problem(
                where,
                f"anchor {anchor!r} not found in the article text; {_closest(anchor, self.text)}",
                "update the anchor to the cleaned text (articles.text)",
            )
            return None
        if occurrence == "all":
            return spans
        if occurrence is None:
            if len(spans) > 1:
                self._problem(
                    where,
                    f"anchor {anchor!r} matches {len(spans)} times",
                    "add `occurrence: N` (1-based) or `occurrence: all`",
                )
                return None
            return spans
        if not isinstance(occurrence, int) or not 1 <= occurrence <= len(spans):
            self._problem(
                where,
                f"anchor {anchor!r}: occurrence {occurrence!r} out of range "
                f"(it occurs {len(spans)} times)",
                "use 1..N or all",
            )
            return None
        return [spans[occurrence - 1]]

    def _problem(self, where: str, message: str, hint: str) -> None:
        self.problems.append(
            Problem(
                self.file,
                f"{self.article_id} {where}: {message}",
                hint,
                field=where,
                stage="annotations",
            )
        )


def resolve(
    annotations: AnnotationSet,
    articles: dict[str, dict[str, Any]],
) -> tuple[dict[str, list[dict[str, Any]]], set[str], list[Problem]]:
    """Gold rows for the quotes, claims and entities tables, and the set of gold article ids.

    `articles` maps article_id to its row (text and outlet are used).
    """
    problems: list[Problem] = []
    quotes: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    mentions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    gold_articles: set[str] = set()

    def entity_ref(value: Any, file: str, article_id: str, where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or value not in annotations.entities:
            problems.append(
                Problem(
                    file,
                    f"{article_id} {where}: unknown entity {value!r}",
                    "declare it in the entities: registry or fix the id",
                    field=where,
                    stage="annotations",
                )
            )
            return None
        return value

    for article_id, parts in sorted(annotations.articles.items()):
        if article_id not in articles:
            for file, _ in parts:
                problems.append(
                    Problem(
                        file,
                        f"unknown article_id {article_id!r}",
                        "use an article_id of the build (see articles table)",
                        field="article_id",
                        stage="annotations",
                    )
                )
            continue
        gold_articles.add(article_id)
        text = articles[article_id]["text"] or ""
        outlet = articles[article_id].get("outlet")
        taken: list[tuple[int, int, str]] = []
        deferred: list[tuple[int, str, str, dict[str, Any]]] = []
        q_rows: list[dict[str, Any]] = []
        c_rows: list[dict[str, Any]] = []
        for file, sections in parts:
            r = _Resolver(article_id, text, file, problems)
            # Mentions: explicit anchors first, then `occurrence: all` longest first.
            for entity_id, anchors in (sections.get("mentions") or {}).items():
                where = f"mentions.{entity_id}"
                if entity_ref(entity_id, file, article_id, where) is None:
                    continue
                for j, anchor in enumerate(anchors or []):
                    if isinstance(anchor, dict) and anchor.get("occurrence") == "all":
                        deferred.append((len(str(anchor.get("text", ""))), file, entity_id, anchor))
                        continue
                    for s, e in r.find(anchor, f"{where}[{j}]") or []:
                        clash = next((t for t in taken if s < t[1] and t[0] < e), None)
                        if clash:
                            r._problem(
                                f"{where}[{j}]",
                                f"mention {text[s:e]!r} at {s} overlaps "
                                f"{text[clash[0] : clash[1]]!r} ({clash[2]})",
                                "mentions do not nest: annotate the maximal name once",
                            )
                            continue
                        taken.append((s, e, entity_id))
            for kind, rows in (("quotes", q_rows), ("claims", c_rows)):
                for j, item in enumerate(sections.get(kind) or []):
                    where = f"{kind}[{j}]"
                    if not isinstance(item, dict):
                        r._problem(where, "expected a mapping", "see docs/annotation-format.md")
                        continue
                    spans = r.find(item, where)
                    if not spans:
                        continue
                    s, e = spans[0]
                    cluster = item.get("cluster")
                    if not isinstance(cluster, str) or not cluster:
                        r._problem(where, "missing `cluster:` slug", "give every row a cluster")
                        continue
                    who_key = "speaker" if kind == "quotes" else "claimant"
                    entity_id = entity_ref(
                        item.get(who_key), file, article_id, f"{where}.{who_key}"
                    )
                    if item.get(who_key) is not None and entity_id is None:
                        continue
                    name = annotations.entities[entity_id]["name"] if entity_id else None
                    who = name or item.get(f"{who_key}_text")
                    row: dict[str, Any] = {
                        "article_id": article_id,
                        "text": text[s:e],
                        "char_start": s,
                        "char_end": e,
                    }
                    if kind == "quotes":
                        if item.get("kind") not in QUOTE_KINDS:
                            r._problem(
                                f"{where}.kind",
                                f"kind {item.get('kind')!r} is not one of {', '.join(QUOTE_KINDS)}",
                                "set kind",
                            )
                            continue
                        row.update(
                            speaker=who,
                            speaker_entity_id=entity_id,
                            cue=item.get("cue"),
                            kind=item["kind"],
                            quote_cluster_id=cluster,
                        )
                    else:
                        row.update(
                            claimant=who or outlet,
                            claimant_entity_id=entity_id,
                            claim_cluster_id=cluster,
                        )
                    row["origin"] = "gold"
                    rows.append(row)
        for _, file, entity_id, anchor in sorted(deferred, key=lambda d: (-d[0], d[2])):
            r = _Resolver(article_id, text, file, problems)
            for s, e in r.find(anchor, f"mentions.{entity_id}") or []:
                if not any(s < t[1] and t[0] < e for t in taken):
                    taken.append((s, e, entity_id))
        for s, e, entity_id in taken:
            mentions[entity_id].append(
                {"article_id": article_id, "char_start": s, "char_end": e, "text": text[s:e]}
            )
        for rows, prefix, id_col in ((q_rows, "q", "quote_id"), (c_rows, "c", "claim_id")):
            rows.sort(key=lambda x: (x["char_start"], x["char_end"]))
            for row, row_id in zip(
                rows,
                occurrence_ids(prefix, article_id, "gold", [x["text"] for x in rows]),
                strict=True,
            ):
                row[id_col] = row_id
        quotes += q_rows
        claims += c_rows

    entities = []
    for entity_id, ent in sorted(annotations.entities.items()):
        ms = sorted(mentions.get(entity_id, []), key=lambda m: (m["article_id"], m["char_start"]))
        entities.append(
            {
                "entity_id": entity_id,
                "name": ent["name"],
                "type": ent["type"],
                "aliases": sorted({m["text"] for m in ms}),
                "mentions": ms,
                "n_articles": len({m["article_id"] for m in ms}),
                "origin": "gold",
            }
        )
    return {"quotes": quotes, "claims": claims, "entities": entities}, gold_articles, problems
