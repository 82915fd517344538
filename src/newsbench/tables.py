"""The table declarations in schema/tables.yaml, and everything derived from them.

schema/ is the only place a column is declared. This module turns that declaration into the
pyarrow schemas used to write Parquet, the pandera schemas used to validate, the
`datasets.Features` written into the card's YAML, and the card's Markdown field tables.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

TABLE_NAMES = ("articles", "claims", "quotes", "entities")
SCALAR_TYPES = ("string", "int32", "int64", "float64", "bool", "date32")


@dataclass(frozen=True)
class Field:
    """A field of a list<struct> column."""

    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = False
    unique: bool = False
    allowed: tuple[str, ...] | None = None
    references: str | None = None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    primary_key: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")


@dataclass(frozen=True)
class Catalog:
    """All tables of one schema version."""

    schema_version: str
    tables: dict[str, Table]
    source: str

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]


def schema_path() -> Path:
    """Locate schema/tables.yaml: $NEWSBENCH_SCHEMA, the source checkout, or the installed copy."""
    env = os.environ.get("NEWSBENCH_SCHEMA")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "schema" / "tables.yaml"
    if checkout.is_file():
        return checkout
    return Path(str(resources.files("newsbench") / "_schema" / "tables.yaml"))


def _parse_column(table: str, raw: dict[str, Any]) -> Column:
    where = f"schema: table {table!r}, column {raw.get('name')!r}"
    type_ = raw.get("type")
    if type_ not in (*SCALAR_TYPES, "list<string>", "list<struct>"):
        raise ValueError(f"{where}: unknown type {type_!r}")
    fields = tuple(
        Field(name=f["name"], type=f["type"], description=f.get("description", ""))
        for f in raw.get("fields", [])
    )
    if (type_ == "list<struct>") != bool(fields):
        raise ValueError(f"{where}: list<struct> needs `fields:`, other types must not have them")
    for f in fields:
        if f.type not in SCALAR_TYPES:
            raise ValueError(f"{where}: field {f.name!r} has non-scalar type {f.type!r}")
    allowed = raw.get("allowed")
    return Column(
        name=raw["name"],
        type=type_,
        description=raw.get("description", ""),
        nullable=bool(raw.get("nullable", False)),
        unique=bool(raw.get("unique", False)),
        allowed=tuple(allowed) if allowed else None,
        references=raw.get("references"),
        fields=fields,
    )


@functools.cache
def load_catalog(path: str | None = None) -> Catalog:
    """Read and check the schema declaration (cached: it never changes during a run)."""
    file = Path(path) if path else schema_path()
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    tables = {}
    for name, spec in data["tables"].items():
        columns = tuple(_parse_column(name, c) for c in spec["columns"])
        tables[name] = Table(
            name=name,
            description=spec["description"],
            primary_key=spec["primary_key"],
            columns=columns,
        )
    missing = set(TABLE_NAMES) - set(tables)
    if missing:
        raise ValueError(f"{file}: tables missing from the schema: {sorted(missing)}")
    return Catalog(schema_version=str(data["schema_version"]), tables=tables, source=str(file))


def entity_types() -> tuple[str, ...]:
    """The entity types schema/ allows (OntoNotes as spaCy uses them, minus dates and numbers)."""
    allowed = load_catalog()["entities"].column("type").allowed
    assert allowed is not None
    return allowed


# --- Arrow ---------------------------------------------------------------------------------

_ARROW_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date32": pa.date32(),
}


def arrow_type(col: Column) -> pa.DataType:
    if col.type == "list<string>":
        return pa.list_(pa.string())
    if col.type == "list<struct>":
        return pa.list_(pa.struct([pa.field(f.name, _ARROW_SCALARS[f.type]) for f in col.fields]))
    return _ARROW_SCALARS[col.type]


def arrow_schema(table: Table) -> pa.Schema:
    """Explicit Arrow schema: never let an all-null shard infer a `null` type."""
    return pa.schema(
        [pa.field(c.name, arrow_type(c), nullable=c.nullable) for c in table.columns],
        metadata={"newsbench.table": table.name},
    )


# --- datasets.Features ----------------------------------------------------------------------


def features_yaml(table: Table) -> list[dict[str, Any]]:
    """The `dataset_info.features` list for the card's YAML (a list of records is `list: [...]`)."""
    out: list[dict[str, Any]] = []
    for c in table.columns:
        if c.type == "list<string>":
            out.append({"name": c.name, "list": "string"})
        elif c.type == "list<struct>":
            out.append(
                {"name": c.name, "list": [{"name": f.name, "dtype": f.type} for f in c.fields]}
            )
        else:
            out.append({"name": c.name, "dtype": c.type})
    return out


