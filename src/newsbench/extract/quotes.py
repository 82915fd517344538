"""Quotes of one article: direct and partial quotes between quotation marks, indirect speech,
and who said them.

Marks are paired by a small state machine that knows straight and curly marks, quotes running
over several paragraphs (no closing mark at the paragraph end, an opening mark at the start of
the next) and unbalanced marks (a quote left open to the end of its paragraph is closed there
when it reads as speech, else dropped; a stray closing mark is ignored), so it never fails on
real text. The speaker comes from the dependency parse of the cue verb ("said", "told",
"according to", "X said:"), pronouns go to the previous speaker or the most recent person, and a
source without a name keeps its description ("a senior administration official").
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

from newsbench.extract.records import Chain, Mention, Quote

# Verbs that introduce speech or writing (lemmas). Reported clauses are taken from their ccomp.
SPEECH_VERBS = frozenset(
    {
        "say",
        "tell",
        "write",
        "add",
        "state",
        "insist",
        "note",
        "confirm",
        "announce",
        "explain",
        "claim",
        "warn",
        "argue",
        "ask",
        "reply",
        "respond",
        "describe",
        "call",
        "dub",
        "refer",
        "suggest",
        "acknowledge",
        "admit",
        "declare",
        "stress",
        "emphasise",
        "emphasize",
        "tweet",
        "post",
        "comment",
        "predict",
        "urge",
        "vow",
        "promise",
        "deny",
        "report",
        "recall",
        "reveal",
        "remark",
        "observe",
        "complain",
        "concede",
        "contend",
        "assert",
        "pledge",
        "testify",
        "tease",
        "quip",
        "joke",
        "boast",
        "lament",
        "mention",
        "allege",
        "affirm",
        "reiterate",
        "repeat",
        "threaten",
        "accuse",
        "demand",
        "proclaim",
        "inform",
        "assure",
        "caution",
        "disclose",
        "brand",
        "label",
        "hail",
        "continue",
        "conclude",
        "estimate",
        "agree",
    }
)
# Heads of a definite description that refers back to a named person ("the US president").
_TITLE_HEADS = frozenset(
    {"president", "leader", "premier", "chancellor", "king", "queen", "pope", "monarch"}
)
# Verbs that only count as a cue for a quote, never as a source of indirect speech.
_QUOTE_ONLY = frozenset({"describe", "call", "dub", "refer", "brand", "label", "hail", "continue"})
_PERSON_PRONOUNS = frozenset({"he", "she", "him", "her"})
_PLURAL_PRONOUNS = frozenset({"they", "them", "we"})
_DOUBLE_OPEN = "“„«‟"
_DOUBLE_CLOSE = "”»"
_OPEN_CONTEXT = set(" \t\n([{—–-/:;") | set(_DOUBLE_OPEN)
_CLOSE_CONTEXT = set(" \t\n.,;:!?)]}—–-…'’") | set(_DOUBLE_CLOSE)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)]*\s+")
_MIN_REPAIRED_WORDS = 4


@dataclass(frozen=True)
class QuoteSpan:
    """Characters between a pair of marks (marks excluded); `repaired` when a mark was missing."""

    start: int
    end: int
    open_mark: int
    close_mark: int
    repaired: bool = False


@dataclass(frozen=True)
class ReportedClause:
    """An indirect-speech clause ("X said that ..."), kept for claims even when it holds quotes."""

    start: int
    end: int
    cue: str
    speaker_chain: str | None
    speaker_text: str | None
    has_quote: bool


class _Paragraphs:
    """Paragraph index of a character offset (paragraphs are split at line breaks)."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer(r"\n+", text)]
        self.ends = [m.start() for m in re.finditer(r"\n+", text)] + [len(text)]

    def index(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos) - 1

    def start(self, i: int) -> int:
        return self.starts[i]

    def end(self, i: int) -> int:
        return self.ends[i]


def _double_role(text: str, i: int) -> str:
    """open, close or either, from the mark itself (curly) and its neighbours (straight)."""
    char = text[i]
    prev = text[i - 1] if i > 0 else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    opens = prev in _OPEN_CONTEXT and not nxt.isspace()
    closes = nxt in _CLOSE_CONTEXT and not prev.isspace()
    if char in _DOUBLE_OPEN:
        return "close" if closes and not opens and char == "“" and nxt in ".,;:!?" else "open"
    if char in _DOUBLE_CLOSE:
        return "open" if opens and not closes and char == "”" else "close"
    if opens and not closes:
        return "open"
    if closes and not opens:
        return "close"
    return "either"


