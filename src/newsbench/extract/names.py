"""Name normalisation and the alias table: what makes two surface forms the same name.

Used in-article (short forms → full names) and across articles (canonicalisation). The world
knowledge (aliases, transliterations, titles) is data in newsbench/data/aliases.yaml; this module
only holds the general rules: case folding, diacritics, possessives, Arabic article particles
("al-Sharaa" ~ "Sharaa", "el-" ~ "al-"), plural nationality words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

# Hyphen-attached Arabic article forms; "al-Sharaa" and "Sharaa" name the same person.
PARTICLES = frozenset({"al", "el", "ad", "ash", "as", "at", "az", "ar", "an", "ud", "ul"})
_QUOTES = str.maketrans(
    {"’": "'", "‘": "'", "`": "'", "´": "'", "‐": "-", "‑": "-", "–": "-", "—": "-"}
)
_POSSESSIVE = re.compile(r"(?:'s|')$")
_NOT_NAME_CHAR = re.compile(r"[^\w&/']")
_ACRONYM = re.compile(r"^(?:[A-Z]\.?){2,6}$|^[A-Z][A-Z0-9&]{1,5}$")


@functools.lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Case-fold, strip diacritics and fold quote marks and dashes: a comparison form (cached:
    an article folds the same names and words many times)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def is_acronym(text: str) -> bool:
    """All-capital short forms ("ISIL", "U.S.", "HTS"): aliases, never canonical full forms."""
    return bool(_ACRONYM.match(text.strip()))


@dataclass(frozen=True)
class AliasEntry:
    """One row of the alias table."""

    name: str
    type: str
    forms: tuple[str, ...]


@dataclass(frozen=True)
class AliasTable:
    """The parsed alias table, indexed by the comparison key of every form."""

    entries: tuple[AliasEntry, ...]
    by_key: dict[str, AliasEntry]
    upper_only: frozenset[str]  # keys of short all-capital forms ("IS", "US")
    transliterations: dict[str, str]
    titles: tuple[tuple[str, ...], ...]  # token sequences, longest first
    company_suffixes: frozenset[str] = frozenset()  # "corp", "ltd": legal forms, not names
    # The titles as a set and their lengths, longest first: a name's leading or trailing
    # words are looked up, not compared with every title (this runs for every mention).
    title_set: frozenset[tuple[str, ...]] = field(init=False, repr=False, compare=False)
    title_lengths: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "title_set", frozenset(self.titles))
        lengths = sorted({len(t) for t in self.titles}, reverse=True)
        object.__setattr__(self, "title_lengths", tuple(lengths))

    def lookup(self, text: str) -> AliasEntry | None:
        """The entry a whole name belongs to, if any (short capitals must be in capitals)."""
        key = plain_key(text, self)
        entry = self.by_key.get(key)
        if entry is None:
            return None
        if key in self.upper_only and not _upper_form(text):
            return None
        return entry


def _upper_form(text: str) -> bool:
    letters = [c for c in _POSSESSIVE.sub("", text.translate(_QUOTES).strip()) if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def default_alias_path() -> Path:
    return Path(str(resources.files("newsbench") / "data" / "aliases.yaml"))


@functools.cache
def load_alias_table(path: str | None = None) -> AliasTable:
    """Read and index the alias table (cached: it does not change during a run)."""
    file = Path(path) if path else default_alias_path()
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    translit: dict[str, str] = {}
    for target, variants in (data.get("transliterations") or {}).items():
        for variant in variants or []:
            translit[fold(str(variant))] = fold(str(target))
    titles = sorted(
        {tuple(str(t).split()) for t in data.get("titles") or []}, key=lambda t: (-len(t), t)
    )
    suffixes = frozenset(fold(str(w)).replace(".", "") for w in data.get("company_suffixes") or [])
    bare = AliasTable((), {}, frozenset(), translit, tuple(titles), suffixes)
    entries: list[AliasEntry] = []
    by_key: dict[str, AliasEntry] = {}
    upper_only: set[str] = set()
    for raw in data.get("entities") or []:
        entry = AliasEntry(
            str(raw["name"]), str(raw["type"]), tuple(str(a) for a in raw.get("aliases") or [])
        )
        entries.append(entry)
        for form in (entry.name, *entry.forms):
            key = plain_key(form, bare)
            if key in by_key and by_key[key] != entry:
                raise ValueError(f"{file}: alias {form!r} belongs to two entries")
            by_key[key] = entry
            if is_acronym(form) and len(key.replace(" ", "")) <= 3:
                upper_only.add(key)
    return AliasTable(
        tuple(entries), by_key, frozenset(upper_only), translit, bare.titles, suffixes
    )


def name_tokens(text: str, table: AliasTable) -> list[tuple[str, str]]:
    """(comparison token, original token) pairs of a name.

    Possessive and leading "the" dropped, dots removed ("U.S." → "us"), hyphens split, an Arabic
    article particle attached by a hyphen dropped, transliteration variants unified.
    """
    cleaned = _POSSESSIVE.sub("", text.translate(_QUOTES).strip())
    out: list[tuple[str, str]] = []
    for word in cleaned.split():
        parts = word.split("-")
        for i, part in enumerate(parts):
            original = _NOT_NAME_CHAR.sub("", part.replace(".", ""))
            token = fold(original).strip("'")
            if not token:
                continue
            if i < len(parts) - 1 and token in PARTICLES:
                continue
            out.append((table.transliterations.get(token, token), original))
    if len(out) > 1 and out[0][0] == "the":
        out = out[1:]
    return out


def plain_key(text: str, table: AliasTable) -> str:
    """Comparison form of a name without alias resolution."""
    return " ".join(t for t, _ in name_tokens(text, table))


def match_key(text: str, entity_type: str, table: AliasTable | None = None) -> str:
    """The key under which two names are the same entity, alias table applied.

    A whole-name alias gives the entry's key ("Daesh" → "islamic state"). Inside a longer name
    an alias is replaced but the name stays distinct ("global coalition to defeat islamic
    state"). For organisations a leading country is dropped when two or more words remain
    ("US Treasury Department" ~ "Treasury Department"). Plural nationality words are singular.
    """
    table = table or load_alias_table()
    entry = table.lookup(text)
    if entry is not None:
        return plain_key(entry.name, table)
    tokens = name_tokens(text, table)
    keys: list[str] = []
    i = 0
    leading_gpe = 0
    while i < len(tokens):
        for n in range(min(5, len(tokens) - i), 0, -1):
            gram = " ".join(t for t, _ in tokens[i : i + n])
            found = table.by_key.get(gram)
            if found is None or (n == len(tokens)):
                continue
            if gram in table.upper_only and not _upper_form(
                " ".join(o for _, o in tokens[i : i + n])
            ):
                continue
            if i == 0 and found.type == "GPE":
                leading_gpe = len(plain_key(found.name, table).split())
            keys.extend(plain_key(found.name, table).split())
            i += n
            break
        else:
            keys.append(tokens[i][0])
            i += 1
    if entity_type in ("ORG", "FAC") and leading_gpe and len(keys) - leading_gpe >= 2:
        keys = keys[leading_gpe:]
    if entity_type == "ORG" and len(keys) >= 2 and keys[-1] in table.company_suffixes:
        keys = keys[:-1]  # "Acme Corp" ~ "Acme"
    if entity_type == "NORP" and keys:
        last = keys[-1]
        if last.endswith(("ans", "ites", "ists", "ens", "is")) and len(last) > 4:
            keys[-1] = last[:-1]
    return " ".join(keys)


def strip_title(words: list[str], table: AliasTable) -> int:
    """How many leading words of a name are a title ("US President" counts the country)."""
    for n in table.title_lengths:
        if len(words) > n and tuple(words[:n]) in table.title_set:
            return n
    return 0
