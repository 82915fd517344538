"""Read: find the raw articles, apply the optional manifest, decode the bytes.

Every raw file ends up either as a RawDocument or as a Problem naming the file and saying how to
fix it. Nothing is guessed: a file that is not valid UTF-8 is rejected unless the manifest
declares its encoding, and metadata comes only from raw/sources.yaml.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsbench.problems import Problem
from newsbench.safe_yaml import YamlError, load_yaml

MANIFEST_NAME = "sources.yaml"
MAX_FILE_BYTES = 20 * 1024 * 1024  # a news article is a few KB; refuse what cannot be one
META_KEYS = ("story_id", "outlet", "url", "language", "published_date", "rights")
ENTRY_KEYS = {"file", "id", "encoding", "notes", *META_KEYS}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_HTML = re.compile(r"(?is)^\s*(<!doctype html|<html\b|<\?xml\b)|<(body|div|p|script|head)\b[^>]*>")


@dataclass(frozen=True)
class Source:
    """One raw file to read, with what the manifest says about it."""

    path: Path
    source_file: str  # relative to the raw folder, POSIX separators
    article_id: str
    encoding: str = "utf-8"
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RawDocument:
    article_id: str
    source_file: str
    raw_text: str
    raw_sha256: str
    encoding: str
    meta: dict[str, Any]


def default_article_id(source_file: str) -> str:
    """The file's path relative to raw/, without extension: "business/001"."""
    return (
        source_file[: -len(Path(source_file).suffix)] if Path(source_file).suffix else source_file
    )


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _check_meta(entry: dict[str, Any], where: str, line: int | None) -> list[Problem]:
    problems = []
    for key in sorted(set(entry) - ENTRY_KEYS):
        problems.append(
            Problem(
                MANIFEST_NAME,
                f"{where}: unknown key {key!r}",
                f"use only {', '.join(sorted(ENTRY_KEYS))}",
                line=line,
                field=key,
                stage="manifest",
            )
        )
    for key in META_KEYS:
        value = entry.get(key)
        if value is None:
            continue
        if key == "published_date":
            if isinstance(value, dt.datetime) or not isinstance(value, dt.date | str):
                ok = False
            elif isinstance(value, str):
                try:
                    dt.date.fromisoformat(value)
                    ok = True
                except ValueError:
                    ok = False
            else:
                ok = True
            if not ok:
                problems.append(
                    Problem(
                        MANIFEST_NAME,
                        f"{where}: published_date {value!r} is not a date",
                        "write it as YYYY-MM-DD",
                        line=line,
                        field=key,
                        stage="manifest",
                    )
                )
        elif not isinstance(value, str):
            problems.append(
                Problem(
                    MANIFEST_NAME,
                    f"{where}: {key} must be a string, got {type(value).__name__}",
                    "quote the value",
                    line=line,
                    field=key,
                    stage="manifest",
                )
            )
    enc = entry.get("encoding")
    if enc is not None:
        try:
            codecs.lookup(str(enc))
        except LookupError:
            problems.append(
                Problem(
                    MANIFEST_NAME,
                    f"{where}: unknown encoding {enc!r}",
                    "use a Python codec name such as utf-8, latin-1, cp1252, utf-16",
                    line=line,
                    field="encoding",
                    stage="manifest",
                )
            )
    return problems


def _entry_lines(manifest: Path) -> list[int | None]:
    """1-based line of each `- file:` entry, for messages (best effort)."""
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [i + 1 for i, text in enumerate(lines) if re.match(r"^\s*-\s+file\s*:", text)]


