"""croissant.json: Croissant 1.1 (JSON-LD) metadata generated from schema/ and the build.

The Hub serves its own generated Croissant and ignores an uploaded one, but a shipped file still
serves users and other catalogs, and ours carries what the Hub cannot infer: foreign keys, keys,
nested fields and the responsible-AI (RAI) fields. Everything comes from the schema catalog, the
build manifest and the card header, so the file is byte-identical across rebuilds (sorted keys,
no timestamps). It sits at the folder root: any non-Parquet file under `data/<table>/` would
break `load_dataset`.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

from newsbench import __version__
from newsbench.tables import Catalog, Column, Table
from newsbench.write import sha256_file

FILENAME = "croissant.json"
CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
PARQUET = "application/x-parquet"
SEMVER = re.compile(r"\d+\.\d+\.\d+")

# The standard Croissant 1.1 @context (as mlcroissant 1.1 writes it), frozen here so the bytes
# of croissant.json do not change with the installed mlcroissant version.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileObject": "cr:fileObject",
    "fileProperty": "cr:fileProperty",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

# schema/tables.yaml scalar types → Croissant data types.
DATA_TYPES: dict[str, str] = {
    "string": "sc:Text",
    "int32": "sc:Integer",
    "int64": "sc:Integer",
    "float64": "sc:Float",
    "bool": "sc:Boolean",
    "date32": "sc:Date",
}

DESCRIPTION = (
    "newsbench packages news articles that report the same story in several outlets into four "
    "linked tables: cleaned articles with provenance back to the raw bytes, check-worthy claims "
    "and who asserts them, direct, partial and indirect quotes with their speakers, and named "
    "entities canonicalised across outlets. Claims, quotes and entities that recur across "
    "outlets share cluster or entity ids, so the benchmark measures extraction and "
    "cross-document linking. Evaluation only: every row is in the test split."
)

LICENSE_NOTE = (
    "News text: copyright its publishers, all rights reserved; redistributed for research "
    "under the dataset's terms (builds with --text-policy reference omit it). Structure and "
    "annotations: see the dataset card's Licensing section."
)

RAI_STATIC: dict[str, Any] = {
    "rai:dataCollection": (
        "Articles reporting one news story in several outlets were copied byte for byte, as "
        "published, into plain-text files, which are never edited. Metadata (outlet, date, "
        "URL, language) is recorded only where the article text itself supports it; nothing is "
        "guessed. The build normalises the text and records every kept and removed raw "
        "character span with the reason for removal (articles.kept, articles.removed), and "
        "stores the sha256 of every raw file."
    ),
    "rai:dataCollectionType": ["Manual Human Curation", "Secondary Data Analysis"],
    "rai:dataAnnotationPlatform": [
        "No annotation platform or crowdsourcing: gold annotations are YAML files written in a "
        "text editor and kept under version control (raw/annotations/).",
        "Automatic annotations: spaCy en_core_web_sm 3.8 NER and parser, rule-based quote and "
        "claim extraction, string-similarity entity linking, run offline on CPU.",
    ],
    "rai:machineAnnotationTools": [
        "spaCy en_core_web_sm 3.8 (NER and dependency parser)",
        "newsbench rule-based quote and claim extractors",
        "rapidfuzz string similarity for entity canonicalisation and clustering",
    ],
    "rai:annotatorDemographics": [
        "Not collected. Gold annotations were written by project contributors, not crowd "
        "workers; their demographics were not recorded."
    ],
    "rai:dataBiases": [
        "One story reported by five outlets: topic, period (November 2025), framing and the "
        "English language of the collection are those of that story, and figures computed on "
        "it do not generalise to other topics, outlets or languages.",
        "Outlet selection is small and not sampled from any population of news sources; one "
        "article reads as a translation into English, so wording differences partly reflect "
        "translation, not reporting.",
        "Rows with origin = auto come from a small English NER model and rules: they miss and "
        "mis-attribute quotes, merge or split entities, and are least reliable on transliterated "
        "names and on groups with several names (ISIL, ISIS, Daesh).",
    ],
    "rai:dataLimitations": [
        "Very small: a handful of articles and a few hundred annotated rows; confidence "
        "intervals on any score are wide.",
        "Gold annotations follow the project's guidelines (ANNOTATION.md); other definitions of "
        "a check-worthy claim or of quote boundaries give different gold.",
        "Outlets are named only where the text carries a credit line; the others are unknown.",
        "origin = auto rows are a baseline, not ground truth.",
        "Test split only: not suitable for training.",
    ],
    "rai:personalSensitiveInformation": [
        "The articles name public figures (heads of state, officials, analysts) in their public "
        "roles, as published by news outlets; no private individuals' contact data.",
        "Political and religious affiliations (for example a militant group or a religious "
        "minority) appear as reported news.",
    ],
    "rai:dataUseCases": [
        "Evaluating quotation extraction and speaker attribution, check-worthy claim detection, "
        "named entity recognition, and cross-document clustering of quotes, claims and entities "
        "across outlets (newsbench evaluate).",
        "Not validated for training models, for judging the truth of claims (claims are not "
        "fact-checked), or for characterising any outlet's reporting.",
    ],
    "rai:dataSocialImpact": (
        "Intended to support fact-checkers and media researchers in comparing how outlets report "
        "the same event. Risks: the text is copyrighted news, so redistribution must respect the "
        "publishers' rights (reference-policy builds ship offsets and hashes only); a claim "
        "included here is check-worthy, not verified, and must not be cited as true or false; "
        "scores on so small a set can be over-interpreted."
    ),
    "rai:dataReleaseMaintenancePlan": (
        "Releases are semantically versioned git tags on the dataset repository, rebuilt "
        "deterministically from raw/ by the newsbench build (build_manifest.json records inputs, "
        "package versions and file sha256). Corrections to text or annotations go into a new "
        "version with a changelog entry in the dataset card. Rights or takedown requests go to "
        "the repository's discussions; the same inputs can be released as a reference-policy "
        "build (offsets, hashes and annotations, no article text)."
    ),
}


def _annotation_protocol(manifest: dict[str, Any]) -> list[str]:
    """Describe how gold was made, and say so when gold is byte-identical to pass 1."""
    protocol = [
        "Gold quotes, claims and entities are written by people following the project's "
        "guidelines (ANNOTATION.md), as YAML anchored by quoted strings and resolved to "
        "character offsets at build time; the build checks that every span's text equals "
        "articles.text[char_start:char_end]. Rows carry origin = gold.",
        "Two independent passes over the quotes and claims (raw/annotations/passes/pass1, pass2) "
        "are kept frozen for agreement measurement and adjudication; the build never reads them "
        "as gold.",
        "Articles without gold are annotated by the automatic extractors; rows carry "
        "origin = auto.",
    ]
    annotations: dict[str, str] = manifest.get("annotations") or {}
    gold = {
        rel.rsplit("/", 1)[-1]: digest
        for rel, digest in annotations.items()
        if rel.startswith("annotations/quotes_claims/")
    }
    pass1 = {
        rel.rsplit("/", 1)[-1]: digest
        for rel, digest in annotations.items()
        if rel.startswith("annotations/passes/pass1/")
    }
    if gold:
        same = sum(1 for name, digest in gold.items() if pass1.get(name) == digest)
        if same:
            protocol.append(
                f"In this build {same} of {len(gold)} gold quote/claim files are byte-identical "
                "to pass 1: adjudication did not change them."
            )
        else:
            protocol.append(
                f"All {len(gold)} gold quote/claim files differ from pass 1: the gold is the "
                "adjudicated version."
            )
    agreement = _agreement_text(manifest.get("agreement"))
    if agreement:
        protocol.append(agreement)
    n_gold = len(manifest.get("gold_articles") or [])
    protocol.append(f"Articles with gold annotations in this build: {n_gold}.")
    return protocol


def _agreement_text(agreement: Any) -> str | None:
    """Pass 1 vs pass 2 agreement as recorded in the manifest, whatever metrics it holds."""
    if not isinstance(agreement, dict):
        return None
    parts = []
    for task in sorted(agreement):
        metrics = agreement[task]
        if isinstance(metrics, dict):
            values = ", ".join(
                f"{name} {value:g}"
                for name, value in sorted(metrics.items())
                if isinstance(value, int | float) and not isinstance(value, bool)
            )
            if values:
                parts.append(f"{task}: {values}")
    if not parts:
        return None
    return "Agreement between the two passes (build_manifest.json): " + "; ".join(parts) + "."


def _file_objects(
    folder: Path, catalog: Catalog, manifest: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """One cr:FileObject per table file (a cr:FileSet for a sharded table); also returns
    table → (kind, @id)."""
    listed: dict[str, str] = manifest.get("files") or {}
    objects: list[dict[str, Any]] = []
    by_table: dict[str, tuple[str, str]] = {}  # table -> (fileObject | fileSet, @id)
    for name in sorted(catalog.tables):
        files = sorted((folder / "data" / name).glob("*.parquet"))
        for path in files:
            rel = path.relative_to(folder).as_posix()
            if listed and listed.get(rel) != sha256_file(path):
                # croissant.json must describe the files as built, never a stale manifest.
                raise ValueError(f"{rel}: sha256 differs from the build manifest (rebuild)")
        if len(files) > 1:
            # A sharded table is a cr:FileSet (per-shard sha256s are in build_manifest.json).
            set_id = f"data/{name}"
            objects.append(
                {
                    "@type": "cr:FileSet",
                    "@id": set_id,
                    "name": set_id,
                    "description": f"The {name} table (split test), {len(files)} shards.",
                    "encodingFormat": PARQUET,
                    "includes": f"data/{name}/*.parquet",
                }
            )
            by_table[name] = ("fileSet", set_id)
            continue
        path = files[0]
        rel = path.relative_to(folder).as_posix()
        digest = sha256_file(path)
        objects.append(
            {
                "@type": "cr:FileObject",
                "@id": rel,
                "name": rel,
                "description": f"The {name} table (split test).",
                "contentUrl": rel,
                "contentSize": f"{path.stat().st_size} B",
                "encodingFormat": PARQUET,
                "sha256": digest,
            }
        )
        by_table[name] = ("fileObject", rel)
    return objects, by_table


def _description(col: Column) -> str:
    text = col.description
    if col.allowed:
        text += " One of: " + ", ".join(col.allowed) + "."
    if col.nullable:
        text += " May be null."
    return text


def _field(table: Table, col: Column, source_file: tuple[str, str]) -> dict[str, Any]:
    """One cr:Field; list columns are arrays, list<struct> columns have a subField per field."""
    field_id = f"{table.name}/{col.name}"
    kind, file_id = source_file
    source = {kind: {"@id": file_id}, "extract": {"column": col.name}}
    out: dict[str, Any] = {
        "@type": "cr:Field",
        "@id": field_id,
        "name": col.name,
        "description": _description(col),
    }
    if col.type == "list<struct>":
        out["isArray"] = True
        out["repeated"] = True  # the Croissant 1.0 spelling of isArray, for older readers
        out["subField"] = [
            {
                "@type": "cr:Field",
                "@id": f"{field_id}/{f.name}",
                "name": f.name,
                "description": f.description,
                "dataType": DATA_TYPES[f.type],
                "source": {**source, "transform": {"jsonPath": f.name}},
            }
            for f in col.fields
        ]
        return out
    if col.type == "list<string>":
        out["dataType"] = DATA_TYPES["string"]
        out["isArray"] = True
        out["repeated"] = True
    else:
        out["dataType"] = DATA_TYPES[col.type]
    out["source"] = source
    if col.references:
        ref_table, ref_col = col.references.split(".", 1)
        out["references"] = {"field": {"@id": f"{ref_table}/{ref_col}"}}
    return out


def _record_set(table: Table, source_file: tuple[str, str]) -> dict[str, Any]:
    return {
        "@type": "cr:RecordSet",
        "@id": table.name,
        "name": table.name,
        "description": table.description,
        "key": {"@id": f"{table.name}/{table.primary_key}"},
        "field": [_field(table, col, source_file) for col in table.columns],
    }


def dataset_version(manifest: dict[str, Any], version: str | None = None) -> str:
    """MAJOR.MINOR.PATCH (a `v` prefix is dropped): the given one, else newsbench's version.

    Croissant validators require semantic versions; a checkout run records newsbench as
    "not installed" in the manifest, so the package's own __version__ is the fallback.
    """
    if version is None:
        recorded = (manifest.get("packages") or {}).get("newsbench", "")
        version = recorded if SEMVER.fullmatch(recorded) else __version__
    version = version.removeprefix("v")
    if not SEMVER.fullmatch(version):
        raise ValueError(f"dataset version must be MAJOR.MINOR.PATCH, got {version!r}")
    return version


def default_cite_as(version: str) -> str:
    return (
        "@misc{newsbench, title = {newsbench: a multi-outlet news benchmark for quotes, claims "
        "and entities}, author = {{newsbench contributors}}, year = {2026}, "
        f"note = {{Version {version}}}}}"
    )


def build_croissant(
    folder: Path,
    catalog: Catalog,
    manifest: dict[str, Any],
    card_header: dict[str, Any],
    *,
    version: str | None = None,
    url: str | None = None,
    cite_as: str | None = None,
    date_published: str | None = None,
) -> dict[str, Any]:
    """The Croissant JSON-LD for a built folder (Parquet files written, manifest computed).

    `card_header` is the card's YAML header (card.card_yaml): name, languages, keywords and
    license come from it so the card and croissant.json cannot disagree. `version` defaults to
    the newsbench package version in the manifest; no date unless `date_published` is given,
    because builds are deterministic.
    """
    version = dataset_version(manifest, version)
    distribution, file_ids = _file_objects(folder, catalog, manifest)
    counts = manifest.get("row_counts") or {}
    description = DESCRIPTION
    if counts:
        description += (
            " This version holds "
            + ", ".join(f"{counts[n]} {n}" for n in sorted(counts))
            + f" (schema version {catalog.schema_version})."
        )
    license_: list[str] = []
    if card_header.get("license_name"):
        license_.append(str(card_header["license_name"]))
    elif card_header.get("license"):
        license_.append(str(card_header["license"]))
    license_.append(LICENSE_NOTE)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": str(card_header.get("pretty_name") or "newsbench"),
        "description": description,
        "version": version,
        "license": license_,
        "citeAs": cite_as or default_cite_as(version),
        "inLanguage": list(card_header.get("language") or ["en"]),
        "keywords": sorted({*card_header.get("tags", []), *card_header.get("task_categories", [])}),
        "distribution": distribution,
        "recordSet": [
            _record_set(catalog[name], file_ids[name]) for name in sorted(catalog.tables)
        ],
        **RAI_STATIC,
        "rai:dataAnnotationProtocol": _annotation_protocol(manifest),
    }
    if url:
        doc["url"] = url
    if date_published:
        datetime.date.fromisoformat(date_published)  # ValueError unless YYYY-MM-DD
        doc["datePublished"] = date_published
    return doc


def dumps(doc: dict[str, Any]) -> str:
    """Canonical text: sorted keys, fixed indent, trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_croissant(
    folder: Path,
    catalog: Catalog,
    manifest: dict[str, Any],
    card_header: dict[str, Any],
    *,
    version: str | None = None,
    url: str | None = None,
    cite_as: str | None = None,
    date_published: str | None = None,
) -> Path:
    """Write croissant.json at the folder root (never under data/); returns its path."""
    doc = build_croissant(
        folder,
        catalog,
        manifest,
        card_header,
        version=version,
        url=url,
        cite_as=cite_as,
        date_published=date_published,
    )
    path = folder / FILENAME
    path.write_text(dumps(doc), encoding="utf-8")
    return path
