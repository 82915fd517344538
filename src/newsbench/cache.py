"""Incremental rebuilds: per-article extraction results cached by content and pipeline version.

The key covers everything the per-article extraction reads besides the article id (the outlet,
which becomes the claimant of unattributed claims, and the text) and a fingerprint of what
computes it (the extractor source files, the alias table, the spaCy model name and version).
Change any of them and the entry is simply not found. The article id only labels the records,
so an entry is re-labelled on the way out: an identical syndicated copy under another id (a
wire story in several outlets' feeds) is extracted once. Cross-article stages always run.
Entries are written atomically, so a killed build never leaves a torn one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any


def extractor_fingerprint(model: dict[str, Any]) -> str:
    """Hash of the extractor code, its data files and the model."""
    h = hashlib.sha256()
    package = resources.files("newsbench")
    for rel in sorted(
        [
            "data/aliases.yaml",
            *(
                f"extract/{p.name}"
                for p in (package / "extract").iterdir()
                if p.name.endswith(".py")
            ),
        ]
    ):
        item = package / rel
        if item.is_file():
            h.update(rel.encode())
            h.update(item.read_bytes())
    h.update(repr(sorted(model.items())).encode())
    return h.hexdigest()


def relabel(value: Any, article_id: str) -> Any:
    """A copy of a frozen extraction record tree with every `article_id` field replaced."""
    if isinstance(value, tuple):
        return tuple(relabel(v, article_id) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: relabel(getattr(value, f.name), article_id)
            for f in dataclasses.fields(value)
            if f.name != "article_id"
        }
        if any(f.name == "article_id" for f in dataclasses.fields(value)):
            changes["article_id"] = article_id
        return dataclasses.replace(value, **changes)
    return value


class ExtractionCache:
    """A folder of pickled ArticleExtraction records, fanned out by key prefix."""

    def __init__(self, folder: Path | None, fingerprint: str) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self.hits = 0
        self.misses = 0

    def key(self, outlet: str | None, text: str) -> str:
        h = hashlib.sha256()
        for part in (self.fingerprint, outlet or "", text):
            h.update(part.encode("utf-8"))
            h.update(b"\x1f")
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.pkl"

    def get(self, key: str, article_id: str) -> Any | None:
        if self.folder is None:
            self.misses += 1
            return None
        try:
            with open(self._path(key), "rb") as fh:
                value = pickle.load(fh)  # the build's own local cache, never downloaded
        except (OSError, EOFError, pickle.UnpicklingError):
            self.misses += 1
            return None
        self.hits += 1
        return relabel(value, article_id)

    def put(self, key: str, value: Any) -> None:
        if self.folder is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
