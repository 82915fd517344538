"""croissant.json: valid for mlcroissant, reads back the Parquet rows, deterministic."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import mlcroissant as mlc
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from newsbench.check import check_output
from newsbench.croissant import (
    CONTEXT,
    FILENAME,
    build_croissant,
    dataset_version,
    write_croissant,
)
from newsbench.tables import TABLE_NAMES, load_catalog

RAI_FIELDS = (
    "rai:dataCollection",
    "rai:dataCollectionType",
    "rai:dataAnnotationProtocol",
    "rai:dataAnnotationPlatform",
    "rai:annotatorDemographics",
    "rai:dataBiases",
    "rai:dataLimitations",
    "rai:personalSensitiveInformation",
    "rai:dataUseCases",
    "rai:dataSocialImpact",
    "rai:dataReleaseMaintenancePlan",
)
# third-party deprecation noise inside rdflib and mlcroissant, not ours
pytestmark = [
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated"),
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index"),
]
DATE_WARNING = 'Property "https://schema.org/datePublished" is recommended'


def inputs(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest and card header, as the build hands them over."""
    manifest = json.loads((folder / "build_manifest.json").read_text(encoding="utf-8"))
    text = (folder / "README.md").read_text(encoding="utf-8")
    return manifest, yaml.safe_load(text.split("---", 2)[1])


