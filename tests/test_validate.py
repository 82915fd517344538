"""Validation before writing: each problem names table, row id, column and what is wrong."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from newsbench.check import read_tables
from newsbench.tables import load_catalog
from newsbench.validate import cross_table_problems, schema_problems, validate_tables

from conftest import RAW, run_build


@pytest.fixture(scope="module")
def tables(built: Path) -> dict:
    rows, problems = read_tables(built)
    assert problems == []
    return rows


def test_the_built_tables_are_valid(tables: dict) -> None:
    assert validate_tables(load_catalog(), tables) == []


def test_each_kind_of_error_is_reported_with_its_row(tables: dict) -> None:
    bad = copy.deepcopy(tables)
    q0, q1 = bad["quotes"][0], bad["quotes"][1]
    q0["char_end"] += 3  # span no longer matches its text
    q1["kind"] = "shouted"  # not an allowed value
    bad["claims"][0]["article_id"] = "no-such-article"  # dangling reference
    bad["claims"][1]["claim_id"] = bad["claims"][2]["claim_id"]  # duplicate id
    bad["quotes"][2]["speaker_entity_id"] = "e-unknown"  # unknown entity
    bad["entities"][0]["n_articles"] += 1  # inconsistent count
    bad["entities"][1]["mentions"][0]["char_start"] += 1  # mention text mismatch
    problems = validate_tables(load_catalog(), bad)
    rendered = "\n".join(p.render() for p in problems)
    assert f"row {q0['quote_id']}" in rendered and "!= articles.text" in rendered
    assert f"row {q1['quote_id']}" in rendered and "kind" in rendered
    assert "'no-such-article' does not exist in articles.article_id" in rendered
    assert "claim_id" in rendered and "field_uniqueness" in rendered
    assert "'e-unknown' does not exist in entities.entity_id" in rendered
    assert f"row {bad['entities'][0]['entity_id']}" in rendered and "n_articles" in rendered
    assert "mentions[0]" in rendered
    assert len(problems) >= 7


def test_checking_in_chunks_finds_the_same_problems_and_duplicates_across_chunks(
    tables: dict,
) -> None:
    catalog = load_catalog()
    claims = tables["claims"]
    assert len(claims) > 8  # several chunks of 3 rows
    assert schema_problems(catalog, tables, chunk_rows=3) == []
    bad = copy.deepcopy(tables)
    first, last = bad["claims"][0], bad["claims"][-1]
    last["claim_id"] = first["claim_id"]  # duplicate ids in the first and the last chunk
    bad["claims"][4]["origin"] = "guessed"  # a value check inside a middle chunk
    whole = {p.render() for p in schema_problems(catalog, bad)}
    chunked = [p.render() for p in schema_problems(catalog, bad, chunk_rows=3)]
    assert any("field_uniqueness" in r and first["claim_id"] in r for r in chunked)
    assert any(f"row {bad['claims'][4]['claim_id']}" in r and "origin" in r for r in chunked)
    # every problem pandera finds on the whole table is found chunk by chunk (the first copy
    # of a duplicate is reported by pandera on the whole table only: it precedes the second)
    assert {r for r in whole if "field_uniqueness" not in r} <= set(chunked)


def test_spilled_tables_report_what_lists_report(tables: dict) -> None:
    """The build validates spilled tables (newsbench.spill, read in batches, spans checked by an
    external join on article id, ids counted in Arrow): the same damage gives the same report,
    in the same order, as the rows given as lists, across many spill batches and chunks."""
    from newsbench.spill import SpilledTable
    from newsbench.tables import arrow_schema

    catalog = load_catalog()
    bad = copy.deepcopy(tables)
    bad["quotes"][0]["char_end"] += 3
    bad["claims"][-1]["claim_id"] = bad["claims"][0]["claim_id"]
    bad["claims"][5]["article_id"] = "no-such-article"
    bad["entities"][-1]["mentions"][-1]["char_start"] += 1
    bad["entities"][2]["mentions"][0]["text"] = "not the text"
    spilled = {
        name: SpilledTable(arrow_schema(catalog[name]), batch_rows=7).extend(rows).seal()
        for name, rows in bad.items()
    }
    as_lists = [p.render() for p in schema_problems(catalog, bad, chunk_rows=10)]
    as_lists += [p.render() for p in cross_table_problems(catalog, bad)]
    from_spill = [p.render() for p in schema_problems(catalog, spilled, chunk_rows=10)]
    from_spill += [p.render() for p in cross_table_problems(catalog, spilled)]
    assert from_spill == as_lists
    assert any("not the text" in r for r in from_spill)
    assert any(f"row {bad['entities'][-1]['entity_id']}" in r for r in from_spill)
    assert any(f"row {bad['quotes'][0]['quote_id']}" in r for r in from_spill)
    assert any("field_uniqueness" in r for r in from_spill)
    assert any("'no-such-article' does not exist" in r for r in from_spill)
    for table in spilled.values():
        table.close()


def test_a_failing_build_prints_the_report_and_writes_nothing(
    raw_copy: Path, tmp_path: Path
) -> None:
    # An annotation naming an entity that does not exist never reaches the output.
    target = raw_copy / "annotations" / "quotes_claims" / "000_e5de351659e7d52d.yaml"
    text = target.read_text(encoding="utf-8")
    target.write_text(
        text.replace("speaker: donald-trump", "speaker: donald-trumpp", 1), encoding="utf-8"
    )
    out = tmp_path / "out"
    proc = run_build("--raw", str(raw_copy), "--out", str(out))
    assert proc.returncode == 1
    assert "unknown entity 'donald-trumpp'" in proc.stderr
    assert "annotations/quotes_claims/000_e5de351659e7d52d.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert RAW.exists()
