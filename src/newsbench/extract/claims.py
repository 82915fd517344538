"""Check-worthy claims of one article, with who asserts them.

A claim is a sentence or reported clause that states something checkable: an eventive verb
together with a number, a date or a named entity. Questions, first-person promises, opinions
("I think", "hope") and short fragments are left out. A reported clause ("X said that S") is
claimed by X; anything else by the outlet, when known. The features the cross-article
clustering compares (content lemmas, entity chains, numbers) are computed here, where the parse
is available.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import yaml
from spacy.tokens import Doc, Span, Token

from newsbench.extract.entities import NON_ENTITY_LABELS
from newsbench.extract.quotes import SPEECH_VERBS, ReportedClause, is_cue, trailing_report
from newsbench.extract.records import Claim, Mention, Quote

OPINION_LEMMAS = frozenset(
    {
        "think",
        "believe",
        "feel",
        "hope",
        "want",
        "wish",
        "like",
        "love",
        "hate",
        "seem",
        "guess",
        "suppose",
        "doubt",
        "fear",
        "prefer",
    }
)
_FIRST_PERSON = frozenset({"i", "we", "you"})
_CONTENT_POS = frozenset({"NOUN", "VERB", "ADJ", "PROPN", "NUM", "ADV"})
_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "thirty": "30",
    "fifty": "50",
    "hundred": "100",
}
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
MIN_WORDS = 6
MIN_PHRASE_WORDS = 4
# Cues that frame a quoted characterisation ("described him as ...") rather than report a fact.
_FRAMING = frozenset(
    {
        "described",
        "describing",
        "describes",
        "describe",
        "called",
        "calling",
        "calls",
        "call",
        "dubbed",
        "dubbing",
        "dubs",
        "dub",
        "referring",
        "referred",
        "refers",
        "refer",
        "branded",
        "branding",
        "labelled",
        "labeled",
        "hailed",
    }
)


@dataclass(frozen=True)
class ClaimLexicon:
    """General English lexical knowledge (newsbench/data/claim_lexicon.yaml)."""

    significance_verbs: frozenset[str]
    grounds_verbs: frozenset[str]
    event_class: dict[str, str]  # lemma -> event class name


@functools.cache
def claim_lexicon() -> ClaimLexicon:
    """Read the claim lexicon once (it does not change during a run)."""
    path = resources.files("newsbench") / "data" / "claim_lexicon.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    classes = data.get("event_classes") or {}
    return ClaimLexicon(
        frozenset(data.get("significance_verbs") or ()),
        frozenset(data.get("grounds_verbs") or ()),
        {lemma: name for name, lemmas in classes.items() for lemma in lemmas},
    )


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
    piece = text[start:end]
    if piece.count("(") > piece.count(")") and text[end : end + 1] == ")":
        end += 1  # "Hewlett Packard (HP)": keep the closing parenthesis
    return start, end


_MODALS = frozenset({"could", "might", "may", "should", "must"})
_EVALUATIVE_COPULA = frozenset({"be", "seem", "remain", "look", "become"})
# Leading words that link to the previous sentence rather than date the fact.
_CONNECTIVES = frozenset(
    {
        "but",
        "and",
        "though",
        "however",
        "yet",
        "so",
        "also",
        "meanwhile",
        "afterwards",
        "earlier",
        "later",
        "then",
        "still",
        "indeed",
        "thus",
    }
)
_SPLIT_DEPS = frozenset({"relcl", "advcl", "conj", "acl", "ccomp"})
_SUBORDINATORS = frozenset(
    {
        "after",
        "before",
        "when",
        "while",
        "since",
        "because",
        "although",
        "though",
        "as",
        "until",
        "once",
        "whereas",
    }
)


def _check_worthy(span: Span, mentions_inside: int, min_words: int = 6) -> bool:
    """An eventive verb plus a number, date or named entity; no question, opinion, prediction,
    first-person statement or evaluation ("is very important"). A phrase split off a sentence
    ("following 13 years of war") needs a number, date or name but no verb."""
    tokens = list(span)  # one Token object per position, read by every test below
    words = [t for t in tokens if not t.is_punct and not t.is_space]
    if len(words) < min_words or span.text.rstrip(" \"'”’").endswith("?"):
        return False
    if any(t.lower_ in _FIRST_PERSON and t.dep_ in ("nsubj", "nsubjpass") for t in tokens):
        return False
    if any(t.lower_ in _MODALS and t.dep_ == "aux" for t in tokens):
        return False  # a prediction or assessment, not a fact
    start, end = span.start, span.end
    heads = [t for t in tokens if not start <= t.head.i < end or t.head.i == t.i]
    head = heads[0] if heads else span.root
    if head.lemma_.lower() in OPINION_LEMMAS:
        return False
    if head.lemma_.lower() in claim_lexicon().significance_verbs and not any(
        t.like_num or t.ent_type_ in ("DATE", "TIME") for t in tokens
    ):
        return False  # "the visit marks a shift": a characterisation, not a fact
    if (
        head.lemma_.lower() in _EVALUATIVE_COPULA
        and any(c.dep_ == "acomp" for c in head.children)
        and not any(t.like_num for t in tokens)
    ):
        return False
    eventive = (
        any(t.pos_ in ("VERB", "AUX") and t.lemma_.lower() not in OPINION_LEMMAS for t in tokens)
        or head.pos_ == "ADP"
    )
    factual = any(t.like_num or t.ent_type_ in NON_ENTITY_LABELS for t in tokens)
    return eventive and (factual or mentions_inside > 0)


def _unit_heads(sent: Span, quoted: list[tuple[int, int]]) -> list[Token]:
    """Heads of the clauses a sentence is cut into: the root; relative clauses; clauses
    coordinated with a clause; adverbial clauses and participles after a comma (or hanging on an
    attribution); reported clauses; phrases after a comma that carry a fact."""
    heads = [sent.root]
    chosen = {sent.root.i}
    for t in sent:
        if t.i in chosen or any(s <= t.idx < e for s, e in quoted):
            continue
        left = t.left_edge.i
        mark = t.doc[left - 1] if left > sent.start else None
        comma_before = mark is not None and (
            mark.text in (",", "–", "—")
            or (mark.text == "-" and mark.i > 0 and t.doc[mark.i - 1].whitespace_ != "")
        )
        verb = t.pos_ in ("VERB", "AUX")
        take = False
        if verb and t.dep_ == "relcl":
            # "which since 2019 had sanctioned ...", not the infinitive "a pathway to reopen"
            take = not any(c.dep_ == "aux" and c.lower_ == "to" for c in t.children)
        elif verb and t.dep_ == "ccomp":
            take = is_cue(t.head)
        elif verb and t.dep_ == "conj":
            take = t.head.i in chosen
        elif verb and t.dep_ == "advcl":
            take = (
                (comma_before and not _grounds(t))
                or (
                    is_cue(t.head)
                    and any(c.dep_ == "mark" and c.lower_ in _SUBORDINATORS for c in t.children)
                )
                or _coincident_event(t)
            )
        elif verb and t.dep_ == "acl":
            take = comma_before and not _grounds(t)
        elif t.dep_ in ("prep", "appos"):
            take = comma_before and len(list(t.subtree)) >= 4
        if take:
            heads.append(t)
            chosen.add(t.i)
    return heads


def _grounds(token: Token) -> bool:
    """'X did Y, citing Z': a participle giving the grounds of the main act, not an act."""
    return token.tag_ == "VBG" and token.lemma_.lower() in claim_lexicon().grounds_verbs


# Subordinators of a finite clause that reports an event of its own beside the main one
# ("Trump welcomed him as the pair pledged to fight ISIS"), unlike "after"/"since", which date it.
_COINCIDENT = frozenset({"as", "while", "whereas", "when"})


def _coincident_event(token: Token) -> bool:
    """A trailing finite adverbial clause with its own subject and a coincidence marker."""
    finite = token.tag_ in _FINITE or any(
        c.dep_ in ("aux", "auxpass") and c.tag_ in _FINITE for c in token.children
    )
    return (
        finite
        and token.i > token.head.i
        and token.head.pos_ in ("VERB", "AUX")
        and any(c.dep_ == "mark" and c.lower_ in _COINCIDENT for c in token.children)
        and any(c.dep_ in ("nsubj", "nsubjpass", "expl") for c in token.children)
    )


_FINITE = frozenset({"VBD", "VBZ", "VBP", "MD"})


def _attribution_phrase(head: Token) -> bool:
    """'as observed by reporters from the Associated Press': a source, not a fact."""
    return (
        head.dep_ == "advcl"
        and head.lemma_.lower() in _WITNESS_VERBS
        and any(c.dep_ == "mark" and c.lower_ == "as" for c in head.children)
    )


_WITNESS_VERBS = frozenset({"observe", "report", "see", "witness", "say", "confirm", "note"})


def _unit_tokens(head: Token, heads: set[int], sent: Span) -> list[Token]:
    """The head's subtree without the other units inside it, as its contiguous run."""
    cut: set[int] = set()
    for t in head.subtree:
        if t.i != head.i and t.i in heads:
            cut |= {x.i for x in t.subtree}
            if t.dep_ == "conj":
                cut |= {c.i for c in t.head.children if c.dep_ == "cc" and c.i < t.i}
        if t.lower_ == "according" and t.head.i == head.i:
            cut |= {x.i for x in t.subtree}
    tokens = [t for t in head.subtree if t.i not in cut and sent.start <= t.i < sent.end]
    runs: list[list[Token]] = []
    for t in tokens:
        if runs and t.i == runs[-1][-1].i + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    if not runs:
        return []
    holding = [r for r in runs if any(t.i == head.i for t in r)]
    run = max(runs, key=len) if not holding or len(holding[0]) < 3 else holding[0]
    if len(run) < len(max(runs, key=len)) // 2:
        run = max(runs, key=len)
    return _trim_unit(run, head)


