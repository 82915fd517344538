"""Automatic extractors: entity mentions, quotes and claims of news articles, then linking.

The pipeline calls exactly this:

    nlp = load_nlp()              # spaCy, offline; see nlp.py
    rows = run(articles, nlp)     # {"entities": [...], "quotes": [...], "claims": [...]}
    model_info(nlp)               # for the build manifest

`extract_article(article, doc)` is the pure per-article step (picklable in and out, so it can
run in worker processes); `link(extractions, articles)` (newsbench.link) does the cross-article
canonicalisation and clustering and produces rows with exactly the schema's columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from newsbench.extract.claims import extract_claims
from newsbench.extract.entities import extract_mentions
from newsbench.extract.names import load_alias_table
from newsbench.extract.nlp import describe_model, load_nlp, model_info
from newsbench.extract.quotes import extract_quotes
from newsbench.extract.records import (
    ArticleExtraction,
    ArticleInput,
    Chain,
    Claim,
    Mention,
    Quote,
    as_article_input,
)

__all__ = [
    "ArticleExtraction",
    "ArticleInput",
    "Chain",
    "Claim",
    "Mention",
    "Quote",
    "describe_model",
    "extract_article",
    "link",
    "load_nlp",
    "model_info",
    "run",
]


def extract_article(article: ArticleInput | Mapping[str, Any], doc: Doc) -> ArticleExtraction:
    """Mentions with their chains, quotes and claims of one article (pure: no global state).

    `doc` must be the parse of exactly `article.text`; every offset indexes that text.
    """
    art = as_article_input(article)
    if doc.text != art.text:
        raise ValueError(f"{art.article_id}: the parse is not of the article's text")
    table = load_alias_table()
    mentions, chains = extract_mentions(art.article_id, art.text, doc, table)
    quotes, clauses = extract_quotes(art.article_id, art.text, doc, mentions, chains)
    claims = extract_claims(art.article_id, art.text, doc, mentions, quotes, clauses, art.outlet)
    return ArticleExtraction(
        art.article_id, tuple(mentions), tuple(chains), tuple(quotes), tuple(claims)
    )


def link(
    extractions: Sequence[ArticleExtraction], articles: Sequence[ArticleInput | Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Cross-article canonicalisation and clustering: see newsbench.link.link."""
    from newsbench.link import link as link_articles  # newsbench.link imports this package

    return link_articles(extractions, articles)


def run(
    articles: Sequence[ArticleInput | Mapping[str, Any]], nlp: Language, batch_size: int = 32
) -> dict[str, list[dict[str, Any]]]:
    """Parse with nlp.pipe, extract every article, link: the rows of the three tables."""
    inputs = [as_article_input(a) for a in articles]
    docs = nlp.pipe((a.text for a in inputs), batch_size=batch_size)
    extractions = [extract_article(a, doc) for a, doc in zip(inputs, docs, strict=True)]
    return link(extractions, inputs)
