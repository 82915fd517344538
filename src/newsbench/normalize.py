"""Normalize: raw article text → headline, body paragraphs, and a provenance partition.

Every character of the raw text falls in exactly one span: kept (the headline or a body
paragraph) or removed (with the reason of the rule that removed it). Normalizing the kept spans
gives exactly the article's title and text, so nothing is lost and every change is explained.
The boilerplate rules are data (rules/normalize.yaml), not code.

Per-article and pure: `normalize(raw_text, rules)` depends on nothing else, so it can run in any
worker process.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import ftfy
import yaml

Where = Literal["anywhere", "before-body", "body", "trailing"]

# Line breaks that end a paragraph. Everything else, including other Unicode spaces, is
# whitespace inside a line.
_LINE = re.compile(r"[^\r\n\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85]+")
# Characters that carry no words: zero-width space and no-break, BOM, every Unicode
# Bidi_Control (LRM, RLM, ALM, embeddings, overrides, isolates) and the C1 controls ftfy leaves
# (it maps only those Windows-1252 defines). ZWJ/ZWNJ are kept: some scripts and emoji need them.
_INVISIBLE = re.compile(
    r"[\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u0080-\u0084\u0086-\u009f]"
)
# At the edges of a raw line only the format characters are trimmed: a C1 code point there may
# be a Windows-1252 quote mark that ftfy restores, so it stays inside the kept span.
_FORMAT = re.compile(r"[\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_FTFY = ftfy.TextFixerConfig(
    uncurl_quotes=False,  # curly quotes are the author's, not an error
    fix_latin_ligatures=False,
    fix_character_width=False,
    fix_line_breaks=False,  # line structure is decided here, not by ftfy
    normalization="NFC",
    explain=False,
)


def normalize_span(text: str) -> str:
    """Repair mojibake, NFC, drop invisible format characters, collapse whitespace.

    Words are never changed: no spelling, case or punctuation fixes.
    """
    fixed = ftfy.fix_text(text, config=_FTFY)
    fixed = _INVISIBLE.sub("", fixed)
    fixed = unicodedata.normalize("NFC", fixed)
    return " ".join(fixed.split())


@dataclass(frozen=True)
class Rule:
    reason: str
    where: Where
    pattern: re.Pattern[str]
    ends_article: bool = False
    first_body_line_only: bool = False


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    title_max_words: int
    title_not_matching: re.Pattern[str]
    tail_reason: str
    duplicate_title_reason: str
    source: str


def default_rules_path() -> Path:
    return Path(str(resources.files("newsbench") / "rules" / "normalize.yaml"))


@functools.cache
def load_rules(path: str | None = None) -> Rules:
    """Parse and check the rules file; errors name the rule."""
    file = Path(path) if path else default_rules_path()
    data: dict[str, Any] = yaml.safe_load(file.read_text(encoding="utf-8"))
    rules = []
    for i, r in enumerate(data.get("rules", [])):
        where = r.get("where", "anywhere")
        if where not in ("anywhere", "before-body", "body", "trailing"):
            raise ValueError(f"{file}: rule {i} ({r.get('reason')}): unknown where {where!r}")
        try:
            pattern = re.compile(r["match"])
        except re.error as exc:
            raise ValueError(f"{file}: rule {i} ({r.get('reason')}): bad regex: {exc}") from exc
        if "cut" in pattern.groupindex and where == "trailing":
            raise ValueError(f"{file}: rule {i}: a `cut` group is not supported with trailing")
        rules.append(
            Rule(
                reason=r["reason"],
                where=where,
                pattern=pattern,
                ends_article=bool(r.get("ends_article", False)),
                first_body_line_only=bool(r.get("first_body_line_only", False)),
            )
        )
    title = data.get("title", {})
    return Rules(
        rules=tuple(rules),
        title_max_words=int(title.get("max_words", 30)),
        title_not_matching=re.compile(title.get("not_matching", r"(?!x)x")),
        tail_reason=data.get("tail_reason", "appended-unrelated-story"),
        duplicate_title_reason=data.get("duplicate_title_reason", "duplicate-title"),
        source=str(file),
    )


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str  # role for kept spans (title, body), reason for removed ones


@dataclass
class Normalized:
    """The result of normalizing one raw text."""

    title: str | None
    text: str
    kept: list[Span] = field(default_factory=list)
    removed: list[Span] = field(default_factory=list)

    @property
    def n_words(self) -> int:
        return len(self.text.split())


@dataclass
class _Line:
    start: int  # raw offsets of the line without surrounding whitespace
    end: int
    norm: str
    label: str = ""  # "title", "body" or a removal reason
    kept: bool = False


def _content_lines(raw: str) -> list[_Line]:
    """Non-blank lines with raw offsets trimmed of surrounding whitespace."""
    lines = []
    for m in _LINE.finditer(raw):
        s, e = m.start(), m.end()
        while s < e and (raw[s].isspace() or _FORMAT.match(raw[s])):
            s += 1
        while e > s and (raw[e - 1].isspace() or _FORMAT.match(raw[e - 1])):
            e -= 1
        if s == e:
            continue
        norm = normalize_span(raw[s:e])
        if norm:
            lines.append(_Line(s, e, norm))
    return lines


def _applies(rule: Rule, state: str) -> bool:
    if rule.where == "anywhere":
        return True
    if rule.where == "before-body":
        return state in ("head", "lead")
    if rule.where == "body":
        return state == "body"
    return False  # trailing rules run in a second pass


def _looks_like_title(line: _Line, rules: Rules) -> bool:
    return len(line.norm.split()) <= rules.title_max_words and not rules.title_not_matching.search(
        line.norm
    )


def _cut(raw: str, line: _Line, match: re.Match[str]) -> tuple[_Line, _Line] | None:
    """Split a line at a rule's `cut` group (at its start): (removed part, kept part)."""
    if match.start("cut") != 0 or match.end("cut") >= len(line.norm):
        return None
    # Map the cut's end in the normalized line back to raw: the cut is a prefix of words.
    n_words = len(match.group("cut").split())
    pos, seen = line.start, 0
    while seen < n_words:
        while pos < line.end and raw[pos].isspace():
            pos += 1
        while pos < line.end and not raw[pos].isspace():
            pos += 1
        seen += 1
    while pos < line.end and raw[pos].isspace():
        pos += 1
    if pos >= line.end:
        return None
    rest = _Line(pos, line.end, normalize_span(raw[pos : line.end]))
    return _Line(line.start, pos, normalize_span(raw[line.start : pos])), rest