def _words(text: str) -> int:
    return len(text.split())


def find_quote_spans(text: str) -> list[QuoteSpan]:
    """Pair quotation marks; see the module docstring for unbalanced and multi-paragraph marks."""
    paragraphs = _Paragraphs(text)
    marks = [
        (i, _double_role(text, i))
        for i, c in enumerate(text)
        if c == '"' or c in _DOUBLE_OPEN or c in _DOUBLE_CLOSE
    ]
    spans: list[QuoteSpan] = []
    open_at: int | None = None
    open_para = -1

    def close_repaired() -> None:
        assert open_at is not None
        end = paragraphs.end(open_para)
        if _words(text[open_at + 1 : end]) >= _MIN_REPAIRED_WORDS:
            spans.append(QuoteSpan(open_at + 1, end, open_at, end, repaired=True))

    for pos, role in marks:
        para = paragraphs.index(pos)
        if open_at is not None and para != open_para:
            continues = (
                role != "close"
                and para == open_para + 1
                and not text[paragraphs.start(para) : pos].strip()
            )
            if continues:
                open_para = para  # the quote goes on in this paragraph
                continue
            close_repaired()
            open_at = None
        if open_at is None:
            if role != "close":
                open_at, open_para = pos, para
            continue  # a stray closing mark is ignored
        if role == "open":  # the previous quote was never closed: start again here
            open_at, open_para = pos, para
            continue
        spans.append(QuoteSpan(open_at + 1, pos, open_at, pos))
        open_at = None
    if open_at is not None:
        close_repaired()
    spans += _single_quote_spans(text, spans, paragraphs)
    return sorted(
        (_trim(text, s) for s in spans if s.end > s.start), key=lambda s: (s.start, s.end)
    )


def _single_quote_spans(
    text: str, doubles: list[QuoteSpan], paragraphs: _Paragraphs
) -> list[QuoteSpan]:
    """'Single-quoted' spans outside double quotes; apostrophes never open or close one."""
    inside = [(s.open_mark, s.close_mark) for s in doubles]
    out: list[QuoteSpan] = []
    open_at: int | None = None
    for i, c in enumerate(text):
        if c not in "'‘’" or any(a <= i <= b for a, b in inside):
            continue
        prev = text[i - 1] if i > 0 else " "
        nxt = text[i + 1] if i + 1 < len(text) else " "
        if open_at is not None and paragraphs.index(i) != paragraphs.index(open_at):
            open_at = None
        can_open = c in "'‘" and (prev.isspace() or prev in '([{—–-/"“') and nxt.isalnum()
        can_close = c in "'’" and not prev.isspace() and (nxt.isspace() or nxt in '.,;:!?)]—–-"”')
        if open_at is not None and can_close:
            out.append(QuoteSpan(open_at + 1, i, open_at, i))
            open_at = None
        elif can_open:
            open_at = i
    return out


def _trim(text: str, span: QuoteSpan) -> QuoteSpan:
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return QuoteSpan(start, end, span.open_mark, span.close_mark, span.repaired)


# --- attribution -----------------------------------------------------------------------------


def is_cue(token: Token) -> bool:
    if token.lower_ == "according":
        return any(c.lower_ == "to" for c in token.children) or (
            token.i + 1 < len(token.doc) and token.doc[token.i + 1].lower_ == "to"
        )
    if token.pos_ != "VERB" or token.lemma_.lower() not in SPEECH_VERBS:
        return False
    if token.dep_ in ("amod", "compound") or (
        token.i >= 2
        and token.doc[token.i - 2].lower_ == "so"
        and token.doc[token.i - 1].text == "-"
    ):
        return False  # "the so-called reform": a modifier, not a speech act
    # "will announce": a speech act still to come attributes nothing
    return not any(c.dep_ == "aux" and c.lower_ in _NOT_YET for c in token.children)


_NOT_YET = frozenset({"will", "would", "shall", "could", "might", "may", "to", "'ll"})


def _cue_text(token: Token) -> str:
    if token.lower_ == "according":
        return "according to"
    following = token.doc[token.i + 1] if token.i + 1 < len(token.doc) else None
    if token.lemma_.lower() == "refer" and following is not None and following.lower_ == "to":
        return f"{token.text} to"
    return token.text


def _negated(token: Token) -> bool:
    return any(c.dep_ == "neg" for c in token.children)


