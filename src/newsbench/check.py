"""Check an existing output folder: the same validation as the build, plus file integrity.

`newsbench validate DIR` re-reads the Parquet files and checks them against schema/, across
tables, against the sha256 sums in build_manifest.json and the split sizes in the card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from newsbench.problems import Problem
from newsbench.tables import arrow_schema, load_catalog
from newsbench.validate import validate_tables


def read_tables(folder: Path) -> tuple[dict[str, list[dict[str, Any]]], list[Problem]]:
    catalog = load_catalog()
    tables: dict[str, list[dict[str, Any]]] = {}
    problems: list[Problem] = []
    for name, table in catalog.tables.items():
        files = sorted((folder / "data" / name).glob("*.parquet"))
        if not files:
            problems.append(
                Problem(f"data/{name}", "no Parquet files", "rebuild the dataset", stage="validate")
            )
            tables[name] = []
            continue
        rows: list[dict[str, Any]] = []
        for f in files:
            rel = f.relative_to(folder).as_posix()
            try:
                pf = pq.ParquetFile(f)
            except Exception as exc:
                problems.append(
                    Problem(rel, f"unreadable Parquet: {exc}", "rebuild", stage="validate")
                )
                continue
            expected = arrow_schema(table)
            if not pf.schema_arrow.remove_metadata().equals(expected.remove_metadata()):
                problems.append(
                    Problem(
                        rel,
                        "Arrow schema differs from schema/tables.yaml",
                        "rebuild with this version of newsbench",
                        stage="validate",
                    )
                )
                continue
            rows += pf.read().to_pylist()
        tables[name] = rows
    return tables, problems


def check_output(folder: Path) -> list[Problem]:
    if not folder.is_dir():
        return [
            Problem(str(folder), "not a folder", "pass a built dataset folder", stage="validate")
        ]
    catalog = load_catalog()
    tables, problems = read_tables(folder)
    if problems:
        return problems
    reference = all(a.get("text") is None for a in tables["articles"])
    problems += validate_tables(catalog, tables, reference)
    manifest_path = folder / "build_manifest.json"
    if manifest_path.exists():
        from newsbench.write import sha256_file

        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for rel, digest in manifest.get("files", {}).items():
            path = folder / rel
            if not path.exists():
                problems.append(
                    Problem(
                        rel,
                        "listed in build_manifest.json but missing",
                        "rebuild",
                        stage="validate",
                    )
                )
            elif sha256_file(path) != digest:
                problems.append(
                    Problem(
                        rel,
                        "sha256 differs from build_manifest.json (file changed after the build)",
                        "rebuild",
                        stage="validate",
                    )
                )
    else:
        problems.append(Problem("build_manifest.json", "missing", "rebuild", stage="validate"))
    readme = folder / "README.md"
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        if "[More Information Needed]" in text:
            problems.append(
                Problem(
                    "README.md",
                    "card has unfilled template sections",
                    "fill them in dataset_card.md",
                    stage="validate",
                )
            )
        header = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else {}
        from newsbench.card import check_header

        problems += [
            Problem("README.md", msg, "fix newsbench/card.py", stage="validate")
            for msg in check_header(header)
        ]
        for info in header.get("dataset_info", []):
            name = info["config_name"]
            declared = info["splits"][0]["num_examples"]
            if declared != len(tables.get(name, [])):
                problems.append(
                    Problem(
                        "README.md",
                        f"config {name}: card declares {declared} rows, "
                        f"files hold {len(tables.get(name, []))}",
                        "rebuild",
                        stage="validate",
                    )
                )
    else:
        problems.append(Problem("README.md", "missing dataset card", "rebuild", stage="validate"))
    return problems
