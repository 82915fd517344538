"""Incremental rebuilds: per-article extraction results cached by content and pipeline version.

The key covers everything the per-article extraction reads (article id, outlet, story, text)
and a fingerprint of what computes it (the extractor source files, the alias table, the spaCy
model name and version). Change any of them and the entry is simply not found. Cross-article
stages always run. Entries are written atomically, so a killed build never leaves a torn one.
"""

from __future__ import annotations

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


class ExtractionCache:
    """A folder of pickled ArticleExtraction records, fanned out by key prefix."""

    def __init__(self, folder: Path | None, fingerprint: str) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self.hits = 0
        self.misses = 0

    def key(self, article_id: str, outlet: str | None, story_id: str | None, text: str) -> str:
        h = hashlib.sha256()
        for part in (self.fingerprint, article_id, outlet or "", story_id or "", text):
            h.update(part.encode("utf-8"))
            h.update(b"\x1f")
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.pkl"

    def get(self, key: str) -> Any | None:
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
        return value

    def put(self, key: str, value: Any) -> None:
        if self.folder is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