def _trim_unit(tokens: list[Token], head: Token | None = None) -> list[Token]:
    """Drop edge punctuation, connectives, the subordinator of a split-off clause ("while",
    "as") and an undated leading adverbial ("Since then,")."""
    while tokens and (
        tokens[0].is_punct
        or tokens[0].is_space
        or tokens[0].lower_ in _CONNECTIVES
        or tokens[0].pos_ == "CCONJ"
        or (tokens[0].dep_ == "mark" and tokens[0].lower_ in ("that", "whether"))
        or (
            head is not None
            and head.dep_ != "ROOT"
            and tokens[0].dep_ == "mark"
            and tokens[0].head.i == head.i
            and tokens[0].lower_ in _COINCIDENT | {"although", "though", "whereas"}
        )
    ):
        tokens = tokens[1:]
    comma = next((n for n, t in enumerate(tokens[:8]) if t.text == ","), None)
    if comma is not None and comma < len(tokens) - 3:
        lead = tokens[:comma]
        dated = any(t.like_num or t.ent_type_ in ("DATE", "TIME") for t in lead)
        adverbial = all(t.dep_ not in ("nsubj", "nsubjpass", "expl") for t in lead) and not any(
            t.pos_ in ("VERB", "AUX") and t.dep_ in ("ROOT", "relcl") for t in lead
        )
        if adverbial and not dated and lead and lead[0].head.i > lead[-1].i:
            tokens = tokens[comma + 1 :]
    while tokens and (tokens[0].is_punct or tokens[0].is_space):
        tokens = tokens[1:]
    while tokens and (
        (tokens[-1].is_punct and tokens[-1].text != "%")
        or tokens[-1].is_space
        or tokens[-1].pos_ == "CCONJ"
    ):
        tokens = tokens[:-1]
    return tokens