def features(table: Table):  # -> datasets.Features (imported lazily: datasets is slow to import)
    from datasets import Features, List, Value

    def value(t: str) -> Value:
        return Value(t)

    out = {}
    for c in table.columns:
        if c.type == "list<string>":
            out[c.name] = List(Value("string"))
        elif c.type == "list<struct>":
            out[c.name] = List({f.name: value(f.type) for f in c.fields})
        else:
            out[c.name] = value(c.type)
    return Features(out)


# --- pandera --------------------------------------------------------------------------------


def pandera_schema(table: Table):  # -> pandera.pandas.DataFrameSchema
    """Column types, nullability, uniqueness, allowed values and list-element checks."""
    import pandera.pandas as pa_

    def element_check(col: Column) -> list:
        if col.type == "list<string>":
            return [
                pa_.Check(
                    lambda s: s.map(lambda v: all(isinstance(x, str) for x in v)),
                    error="every element must be a string",
                    name="list_of_strings",
                )
            ]
        if col.type == "list<struct>":
            names = [f.name for f in col.fields]

            def ok(v: Any) -> bool:
                return all(isinstance(x, dict) and list(x) == names for x in v)

            return [
                pa_.Check(
                    lambda s: s.map(ok),
                    error=f"every element must be a record with fields {names}",
                    name="list_of_records",
                )
            ]
        return []

    dtypes = {
        "string": "str",
        "int32": "int32",
        "int64": "int64",
        "float64": "float64",
        "bool": "bool",
        "date32": object,
    }
    columns = {}
    for c in table.columns:
        checks = element_check(c)
        if c.allowed:
            checks.append(pa_.Check.isin(list(c.allowed)))
        if c.type in ("int32", "int64"):
            checks.append(pa_.Check.ge(0))
        columns[c.name] = pa_.Column(
            dtypes.get(c.type, object),
            checks=checks,
            nullable=c.nullable,
            unique=c.unique,
            description=c.description,
        )
    return pa_.DataFrameSchema(columns, strict=True, ordered=True, name=table.name, coerce=False)


def to_dataframe(table: Table, rows: list[dict[str, Any]]):  # -> pandas.DataFrame
    """Rows as a DataFrame with the declared dtypes, for pandera (pandas 3 strings are `str`)."""
    import pandas as pd

    df = pd.DataFrame.from_records(rows, columns=table.column_names)
    for c in table.columns:
        if c.type == "string":
            df[c.name] = df[c.name].astype("str")
        elif c.type in ("int32", "int64") and not df[c.name].isna().any():
            df[c.name] = df[c.name].astype(c.type)
    return df


# --- Markdown -------------------------------------------------------------------------------


def markdown_field_table(table: Table) -> str:
    """The card's field table for one config."""
    lines = ["| field | type | nullable | description |", "| --- | --- | --- | --- |"]
    for c in table.columns:
        desc = c.description
        if c.allowed:
            desc += " One of: " + ", ".join(f"`{v}`" for v in c.allowed) + "."
        if c.references:
            desc += f" References `{c.references}`."
        lines.append(f"| `{c.name}` | {c.type} | {'yes' if c.nullable else 'no'} | {desc} |")
        for f in c.fields:
            lines.append(f"| `{c.name}[].{f.name}` | {f.type} | no | {f.description} |")
    return "\n".join(lines)
