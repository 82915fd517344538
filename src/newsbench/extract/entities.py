"""Entity mentions of one article and its in-article name chains.

NER spans are cleaned to the name alone (no article, title, possessive or stray verb), retyped
per name string (the small model types "Trump" as ORG in one sentence and PERSON in the next),
grouped into chains (a surname or short form → the full name it abbreviates, an acronym → the
name it was defined for), and the chains' names are then found where NER missed them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace

from spacy.tokens import Doc, Span, Token

from newsbench.extract.names import (
    PARTICLES,
    AliasTable,
    is_acronym,
    match_key,
    name_tokens,
    plain_key,
    strip_title,
)
from newsbench.extract.records import Chain, Mention
from newsbench.tables import entity_types

ENTITY_TYPES = entity_types()  # declared once, in schema/tables.yaml
NON_ENTITY_LABELS = frozenset(
    {"DATE", "TIME", "CARDINAL", "MONEY", "PERCENT", "QUANTITY", "ORDINAL"}
)
_TYPE_ORDER = {t: i for i, t in enumerate(ENTITY_TYPES)}
# Lower-case words allowed inside a name ("Global Coalition to Defeat ISIL", "Bank of England").
_CONNECTORS = frozenset(
    {
        "of",
        "the",
        "and",
        "for",
        "to",
        "de",
        "del",
        "della",
        "di",
        "da",
        "du",
        "des",
        "la",
        "le",
        "van",
        "von",
        "der",
        "den",
        "bin",
        "ibn",
        "bint",
        "y",
        "on",
        "in",
        "at",
        "&",
        "-",
        "upon",
        "al",
        "el",
    }
    | PARTICLES
)
_EDGE_PUNCT = frozenset("\"'“”‘’«»()[]{},.;:!?-–—/*")
_POSSESSIVE_TOKENS = frozenset({"'s", "’s", "'", "’", "s"})
# Generic heads left out of a name that is complete without them: "the Islamic State group".
_GENERIC_HEADS = frozenset({"group", "militia", "movement", "organisation", "organization"})
_ACRONYM_AFTER = re.compile(r"\s*\(([A-Z][A-Za-z0-9&.\-]{1,9})\)")


@dataclass
class _Raw:
    start: int
    end: int
    label: str


def _is_word(token: Token) -> bool:
    return any(c.isalnum() for c in token.text)


def _clean_run(tokens: list[Token], label: str, table: AliasTable) -> tuple[int, int] | None:
    """Trim one run of tokens to the name: no article, title, adverb, possessive or punctuation."""
    while tokens:
        first = tokens[0]
        n_title = strip_title([t.text for t in tokens], table)
        particle = first.lower_ in PARTICLES and len(tokens) > 2 and tokens[1].text == "-"
        if n_title:
            tokens = tokens[n_title:]
        elif (
            first.text in _EDGE_PUNCT
            or not _is_word(first)
            or first.lower_ in ("the", "a", "an")
            or (first.text.islower() and not particle)
            or (first.pos_ in ("ADV", "PRON", "VERB", "AUX", "SCONJ", "CCONJ") and len(tokens) > 1)
        ):  # "the", "ex-", "Afterwards Sharaa"
            tokens = tokens[1:]
        else:
            break
    while tokens:
        last = tokens[-1]
        possessive = last.text in _POSSESSIVE_TOKENS and len(tokens) > 1 and last.text != "s"
        lower_tail = last.text.islower() and (
            last.lower_ in _GENERIC_HEADS or last.lower_ not in _CONNECTORS or len(tokens) == 1
        )
        if (
            possessive
            or last.text in _EDGE_PUNCT
            or not _is_word(last)
            or lower_tail
            or last.lower_ in _CONNECTORS
        ):
            tokens = tokens[:-1]
        else:
            break
    if not tokens or not any(c.isupper() or c.isdigit() for t in tokens for c in t.text):
        return None
    start = tokens[0].idx
    end = tokens[-1].idx + len(tokens[-1].text)
    return start, end


def clean_entity_span(span: Span, table: AliasTable) -> list[tuple[int, int]]:
    """Character spans of the name(s) in one NER span; a verb inside splits it in two
    ("Trump dubbed al-Sharaa" → "Trump", "al-Sharaa")."""
    runs: list[list[Token]] = [[]]
    for token in span:
        breaks = (
            token.text.islower()
            and token.pos_ in ("VERB", "AUX")
            and token.lower_ not in (_CONNECTORS)
        )
        if breaks:
            runs.append([])
        else:
            runs[-1].append(token)
    out = []
    for run in runs:
        cleaned = _clean_run(run, span.label_, table) if run else None
        if cleaned:
            out.append(cleaned)
    return out


def _after_title(doc: Doc, start: int, table: AliasTable) -> bool:
    """Whether a personal title ("Chancellor", "Prime Minister") is written right before."""
    span = doc.char_span(start, start + 1, alignment_mode="expand")
    if span is None or span.start == 0:
        return False
    words = [t.text for t in doc[max(0, span.start - 3) : span.start]]
    return any(tuple(words[-n:]) in table.title_set for n in table.title_lengths if n <= len(words))


def _initials(name: str) -> str:
    """Initials of the capitalised words of a name, hyphen parts included, particles skipped."""
    letters = []
    for word in re.split(r"[\s\-]+", name):
        if word and word[0].isupper() and word.lower() not in PARTICLES:
            letters.append(word[0])
    return "".join(letters)


def _acronym_fits(acronym: str, name: str) -> bool:
    letters = acronym.replace(".", "").replace("-", "")
    initials = _initials(name)
    if not letters or not initials or letters[0] != initials[0]:
        return False
    it = iter(initials)
    return all(c in it for c in letters.upper())


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


def _whole_word(text: str, form: str) -> list[tuple[int, int]]:
    """Case-sensitive whole-word occurrences (no letter or digit on either side), found left to
    right without overlaps as `re.finditer` would (a str scan: one pattern per name thrashed
    the regex cache)."""
    if not form:
        return []
    found: list[tuple[int, int]] = []
    start = text.find(form)
    while start >= 0:
        end = start + len(form)
        if (start == 0 or not text[start - 1].isalnum()) and (
            end == len(text) or not text[end].isalnum()
        ):
            found.append((start, end))
            start = text.find(form, end)
        else:
            start = text.find(form, start + 1)
    return found


class _ChainBuilder:
    """Groups the mentions of one article into chains; see the module docstring."""

    def __init__(self, text: str, raws: list[_Raw], table: AliasTable) -> None:
        self.text = text
        self.raws = sorted(raws, key=lambda r: (r.start, -r.end))
        self.table = table

    def surface(self, raw: _Raw) -> str:
        return self.text[raw.start : raw.end]

    def resolve_types(self) -> list[str]:
        """One type per name string: alias table, then PERSON name evidence, then majority."""
        full_person_keys: set[str] = set()
        suffix_keys: set[str] = set()
        for raw in self.raws:
            if raw.label == "PERSON":
                tokens = [t for t, _ in name_tokens(self.surface(raw), self.table)]
                if len(tokens) >= 2:
                    full_person_keys.add(" ".join(tokens))
                    for n in range(1, len(tokens)):
                        suffix_keys.add(" ".join(tokens[n:]))
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        for raw in self.raws:
            votes[plain_key(self.surface(raw), self.table)][raw.label] += 1
        types = []
        for raw in self.raws:
            text = self.surface(raw)
            key = plain_key(text, self.table)
            entry = self.table.lookup(text)
            if entry is not None:
                types.append(entry.type)
            elif key in full_person_keys or key in suffix_keys:
                types.append("PERSON")
            else:
                counts = votes[key]
                best = max(counts.items(), key=lambda kv: (kv[1], -_TYPE_ORDER.get(kv[0], 99)))
                types.append(best[0])
        return types

    def build(self, article_id: str) -> tuple[list[Mention], list[Chain]]:
        types = self.resolve_types()
        texts = [self.surface(r) for r in self.raws]
        tokens = [[t for t, _ in name_tokens(s, self.table)] for s in texts]
        chain_of: list[int] = [-1] * len(self.raws)
        chains: list[dict] = []  # {"type", "key", "members"}
        by_key: dict[tuple[bool, str], int] = {}

        def new_chain(kind: str, key: str) -> int:
            chains.append({"type": kind, "key": key, "members": []})
            return len(chains) - 1

        # Full person names and non-person names first, by key.
        for i in range(len(self.raws)):
            person = types[i] == "PERSON"
            if person and len(tokens[i]) < 2:
                continue
            key = " ".join(tokens[i]) if person else match_key(texts[i], types[i], self.table)
            slot = (person, key)
            if slot not in by_key:
                by_key[slot] = new_chain(types[i], key)
            chain_of[i] = by_key[slot]
        # Acronyms defined in parentheses, then acronyms whose letters are one name's initials.
        acronym_chain: dict[str, int] = {}
        for i, raw in enumerate(self.raws):
            if chain_of[i] < 0 or types[i] == "PERSON":
                continue
            m = _ACRONYM_AFTER.match(self.text, raw.end)
            if m and _acronym_fits(m.group(1), texts[i]):
                acronym_chain.setdefault(m.group(1), chain_of[i])
        multiword = defaultdict(set)
        for i in range(len(self.raws)):
            if chain_of[i] >= 0 and types[i] != "PERSON" and len(texts[i].split()) >= 2:
                multiword[_initials(texts[i])].add(chain_of[i])
        for i in range(len(self.raws)):
            text = texts[i]
            if types[i] == "PERSON" or not is_acronym(text) or self.table.lookup(text):
                continue
            target = acronym_chain.get(text)
            if target is None:
                found = multiword.get(text.replace(".", ""), set())
                target = next(iter(found)) if len(found) == 1 else None
            if target is not None:
                chain_of[i] = target
        # Short person names → the most recent full name ending with them, else the next one.
        full_positions = [
            (self.raws[i].start, i)
            for i in range(len(self.raws))
            if types[i] == "PERSON" and chain_of[i] >= 0
        ]
        for i, raw in enumerate(self.raws):
            if types[i] != "PERSON" or chain_of[i] >= 0:
                continue
            short = tokens[i]
            fits = [
                (pos, j) for pos, j in full_positions if short and tokens[j][-len(short) :] == short
            ]
            before = [f for f in fits if f[0] < raw.start]
            pick = before[-1] if before else (fits[0] if fits else None)
            if pick is not None:
                chain_of[i] = chain_of[pick[1]]
            else:
                slot = (True, " ".join(short))
                if slot not in by_key:
                    by_key[slot] = new_chain("PERSON", " ".join(short))
                    chains[by_key[slot]]["surname_only"] = True
                chain_of[i] = by_key[slot]
        for i, c in enumerate(chain_of):
            chains[c]["members"].append(i)
        return self._records(article_id, chains, chain_of, types, texts)

    def _records(
        self,
        article_id: str,
        chains: list[dict],
        chain_of: list[int],
        types: list[str],
        texts: list[str],
    ) -> tuple[list[Mention], list[Chain]]:
        order = sorted(
            (i for i, c in enumerate(chains) if c["members"]),
            key=lambda c: min(self.raws[m].start for m in chains[c]["members"]),
        )
        keys = {c: f"k{n}" for n, c in enumerate(order)}
        records: list[Chain] = []
        for c in order:
            members = chains[c]["members"]
            kind = chains[c]["type"]
            if kind != "PERSON":
                counts = Counter(types[m] for m in members)
                kind = max(counts.items(), key=lambda kv: (kv[1], -_TYPE_ORDER[kv[0]]))[0]
            entry = next((e for m in members if (e := self.table.lookup(texts[m]))), None)
            if entry is not None and kind != "PERSON":
                kind = entry.type
            full = [
                texts[m]
                for m in members
                if not is_acronym(texts[m]) and (kind != "PERSON" or len(texts[m].split()) >= 2)
            ] or [texts[m] for m in members]
            name = Counter(full).most_common(1)[0][0]
            records.append(
                Chain(
                    article_id=article_id,
                    key=keys[c],
                    type=kind,
                    name=name,
                    match_key=chains[c]["key"],
                    surname_only=bool(chains[c].get("surname_only")),
                    alias_type=entry.type if entry else None,
                )
            )
        chain_type = {r.key: r.type for r in records}
        mentions = [
            Mention(
                article_id,
                r.start,
                r.end,
                texts[i],
                chain_type[keys[chain_of[i]]],
                keys[chain_of[i]],
            )
            for i, r in enumerate(self.raws)
        ]
        return mentions, records


def _drop_overlaps(raws: list[_Raw]) -> list[_Raw]:
    """Keep the longest of overlapping spans (first wins on a tie)."""
    kept: list[_Raw] = []
    for raw in sorted(raws, key=lambda r: (-(r.end - r.start), r.start)):
        if not any(raw.start < k.end and k.start < raw.end for k in kept):
            kept.append(raw)
    return sorted(kept, key=lambda r: r.start)


def _propagation_forms(mentions: list[Mention]) -> list[tuple[str, str]]:
    """(form, chain key) to look for again: every surface form, and surnames of full names."""
    forms: dict[str, set[str]] = defaultdict(set)
    for m in mentions:
        forms[m.text].add(m.chain)
        if m.type == "PERSON" and len(m.text.split()) >= 2:
            last = m.text.split()[-1]
            forms[last].add(m.chain)
            parts = last.split("-")
            if len(parts) > 1 and parts[0].lower() in PARTICLES:
                forms["-".join(parts[1:])].add(m.chain)
                forms[parts[0].capitalize() + "-" + "-".join(parts[1:])].add(m.chain)
                forms[parts[0].lower() + "-" + "-".join(parts[1:])].add(m.chain)
    out = []
    for form, keys in forms.items():
        if len(form) < 2 or not any(c.isupper() for c in form) or len(keys) != 1:
            continue
        out.append((form, next(iter(keys))))
    return sorted(out, key=lambda fk: (-len(fk[0]), fk[0]))


def extract_mentions(
    article_id: str, text: str, doc: Doc, table: AliasTable
) -> tuple[list[Mention], list[Chain]]:
    """Mentions and chains of one article (pure: depends on the text and its parse only)."""
    raws: list[_Raw] = []
    blocked: list[tuple[int, int]] = []  # dates, numbers: never a name
    for ent in doc.ents:
        if ent.label_ in NON_ENTITY_LABELS:
            blocked.append((ent.start_char, ent.end_char))
            continue
        if ent.label_ not in ENTITY_TYPES:
            continue
        for start, end in clean_entity_span(ent, table):
            label = ent.label_
            if label != "PERSON" and _after_title(doc, start, table):
                label = "PERSON"  # "Chancellor Olaf Scholz", whatever NER thought
            raws.append(_Raw(start, end, label))
    raws = _drop_overlaps(raws)
    # Acronyms defined in parentheses are mentions even when NER missed them.
    taken = [(r.start, r.end) for r in raws]
    for raw in list(raws):
        m = _ACRONYM_AFTER.match(text, raw.end)
        if (
            m
            and raw.label != "PERSON"
            and _acronym_fits(m.group(1), text[raw.start : raw.end])
            and not _overlaps(m.start(1), m.end(1), taken)
        ):
            raws.append(_Raw(m.start(1), m.end(1), raw.label))
            taken.append((m.start(1), m.end(1)))
    mentions, chains = _ChainBuilder(text, raws, table).build(article_id)
    # Find each chain's names where NER missed them, then chain again with the additions (an
    # added surname joins its full name by the same rule as any other short form).
    types = {c.key: c.type for c in chains}
    added: list[_Raw] = []
    taken = [(m.char_start, m.char_end) for m in mentions] + blocked
    for form, key in _propagation_forms(mentions):
        for start, end in _whole_word(text, form):
            if not _overlaps(start, end, taken):
                added.append(_Raw(start, end, types[key]))
                taken.append((start, end))
    if added:
        base = [_Raw(m.char_start, m.char_end, m.type) for m in mentions]
        mentions, chains = _ChainBuilder(text, base + added, table).build(article_id)
    return mentions, _with_titles(doc, mentions, chains)


def _with_titles(doc: Doc, mentions: list[Mention], chains: list[Chain]) -> list[Chain]:
    """Record the offices written before each person's name ("Information Minister Hamza
    al-Mustafa" → "information minister"), so a later "the information minister" can be
    resolved to the holder, even in another article of the story."""
    titles: dict[str, set[str]] = defaultdict(set)
    for m in mentions:
        if m.type != "PERSON":
            continue
        span = doc.char_span(m.char_start, m.char_end, alignment_mode="expand")
        if span is None:
            continue
        before: set[int] = set()
        for token in span:
            for child in token.children:
                if child.dep_ in ("compound", "amod") and child.i < span.start:
                    before |= {t.i for t in child.subtree if t.i < span.start}
        words = [
            doc[i]
            for i in sorted(before)
            if doc[i].pos_ not in ("DET", "PRON", "PUNCT") and not doc[i].is_space
        ]
        if words and any(w.pos_ in ("NOUN", "PROPN") for w in words):
            titles[m.chain].add(" ".join(w.text for w in words).lower())
    return [replace(c, titles=tuple(sorted(titles.get(c.key, ())))) for c in chains]
