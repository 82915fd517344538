"""A quick look at a built folder: counts, a sample per table, rejects, and what to worry about."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from newsbench.check import check_output, read_tables


def _short(value: Any, n: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= n else text[: n - 1] + "…"


def inspect_folder(folder: Path, n_rows: int = 2) -> str:
    if not (folder / "data").is_dir():
        raise FileNotFoundError(f"{folder} is not a built dataset (no data/ folder)")
    tables, _ = read_tables(folder)
    manifest_path = folder / "build_manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    )
    lines = [f"{folder}", ""]
    lines.append(f"{'table':<10} {'rows':>8}  origin")
    for name, rows in tables.items():
        origins: dict[str, int] = {}
        for r in rows:
            if "origin" in r:
                origins[r["origin"]] = origins.get(r["origin"], 0) + 1
        detail = ", ".join(f"{k} {v}" for k, v in sorted(origins.items()))
        lines.append(f"{name:<10} {len(rows):>8}  {detail}")
    for name, rows in tables.items():
        lines += ["", f"--- {name} (first {min(n_rows, len(rows))} by id)"]
        key = next(iter(rows[0])) if rows else None
        for row in sorted(rows, key=lambda r: r[key])[:n_rows] if key else []:
            lines += [f"  {k}: {_short(v)}" for k, v in row.items()]
            lines.append("")
    warnings = []
    rejects = folder / "rejects.jsonl"
    if rejects.exists():
        rejected = [json.loads(x) for x in rejects.read_text(encoding="utf-8").splitlines()]
        warnings.append(f"{len(rejected)} input file(s) rejected (rejects.jsonl):")
        warnings += [f"  {r['file']}: {r['message']}" for r in rejected[:10]]
    if tables["articles"] and all(a["text"] is None for a in tables["articles"]):
        warnings.append("reference build: no text (use `newsbench rehydrate` with the raw files)")
    empty = [name for name, rows in tables.items() if not rows]
    if empty:
        warnings.append(f"empty tables: {', '.join(empty)}")
    no_title = sum(1 for a in tables["articles"] if a["title"] is None and a["text"] is not None)
    if no_title:
        warnings.append(f"{no_title} article(s) without a headline line")
    warnings += [f"invalid: {p.render()}" for p in check_output(folder)]
    if manifest.get("model"):
        lines.append(f"model: {manifest['model']}")
    lines += ["warnings:" if warnings else "warnings: none"] + [f"  {w}" for w in warnings]
    return "\n".join(lines)
