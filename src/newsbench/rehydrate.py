"""Rehydrate a --text-policy reference build from a user's own copies of the raw files.

A reference build publishes offsets, hashes and annotations but not the publishers' words. Each
article row lists its kept raw spans, so the text is rebuilt by normalizing those spans (the same
function the build used), after checking the raw file's sha256 against `raw_sha256`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from newsbench.check import read_tables
from newsbench.normalize import normalize_span
from newsbench.problems import BuildFailed, Problem


def rehydrate_tables(
    tables: dict[str, list[dict[str, Any]]], raw: Path
) -> tuple[dict[str, list[dict[str, Any]]], list[Problem]]:
    problems: list[Problem] = []
    texts: dict[str, str] = {}
    articles = []
    for a in tables["articles"]:
        path = raw / a["source_file"]
        if not path.is_file():
            problems.append(
                Problem(
                    a["source_file"],
                    "raw file not found",
                    f"put your copy at {path}",
                    stage="rehydrate",
                )
            )
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != a["raw_sha256"]:
            problems.append(
                Problem(
                    a["source_file"],
                    "sha256 differs from raw_sha256: not the same bytes the dataset was built from",
                    "use the original file, unmodified",
                    stage="rehydrate",
                )
            )
            continue
        text = data.decode(a["encoding"])
        body = [
            normalize_span(text[k["start"] : k["end"]]) for k in a["kept"] if k["role"] == "body"
        ]
        titles = [
            normalize_span(text[k["start"] : k["end"]]) for k in a["kept"] if k["role"] == "title"
        ]
        texts[a["article_id"]] = "\n\n".join(body)
        articles.append(
            {**a, "text": texts[a["article_id"]], "title": titles[0] if titles else None}
        )
    if problems:
        return tables, problems

    def span(row: dict[str, Any]) -> str:
        return texts[row["article_id"]][row["char_start"] : row["char_end"]]

    out = {
        "articles": articles,
        "quotes": [{**q, "text": span(q)} for q in tables["quotes"]],
        "claims": [{**c, "text": span(c)} for c in tables["claims"]],
        "entities": [
            {**e, "mentions": [{**m, "text": span(m)} for m in e["mentions"]]}
            for e in tables["entities"]
        ],
    }
    return out, problems


def rehydrate(dataset: Path, raw: Path, out: Path) -> Path:
    """Write a full-text copy of a reference build to `out` (validated like a build)."""
    from newsbench import write
    from newsbench.tables import load_catalog
    from newsbench.validate import validate_tables
    from newsbench.write import sha256_file

    tables, problems = read_tables(dataset)
    if problems:
        raise BuildFailed(problems, f"{dataset} cannot be read")
    full, problems = rehydrate_tables(tables, raw)
    if problems:
        raise BuildFailed(problems, "cannot rehydrate")
    catalog = load_catalog()
    invalid = validate_tables(catalog, full)
    if invalid:
        raise BuildFailed(invalid, "rehydrated tables do not validate (wrong raw files?)")
    with write.output_lock(out):
        stage = write.staging_dir(out)
        try:
            for extra in ("README.md", "croissant.json", "rejects.jsonl"):
                if (dataset / extra).exists():
                    shutil.copy2(dataset / extra, stage / extra)
            if (dataset / "figures").is_dir():
                shutil.copytree(dataset / "figures", stage / "figures")
            manifest = json.loads((dataset / "build_manifest.json").read_text(encoding="utf-8"))
            for name in catalog.tables:
                for stale in (dataset / "data" / name).glob("*.parquet"):
                    manifest["files"].pop(stale.relative_to(dataset).as_posix(), None)
                paths, _ = write.write_table(catalog, name, full[name], stage)
                for path in paths:
                    manifest["files"][path.relative_to(stage).as_posix()] = sha256_file(path)
            manifest["options"]["text_policy"] = "reference, rehydrated"
            write.write_json(stage / "build_manifest.json", manifest)
            write.publish_dir(stage, out)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    return out