def extract_claims(
    article_id: str,
    text: str,
    doc: Doc,
    mentions: Sequence[Mention],
    quotes: Sequence[Quote],
    clauses: Sequence[ReportedClause],
    outlet: str | None,
) -> list[Claim]:
    """Claims of one article: every check-worthy clause, claimed by its reporter or the outlet.

    Sentences are cut into clauses on the parse (relative, adverbial, coordinated and reported
    clauses, participles, phrases after a comma), so a multi-fact sentence gives one claim per
    fact. A clause inside a reported clause is claimed by the speaker; statements in direct
    quotes count when they are factual (not "I think", "he's a tough guy").
    """
    speech = [q for q in quotes if q.kind in ("direct", "partial")]
    direct = [q for q in speech if q.kind == "direct"]
    units: list[tuple[int, int, bool, str | None]] = []  # start, end, main clause, source
    for sent in doc.sents:
        if sent.root.pos_ == "SPACE":
            continue
        heads = _unit_heads(sent, [(q.char_start, q.char_end) for q in speech])
        head_ids = {h.i for h in heads}
        source = next(
            (
                m.chain
                for h in heads
                if _attribution_phrase(h)
                for t in h.subtree
                for m in mentions
                if m.char_start <= t.idx < m.char_end and m.type in ("ORG", "PERSON")
            ),
            None,
        )
        for head in heads:
            if _attribution_phrase(head):
                continue
            if is_cue(head) and (
                any(c.dep_ == "ccomp" or is_cue(c) for c in head.children)
                or trailing_report(head) is not None
            ):
                continue  # the attribution itself ("a U.S. official has said")
            if any(a.lemma_.lower() in OPINION_LEMMAS for a in head.ancestors):
                continue  # what someone hopes or wants, not a fact
            tokens = _unit_tokens(head, head_ids, sent)
            if any(is_cue(t) and trailing_report(t) is not None for t in tokens):
                continue  # ", the firms announced on Monday": the attribution
            if tokens:
                units.append(
                    (
                        tokens[0].idx,
                        tokens[-1].idx + len(tokens[-1].text),
                        head.i == sent.root.i,
                        source,
                    )
                )
    for q in direct:
        units.append((q.char_start, q.char_end, True, None))
    for q in speech:  # a long quoted fragment can state a fact: "partnering with X to ..."
        if q.kind == "partial" and len(q.text.split()) >= MIN_WORDS:
            units.append((q.char_start, q.char_end, False, None))
    pieces = [c for c in clauses if not c.has_quote]
    units += [(c.start, c.end, False, None) for c in pieces]  # "becoming the 90th member"
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []
    for start, end, main, source in sorted(units, key=lambda u: (u[0], -u[1])):
        piece = next((c for c in pieces if start <= c.start and c.end <= end), None)
        if piece is not None:
            start, end = piece.start, piece.end
        start, end = _trim_chars(text, start, end)
        if end <= start or any(start < e and s < end for s, e in taken):
            continue
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None or len(span) == 0:
            continue
        if any(
            start <= (q.attribution or -1) < end
            and q.cue
            and q.kind == "partial"
            and start <= q.char_start < end
            and (q.cue.split()[0].lower() in _FRAMING)
            for q in speech
        ):
            continue  # 'Trump described al-Sharaa as a "young, attractive guy"': a quote frame
        inside = sum(1 for m in mentions if start <= m.char_start and m.char_end <= end)
        if not _check_worthy(span, inside, MIN_WORDS if main else MIN_PHRASE_WORDS):
            continue
        taken.append((start, end))
        chain, who = _claimant(start, end, clauses, speech)
        if chain is None and who is None and source is not None:
            chain = source
        lemmas, chains = _features(span, mentions)
        claims.append(
            Claim(
                article_id,
                start,
                end,
                text[start:end],
                chain,
                who if (chain or who) else outlet,
                lemmas,
                chains,
                numbers_in(text[start:end]),
            )
        )
    return claims


