"""Validate: every table against its pandera schema, then the checks across tables.

Runs before anything is written. All problems are collected (pandera's lazy mode, and every
cross-table check over every row), so one report shows everything to fix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsbench.problems import Problem
from newsbench.spill import SpilledTable, column_values, rebatched, repeated_values
from newsbench.tables import Catalog, pandera_schema, to_dataframe

Rows = list[dict[str, Any]] | SpilledTable
Tables = dict[str, Rows]
MAX_PER_CHECK = 50  # report at most this many rows per (table, column, check); count the rest
CHUNK_ROWS = 50_000  # rows per pandera call: bounds the DataFrame copy of a large table
CHUNK_BYTES = 4 * 1024 * 1024  # and about this much Arrow data at most (as dicts: 10-20 times more)


def _problem(table: str, row_id: Any, column: str, message: str) -> Problem:
    return Problem(
        file=f"{table}", message=f"row {row_id!s}: {message}", field=column, stage="validate"
    )


def schema_problems(
    catalog: Catalog, tables: Tables, chunk_rows: int = CHUNK_ROWS
) -> list[Problem]:
    """pandera validation of each table, lazily: all failures, each with row id and column.

    A table is checked `chunk_rows` rows at a time (fewer for a spilled table of wide rows,
    about CHUNK_BYTES of Arrow data), so the DataFrame pandera needs (a copy of every string)
    stays bounded whatever the table's size; uniqueness across chunks is checked here, with
    pandera's own check name.
    """
    import pandera.errors as pe

    problems: list[Problem] = []
    for name, table in catalog.tables.items():
        rows = tables.get(name, [])
        schema = pandera_schema(table)
        counts: Counter[tuple[str, str]] = Counter()
        unique = [c.name for c in table.columns if c.unique]
        # values held more than once, found first: across chunks only these need tracking
        repeated = {c: _repeated_values(rows, c) for c in unique}
        seen: dict[str, set[Any]] = {c: set() for c in unique}
        per_chunk = chunk_rows
        if isinstance(rows, SpilledTable) and rows.nbytes:  # rows of a known average size
            per_chunk = min(chunk_rows, max(1_000, CHUNK_BYTES * len(rows) // rows.nbytes))
        for start, chunk in _chunks(rows, per_chunk):
            df = to_dataframe(table, chunk)
            df.index = range(start, start + len(chunk))
            try:
                schema.validate(df, lazy=True)
            except pe.SchemaErrors as exc:
                for case in exc.failure_cases.itertuples(index=False):
                    column = str(case.column) if case.column is not None else "(table)"
                    idx = case.index
                    row_id = (
                        chunk[int(idx) - start].get(table.primary_key)
                        if idx is not None
                        and str(idx).isdigit()
                        and 0 <= int(idx) - start < len(chunk)
                        else "-"
                    )
                    problems += _counted(
                        counts, name, row_id, column, str(case.check), case.failure_case
                    )
            for column in unique:
                if not repeated[column]:
                    continue
                values = df[column].tolist()
                if start:  # within one chunk pandera has reported them
                    for row_id, value in zip(df[table.primary_key], values, strict=True):
                        if value in seen[column]:
                            problems += _counted(
                                counts, name, row_id, column, "field_uniqueness", value
                            )
                seen[column].update(v for v in values if v in repeated[column])
            del df
        for (column, check), n in counts.items():
            if n > MAX_PER_CHECK:
                problems.append(
                    _problem(name, "…", column, f"{n - MAX_PER_CHECK} more rows fail {check}")
                )
    return problems


def _repeated_values(rows: Rows, column: str) -> set[Any]:
    """Values of `column` found in more than one row. A spilled table's column is copied to a
    spill file of its own and sorted on disk (newsbench.spill.repeated_values): memory holds
    the sort's budget, not the column, nor the batches a column slice would keep alive."""
    if isinstance(rows, SpilledTable):
        return repeated_values(rows, column)
    return {v for v, n in Counter(column_values(rows, column)).items() if n > 1}