@pytest.fixture
def folder(built: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "newsbench"
    shutil.copytree(built, dest)
    return dest


@pytest.fixture
def written(folder: Path) -> Path:
    manifest, header = inputs(folder)
    return write_croissant(
        folder, load_catalog(), manifest, header, url="https://huggingface.co/datasets/o/n"
    )


@pytest.fixture
def dataset(written: Path) -> mlc.Dataset:
    return mlc.Dataset(jsonld=written)


def plain(value: Any) -> Any:
    """mlcroissant values → Parquet's Python values (bytes → str, Timestamp → date, ids → names)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k.rsplit("/", 1)[-1]: plain(v) for k, v in value.items()}
    return value


def records(ds: mlc.Dataset, table: str) -> list[dict[str, Any]]:
    return [
        {key.split("/", 1)[1]: plain(v) for key, v in record.items()}
        for record in ds.records(record_set=table)
    ]


def parquet_rows(folder: Path, table: str) -> list[dict[str, Any]]:
    return pq.read_table(folder / "data" / table / "test-00000-of-00001.parquet").to_pylist()


def test_written_at_the_root_and_the_folder_still_checks(folder: Path, written: Path) -> None:
    assert written == folder / FILENAME
    assert not list((folder / "data").rglob("*.json"))  # nothing beside the Parquet files
    # rewritten here with a url, it no longer matches the manifest's hash; all else still checks
    problems = check_output(folder)
    assert [(p.file, "sha256" in p.message) for p in problems] == [("croissant.json", True)]


def test_mlcroissant_loads_it_without_errors(dataset: mlc.Dataset) -> None:
    issues = dataset.metadata.ctx.issues
    assert issues.errors == set()
    # the only remark: no datePublished, on purpose (a build has no timestamp)
    assert all(DATE_WARNING in w for w in issues.warnings), issues.warnings


def test_no_warnings_at_all_with_a_publication_date(folder: Path) -> None:
    manifest, header = inputs(folder)
    path = write_croissant(folder, load_catalog(), manifest, header, date_published="2026-01-15")
    ds = mlc.Dataset(jsonld=path)
    assert ds.metadata.ctx.issues.errors == set()
    assert ds.metadata.ctx.issues.warnings == set()


def test_articles_and_claims_read_back_through_mlcroissant(
    dataset: mlc.Dataset, folder: Path
) -> None:
    articles = records(dataset, "articles")
    assert [a["article_id"] for a in articles] == [
        r["article_id"] for r in parquet_rows(folder, "articles")
    ]
    claims = records(dataset, "claims")
    expected = [(r["claim_id"], r["char_start"]) for r in parquet_rows(folder, "claims")]
    assert [(c["claim_id"], c["char_start"]) for c in claims] == expected
    assert len(claims) > 0


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_every_table_reads_back_exactly(dataset: mlc.Dataset, folder: Path, table: str) -> None:
    """Including list<string> (aliases), list<struct> (kept, removed, mentions), dates, nulls."""
    assert records(dataset, table) == parquet_rows(folder, table)


def test_file_objects_match_the_files(written: Path, folder: Path) -> None:
    doc = json.loads(written.read_text(encoding="utf-8"))
    manifest, _ = inputs(folder)
    objects = {d["contentUrl"]: d for d in doc["distribution"]}
    expected = sorted(p.relative_to(folder).as_posix() for p in folder.glob("data/*/*.parquet"))
    assert sorted(objects) == expected
    for rel, obj in objects.items():
        data = (folder / rel).read_bytes()
        assert obj["@type"] == "cr:FileObject"
        assert obj["encodingFormat"] == "application/x-parquet"
        assert obj["sha256"] == hashlib.sha256(data).hexdigest() == manifest["files"][rel]
        assert obj["contentSize"] == f"{len(data)} B"


def test_record_sets_follow_the_schema(written: Path) -> None:
    doc = json.loads(written.read_text(encoding="utf-8"))
    catalog = load_catalog()
    sets = {rs["@id"]: rs for rs in doc["recordSet"]}
    assert set(sets) == set(catalog.tables)
    types = {"string": "sc:Text", "int32": "sc:Integer", "int64": "sc:Integer"}
    types |= {"date32": "sc:Date", "bool": "sc:Boolean", "float64": "sc:Float"}
    for name, table in catalog.tables.items():
        rs = sets[name]
        assert rs["key"] == {"@id": f"{name}/{table.primary_key}"}
        fields = {f["name"]: f for f in rs["field"]}
        assert list(fields) == table.column_names
        for col in table.columns:
            f = fields[col.name]
            if col.type == "list<struct>":
                assert f["repeated"] is True and f["isArray"] is True
                assert [s["name"] for s in f["subField"]] == [x.name for x in col.fields]
                for sub, spec in zip(f["subField"], col.fields, strict=True):
                    assert sub["dataType"] == types[spec.type]
                    assert sub["source"]["extract"] == {"column": col.name}
                    assert sub["source"]["transform"] == {"jsonPath": spec.name}
                continue
            if col.type == "list<string>":
                assert f["dataType"] == "sc:Text" and f["repeated"] is True
            else:
                assert f["dataType"] == types[col.type]
                assert "repeated" not in f
            assert f["source"]["extract"] == {"column": col.name}
            if col.references:
                ref_table, ref_col = col.references.split(".")
                assert f["references"] == {"field": {"@id": f"{ref_table}/{ref_col}"}}
            else:
                assert "references" not in f


def test_dataset_metadata_and_rai_fields(written: Path, folder: Path) -> None:
    doc = json.loads(written.read_text(encoding="utf-8"))
    manifest, header = inputs(folder)
    assert doc["@context"] == CONTEXT
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert doc["name"] == header["pretty_name"]
    assert doc["url"] == "https://huggingface.co/datasets/o/n"
    assert doc["version"] == dataset_version(manifest)
    assert doc["citeAs"].startswith("@misc{newsbench")
    assert doc["license"] and "datePublished" not in doc
    for n in manifest["row_counts"].values():
        assert str(n) in doc["description"]
    for key in RAI_FIELDS:
        value = doc[key]
        texts = [value] if isinstance(value, str) else value
        assert texts and all(isinstance(t, str) and t.strip() for t in texts), key
    assert any("not collected" in v.lower() for v in doc["rai:annotatorDemographics"])


def test_two_generations_are_byte_identical(folder: Path, tmp_path: Path) -> None:
    manifest, header = inputs(folder)
    first = write_croissant(folder, load_catalog(), manifest, header).read_bytes()
    other = tmp_path / "copy"
    shutil.copytree(folder, other)
    (other / FILENAME).unlink()
    second = write_croissant(other, load_catalog(), manifest, header).read_bytes()
    assert first == second
    assert first == write_croissant(folder, load_catalog(), manifest, header).read_bytes()
    assert first.endswith(b"\n")


def test_version_option_and_validation(folder: Path) -> None:
    manifest, header = inputs(folder)
    doc = build_croissant(folder, load_catalog(), manifest, header, version="v1.4.0")
    assert doc["version"] == "1.4.0"
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        build_croissant(folder, load_catalog(), manifest, header, version="latest")
    with pytest.raises(ValueError):
        build_croissant(folder, load_catalog(), manifest, header, date_published="15/01/2026")


def test_stale_manifest_is_refused(folder: Path) -> None:
    manifest, header = inputs(folder)
    rel = "data/claims/test-00000-of-00001.parquet"
    manifest["files"][rel] = "0" * 64
    with pytest.raises(ValueError, match="differs from the build manifest"):
        build_croissant(folder, load_catalog(), manifest, header)
