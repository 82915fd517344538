"""Validate: every table against its pandera schema, then the checks across tables.

Runs before anything is written. All problems are collected (pandera's lazy mode, and every
cross-table check over every row), so one report shows everything to fix.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from newsbench.problems import Problem
from newsbench.tables import Catalog, pandera_schema, to_dataframe

Tables = dict[str, list[dict[str, Any]]]
MAX_PER_CHECK = 50  # report at most this many rows per (table, column, check); count the rest


def _problem(table: str, row_id: Any, column: str, message: str) -> Problem:
    return Problem(
        file=f"{table}", message=f"row {row_id!s}: {message}", field=column, stage="validate"
    )


def schema_problems(catalog: Catalog, tables: Tables) -> list[Problem]:
    """pandera validation of each table, lazily: all failures, each with row id and column."""
    import pandera.errors as pe

    problems: list[Problem] = []
    for name, table in catalog.tables.items():
        rows = tables.get(name, [])
        df = to_dataframe(table, rows)
        try:
            pandera_schema(table).validate(df, lazy=True)
        except pe.SchemaErrors as exc:
            cases = exc.failure_cases
            counts: Counter[tuple[str, str]] = Counter()
            for case in cases.itertuples(index=False):
                column = str(case.column) if case.column is not None else "(table)"
                check = str(case.check)
                counts[(column, check)] += 1
                if counts[(column, check)] > MAX_PER_CHECK:
                    continue
                idx = case.index
                row_id = (
                    rows[int(idx)].get(table.primary_key)
                    if idx is not None and str(idx).isdigit() and int(idx) < len(rows)
                    else "-"
                )
                problems.append(
                    _problem(name, row_id, column, f"fails {check} (value {case.failure_case!r})")
                )
            for (column, check), n in counts.items():
                if n > MAX_PER_CHECK:
                    problems.append(
                        _problem(name, "…", column, f"{n - MAX_PER_CHECK} more rows fail {check}")
                    )
    return problems


def cross_table_problems(
    catalog: Catalog, tables: Tables, reference: bool = False
) -> list[Problem]:
    """References resolve, spans match their text, every cluster id is set.

    `reference` is for checking a published --text-policy reference folder, which has no text.
    """
    problems: list[Problem] = []
    keys = {
        name: {row[catalog[name].primary_key] for row in tables.get(name, [])}
        for name in catalog.tables
    }
    texts = {a["article_id"]: a["text"] for a in tables.get("articles", [])}
    if not reference:
        for article_id, text in texts.items():
            if not isinstance(text, str) or not text:
                problems.append(_problem("articles", article_id, "text", "article text is empty"))

    for name, table in catalog.tables.items():
        pk = table.primary_key
        for col in table.columns:
            if not col.references:
                continue
            target_table, _ = col.references.split(".")
            for row in tables.get(name, []):
                value = row.get(col.name)
                if value is not None and value not in keys[target_table]:
                    problems.append(
                        _problem(
                            name, row[pk], col.name, f"{value!r} does not exist in {col.references}"
                        )
                    )

    for name in ("quotes", "claims"):
        pk = catalog[name].primary_key
        cluster_col = "quote_cluster_id" if name == "quotes" else "claim_cluster_id"
        for row in tables.get(name, []):
            if row["text"] is None and not reference:
                problems.append(_problem(name, row[pk], "text", "text is missing"))
            problems += _span_problems(name, row[pk], row, texts)
            if not row.get(cluster_col):
                problems.append(_problem(name, row[pk], cluster_col, "cluster id is empty"))

    for ent in tables.get("entities", []):
        for i, m in enumerate(ent.get("mentions") or []):
            if m["article_id"] not in keys["articles"]:
                problems.append(
                    _problem(
                        "entities",
                        ent["entity_id"],
                        f"mentions[{i}].article_id",
                        f"{m['article_id']!r} does not exist in articles",
                    )
                )
                continue
            problems += _span_problems(
                "entities", ent["entity_id"], m, texts, column=f"mentions[{i}]"
            )
        n_articles = len({m["article_id"] for m in ent.get("mentions") or []})
        if ent.get("n_articles") != n_articles:
            problems.append(
                _problem(
                    "entities",
                    ent["entity_id"],
                    "n_articles",
                    f"is {ent.get('n_articles')}, mentions span {n_articles}",
                )
            )
    return problems


def _span_problems(
    table: str,
    row_id: Any,
    row: dict[str, Any],
    texts: dict[str, str | None],
    column: str = "char_start",
) -> list[Problem]:
    text = texts.get(row["article_id"])
    if text is None or row["text"] is None:  # reference builds: offsets only
        return []
    s, e = row["char_start"], row["char_end"]
    if not (0 <= s < e <= len(text)):
        return [
            _problem(
                table,
                row_id,
                column,
                f"span [{s}, {e}) outside the article text (length {len(text)})",
            )
        ]
    if text[s:e] != row["text"]:
        return [
            _problem(
                table,
                row_id,
                column,
                f"text {row['text']!r} != articles.text[{s}:{e}] {text[s:e]!r}",
            )
        ]
    return []


def validate_tables(catalog: Catalog, tables: Tables, reference: bool = False) -> list[Problem]:
    return schema_problems(catalog, tables) + cross_table_problems(catalog, tables, reference)