def _subject(verb: Token) -> Token | None:
    """Who does the speaking: nsubj of the cue, "according to X", or the subject of the verb a
    participle or conjunct hangs on ("..., saying", "said ... and added")."""
    token = verb
    for depth in range(5):
        if token.lower_ == "according":
            for prep in token.children:
                if prep.lower_ == "to":
                    objs = [c for c in prep.children if c.dep_ == "pobj"]
                    return objs[0] if objs else None
            if token.i + 2 <= len(token.doc) - 1:
                nxt = token.doc[token.i + 1]
                objs = [c for c in nxt.children if c.dep_ == "pobj"]
                return objs[0] if objs else None
            return None
        deps = ("nsubj",) if depth == 0 else ("nsubj", "nsubjpass")
        subjects = [c for c in token.children if c.dep_ in deps]
        if subjects:
            if subjects[0].lower_ in ("who", "which", "that") and token.dep_ == "relcl":
                return token.head  # "Trump, who said ..."
            return subjects[0]
        if token.dep_ == "acl" and (
            token.tag_ in ("VBD", "VBZ", "VBP")
            or any(c.dep_ in ("dobj", "oprd") for c in token.children)
        ):
            return token.head  # a finite verb parsed as a modifier: "Trump dubbed ..."
        if token.dep_ in ("conj", "advcl", "xcomp", "pcomp") and token.head.i != token.i:
            was_cue = is_cue(token)
            token = token.head
            if was_cue and not is_cue(token) and token.dep_ == "ccomp" and is_cue(token.head):
                token = token.head  # "X said S but insisted ...": insisted hangs on S's verb
            continue
        return None
    return None


@dataclass
class _Speaker:
    chain: str | None
    text: str | None
    paragraph: int
    chain_type: str | None = None
    anchor: int = 0  # where the attribution ends: later persons may take over a pronoun


