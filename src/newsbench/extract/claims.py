"""Check-worthy claims of one article, with who asserts them.

A claim is a sentence or reported clause that states something checkable: an eventive verb
together with a number, a date or a named entity. Questions, first-person promises, opinions
("I think", "hope") and short fragments are left out. A reported clause ("X said that S") is
claimed by X; anything else by the outlet, when known. The features the cross-article
clustering compares (content lemmas, entity chains, numbers) are computed here, where the parse
is available.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from spacy.tokens import Doc, Span

from newsbench.extract.entities import NON_ENTITY_LABELS
from newsbench.extract.quotes import SPEECH_VERBS, ReportedClause
from newsbench.extract.records import Claim, Mention, Quote

OPINION_LEMMAS = frozenset({"think", "believe", "feel", "hope", "want", "wish", "like", "love",
                            "hate", "seem", "guess", "suppose", "doubt", "fear", "prefer"})
_FIRST_PERSON = frozenset({"i", "we", "you"})
_CONTENT_POS = frozenset({"NOUN", "VERB", "ADJ", "PROPN", "NUM", "ADV"})
_NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                 "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11",
                 "twelve": "12", "twenty": "20", "thirty": "30", "fifty": "50", "hundred": "100"}
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
MIN_WORDS = 6


def numbers_in(text: str) -> tuple[str, ...]:
    """The numbers a text states, normalised ("90th" → "90", "1,000" → "1000", "four" → "4")."""
    found = {m.group().replace(",", "") for m in _DIGITS.finditer(text)}
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[word])
    return tuple(sorted(found))


def _trim_chars(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop edge whitespace, final punctuation and unpaired edge quote marks."""
    while start < end and (text[start].isspace() or text[start] in "-–—•*"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ".;:,"):
        end -= 1
    return start, end


def _check_worthy(span: Span, mentions_inside: int, attributed: bool) -> bool:
    """An eventive verb plus a number, date or named entity; no question, opinion or promise."""
    words = [t for t in span if not t.is_punct and not t.is_space]
    if len(words) < MIN_WORDS or span.text.rstrip(" \"'”’").endswith("?"):
        return False
    root = span.root
    if root.lemma_.lower() in OPINION_LEMMAS:
        return False
    subjects = [c for c in root.children if c.dep_ in ("nsubj", "nsubjpass")]
    if subjects and subjects[0].lower_ in _FIRST_PERSON:
        return False
    eventive = any(t.pos_ == "VERB" and t.lemma_.lower() not in OPINION_LEMMAS for t in span)
    factual = any(t.like_num or t.ent_type_ in NON_ENTITY_LABELS for t in span)
    return eventive and (factual or mentions_inside > 0 or attributed)


def _features(span: Span, mentions: Sequence[Mention]) -> tuple[tuple[str, ...],
                                                                 tuple[str, ...]]:
    inside = [m for m in mentions if span.start_char <= m.char_start and m.char_end <= span.end_char]
    covered = {i for m in inside for i in range(m.char_start, m.char_end)}
    lemmas = sorted({
        t.lemma_.lower() for t in span
        if t.pos_ in _CONTENT_POS and not t.is_stop and t.idx not in covered
        and t.lemma_.lower() not in SPEECH_VERBS and any(c.isalnum() for c in t.text)
    })
    chains = sorted({m.chain for m in inside})
    return tuple(lemmas), tuple(chains)


def extract_claims(article_id: str, text: str, doc: Doc, mentions: Sequence[Mention],
                   quotes: Sequence[Quote], clauses: Sequence[ReportedClause],
                   outlet: str | None) -> list[Claim]:
    """Claims of one article: reported clauses, direct-quote statements, plain sentences."""
    units: list[tuple[int, int, str | None, str | None, bool]] = []
    for clause in clauses:
        units.append((clause.start, clause.end, clause.speaker_chain, clause.speaker_text, True))
    covered = [(u[0], u[1]) for u in units]
    for quote in quotes:
        if quote.kind == "direct" and not any(quote.char_start < e and s < quote.char_end
                                              for s, e in covered):
            units.append((quote.char_start, quote.char_end, quote.speaker_chain,
                          quote.speaker_text, True))
    covered = [(u[0], u[1]) for u in units]
    quoted = [(q.char_start, q.char_end) for q in quotes if q.kind != "indirect"]
    for sent in doc.sents:
        for start, end in _paragraph_pieces(text, sent.start_char, sent.end_char):
            if any(start < e and s < end for s, e in covered):
                continue
            inside_quote = sum(max(0, min(end, e) - max(start, s)) for s, e in quoted)
            if inside_quote > (end - start) / 2:
                continue
            units.append((start, end, None, outlet, False))
    claims: list[Claim] = []
    seen: set[tuple[int, int]] = set()
    for start, end, chain, who, attributed in sorted(units, key=lambda u: (u[0], u[1])):
        start, end = _trim_chars(text, start, end)
        if end <= start or (start, end) in seen:
            continue
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None or len(span) == 0:
            continue
        inside = sum(1 for m in mentions if start <= m.char_start and m.char_end <= end)
        if not _check_worthy(span, inside, attributed):
            continue
        seen.add((start, end))
        lemmas, chains = _features(span, mentions)
        claims.append(Claim(article_id, start, end, text[start:end], chain,
                            who if (chain or who) else outlet, lemmas, chains,
                            numbers_in(text[start:end])))
    return claims


def _paragraph_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A sentence cut at line breaks (the parser sometimes runs over a paragraph end)."""
    pieces = []
    pos = start
    for m in re.finditer(r"\n+", text[start:end]):
        pieces.append((pos, start + m.start()))
        pos = start + m.end()
    pieces.append((pos, end))
    return [(s, e) for s, e in pieces if text[s:e].strip()]
