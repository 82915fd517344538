"""The plain, picklable records passed between the per-article extractors and the linker.

Everything here is a frozen dataclass of strings, ints and tuples, so an ArticleExtraction can
cross a process boundary and be compared for equality in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """One cleaned article: the text every offset indexes, and what the build knows about it."""

    article_id: str
    text: str
    outlet: str | None = None
    story_id: str | None = None


def as_article_input(article: ArticleInput | Mapping[str, Any]) -> ArticleInput:
    """Accept an ArticleInput or any mapping with its keys (an articles-table row)."""
    if isinstance(article, ArticleInput):
        return article
    return ArticleInput(
        article_id=str(article["article_id"]),
        text=str(article.get("text") or ""),
        outlet=article.get("outlet"),
        story_id=article.get("story_id"),
    )


@dataclass(frozen=True, slots=True)
class Mention:
    """A named-entity mention; `chain` is the key of its in-article name chain."""

    article_id: str
    char_start: int
    char_end: int
    text: str
    type: str
    chain: str


@dataclass(frozen=True, slots=True)
class Chain:
    """One referent within one article: a full name and the short forms that point back to it.

    `match_key` is the normalised, alias-resolved name compared across articles; `surname_only`
    marks a PERSON chain whose article never gives more than one name token (so it may only be
    attached to a full name elsewhere when that is unambiguous).
    """

    article_id: str
    key: str
    type: str
    name: str
    match_key: str
    surname_only: bool = False
    alias_type: str | None = None  # the type the alias table gives, when it knows the name
    titles: tuple[str, ...] = ()  # offices written before the name ("information minister")


@dataclass(frozen=True, slots=True)
class Quote:
    """A direct, partial or indirect quote; the speaker is a chain key or a description."""

    article_id: str
    char_start: int
    char_end: int
    text: str
    kind: str
    cue: str | None
    speaker_chain: str | None
    speaker_text: str | None
    attribution: int | None = None  # offset of the cue verb: rows of one remark share it


@dataclass(frozen=True, slots=True)
class Claim:
    """A check-worthy claim, with what the cross-article clustering compares.

    `lemmas`: content lemmas outside entity mentions; `chains`: chain keys of the mentions
    inside the claim; `numbers`: normalised numbers it states.
    """

    article_id: str
    char_start: int
    char_end: int
    text: str
    claimant_chain: str | None
    claimant_text: str | None
    lemmas: tuple[str, ...] = ()
    chains: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArticleExtraction:
    """Everything extracted from one article, before cross-article linking."""

    article_id: str
    mentions: tuple[Mention, ...] = ()
    chains: tuple[Chain, ...] = ()
    quotes: tuple[Quote, ...] = ()
    claims: tuple[Claim, ...] = ()