class _Attribution:
    """Maps subjects to chains or descriptions and resolves pronouns, in document order."""

    def __init__(
        self,
        text: str,
        doc: Doc,
        mentions: Sequence[Mention],
        chains: Sequence[Chain],
        quoted: list[tuple[int, int]],
    ) -> None:
        self.text = text
        self.doc = doc
        self.mentions = sorted(mentions, key=lambda m: m.char_start)
        self.starts = [m.char_start for m in self.mentions]
        self.chain_type = {c.key: c.type for c in chains}
        self.chain_name = {c.key: c.name for c in chains}
        self.paragraphs = _Paragraphs(text)
        self.quoted = quoted
        self.last: _Speaker | None = None
        self.descriptions: list[tuple[str, str]] = []  # (head lemma, text) of unnamed sources

    def in_quote(self, pos: int) -> bool:
        return any(s <= pos < e for s, e in self.quoted)

    def mention_at(self, start: int, end: int) -> Mention | None:
        i = bisect.bisect_right(self.starts, start) - 1
        for m in self.mentions[max(0, i - 1) : i + 2]:
            if m.char_start <= start and end <= m.char_end + 1 and start < m.char_end:
                return m
        return None

    def mention_in(self, span: Span) -> Mention | None:
        for token in span:
            m = self.mention_at(token.idx, token.idx + len(token.text))
            if m is not None:
                return m
        return None

    def last_person_before(self, pos: int) -> Mention | None:
        i = bisect.bisect_left(self.starts, pos)
        for m in reversed(self.mentions[:i]):
            if m.type == "PERSON" and not self.in_quote(m.char_start):
                return m
        return None

    def describe(self, head: Token) -> str:
        """The words naming an unnamed source: the subject's phrase, cut at a comma or clause."""
        left = head.left_edge.i
        right = head.i
        for child in head.rights:
            if child.dep_ in ("relcl", "acl", "appos", "punct", "cc", "conj", "advcl"):
                break
            right = child.right_edge.i
        words = head.doc[left : right + 1].text
        return words.split("\n")[-1].strip(" ,")

    def _title_reference(self, subject: Token) -> bool:
        """ "the (US) president": a title with only a determiner and place words before it."""
        if subject.lemma_.lower() not in _TITLE_HEADS:
            return False
        children = list(subject.children)
        if not any(c.dep_ == "det" and c.lower_ == "the" for c in children):
            return False
        for child in children:
            if child.dep_ == "det":
                continue
            mention = self.mention_at(child.idx, child.idx + len(child.text))
            if child.i > subject.i or mention is None or mention.type not in ("GPE", "NORP"):
                return False
        return True

    def speaker(self, verb: Token | None, pos: int, anchor: int | None = None) -> _Speaker:
        """Resolve the speaker of a quote or clause whose cue is `verb` (None: no cue)."""
        paragraph = self.paragraphs.index(pos)
        anchor = max(anchor or pos, verb.idx if verb is not None else 0)
        found = self._continuation(paragraph) if verb is None else self._resolve(verb, paragraph)
        found.anchor = anchor
        return found

    def _resolve(self, verb: Token, paragraph: int) -> _Speaker:
        subject = _subject(verb)
        if subject is None:
            return _Speaker(None, None, paragraph)
        lower = subject.lower_
        if lower in _PERSON_PRONOUNS or lower in _PLURAL_PRONOUNS:
            return self._pronoun(lower, subject.idx, paragraph)
        mention = self.mention_at(subject.idx, subject.idx + len(subject.text))
        if mention is None:
            for child in subject.children:
                if child.dep_ == "appos":
                    mention = self.mention_at(child.idx, child.idx + len(child.text))
                    if mention is not None and mention.type in ("PERSON", "ORG"):
                        break
                    mention = None
        if mention is not None:
            return _Speaker(
                mention.chain,
                self.chain_name[mention.chain],
                paragraph,
                self.chain_type[mention.chain],
            )
        if self._title_reference(subject):
            return self._pronoun("he", subject.idx, paragraph)
        description = self.describe(subject)
        head = subject.lemma_.lower()
        definite = any(c.dep_ == "det" and c.lower_ == "the" for c in subject.children)
        if definite and len(description.split()) <= 2:
            # "According to the official": the official introduced earlier in the article
            for earlier_head, earlier in reversed(self.descriptions):
                if earlier_head == head:
                    return _Speaker(None, earlier, paragraph)
        self.descriptions.append((head, description))
        return _Speaker(None, description, paragraph)

    def _person_between(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.starts, start)
        return any(
            m.type == "PERSON" and not self.in_quote(m.char_start)
            for m in self.mentions[i:]
            if m.char_start < end
        )

    def _pronoun(self, pronoun: str, pos: int, paragraph: int) -> _Speaker:
        """The previous speaker if recent and no other person came up since, else the most
        recent person named before the pronoun."""
        last = self.last
        recent = (
            last is not None
            and last.paragraph >= paragraph - 1
            and (last.chain is not None or last.text is not None)
            and not self._person_between(last.anchor, pos)
        )
        if pronoun in _PLURAL_PRONOUNS:
            if recent and last is not None and last.chain_type != "PERSON":
                return _Speaker(last.chain, last.text, paragraph, last.chain_type)
            return _Speaker(None, None, paragraph)
        if recent and last is not None and last.chain_type in (None, "PERSON"):
            return _Speaker(last.chain, last.text, paragraph, last.chain_type)
        mention = self.last_person_before(pos)
        if mention is None:
            return _Speaker(None, None, paragraph)
        return _Speaker(mention.chain, self.chain_name[mention.chain], paragraph, "PERSON")

    def _continuation(self, paragraph: int) -> _Speaker:
        last = self.last
        if last is not None and last.paragraph >= paragraph - 1:
            return _Speaker(last.chain, last.text, paragraph, last.chain_type)
        return _Speaker(None, None, paragraph)


def _tokens(doc: Doc, start: int, end: int) -> Span | None:
    return doc.char_span(start, end, alignment_mode="expand")


def _sentence_prefix(text: str, paragraphs: _Paragraphs, pos: int) -> str:
    """Text from the start of the sentence (within the paragraph) up to `pos`."""
    para_start = paragraphs.start(paragraphs.index(pos))
    before = text[para_start:pos]
    last = None
    for m in _SENTENCE_END.finditer(before):
        last = m
    return before[last.end() :] if last else before


def _dependency_cue(span: Span, attribution: _Attribution) -> Token | None:
    """The nearest speech verb above the quote in the parse, outside every quote."""
    best: tuple[int, Token] | None = None
    for token in span:
        if span.start <= token.head.i < span.end:
            continue
        node, steps = token.head, 0
        while steps < 8:
            if is_cue(node) and not attribution.in_quote(node.idx):
                distance = min(abs(node.idx - span.start_char), abs(node.idx - span.end_char))
                if best is None or distance < best[0]:
                    best = (distance, node)
                break
            if node.head.i == node.i:
                break
            node, steps = node.head, steps + 1
    return best[1] if best else None