def discover(raw_dir: Path) -> tuple[list[Source], list[Problem]]:
    """All .txt files below raw_dir, with manifest metadata; problems for bad entries."""
    problems: list[Problem] = []
    if not raw_dir.is_dir():
        return [], [Problem(str(raw_dir), "raw folder does not exist", "pass --raw DIR")]

    manifest_path = raw_dir / MANIFEST_NAME
    defaults: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    if manifest_path.exists():
        try:
            data = load_yaml(manifest_path)
        except YamlError as exc:
            return [], [
                Problem(
                    MANIFEST_NAME,
                    str(exc),
                    "fix the YAML syntax (safe YAML only: no tags, no aliases)",
                    line=exc.line,
                    stage="manifest",
                )
            ]
        if data is None:
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("articles", []), list):
            return [], [
                Problem(
                    MANIFEST_NAME,
                    "expected a mapping with `defaults:` and an `articles:` list",
                    "see README.md, section raw/sources.yaml",
                    stage="manifest",
                )
            ]
        for key in sorted(set(data) - {"defaults", "articles"}):
            problems.append(
                Problem(
                    MANIFEST_NAME,
                    f"unknown top-level key {key!r}",
                    "use defaults, articles",
                    field=key,
                    stage="manifest",
                )
            )
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            problems.append(
                Problem(
                    MANIFEST_NAME,
                    "`defaults:` must be a mapping",
                    "",
                    field="defaults",
                    stage="manifest",
                )
            )
            defaults = {}
        problems += _check_meta(defaults, "defaults", None)
        entries = data.get("articles") or []

    # Files on disk (symlinks are followed only when they stay inside raw_dir).
    on_disk: dict[str, Path] = {}
    for path in sorted(raw_dir.rglob("*.txt")):
        rel = path.relative_to(raw_dir).as_posix()
        if not _inside(path, raw_dir):
            problems.append(
                Problem(
                    rel,
                    "symbolic link points outside the raw folder",
                    "copy the file into the raw folder instead of linking to it",
                )
            )
            continue
        if path.is_file():
            on_disk[rel] = path

    by_file: dict[str, dict[str, Any]] = {}
    lines = _entry_lines(manifest_path) if entries else []
    for i, entry in enumerate(entries):
        line = lines[i] if i < len(lines) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            problems.append(
                Problem(
                    MANIFEST_NAME,
                    f"articles[{i}]: each entry needs `file: PATH`",
                    "",
                    line=line,
                    stage="manifest",
                )
            )
            continue
        rel = entry["file"]
        where = f"articles[{i}] ({rel})"
        problems += _check_meta(entry, where, line)
        target = raw_dir / rel
        if Path(rel).is_absolute() or not _inside(target, raw_dir):
            problems.append(
                Problem(
                    MANIFEST_NAME,
                    f"{where}: path escapes the raw folder",
                    "give a path relative to the raw folder, without '..'",
                    line=line,
                    field="file",
                    stage="manifest",
                )
            )
            continue
        rel = target.resolve().relative_to(raw_dir.resolve()).as_posix()
        if rel in by_file:
            problems.append(
                Problem(
                    MANIFEST_NAME,
                    f"{where}: file listed twice",
                    "keep one entry per file",
                    line=line,
                    field="file",
                    stage="manifest",
                )
            )
            continue
        if rel not in on_disk:
            problems.append(
                Problem(
                    MANIFEST_NAME,
                    f"{where}: file not found",
                    "add the file to the raw folder or remove the entry",
                    line=line,
                    field="file",
                    stage="manifest",
                )
            )
            continue
        by_file[rel] = {**entry, "_line": line}

    sources: list[Source] = []
    seen_ids: dict[str, str] = {}
    for rel, path in on_disk.items():
        entry = by_file.get(rel, {})
        article_id = str(entry.get("id") or default_article_id(rel))
        if not _ID.match(article_id):
            problems.append(
                Problem(
                    rel,
                    f"article id {article_id!r} has characters other than letters, digits, . _ / -",
                    "rename the file or set `id:` in sources.yaml",
                    field="id",
                )
            )
            continue
        if article_id in seen_ids:
            problems.append(
                Problem(
                    rel,
                    f"duplicate article id {article_id!r} (also {seen_ids[article_id]})",
                    "set a distinct `id:` for one of them in sources.yaml",
                    field="id",
                )
            )
            continue
        seen_ids[article_id] = rel
        meta = {k: entry.get(k, defaults.get(k)) for k in META_KEYS}
        if isinstance(meta.get("published_date"), str):
            meta["published_date"] = dt.date.fromisoformat(meta["published_date"])
        encoding = str(entry.get("encoding") or defaults.get("encoding") or "utf-8")
        sources.append(Source(path, rel, article_id, encoding, meta))
    return sources, problems


def read_source(source: Source, max_bytes: int = MAX_FILE_BYTES) -> RawDocument | Problem:
    """Read and decode one file; a Problem says exactly what is wrong with it."""
    rel = source.source_file
    try:
        size = source.path.stat().st_size
    except OSError as exc:
        return Problem(
            rel, f"cannot read file: {exc.strerror}", "check the file exists and is readable"
        )
    if size > max_bytes:
        return Problem(
            rel,
            f"file is {size:,} bytes, over the {max_bytes:,}-byte limit for one article",
            "split it into one file per article, or raise --max-file-mb",
        )
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        return Problem(rel, f"cannot read file: {exc.strerror}", "check permissions")
    if not data:
        return Problem(rel, "empty file", "remove it or add the article's text")
    explicit = source.encoding.lower().replace("_", "-") not in ("utf-8", "utf8")
    if not explicit and data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return Problem(
            rel,
            "file is UTF-16 (it starts with a UTF-16 byte-order mark), not UTF-8",
            "convert it to UTF-8, or declare `encoding: utf-16` for it in sources.yaml",
        )
    if not explicit and b"\x00" in data[:8192]:
        return Problem(
            rel, "binary data (NUL bytes), not text", "remove the file; raw/ holds .txt articles"
        )
    try:
        text = data.decode(source.encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 4].hex(" ")
        return Problem(
            rel,
            f"not valid {source.encoding} at byte {exc.start} (line {line}: bytes {bad})",
            "convert the file to UTF-8, or declare its real encoding in sources.yaml "
            "(e.g. `encoding: latin-1`)",
            line=line,
        )
    if text.startswith("\ufeff"):
        pass  # a UTF-8 BOM is kept in the raw text and removed as whitespace by normalize
    if not text.strip("\ufeff \t\r\n\x0b\x0c\u00a0\u2028\u2029"):
        return Problem(rel, "file holds only whitespace", "remove it or add the article's text")
    if _HTML.search(text[:20000]):
        return Problem(
            rel,
            "file looks like HTML, not plain text",
            "extract the article text first (e.g. with trafilatura) and save it as .txt",
        )
    return RawDocument(
        article_id=source.article_id,
        source_file=rel,
        raw_text=text,
        raw_sha256=hashlib.sha256(data).hexdigest(),
        encoding=source.encoding,
        meta=source.meta,
    )