def _chunks(rows: Rows, chunk_rows: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(first row's index, rows) `chunk_rows` at a time; one empty chunk for an empty table
    (pandera still checks the columns)."""
    if isinstance(rows, SpilledTable):
        start = 0
        for part in rebatched(rows.batches(), chunk_rows):
            yield start, part.to_pylist()
            start += part.num_rows
        if not start:
            yield 0, []
        return
    for start in range(0, max(len(rows), 1), chunk_rows):
        yield start, rows[start : start + chunk_rows]


def _counted(
    counts: Counter[tuple[str, str]], table: str, row_id: Any, column: str, check: str, value: Any
) -> list[Problem]:
    """One failure, unless MAX_PER_CHECK of its kind are already reported (then only counted)."""
    counts[(column, check)] += 1
    if counts[(column, check)] > MAX_PER_CHECK:
        return []
    return [_problem(table, row_id, column, f"fails {check} (value {value!r})")]


def cross_table_problems(
    catalog: Catalog, tables: Tables, reference: bool = False
) -> list[Problem]:
    """References resolve, spans match their text, every cluster id is set.

    `reference` is for checking a published --text-policy reference folder, which has no text.
    """
    problems: list[Problem] = []
    # keys of the tables something refers to (the articles always: mentions point at them)
    targets = {"articles"} | {
        c.references.split(".")[0]
        for t in catalog.tables.values()
        for c in t.columns
        if c.references
    }
    keys = {
        name: set(column_values(tables.get(name, []), catalog[name].primary_key))
        for name in sorted(targets)
    }
    texts, empty = _article_texts(tables.get("articles", []))
    if not reference:
        problems += [_problem("articles", a, "text", "article text is empty") for a in empty]
    failures = _span_failures(tables, texts)

    for name, table in catalog.tables.items():
        pk = table.primary_key
        for col in table.columns:
            if not col.references:
                continue
            target_table, _ = col.references.split(".")
            rows = tables.get(name, [])
            # two columns, not whole rows: a spilled table converts only what is read
            for row_id, value in zip(
                column_values(rows, pk), column_values(rows, col.name), strict=True
            ):
                if value is not None and value not in keys[target_table]:
                    problems.append(
                        _problem(
                            name, row_id, col.name, f"{value!r} does not exist in {col.references}"
                        )
                    )

    for name in ("quotes", "claims"):
        pk = catalog[name].primary_key
        cluster_col = "quote_cluster_id" if name == "quotes" else "claim_cluster_id"
        for n, row in enumerate(tables.get(name, [])):
            if row["text"] is None and not reference:
                problems.append(_problem(name, row[pk], "text", "text is missing"))
            failure = failures.get((name, n, -1))
            if failure:
                problems.append(_problem(name, row[pk], "char_start", failure))
            if not row.get(cluster_col):
                problems.append(_problem(name, row[pk], cluster_col, "cluster id is empty"))

    for n, ent in enumerate(tables.get("entities", [])):
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
            if ("entities", n, i) in failures:
                message = failures[("entities", n, i)]
                problems.append(_problem("entities", ent["entity_id"], f"mentions[{i}]", message))
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


_SPANS = pa.schema(
    [
        ("article_id", pa.string()),
        ("table", pa.string()),
        ("row", pa.int64()),
        ("item", pa.int64()),  # the mention's index in its entity row; -1 for a quote or claim
        ("char_start", pa.int64()),
        ("char_end", pa.int64()),
        ("text", pa.string()),
    ]
)
_TEXTS = pa.schema([("article_id", pa.string()), ("text", pa.string())])
SpanKey = tuple[str, int, int]  # (table, row number, item)


def _article_texts(articles: Rows) -> tuple[SpilledTable, list[Any]]:
    """One pass over the articles: their (id, text) pairs, spilled for the span join, and the
    ids of articles without text (a spilled table is read in Arrow, its texts never
    converted)."""
    texts = SpilledTable(_TEXTS)
    empty: list[Any] = []
    if isinstance(articles, SpilledTable):
        for batch in articles.batches():
            pairs = batch.select(_TEXTS.names)
            text = pairs.column("text")
            blank = pc.or_kleene(pc.is_null(text), pc.equal(pc.utf8_length(text), 0))
            empty += pairs.column("article_id").filter(blank).to_pylist()
            texts.write(pairs.filter(pc.is_valid(pairs.column("article_id"))))
        return texts.seal(), empty
    for a in articles:
        article_id, text = a.get("article_id"), a.get("text")
        if not isinstance(text, str) or not text:
            empty.append(article_id)
        if article_id is not None:
            texts.append({"article_id": article_id, "text": text})
    return texts.seal(), empty


def _span_failures(tables: Tables, texts: SpilledTable) -> dict[SpanKey, str]:
    """Spans that do not match their article's text: (table, row number, item) -> message.
    `texts` (from `_article_texts`) is closed here.

    An external join, so that no corpus's texts are held whole: every span that has a text
    (quotes, claims, entity mentions) goes to a spill file, the spans and the articles' (id,
    text) pairs are each sorted by article id on disk, and the two are read in step, one
    article's text at a time. Spans of a missing article or of an article without text
    (reference builds) are not checked here.
    """
    spans = SpilledTable(_SPANS)
    for name in ("quotes", "claims", "entities"):
        rows = tables.get(name, [])
        if isinstance(rows, SpilledTable):
            first_row = 0
            for batch in rows.batches():  # column-wise: no row becomes a dict
                spans.write(_span_batch(name, batch, first_row))
                first_row += batch.num_rows
        else:
            spans.extend(_span_rows(name, rows))
    failures: dict[SpanKey, str] = {}
    with (
        spans,
        texts,
        spans.sorted_by("article_id") as ordered,
        texts.sorted_by("article_id") as by_id,
    ):
        pairs = (pair for batch in by_id.batches() for pair in _columns(batch, _TEXTS.names))
        article = next(pairs, None)
        for batch in ordered.batches():
            for span in _columns(batch, _SPANS.names):
                article_id, table, row, item, start, end, text = span
                while article is not None and article[0] < article_id:
                    article = next(pairs, None)
                if article is None or article[0] != article_id:
                    continue
                message = _span_message(start, end, text, article[1])
                if message:
                    failures[(table, row, item)] = message
    return failures


def _columns(batch: pa.RecordBatch, names: list[str]) -> Iterator[tuple[Any, ...]]:
    """A batch's rows as tuples of the named columns (each column converted once)."""
    return zip(*(batch.column(name).to_pylist() for name in names), strict=True)


def _span_rows(name: str, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The spans of rows given as dicts (the slow path, for small tables)."""
    for n, row in enumerate(rows):
        spans = [(-1, row)] if name != "entities" else enumerate(row.get("mentions") or [])
        for item, span in spans:
            if span.get("text") is not None and span.get("article_id") is not None:
                yield {**span, "table": name, "row": n, "item": item}


def _span_batch(name: str, batch: pa.RecordBatch, first_row: int) -> pa.RecordBatch:
    """The spans of one spilled batch whose first row is row `first_row`, in Arrow."""
    if name == "entities":
        mentions = batch.column("mentions")
        lengths = pc.fill_null(pc.list_value_length(mentions), 0).to_numpy()
        parents = pc.list_parent_indices(mentions).to_numpy()
        firsts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        items = np.arange(len(parents)) - firsts[parents]
        flat = pc.list_flatten(mentions)
        columns = {c: flat.field(c) for c in ("article_id", "char_start", "char_end", "text")}
    else:
        parents = np.arange(batch.num_rows)
        items = np.full(batch.num_rows, -1)
        columns = {c: batch.column(c) for c in ("article_id", "char_start", "char_end", "text")}
    out = pa.RecordBatch.from_arrays(
        [
            columns["article_id"],
            pa.array(np.full(len(parents), name, dtype=object), pa.string()),
            pa.array(parents + first_row, pa.int64()),
            pa.array(items, pa.int64()),
            pc.cast(columns["char_start"], pa.int64()),
            pc.cast(columns["char_end"], pa.int64()),
            columns["text"],
        ],
        schema=_SPANS,
    )
    return out.filter(
        pc.and_(pc.is_valid(out.column("text")), pc.is_valid(out.column("article_id")))
    )


def _span_message(start: int, end: int, span_text: str, text: str | None) -> str | None:
    if text is None:  # reference builds: offsets only
        return None
    if not (0 <= start < end <= len(text)):
        return f"span [{start}, {end}) outside the article text (length {len(text)})"
    if text[start:end] != span_text:
        return f"text {span_text!r} != articles.text[{start}:{end}] {text[start:end]!r}"
    return None


def validate_tables(catalog: Catalog, tables: Tables, reference: bool = False) -> list[Problem]:
    return schema_problems(catalog, tables) + cross_table_problems(catalog, tables, reference)