def _window_cue(
    doc: Doc, start: int, end: int, attribution: _Attribution, nearest_last: bool
) -> Token | None:
    span = _tokens(doc, start, end) if end > start else None
    if span is None:
        return None
    found = [t for t in span if is_cue(t) and not attribution.in_quote(t.idx)]
    if not found:
        return None
    return found[-1] if nearest_last else found[0]


def _trailing_end(text: str, paragraphs: _Paragraphs, pos: int, attribution: _Attribution) -> int:
    """End of the attribution after a closing mark: the sentence end, another quote, or 80 chars."""
    limit = min(paragraphs.end(paragraphs.index(pos)), pos + 80)
    for i in range(pos, limit):
        if text[i] in ".!?" or (attribution.in_quote(i) and i > pos + 1):
            return i
    return limit


def _is_quoted_name(text: str, mentions: Sequence[Mention], start: int, end: int) -> bool:
    """A quoted name or title ('Israel', "Global Coalition to Defeat Islamic State."), not
    speech: the quote is one entity mention, or a few capitalised words."""
    bare = text.rstrip(".,;:!? ")
    end = start + len(bare)
    if any(m.char_start <= start and end <= m.char_end for m in mentions) and _words(bare) <= 8:
        return True
    words = bare.split()
    return (
        0 < len(words) <= 3
        and all(w[0].isupper() or w.lower() in ("of", "the", "and") for w in words)
        and bare == text
    )


@dataclass
class _Kept:
    span: QuoteSpan
    quote: Quote
    verb: Token | None
    paragraph: int


def extract_quotes(
    article_id: str, text: str, doc: Doc, mentions: Sequence[Mention], chains: Sequence[Chain]
) -> tuple[list[Quote], list[ReportedClause]]:
    """Direct, partial and indirect quotes of one article, and the reported clauses for claims.

    Rows never overlap. An indirect row is a reported clause without quoted speech; when the
    clause holds quoted fragments, each unquoted stretch that states a proposition of its own
    becomes an indirect row ("According to the official, S "to further ..."" → S).
    """
    spans = find_quote_spans(text)
    attribution = _Attribution(
        text, doc, mentions, chains, [(s.open_mark, s.close_mark + 1) for s in spans]
    )
    paragraphs = attribution.paragraphs
    clauses = _reported_clauses(doc, attribution)
    events: list[tuple[int, int, QuoteSpan | tuple[int, int, Token]]] = [
        (s.start, 0, s) for s in spans
    ] + [(c[0], 1, c) for c in clauses]
    events.sort(key=lambda e: (e[0], e[1]))
    kept: list[_Kept] = []
    clause_speakers: list[tuple[int, int, Token, _Speaker]] = []
    for _, what, item in events:
        if what == 0:
            assert isinstance(item, QuoteSpan)
            found = _classify(
                article_id,
                text,
                doc,
                item,
                mentions,
                attribution,
                paragraphs,
                kept[-1] if kept else None,
            )
            if found is not None:
                kept.append(found)
            continue
        assert isinstance(item, tuple)
        start, end, verb = item
        speaker = attribution.speaker(verb, verb.idx, anchor=end)
        clause_speakers.append((start, end, verb, speaker))
        if speaker.chain or speaker.text:
            attribution.last = speaker
    quotes = [k.quote for k in kept]
    marks = [(k.span.open_mark, k.span.close_mark + 1) for k in kept]
    reported: list[ReportedClause] = []
    pieces: list[tuple[int, int, Token, _Speaker]] = []
    for start, end, verb, speaker in clause_speakers:
        inside = [m for m in marks if m[0] < end and start < m[1]]
        reported.append(
            ReportedClause(start, end, _cue_text(verb), speaker.chain, speaker.text, bool(inside))
        )
        if not inside:
            pieces.append((start, end, verb, speaker))
            continue
        for piece in _stretches(doc, text, start, end, inside):
            pieces.append((*piece, verb, speaker))
    # Unquoted words between two quotes of one attribution: '"...," becoming X and "...," he said'
    for a, b in itertools.pairwise(kept):
        if a.verb is None or b.verb is None or a.verb.i != b.verb.i or a.paragraph != b.paragraph:
            continue
        if a.span.close_mark < a.verb.idx < b.span.open_mark:
            continue  # '"...," Trump said. "..."': the gap is the attribution itself
        speaker = _Speaker(a.quote.speaker_chain, a.quote.speaker_text, a.paragraph)
        for piece in _stretches(doc, text, a.span.close_mark + 1, b.span.open_mark, []):
            pieces.append((*piece, a.verb, speaker))
    taken = list(marks)
    for start, end, verb, speaker in sorted(pieces, key=lambda p: (p[0], -p[1])):
        if any(s < end and start < e for s, e in taken):
            continue
        taken.append((start, end))
        quotes.append(
            Quote(
                article_id,
                start,
                end,
                text[start:end],
                "indirect",
                _cue_text(verb),
                speaker.chain,
                speaker.text,
                verb.idx,
            )
        )
        if any(m[0] < end and start < m[1] for m in marks):
            continue
        reported.append(
            ReportedClause(start, end, _cue_text(verb), speaker.chain, speaker.text, False)
        )
    quotes.sort(key=lambda q: (q.char_start, q.char_end))
    return quotes, reported