def _features(span: Span, mentions: Sequence[Mention]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Content lemmas outside entity mentions, and the chains mentioned, for clustering."""
    inside = [
        m for m in mentions if span.start_char <= m.char_start and m.char_end <= span.end_char
    ]
    covered = {i for m in inside for i in range(m.char_start, m.char_end)}
    lemmas = sorted(
        {
            t.lemma_.lower()
            for t in span
            if t.pos_ in _CONTENT_POS
            and not t.is_stop
            and t.idx not in covered
            and t.lemma_.lower() not in SPEECH_VERBS
            and any(c.isalnum() for c in t.text)
        }
    )
    chains = sorted({m.chain for m in inside})
    return tuple(lemmas), tuple(chains)


def _claimant(
    start: int, end: int, clauses: Sequence[ReportedClause], direct: Sequence[Quote]
) -> tuple[str | None, str | None]:
    """The speaker of the smallest reported clause or direct quote holding the claim."""
    holders = [
        (c.end - c.start, c.speaker_chain, c.speaker_text)
        for c in clauses
        if c.start <= start and end <= c.end
    ]
    holders += [
        (q.char_end - q.char_start, q.speaker_chain, q.speaker_text)
        for q in direct
        if q.char_start <= start and end <= q.char_end
    ]
    if not holders:
        return None, None
    _, chain, text = min(holders, key=lambda h: h[0])
    return chain, text