def normalize(raw: str, rules: Rules | None = None) -> Normalized:
    """Clean one article. Never raises on text input; an empty result has text == ""."""
    rules = rules or load_rules()
    lines = _content_lines(raw)
    out: list[_Line] = []
    state = "head"
    title: str | None = None
    for line in lines:
        if state == "tail":
            rule = next(
                (r for r in rules.rules if r.where == "anywhere" and r.pattern.search(line.norm)),
                None,
            )
            line.label = rule.reason if rule else rules.tail_reason
            out.append(line)
            continue
        matched = None
        for rule in rules.rules:
            if rule.first_body_line_only or not _applies(rule, state):
                continue
            if rule.pattern.search(line.norm):
                matched = rule
                break
        if matched is not None:
            line.label = matched.reason
            out.append(line)
            if matched.ends_article and state == "body":
                state = "tail"
            continue
        if title is not None and line.norm == title:
            line.label = rules.duplicate_title_reason
            out.append(line)
            continue
        if state == "head" and _looks_like_title(line, rules):
            title = line.norm
            line.label, line.kept = "title", True
            out.append(line)
            state = "lead"
            continue
        if state in ("head", "lead"):
            for rule in rules.rules:
                m = rule.pattern.search(line.norm) if rule.first_body_line_only else None
                if m and "cut" in rule.pattern.groupindex:
                    parts = _cut(raw, line, m)
                    if parts:
                        removed, line = parts
                        removed.label = rule.reason
                        out.append(removed)
                        break
        line.label, line.kept = "body", True
        out.append(line)
        state = "body"

    # Trailing rules: read the body backwards from its end while lines match (credit lines).
    trailing = [r for r in rules.rules if r.where == "trailing"]
    for line in reversed(out):
        if not line.kept:
            continue
        if line.label != "body":
            break
        rule = next((r for r in trailing if r.pattern.search(line.norm)), None)
        if rule is None:
            break
        line.label, line.kept = rule.reason, False

    return _partition(raw, out, title)


def _partition(raw: str, lines: list[_Line], title: str | None) -> Normalized:
    """Turn labelled lines into kept/removed spans that cover raw exactly.

    Whitespace between lines joins the removed span before it when there is one, else it is
    removed as `whitespace`; adjacent removed spans with the same reason are merged.
    """
    kept: list[Span] = []
    removed: list[Span] = []

    def remove(start: int, end: int, reason: str) -> None:
        if start >= end:
            return
        if removed and removed[-1].end == start and removed[-1].label == reason:
            removed[-1] = Span(removed[-1].start, end, reason)
        else:
            removed.append(Span(start, end, reason))

    pos = 0
    prev_removed_reason: str | None = None
    for line in lines:
        if line.start > pos:
            remove(pos, line.start, prev_removed_reason or "whitespace")
        if line.kept:
            kept.append(Span(line.start, line.end, line.label))
            prev_removed_reason = None
        else:
            remove(line.start, line.end, line.label)
            prev_removed_reason = line.label
        pos = line.end
    if pos < len(raw):
        remove(pos, len(raw), prev_removed_reason or "whitespace")

    body = [line.norm for line in lines if line.kept and line.label == "body"]
    return Normalized(
        title=title if any(s.label == "title" for s in kept) else None,
        text="\n\n".join(body),
        kept=kept,
        removed=removed,
    )


def check_partition(raw: str, result: Normalized) -> list[str]:
    """Problems with a result's provenance (empty when it is exact). Used by tests and validate."""
    problems = []
    spans = sorted([*result.kept, *result.removed], key=lambda s: s.start)
    pos = 0
    for s in spans:
        if s.start != pos:
            problems.append(f"gap or overlap at raw offset {pos} (next span starts at {s.start})")
        if s.end <= s.start:
            problems.append(f"empty span {s}")
        pos = max(pos, s.end)
    if pos != len(raw):
        problems.append(f"spans end at {pos}, raw text has {len(raw)} characters")
    titles = [normalize_span(raw[s.start : s.end]) for s in result.kept if s.label == "title"]
    if titles != ([result.title] if result.title is not None else []):
        problems.append(f"title {result.title!r} is not its kept span {titles!r}")
    body = "\n\n".join(
        normalize_span(raw[s.start : s.end]) for s in result.kept if s.label == "body"
    )
    if body != result.text:
        problems.append("text is not the normalized kept body spans")
    return problems