_CLAUSE_LEADS = frozenset(
    {
        "which",
        "who",
        "whom",
        "whose",
        "that",
        "where",
        "when",
        "and",
        "but",
        "or",
        "instead",
        "then",
        "while",
        "whereas",
        "thus",
    }
)
_ARGUMENT_DEPS = frozenset({"dobj", "attr", "acomp", "oprd", "pobj", "xcomp", "ccomp", "dative"})


def _stretches(
    doc: Doc, text: str, start: int, end: int, holes: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Unquoted stretches of [start, end) that state a proposition of their own.

    Quoted spans (with their marks) are holes. A stretch is cut back to its longest prefix that
    ends a clause (at a comma or before a conjunction) and is kept when it has a verb and a
    subject (or opens with a participle: "becoming the 90th member") and does not merely frame
    the quote (its last word would need the quote as complement: 'wanted Syria to become').
    """
    bounds = [start]
    for s, e in sorted(holes):
        bounds += [s, e]
    bounds.append(end)
    out = []
    for a, b in zip(bounds[::2], bounds[1::2], strict=True):
        span = doc.char_span(max(a, start), min(b, end), alignment_mode="contract")
        if span is None or len(span) == 0:
            continue
        tokens = [t for t in span if not t.is_space]
        while tokens and (
            tokens[0].is_punct
            or tokens[0].lower_ in _CLAUSE_LEADS
            or (tokens[0].pos_ == "ADP" and len(tokens) > 1 and tokens[1].lower_ in _CLAUSE_LEADS)
        ):
            tokens = tokens[1:]
        if (
            not tokens
            or tokens[0].pos_ in ("ADP", "PART", "AUX")
            or (a > start and tokens[0].head.i < tokens[0].i and doc[tokens[0].head.i].idx < a)
        ):
            continue  # continues the quote's syntax ('"big part" of his plan ...')
        best = None
        for cut in range(len(tokens), 3, -1):
            if cut < len(tokens) and not (tokens[cut].is_punct or tokens[cut].pos_ == "CCONJ"):
                continue
            candidate = tokens[:cut]
            if _proposition(candidate, cut == len(tokens) and b < end):
                best = candidate
                break
        if best is not None:
            out.append((best[0].idx, best[-1].idx + len(best[-1].text)))
    return out


def _proposition(tokens: list[Token], before_quote: bool) -> bool:
    while tokens and (tokens[-1].is_punct or tokens[-1].pos_ == "CCONJ"):
        tokens = tokens[:-1]
    if len([t for t in tokens if not t.is_punct]) < 4:
        return False
    last = tokens[-1]
    function_word = last.pos_ in ("ADP", "DET", "SCONJ", "AUX", "PART", "CCONJ") and not (
        last.text[:1].isupper()
    )  # "IS" tagged AUX is a name
    if function_word or last.lower_ in ("including", "such"):
        return False
    inside = {t.i for t in tokens}
    if before_quote and any(
        c.dep_ in _ARGUMENT_DEPS and c.i not in inside
        for t in tokens
        for c in t.children
        if c.i > last.i
    ):
        return False  # the quote completes this stretch: it is a frame, not a report
    if last.pos_ == "VERB" and any(
        c.dep_ in _ARGUMENT_DEPS and c.i not in inside for c in last.children
    ):
        return False
    has_verb = any(t.pos_ in ("VERB", "AUX") for t in tokens)
    has_subject = any(
        t.dep_ in ("nsubj", "nsubjpass", "expl") and t.head.i in inside for t in tokens
    )
    return has_verb and (has_subject or tokens[0].tag_ == "VBG")


def _quote_kind(tokens: Span) -> str:
    """direct: the quoted words open with a clause of their own (subject and verb); else
    partial. Decided by the words alone, not by how the reporter introduces them."""
    inside = range(tokens.start, tokens.end)
    roots = [t for t in tokens if t.head.i not in inside or t.head.i == t.i]
    words = [t for t in roots if not t.is_punct and not t.is_space]
    if not words:
        return "partial"
    first = words[0]
    if first.pos_ not in ("VERB", "AUX"):
        return "partial"
    subjects = [
        c
        for c in first.children
        if c.i in inside and c.dep_ in ("nsubj", "nsubjpass", "expl", "csubj", "csubjpass")
    ]
    return "direct" if subjects else "partial"


def _classify(
    article_id: str,
    text: str,
    doc: Doc,
    span: QuoteSpan,
    mentions: Sequence[Mention],
    attribution: _Attribution,
    paragraphs: _Paragraphs,
    previous: _Kept | None,
) -> _Kept | None:
    """Keep a quoted span as direct or partial speech with its cue and speaker, or drop it."""
    content = text[span.start : span.end]
    if not content.strip() or not any(c.isalpha() for c in content):
        return None
    tokens = _tokens(doc, span.start, span.end)
    if tokens is None or _is_quoted_name(content, mentions, span.start, span.end):
        return None
    paragraph = paragraphs.index(span.start)
    prefix = _sentence_prefix(text, paragraphs, span.open_mark)
    stripped = prefix.strip()
    opens_clause = not stripped or stripped.endswith(":")
    ends_utterance = bool(re.search(r"[.!?,…]$", content.rstrip("\"'”’ ")))
    after = text[span.close_mark + 1 : span.close_mark + 3]
    if after[:1] == "," or after.strip()[:1] in (".", "!", "?", ""):
        ends_utterance = True
    trailing = None
    if ends_utterance:
        end = _trailing_end(text, paragraphs, span.close_mark + 1, attribution)
        trailing = _window_cue(doc, span.close_mark + 1, end, attribution, nearest_last=False)
    leading = _window_cue(
        doc, span.open_mark - len(prefix), span.open_mark, attribution, nearest_last=True
    )
    dependency = _dependency_cue(tokens, attribution)
    verb = (
        trailing if opens_clause and trailing is not None else (dependency or leading or trailing)
    )
    if verb is not None and _negated(verb) and verb.lemma_ != "deny":
        verb = None
    cue = _cue_text(verb) if verb is not None else None
    subject_of: Token | None = verb
    if verb is None and stripped.endswith(":"):
        prefix_span = _tokens(doc, span.open_mark - len(prefix), span.open_mark)
        root = prefix_span.root if prefix_span is not None and len(prefix_span) else None
        subject_of = root
        cue = root.text if root is not None and root.pos_ == "VERB" else ":"
    inherited = None
    if cue is None:
        if previous is not None and previous.paragraph == paragraph and not stripped:
            inherited = previous  # '"...," he added. "I really do."': the same attribution
        elif not (_words(content) >= 4 and opens_clause):
            return None  # a scare quote or a quoted term with no one saying it
    kind = _quote_kind(tokens)
    if inherited is not None:
        prev = inherited.quote
        quote = Quote(
            article_id,
            span.start,
            span.end,
            content,
            kind,
            prev.cue,
            prev.speaker_chain,
            prev.speaker_text,
            prev.attribution,
        )
        return _Kept(span, quote, inherited.verb, paragraph)
    speaker = attribution.speaker(subject_of, span.start, anchor=span.close_mark)
    if speaker.chain or speaker.text:
        attribution.last = speaker
    anchor = subject_of.idx if subject_of is not None else None
    quote = Quote(
        article_id, span.start, span.end, content, kind, cue, speaker.chain, speaker.text, anchor
    )
    return _Kept(span, quote, verb, paragraph)


def _reported_clauses(doc: Doc, attribution: _Attribution) -> list[tuple[int, int, Token]]:
    """(start, end, cue) of every clause reported by a speech verb.

    A clause stops before a coordinated speech verb of its own ("were yet to be determined but
    insisted ...": two remarks) and before a trailing participle ("..., marking a shift").
    """
    found: list[tuple[int, int, Token]] = []
    for token in doc:
        if not is_cue(token) or attribution.in_quote(token.idx) or _negated(token):
            continue
        if token.lemma_.lower() in _QUOTE_ONLY:
            continue
        if token.lower_ == "according":
            span = _according_clause(token)
            if span is not None:
                found.append((*span, token))
            continue
        trailing = trailing_report(token)
        if trailing is not None:
            found.append((*trailing, token))
            continue
        complements = [c for c in token.children if c.dep_ == "ccomp"]
        if any(c.i < token.i for c in complements):  # "S, X said ...": S is the report
            complements = [c for c in complements if c.i < token.i]
        for child in complements:
            if child.pos_ not in ("VERB", "AUX") or not any(
                c.dep_ in ("nsubj", "nsubjpass", "expl", "csubj") for c in child.children
            ):
                continue
            if any(c.dep_ == "mark" and c.lower_ not in _MARKERS for c in child.children):
                continue  # "said Monday hours after X welcomed ...": a time clause
            span = _clause_chars(_clause_tokens(child))
            if span is not None:
                found.append((*span, token))
        if token.lemma_.lower() in _PROMISE_VERBS:
            for child in token.children:
                if child.dep_ == "xcomp" and child.pos_ == "VERB":
                    span = _clause_chars(_clause_tokens(child))
                    if span is not None:
                        found.append((*span, token))
    found.sort(key=lambda f: (f[0], -f[1]))
    outer: list[tuple[int, int, Token]] = []
    for f in found:
        if any(o[0] <= f[0] and f[1] <= o[1] for o in outer):
            continue
        outer.append(f)
    return outer


_PROMISE_VERBS = frozenset({"vow", "promise", "pledge", "threaten"})


def trailing_report(verb: Token) -> tuple[int, int] | None:
    """ "S, the firms announced on Monday." when the parser did not make S the verb's ccomp:
    a cue with no complement of its own right after a comma and a short subject phrase."""
    if any(c.dep_ in ("ccomp", "dobj", "xcomp", "mark", "auxpass") for c in verb.children):
        return None  # has its own complement, or is "as observed by ...", not a report
    sent = verb.sent
    i = verb.i - 1
    while i > sent.start and verb.i - i <= 7 and verb.doc[i].text != ",":
        if verb.doc[i].pos_ in ("VERB", "AUX"):
            return None
        i -= 1
    if i <= sent.start or verb.doc[i].text != ",":
        return None
    tokens = [t for t in sent if t.i < i]
    return _clause_chars(tokens) if any(t.pos_ in ("VERB", "AUX") for t in tokens) else None


def _clause_tokens(head: Token) -> list[Token]:
    """The subtree of a clause head, without coordinated speech verbs and trailing participles."""
    cut: set[int] = set()
    for token in head.subtree:
        if token.dep_ == "conj" and is_cue(token) and token.i > head.i:
            cut |= {t.i for t in token.subtree}
            cut |= {c.i for c in token.head.children if c.dep_ == "cc" and c.i < token.i}
        if (
            token.head.i == head.i
            and token.dep_ == "advcl"
            and token.tag_ == "VBG"
            and token.i > head.i
            and token.i > 0
            and head.doc[token.i - 1].text == ","
        ):
            cut |= {t.i for t in token.subtree}
    return [t for t in head.subtree if t.i not in cut]


_MARKERS = frozenset({"that", "whether", "if"})


def _clause_chars(tokens: list[Token]) -> tuple[int, int] | None:
    """Character span of a clause: leading complementiser and edge punctuation dropped."""
    tokens = sorted(tokens, key=lambda t: t.i)
    while tokens and (
        (tokens[0].lower_ in _MARKERS and tokens[0].dep_ == "mark")
        or tokens[0].is_punct
        or tokens[0].is_space
    ):
        tokens = tokens[1:]
    while tokens and (tokens[-1].is_punct or tokens[-1].is_space):
        tokens = tokens[:-1]
    if len(tokens) < 4 or not any(t.pos_ in ("VERB", "AUX") for t in tokens):
        return None
    # a clause must be contiguous; keep the run holding its head
    runs: list[list[Token]] = [[tokens[0]]]
    for t in tokens[1:]:
        if t.i == runs[-1][-1].i + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    run = max(runs, key=len)
    if len(run) < 4:
        return None
    return run[0].idx, run[-1].idx + len(run[-1].text)


def _according_clause(token: Token) -> tuple[int, int] | None:
    """ "According to X, S" / "S, according to X": S is the reported clause."""
    head = token.head
    if head.i == token.i:
        return None
    skip = {t.i for t in token.subtree}
    tokens = [t for t in head.subtree if t.i not in skip]
    sent = token.sent
    tokens = [t for t in tokens if sent.start <= t.i < sent.end]
    if not tokens:
        return None
    return _clause_chars(tokens)
