"""One schema source: pandera, Arrow, datasets.Features and the card's tables all agree with it."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import Features

from newsbench.tables import (
    TABLE_NAMES,
    arrow_schema,
    features,
    features_yaml,
    load_catalog,
    markdown_field_table,
    pandera_schema,
)

from conftest import ROOT

# The columns the Foundation issue requires, by name (more may be added, none removed).
REQUIRED = {
    "articles": [
        "article_id",
        "story_id",
        "source_file",
        "outlet",
        "url",
        "language",
        "published_date",
        "title",
        "text",
        "raw_sha256",
        "n_words",
        "removed",
    ],
    "quotes": [
        "quote_id",
        "article_id",
        "text",
        "char_start",
        "char_end",
        "speaker",
        "speaker_entity_id",
        "cue",
        "kind",
        "quote_cluster_id",
        "origin",
    ],
    "claims": [
        "claim_id",
        "article_id",
        "text",
        "char_start",
        "char_end",
        "claimant",
        "claimant_entity_id",
        "claim_cluster_id",
        "origin",
    ],
    "entities": ["entity_id", "name", "type", "aliases", "mentions", "n_articles", "origin"],
}


def test_schema_is_a_declarative_file_not_a_python_package() -> None:
    assert (ROOT / "schema" / "tables.yaml").is_file()
    assert not (ROOT / "schema" / "__init__.py").exists()


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_required_columns_declared(name: str) -> None:
    assert set(REQUIRED[name]) <= set(load_catalog()[name].column_names)


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_derived_schemas_agree(name: str) -> None:
    table = load_catalog()[name]
    arrow = arrow_schema(table)
    pandera = pandera_schema(table)
    feats = features(table)
    assert arrow.names == table.column_names
    assert list(pandera.columns) == table.column_names
    assert list(feats) == table.column_names
    # nullability: Arrow field flags and pandera columns follow the declaration
    for col in table.columns:
        assert arrow.field(col.name).nullable == col.nullable
        assert pandera.columns[col.name].nullable == col.nullable
        assert pandera.columns[col.name].unique == col.unique
    # the YAML written into the card, the Features object and the Arrow schema are one type
    assert Features._from_yaml_list(features_yaml(table)) == feats
    assert Features.from_arrow_schema(arrow) == feats
    assert [f.type for f in feats.arrow_schema] == [f.type for f in arrow]
    md = markdown_field_table(table)
    for col in table.columns:
        assert f"`{col.name}`" in md


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_written_parquet_has_the_declared_schema(built: Path, name: str) -> None:
    table = load_catalog()[name]
    files = sorted((built / "data" / name).glob("*.parquet"))
    assert files
    for f in files:
        schema = pq.read_schema(f)
        assert schema.remove_metadata().equals(arrow_schema(table).remove_metadata())
        assert b"pandas" not in (schema.metadata or {})  # no pandas metadata: reproducible bytes


def test_allowed_values_are_enforced_by_pandera() -> None:
    import pandera.errors as pe

    from newsbench.tables import to_dataframe

    table = load_catalog()["quotes"]
    row = {
        "quote_id": "q-1",
        "article_id": "a",
        "text": "x",
        "char_start": 0,
        "char_end": 1,
        "speaker": None,
        "speaker_entity_id": None,
        "cue": None,
        "kind": "shouted",
        "quote_cluster_id": "qc-1",
        "origin": "gold",
    }
    with pytest.raises(pe.SchemaErrors) as err:
        pandera_schema(table).validate(to_dataframe(table, [row]), lazy=True)
    assert "kind" in set(err.value.failure_cases["column"])
