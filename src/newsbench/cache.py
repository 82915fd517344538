"""Incremental rebuilds: per-article results cached by content and pipeline version.

Two per-article stages are cached, each in its own subfolder of the cache folder:

- `prepare/`: the articles row and MinHash signature of one raw file, keyed by the raw bytes'
  sha256, the file's id, path, encoding and manifest metadata, and a fingerprint of the reader,
  the normalizer, its rules and the signer. An unchanged raw file is read and hashed, never
  cleaned or signed again.
- `extract/`: an article's ArticleExtraction, keyed by its outlet (the claimant of unattributed
  claims) and cleaned text, and a fingerprint of the extractor source files, the alias table and
  the spaCy model name and version, packed (`pack_extraction`: pickled, with a checksum). The
  article id only labels the records, so an entry is re-labelled on the way out: an identical
  syndicated copy under another id (a wire story in several outlets' feeds) is extracted once.

Change any input of a key and the entry is simply not found. Cross-article stages always run.
Entries are written atomically and end with a checksum: a killed build never leaves a torn
one, and a damaged one is recomputed, never read.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

# 2: the article id is a placeholder (see pack_extraction); 3: slotted records; 4: a checksum
EXTRACT_FORMAT = 4
PREPARE_CODE = ("read.py", "normalize.py", "stages.py", "dedup.py", "problems.py")


def _hash_package_files(h: Any, rels: Iterable[str]) -> None:
    package = resources.files("newsbench")
    for rel in sorted(rels):
        item = package / rel
        if item.is_file():
            h.update(rel.encode())
            h.update(item.read_bytes())


def extractor_fingerprint(model: dict[str, Any]) -> str:
    """Hash of the extractor code, its data files and the model."""
    h = hashlib.sha256()
    extract_dir = resources.files("newsbench") / "extract"
    _hash_package_files(
        h,
        [
            "data/aliases.yaml",
            *(f"extract/{p.name}" for p in extract_dir.iterdir() if p.name.endswith(".py")),
        ],
    )
    h.update(repr(sorted(model.items())).encode())
    h.update(f"format {EXTRACT_FORMAT}".encode())
    return h.hexdigest()


def prepare_fingerprint(rules_path: Path) -> str:
    """Hash of the reader, normalizer and signer code and of the normalization rules."""
    h = hashlib.sha256()
    _hash_package_files(h, PREPARE_CODE)
    h.update(b"rules\x1f")
    h.update(rules_path.read_bytes())
    return h.hexdigest()


def relabel(value: Any, article_id: str) -> Any:
    """A copy of a frozen extraction record tree with every `article_id` field replaced."""
    if isinstance(value, tuple):
        return tuple([relabel(v, article_id) for v in value])
    fields = _record_fields(type(value))
    if fields is None:
        return value
    # every field is given, so this is dataclasses.replace without its per-call field scan
    return type(value)(
        **{
            name: article_id if name == "article_id" else relabel(getattr(value, name), article_id)
            for name in fields
        }
    )


@functools.cache
def _record_fields(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass (None for any other type): looked up once per class,
    as relabelling runs over every record of every article it packs."""
    if not dataclasses.is_dataclass(cls):
        return None
    fields = dataclasses.fields(cls)
    if not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__}: a record's fields must all be set by its constructor")
    return tuple(f.name for f in fields)


class ResultCache:
    """A folder of pickled per-article results, fanned out by key prefix."""

    def __init__(self, folder: Path | None, fingerprint: str) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self.hits = 0
        self.misses = 0

    def key(self, *parts: str | None) -> str:
        h = hashlib.sha256()
        for part in (self.fingerprint, *parts):
            h.update((part or "").encode("utf-8"))
            h.update(b"\x1f")
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.pkl"

    def load(self, key: str) -> Any | None:
        """An entry as stored (the prepare cache), or None."""
        return self._read(key, lambda blob: pickle.loads(_checked(blob)[:-_CHECKSUM_BYTES]))

    def get(self, key: str, article_id: str) -> Any | None:
        """An extraction entry, unpacked and labelled with the asking article, or None."""
        blob = self.get_packed(key)
        return None if blob is None else unpack_extraction(blob, article_id)

    def get_packed(self, key: str) -> bytes | None:
        """An extraction entry as stored (see `pack_extraction`), checked but not unpickled."""
        return self._read(key, _checked)

    def _read(self, key: str, decode: Callable[[bytes], Any]) -> Any | None:
        """An entry, decoded; None when it is missing or damaged (`decode` raises), and a
        damaged one is removed so that it is written again."""
        if self.folder is None:
            self.misses += 1
            return None
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        try:
            value = decode(blob)  # the build's own local cache, never downloaded
        except Exception:
            self.misses += 1
            path.unlink(missing_ok=True)
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: Any) -> None:
        self.put_bytes(key, _sealed(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))

    def put_bytes(self, key: str, blob: bytes) -> None:
        """Write an entry atomically (a killed build never leaves a torn one)."""
        if self.folder is None:
            return
        path = self._path(key)
        if path.exists():  # same key, same value: another copy of the same text wrote it
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)


# The placeholder article id in stored extractions (NUL never survives normalization).
_ARTICLE_ID = "\x00newsbench:article_id\x00"


class _Relabeller(pickle.Unpickler):
    def __init__(self, fh: Any, article_id: str) -> None:
        super().__init__(fh)
        self.article_id = article_id

    def persistent_load(self, pid: Any) -> Any:
        if pid == "article_id":
            return self.article_id
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


class _PlaceholderPickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> str | None:
        return "article_id" if type(obj) is str and obj == _ARTICLE_ID else None


# --- packed extractions ---------------------------------------------------------------------

_CHECKSUM_BYTES = 16


def pack_extraction(value: Any) -> bytes:
    """An extraction as the cache stores it and the build holds it: pickled with the article id
    as a placeholder, then a blake2b checksum.

    The placeholder makes relabelling on load free (the unpickler substitutes the id) and lets
    syndicated copies share one entry; the checksum finds a damaged entry without unpickling it.
    Packed, an article's records take about a fifth of the memory of the objects.
    """
    buf = io.BytesIO()
    _PlaceholderPickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(relabel(value, _ARTICLE_ID))
    return _sealed(buf.getvalue())


def unpack_extraction(blob: bytes, article_id: str) -> Any:
    """The extraction records of `pack_extraction`, labelled with `article_id`."""
    return _Relabeller(io.BytesIO(blob[:-_CHECKSUM_BYTES]), article_id).load()


def _sealed(body: bytes) -> bytes:
    """An entry as written: its bytes, then their checksum (so damage is found, not read)."""
    return body + hashlib.blake2b(body, digest_size=_CHECKSUM_BYTES).digest()


def _checked(blob: bytes) -> bytes:
    """The entry itself, if its checksum holds."""
    body, checksum = blob[:-_CHECKSUM_BYTES], blob[-_CHECKSUM_BYTES:]
    if len(blob) <= _CHECKSUM_BYTES or (
        hashlib.blake2b(body, digest_size=_CHECKSUM_BYTES).digest() != checksum
    ):
        raise ValueError("damaged cache entry: checksum mismatch")
    return blob


class PackedExtractions(Sequence[Any]):
    """Every article's extraction, packed and spilled to an anonymous temporary file (TMPDIR),
    in article-id order; read and unpacked one at a time.

    What the build hands to linking: memory holds an (id, offset, length) per article, never
    the records (a third of the build process's memory at scale when they were objects), and
    the linker's two passes read them back from the file (the page cache, in practice). The
    file has no name, so even a killed build leaves nothing behind.
    """

    def __init__(self, packed: Iterable[tuple[str, bytes]] = ()) -> None:
        # closed by close() (or the with block); unnamed, so gone with the process anyway
        self._file = tempfile.TemporaryFile(prefix="newsbench-extractions-")  # noqa: SIM115
        self._size = 0
        self._index: list[tuple[str, int, int]] = []
        self.article_ids: list[str] = []
        for article_id, blob in packed:
            self.add(article_id, blob)
        self.seal()

    def add(self, article_id: str, blob: bytes) -> None:
        """Append one article's packed records (any order; `seal` sorts)."""
        self._file.write(blob)
        self._index.append((article_id, self._size, len(blob)))
        self._size += len(blob)

    def seal(self) -> None:
        """Done adding: flush, and put the index in article-id order."""
        self._file.flush()
        self._index.sort()
        self.article_ids = [article_id for article_id, _, _ in self._index]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> PackedExtractions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unpack(self, entry: tuple[str, int, int]) -> Any:
        article_id, offset, length = entry
        return unpack_extraction(os.pread(self._file.fileno(), length, offset), article_id)

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> Any:  # type: ignore[override]
        return self._unpack(self._index[index])

    def __iter__(self) -> Iterator[Any]:
        for entry in self._index:
            yield self._unpack(entry)
