"""Cross-article linking: canonical entities, quote and claim clusters, ids and the rows' contract.

Most tests build extractions by hand (no parser), so they pin the linking rules themselves; the
last ones run the whole pipeline on new paragraphs and on a sample of the BBC corpus.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from spacy.language import Language

from newsbench.extract import ArticleInput, load_nlp, run
from newsbench.extract.ids import cluster_id, entity_id, occurrence_ids
from newsbench.extract.names import load_alias_table, match_key
from newsbench.extract.records import ArticleExtraction, Chain, Claim, Mention, Quote
from newsbench.link import (
    QUOTE_MIN,
    claim_features,
    link,
    quote_similarity,
    quote_words,
    same_remark,
)
from newsbench.tables import load_catalog

BBC = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "bbc"
STORY = "story-1"


def article(article_id: str, text: str, story: str | None = STORY) -> ArticleInput:
    return ArticleInput(article_id, text, outlet=None, story_id=story)


def named(
    article_id: str,
    text: str,
    names: list[tuple[str, str]],
    quotes: tuple[Quote, ...] = (),
    claims: tuple[Claim, ...] = (),
) -> ArticleExtraction:
    """An extraction whose every name is its own chain (type, surface form), found in text."""
    table = load_alias_table()
    mentions, chains = [], []
    for n, (kind, form) in enumerate(names):
        start = text.index(form)
        key = f"k{n}"
        mentions.append(Mention(article_id, start, start + len(form), form, kind, key))
        entry = table.lookup(form)
        chains.append(
            Chain(
                article_id,
                key,
                kind,
                form,
                match_key(form, kind, table),
                surname_only=kind == "PERSON" and len(form.split()) == 1,
                alias_type=entry.type if entry else None,
            )
        )
    return ArticleExtraction(article_id, tuple(mentions), tuple(chains), quotes, claims)


def entity_of(rows: dict[str, list[dict]], article_id: str, text: str) -> dict:
    for entity in rows["entities"]:
        if any(m["article_id"] == article_id and m["text"] == text for m in entity["mentions"]):
            return entity
    raise AssertionError(f"no entity with mention {text!r} in {article_id}")


def bbc_sample(
    nlp: Language,
    folder: str,
    pick: slice,
    count: int,
    stories: list[str | None] | None = None,
    pattern: str = "*.txt",
) -> tuple[list[ArticleInput], list[ArticleExtraction]]:
    """BBC articles (`pick` of a folder's files, `count` of them; story ids given in turn) and
    their extractions; the test is skipped when the corpus is not beside the repository."""
    from newsbench.extract import extract_article

    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not beside the repository")
    files = sorted((BBC / folder).glob(pattern))[pick]
    assert len(files) == count
    stories = stories or [None]
    articles = [
        ArticleInput(
            f"bbc-{p.stem}", p.read_text(encoding="utf-8"), "BBC", stories[k % len(stories)]
        )
        for k, p in enumerate(files)
    ]
    records = [
        extract_article(a, doc)
        for a, doc in zip(articles, nlp.pipe(a.text for a in articles), strict=True)
    ]
    return articles, records


# --- entities ---------------------------------------------------------------------------------


def test_alias_table_merges_across_articles_but_not_related_names() -> None:
    t1 = "Daesh claimed the attack. The Global Coalition to Defeat ISIL met in Rome."
    t2 = "ISIL fighters retreated. The Global Coalition to Defeat Islamic State grew."
    exs = [
        named("a1", t1, [("GPE", "Daesh"), ("ORG", "Global Coalition to Defeat ISIL")]),
        named("a2", t2, [("ORG", "ISIL"), ("ORG", "Global Coalition to Defeat Islamic State")]),
    ]
    rows = link(exs, [article("a1", t1), article("a2", t2)])
    group = entity_of(rows, "a1", "Daesh")
    assert group is entity_of(rows, "a2", "ISIL")
    assert group["type"] == "ORG"  # the table's type beats NER's GPE
    coalition = entity_of(rows, "a1", "Global Coalition to Defeat ISIL")
    assert coalition is entity_of(rows, "a2", "Global Coalition to Defeat Islamic State")
    assert coalition is not group
    assert coalition["name"] == "Global Coalition to Defeat ISIL" or coalition["aliases"] == sorted(
        coalition["aliases"]
    )


def test_distinct_referents_that_share_a_word_stay_apart() -> None:
    t1 = "The Syrian Democratic Forces held Raqqa. Syria objected."
    t2 = "Donald Trump spoke. The Trump administration said little."
    exs = [
        named("a1", t1, [("ORG", "Syrian Democratic Forces"), ("GPE", "Syria")]),
        named("a2", t2, [("PERSON", "Donald Trump"), ("ORG", "Trump administration")]),
    ]
    rows = link(exs, [article("a1", t1), article("a2", t2)])
    assert len(rows["entities"]) == 4


def test_person_never_merges_with_a_place_of_the_same_name() -> None:
    t1 = "Michael Jordan scored. Jordan smiled."
    t2 = "Jordan closed its border with Syria."
    ex1 = named("a1", t1, [("PERSON", "Michael Jordan")])
    ex2 = named("a2", t2, [("GPE", "Jordan")])
    rows = link([ex1, ex2], [article("a1", t1), article("a2", t2)])
    assert entity_of(rows, "a1", "Michael Jordan") is not entity_of(rows, "a2", "Jordan")


def test_transliterations_and_surnames_join_the_full_name() -> None:
    t1 = "Mohammed bin Salman arrived."
    t2 = "Muhammad bin Salman left. Salman waved."
    t3 = "Salman spoke again."
    exs = [
        named("a1", t1, [("PERSON", "Mohammed bin Salman")]),
        named("a2", t2, [("PERSON", "Muhammad bin Salman")]),
        named("a3", t3, [("PERSON", "Salman")]),
    ]
    rows = link(exs, [article(a, t) for a, t in (("a1", t1), ("a2", t2), ("a3", t3))])
    person = entity_of(rows, "a1", "Mohammed bin Salman")
    assert person is entity_of(rows, "a2", "Muhammad bin Salman")
    assert person is entity_of(rows, "a3", "Salman")
    assert person["n_articles"] == 3
    assert person["aliases"] == sorted({"Mohammed bin Salman", "Muhammad bin Salman", "Salman"})


def test_canonical_name_is_the_most_frequent_full_form() -> None:
    texts = {
        "a1": "The US and the United States.",
        "a2": "US troops. US ships.",
        "a3": "The U.S. said no.",
    }
    exs = [
        named("a1", texts["a1"], [("GPE", "US"), ("GPE", "United States")]),
        named("a2", texts["a2"], [("GPE", "US")]),
        named("a3", texts["a3"], [("GPE", "U.S.")]),
    ]
    rows = link(exs, [article(a, t) for a, t in texts.items()])
    usa = entity_of(rows, "a3", "U.S.")
    assert usa["name"] == "United States"  # acronyms never compete as full forms
    assert usa is entity_of(rows, "a1", "US")


# --- quote and claim clusters -----------------------------------------------------------------


def test_trimmed_quote_matches_the_longer_rendering() -> None:
    short = quote_words("He has had a rough past")
    long = quote_words("People said he's had a rough past, we've all had rough pasts")
    assert quote_similarity(short, long) >= 80
    assert quote_similarity(short, quote_words("The economy is growing fast this year")) < 60


def test_same_remark_decides_as_the_full_similarity_on_bbc_sentences(bbc: Path) -> None:
    """The LCS bound may only skip alignments that cannot reach QUOTE_MIN: on pairs of BBC
    sentences and edited copies of them (cut, words dropped, reordered, replaced), spread
    around the threshold, the decision equals `quote_similarity >= QUOTE_MIN`."""
    rng = random.Random(7)
    files = sorted(bbc.rglob("*.txt"))[:60]
    sentences = [
        quote_words(s)
        for f in files
        for s in f.read_text(encoding="utf-8", errors="replace").split(". ")
        if len(s.split()) > 4
    ]
    pairs = []
    for s in sentences:
        words = s.split()
        cut = words[rng.randrange(len(words) // 2) :][: rng.randrange(4, len(words) + 1)]
        dropped = [w for w in words if rng.random() > 0.25]
        edited = [w if rng.random() > 0.3 else rng.choice(words) for w in words]
        reordered = words[len(words) // 2 :] + words[: len(words) // 2]
        other = rng.choice(sentences)
        for variant in (cut, dropped, edited, reordered):
            pairs.append((s, " ".join(variant)))
        pairs.append((s, other))
        pairs.append((s, f"{other} {' '.join(cut)}"))
    decided = [same_remark(a, b) for a, b in pairs]
    assert decided == [quote_similarity(a, b) >= QUOTE_MIN for a, b in pairs]
    # both answers are common, and many pairs that fail reach the alignment (not all
    # decided by the bound): the test covers the threshold, not only easy cases
    assert 0.2 < sum(decided) / len(decided) < 0.8
    near = [
        (a, b)
        for (a, b), same in zip(pairs, decided, strict=True)
        if not same and 60 <= quote_similarity(a, b) < QUOTE_MIN
    ]
    assert len(near) > 50


def test_quotes_of_one_remark_share_a_cluster_across_outlets() -> None:
    t1 = 'Lee said: "We will win this election by a wide margin."'
    t2 = '"We will win this election," Lee told supporters. "Prices are too high."'
    s1 = t1.index("We will")
    q1 = Quote("a1", s1, s1 + 45, t1[s1 : s1 + 45], "direct", "said", "k0", None)
    s2 = t2.index("We will")
    q2 = Quote("a2", s2, s2 + 26, t2[s2 : s2 + 26], "direct", "told", "k0", None)
    s3 = t2.index("Prices")
    q3 = Quote("a2", s3, s3 + 19, t2[s3 : s3 + 19], "direct", None, "k0", None)
    exs = [
        named("a1", t1, [("PERSON", "Lee")], quotes=(q1,)),
        named("a2", t2, [("PERSON", "Lee")], quotes=(q2, q3)),
    ]
    rows = link(exs, [article("a1", t1), article("a2", t2)])
    by_text = {r["text"]: r for r in rows["quotes"]}
    assert by_text[q1.text]["quote_cluster_id"] == by_text[q2.text]["quote_cluster_id"]
    assert by_text[q3.text]["quote_cluster_id"] != by_text[q1.text]["quote_cluster_id"]
    assert by_text[q1.text]["speaker"] == "Lee"


def claim(
    article_id: str,
    text: str,
    lemmas: str,
    chains: tuple[str, ...] = (),
    numbers: tuple[str, ...] = (),
) -> Claim:
    return Claim(article_id, 0, len(text), text, None, None, tuple(lemmas.split()), chains, numbers)


def test_claim_paraphrases_cluster_and_different_facts_do_not() -> None:
    texts = {
        "a1": "Acme agreed to buy Beta for 5 billion dollars",
        "a2": "Beta will be bought by Acme for 5 billion dollars",
        "a3": "Acme agreed to buy Beta for 7 billion dollars",
        "a4": "Acme closed a factory in Ohio",
    }
    exs = []
    for aid, text in texts.items():
        names = [("ORG", "Acme")] + ([("ORG", "Beta")] if "Beta" in text else [])
        chains = tuple(f"k{n}" for n in range(len(names)))
        lemmas = (
            "agree buy billion dollar"
            if "buy" in text or "bought" in text
            else ("close factory ohio")
        )
        exs.append(
            named(
                aid,
                text,
                names,
                claims=(
                    claim(aid, text, lemmas, chains, tuple(sorted(set(text.split()) & {"5", "7"}))),
                ),
            )
        )
    rows = link(exs, [article(a, t) for a, t in texts.items()])
    cluster = {r["article_id"]: r["claim_cluster_id"] for r in rows["claims"]}
    assert cluster["a1"] == cluster["a2"]  # same fact, other words
    assert cluster["a3"] != cluster["a1"]  # numbers disagree
    assert cluster["a4"] != cluster["a1"]  # another fact about the same company


def test_event_verb_classes_join_paraphrases() -> None:
    features = claim_features(["welcome", "talk"], ["e1"])
    assert features == {"welcome", "talk", "@e1", "#meet"}
    assert claim_features(["host"], []) & claim_features(["meet"], []) == {"#meet"}
    assert claim_features(["buy"], []) == {"buy"}  # a verb of no class adds nothing

    texts = {
        "a1": "Tom Walsh hosted Mary Byrne in Boston",
        "a2": "Mary Byrne met Tom Walsh in Boston",
        "a3": "Tom Walsh hosted a jazz festival in Boston",
    }
    lemmas = {"a1": "host", "a2": "meet", "a3": "host jazz festival"}
    exs = []
    for aid, text in texts.items():
        names = [("PERSON", "Tom Walsh"), ("GPE", "Boston")]
        names += [("PERSON", "Mary Byrne")] if "Byrne" in text else []
        chains = tuple(f"k{n}" for n in range(len(names)))
        exs.append(named(aid, text, names, claims=(claim(aid, text, lemmas[aid], chains),)))
    rows = link(exs, [article(a, t) for a, t in texts.items()])
    cluster = {r["article_id"]: r["claim_cluster_id"] for r in rows["claims"]}
    assert cluster["a1"] == cluster["a2"]  # host ~ meet, same participants
    assert cluster["a3"] != cluster["a1"]  # same verb, another event


def test_claims_cluster_only_within_a_story() -> None:
    text = "Acme agreed to buy Beta for 5 billion dollars"
    exs = [
        named(
            a,
            text,
            [("ORG", "Acme"), ("ORG", "Beta")],
            claims=(claim(a, text, "agree buy billion dollar", ("k0", "k1"), ("5",)),),
        )
        for a in ("a1", "a2")
    ]
    rows = link(exs, [article("a1", text, "s1"), article("a2", text, "s2")])
    assert rows["claims"][0]["claim_cluster_id"] != rows["claims"][1]["claim_cluster_id"]


# --- ids and the rows' contract ---------------------------------------------------------------


def test_id_helpers_are_content_derived() -> None:
    assert occurrence_ids("q", "a1", ["x", "y", "x"]) == occurrence_ids("q", "a1", ["x", "y", "x"])
    first, _, second = occurrence_ids("q", "a1", ["x", "y", "x"])
    assert first != second and first.startswith("q-") and len(first) == 18
    assert entity_id("ORG", "Acme") != entity_id("ORG", "Acme", rank=2)
    assert cluster_id("qc", ["q-b", "q-a"]) == cluster_id("qc", ["q-a", "q-b"])


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_nlp()


STORY_TEXTS = {
    "x1": (
        "Acme Corp agreed to buy Beta Ltd for $5bn on Monday, the companies said.\n\n"
        '"This deal makes us the largest maker of batteries in Europe," Acme chief executive '
        "Jane Holt told reporters in Paris.\n\n"
        "Holt said the two firms would keep their factories in France. Are more deals coming?"
    ),
    "x2": (
        "Beta Ltd will be bought by Acme Corp for $5bn, the firms announced on Monday.\n\n"
        'Jane Holt said the deal made Acme "the largest maker of batteries in Europe".\n\n'
        "Shares in Beta Ltd rose 12% in London after the announcement."
    ),
}


def test_run_on_a_small_story(nlp: Language) -> None:
    articles = [article(a, t) for a, t in STORY_TEXTS.items()]
    rows = run(articles, nlp)
    check_rows(rows, articles)
    holt = entity_of(rows, "x1", "Jane Holt")
    assert holt["type"] == "PERSON" and holt["n_articles"] == 2
    speakers = {r["speaker_entity_id"] for r in rows["quotes"] if "batteries" in r["text"]}
    assert speakers == {holt["entity_id"]}
    clusters = {r["quote_cluster_id"] for r in rows["quotes"] if "batteries" in r["text"]}
    assert len(clusters) == 1
    deal = {r["claim_cluster_id"] for r in rows["claims"] if "$5bn" in r["text"]}
    assert len(deal) == 1, [r["text"] for r in rows["claims"]]


def test_output_is_deterministic_and_order_free(nlp: Language) -> None:
    articles = [article(a, t) for a, t in STORY_TEXTS.items()]
    first = run(articles, nlp)
    assert run(articles, nlp) == first
    assert run(list(reversed(articles)), nlp) == first
    alone = run(articles[:1], nlp)  # quote and claim ids do not depend on other articles
    ids = {r["quote_id"] for r in first["quotes"] if r["article_id"] == "x1"}
    assert {r["quote_id"] for r in alone["quotes"]} == ids


def check_rows(rows: dict[str, list[dict]], articles: list[ArticleInput]) -> None:
    """The contract: exact columns, valid offsets, sorted mentions, ids that resolve."""
    catalog = load_catalog()
    texts = {a.article_id: a.text for a in articles}
    for table in ("entities", "quotes", "claims"):
        columns = catalog[table].column_names
        ids = [r[columns[0]] for r in rows[table]]
        assert len(ids) == len(set(ids)), f"{table}: duplicate ids"
        for row in rows[table]:
            assert list(row) == columns
            assert row["origin"] == "auto"
    entity_ids = {e["entity_id"] for e in rows["entities"]}
    for entity in rows["entities"]:
        keys = [(m["article_id"], m["char_start"]) for m in entity["mentions"]]
        assert keys == sorted(keys)
        assert entity["aliases"] == sorted(entity["aliases"])
        for m in entity["mentions"]:
            assert texts[m["article_id"]][m["char_start"] : m["char_end"]] == m["text"]
    for table, who, cluster in (
        ("quotes", "speaker_entity_id", "quote_cluster_id"),
        ("claims", "claimant_entity_id", "claim_cluster_id"),
    ):
        for row in rows[table]:
            assert texts[row["article_id"]][row["char_start"] : row["char_end"]] == row["text"]
            assert row[who] is None or row[who] in entity_ids
            assert row[cluster]
    for row in rows["quotes"]:
        assert row["kind"] in ("direct", "partial", "indirect")


def test_offsets_valid_on_a_bbc_sample(nlp: Language) -> None:
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not beside the repository")
    files = sorted(p for p in BBC.rglob("*.txt") if p.name != "README.TXT")
    sample = random.Random(7).sample(files, 25)
    articles = []
    for path in sample:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # sport/199.txt holds a Latin-1 pound sign
        articles.append(ArticleInput(str(path.relative_to(BBC)), text, None, None))
    rows = run(articles, nlp, batch_size=8)
    check_rows(rows, articles)
    assert rows["entities"] and rows["claims"]


def test_packed_extractions_link_like_the_records(nlp: Language) -> None:
    """The build links from packed records (newsbench.cache.PackedExtractions: unpacked one at
    a time, two passes, never all at once): the rows must equal linking the records themselves,
    in any input order."""
    from newsbench.cache import PackedExtractions, pack_extraction

    articles, records = bbc_sample(nlp, "business", slice(0, 30), 30, pattern="0[0-4]*.txt")
    packed = PackedExtractions((r.article_id, pack_extraction(r)) for r in reversed(records))
    assert packed.article_ids == sorted(a.article_id for a in articles)
    assert list(packed) == sorted(records, key=lambda r: r.article_id)
    rows = link(records, articles)
    assert rows["claims"] and rows["quotes"] and rows["entities"]
    assert link(packed, articles) == rows


def test_syndicated_copies_cluster_however_many_a_pool_holds(nlp: Language) -> None:
    """60 copies of one BBC article in a pool without story ids: a pool that large compares
    through the inverted index, which drops words found in more than MAX_POSTING items, so
    every word of a copied claim is "too common". Copies are grouped by key before any pairwise
    work, so each claim and quote of the article is still one cluster across the copies."""
    from newsbench import link as linking
    from newsbench.cache import relabel
    from newsbench.extract import extract_article

    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not beside the repository")
    text = (BBC / "business" / "020.txt").read_text(encoding="utf-8")  # 14 claims, 13 quotes
    one = extract_article(ArticleInput("copy00", text), nlp(text))
    copies = 60
    inputs = [ArticleInput(f"copy{k:02d}", text) for k in range(copies)]
    extractions = [relabel(one, a.article_id) for a in inputs]
    assert copies > linking.MAX_POSTING
    for items in (one.claims, one.quotes):  # both pools take the inverted-index path
        assert len(items) * copies > linking.BLOCK_ALL_PAIRS
    rows = link(extractions, inputs)
    for table, cluster in (("claims", "claim_cluster_id"), ("quotes", "quote_cluster_id")):
        by_offset: dict[tuple[int, int], set[str]] = {}
        for row in rows[table]:
            fragment = len(quote_words(row["text"]).split()) <= linking.QUOTE_SHORT_WORDS
            if table == "quotes" and fragment and row["speaker_entity_id"] is None:
                continue  # by rule, an unattributed two-word fragment joins nothing
            by_offset.setdefault((row["char_start"], row["char_end"]), set()).add(row[cluster])
        assert len(by_offset) > 10, table
        for offsets, clusters in by_offset.items():
            assert len(clusters) == 1, (table, offsets, len(clusters))


def test_clustering_is_the_same_whatever_the_partition_of_its_blocks(nlp: Language) -> None:
    """Quote and claim clustering is a reduce per block (story, or the pool): run one block at
    a time (the local runner), all blocks in one call, or shuffled into hash buckets in any row
    order (what a Ray bucket gets), the rows are the same. A reduce that loses a row fails."""
    import pyarrow as pa

    from newsbench.link import link_spilled

    stories = ["s1", "s2", "s3", None]  # three stories and the pool
    articles, records = bbc_sample(nlp, "business", slice(100, 148), 48, stories)

    def rows_of(reduce: Any = None) -> dict[str, list[dict]]:
        tables = link_spilled(records, articles, *([reduce] if reduce else []))
        try:
            return {name: table.to_pylist() for name, table in tables.items()}
        finally:
            for table in tables.values():
                table.close()

    def whole(fn: Any, keys: Any, key: str) -> list[pa.Table]:
        return [fn(keys.to_table())]

    def shuffled_buckets(fn: Any, keys: Any, key: str) -> list[pa.Table]:
        table = keys.to_table()
        order = list(range(table.num_rows))
        random.Random(3).shuffle(order)
        table = table.take(pa.array(order))
        bucket = pa.array([len(block) % 2 for block in table[key].to_pylist()])
        return [fn(table.filter(pa.compute.equal(bucket, b))) for b in (0, 1)]

    def lossy(fn: Any, keys: Any, key: str) -> list[pa.Table]:
        return [fn(keys.to_table()).slice(1)]

    by_block = rows_of()
    story_of = {a.article_id: a.story_id for a in articles}
    for table, cluster in (("quotes", "quote_cluster_id"), ("claims", "claim_cluster_id")):
        rows = by_block[table]
        assert {story_of[r["article_id"]] for r in rows} == set(stories), table  # 4 blocks
        assert len({r[cluster] for r in rows}) < len(rows), f"{table}: no cluster joins rows"
    assert rows_of(whole) == by_block
    assert rows_of(shuffled_buckets) == by_block
    with pytest.raises(RuntimeError, match="lost or repeated rows"):
        rows_of(lossy)


def _edges_of(graph: dict[tuple[int, int], float]) -> Any:
    from newsbench.link import _Edges

    edges = _Edges()
    for (a, b), weight in sorted(graph.items()):
        edges.add(a, b, weight)
    return edges


def test_average_link_per_component_reads_weak_edges_inside_a_component_only() -> None:
    """Average-link run one component (of the at-or-above-threshold graph) at a time: a weak
    edge inside a component can decide a merge, one between components never can."""
    from newsbench.link import CLAIM_MIN, _average_link, _average_link_by_component

    assert CLAIM_MIN == 0.22
    strong_only = {(0, 1): 0.9, (1, 2): 0.4, (3, 4): 0.5}  # {0,1} to 2 averages 0.2: apart
    assert _average_link_by_component(5, _edges_of(strong_only), CLAIM_MIN, [1] * 5).tolist() == [
        0,
        0,
        2,
        3,
        3,
    ]
    with_weak = {**strong_only, (0, 2): 0.05, (2, 3): 0.2}  # (0.4 + 0.05) / 2 >= 0.22: joined
    labels = _average_link_by_component(5, _edges_of(with_weak), CLAIM_MIN, [1] * 5)
    assert labels.tolist() == [0, 0, 0, 3, 3]
    assert labels.tolist() == _average_link(5, with_weak, CLAIM_MIN, [1] * 5)


def test_average_link_per_component_equals_one_run_over_the_graph() -> None:
    """On sparse random graphs of groups (sizes > 1 hold summed weights), with ties, the labels
    are those of one average-link run over the whole graph."""
    from newsbench.link import CLAIM_MIN, _average_link, _average_link_by_component

    rng = random.Random(11)
    merged = 0
    for _ in range(300):
        n = rng.randint(1, 60)
        sizes = [rng.choice((1, 1, 1, 2, 5)) for _ in range(n)]
        graph: dict[tuple[int, int], float] = {}
        for _ in range(rng.randint(0, 3 * n)):
            a, b = sorted(rng.sample(range(n), 2)) if n > 1 else (0, 0)
            if a != b:
                sim = rng.choice((0.1, 0.2, 0.25, 0.3, rng.random()))  # repeated values: ties
                graph[(a, b)] = sim * sizes[a] * sizes[b]
        expected = _average_link(n, graph, CLAIM_MIN, sizes)
        assert _average_link_by_component(n, _edges_of(graph), CLAIM_MIN, sizes).tolist() == (
            expected
        )
        merged += n - len(set(expected))
    assert merged > 500  # the graphs do merge


def test_pool_claim_clusters_are_those_of_one_average_link_run(nlp: Language) -> None:
    """A pool of 100 BBC articles (above BLOCK_ALL_PAIRS claims: the inverted-index path): the
    per-component clustering gives the claim clusters one average-link run over all the pool's
    edges gives, and its components do hold weak edges."""
    from newsbench import link as linking

    articles, records = bbc_sample(nlp, "tech", slice(0, 100), 100)
    per_component = linking._average_link_by_component
    seen: dict[str, int] = {"edges": 0, "weak_inside": 0, "items": 0}

    def whole_graph(n: int, edges: Any, threshold: float, sizes: Any) -> Any:
        import numpy as np

        graph = dict(zip(zip(edges.a, edges.b, strict=True), edges.weight, strict=True))
        labels = per_component(n, edges, threshold, sizes)
        for (a, b), w in graph.items():
            weak = w / (sizes[a] * sizes[b]) < threshold
            seen["weak_inside"] += weak and labels[a] == labels[b]  # a weak edge in a cluster
        seen["edges"] += len(graph)
        seen["items"] += n
        return np.asarray(linking._average_link(n, graph, threshold, sizes))

    by_component = link(records, articles)["claims"]
    try:
        linking._average_link_by_component = whole_graph
        by_whole = link(records, articles)["claims"]
    finally:
        linking._average_link_by_component = per_component
    assert seen["items"] > linking.BLOCK_ALL_PAIRS and seen["edges"] > seen["items"]
    assert seen["weak_inside"] > 0
    assert by_component == by_whole
    clusters = [r["claim_cluster_id"] for r in by_component]
    assert len(set(clusters)) < len(clusters)


def test_similar_names_join_inside_a_block() -> None:
    """Entity linking's fuzzy step (in name_links): the pairs of one name written differently,
    inside a block (a surname for persons, a first word for other names). Blocks reduced one at
    a time or together give the same pairs; a block above BLOCK_ALL_PAIRS keys gives none."""
    import pyarrow as pa

    from newsbench.link import BLOCK_ALL_PAIRS, NAME_KEYS, name_links

    def rows(block: str, names: list[tuple[str, str]], first: int) -> pa.Table:
        return pa.Table.from_pylist(
            [
                {"block": block, "key": key, "type": kind, "node": first + k}
                for k, (key, kind) in enumerate(names)
            ],
            schema=NAME_KEYS,
        )

    sharaa = rows(
        "P:sharaa",
        [
            ("ahmad al sharaa", "PERSON"),
            ("ahmed al sharaa", "PERSON"),  # one transliteration apart: joined
            ("bashar al sharaa", "PERSON"),  # another first name: apart
            ("ahmed al-sharaa", "ORG"),  # a person never joins an organisation by spelling
        ],
        0,
    )
    house = rows(
        "N:white",
        [
            ("white house press office", "ORG"),
            ("white house press offices", "FAC"),
            ("whitehall", "ORG"),
        ],
        10,
    )

    def pairs(table: pa.Table) -> set[tuple[int, int]]:
        out = name_links(table)  # one row per key: no equal keys to join
        return set(zip(out["a"].to_pylist(), out["b"].to_pylist(), strict=True))

    assert pairs(sharaa) == {(0, 1)}
    assert pairs(house) == {(10, 11)}  # ORG ~ FAC may join
    both = pa.concat_tables([house, sharaa]).take(pa.array([5, 0, 3, 6, 1, 4, 2]))
    assert pairs(both) == pairs(sharaa) | pairs(house)
    crowded = rows(
        "P:smith", [(f"john smith{k:04d}", "PERSON") for k in range(BLOCK_ALL_PAIRS + 1)], 0
    )
    assert pairs(crowded) == set()
    assert pairs(crowded.slice(0, BLOCK_ALL_PAIRS))  # the same names in a block that fits


def test_entity_steps_are_reduces_whose_output_is_links() -> None:
    """Entity linking groups chains only inside keyed reduces, each returning links (node
    pairs): equal keys join their first chain and similar keys join by their first chains
    (name_links, by block); a story's person and non-place of one key join (story_type_links);
    a surname-only chain joins the one full name with its surname in its scope, and in a story
    the first surname-only chain of its key (surname_links). Row order never matters."""
    import pyarrow as pa

    from newsbench.link import (
        NAME_KEYS,
        STORY_NAMES,
        SURNAMES,
        name_links,
        story_type_links,
        surname_links,
    )

    def pairs(table: pa.Table) -> set[tuple[int, int]]:
        return set(zip(table["a"].to_pylist(), table["b"].to_pylist(), strict=True))

    def both_orders(fn: Any, rows: list[dict], schema: pa.Schema) -> set[tuple[int, int]]:
        forward = pairs(fn(pa.Table.from_pylist(rows, schema=schema)))
        assert pairs(fn(pa.Table.from_pylist(rows[::-1], schema=schema))) == forward
        return forward

    names = [
        {"block": "P:sharaa", "key": "ahmad al sharaa", "type": "PERSON", "node": 5},
        {"block": "P:sharaa", "key": "ahmad al sharaa", "type": "PERSON", "node": 2},
        {"block": "P:sharaa", "key": "ahmed al sharaa", "type": "PERSON", "node": 7},
        {"block": "P:sharaa", "key": "ahmed al sharaa", "type": "PERSON", "node": 9},
        {"block": "P:sharaa", "key": "bashar al sharaa", "type": "PERSON", "node": 1},
        {"block": "N:", "key": "", "type": "ORG", "node": 4},  # a key without words: equal only
        {"block": "N:", "key": "", "type": "ORG", "node": 3},
    ]
    assert both_orders(name_links, names, NAME_KEYS) == {(2, 5), (7, 9), (2, 7), (3, 4)}
    assert pairs(name_links(NAME_KEYS.empty_table())) == set()

    sep = "\x1f"
    story = [
        {"group": f"story:s1{sep}trump", "node": 6, "person": False},
        {"group": f"story:s1{sep}trump", "node": 3, "person": True},
        {"group": f"story:s1{sep}trump", "node": 8, "person": False},
        {"group": f"story:s1{sep}ford", "node": 1, "person": False},  # no person: apart
        {"group": f"story:s1{sep}ford", "node": 2, "person": False},
    ]
    assert both_orders(story_type_links, story, STORY_NAMES) == {(3, 6), (3, 8)}

    def person(group: str, node: int, entity: int | None, key: str, in_story: bool) -> dict:
        return {
            "group": group,
            "node": node,
            "entity": entity,
            "key": key,
            "surname_only": entity is None,
            "in_story": in_story,
        }

    surnames = [
        person(f"story:s1{sep}holt", 10, 4, "jane holt", True),
        person(f"story:s1{sep}holt", 11, 4, "jane holt", True),  # one entity: one full name
        person(f"story:s1{sep}holt", 12, None, "holt", True),
        person(f"story:s1{sep}holt", 15, None, "holt", True),
        person(f"story:s1{sep}ross", 20, 20, "ann ross", True),
        person(f"story:s1{sep}ross", 21, 21, "bob ross", True),  # two full names: ambiguous,
        person(f"story:s1{sep}ross", 25, None, "ross", True),  # so the story's surname-only
        person(f"story:s1{sep}ross", 22, None, "ross", True),  # chains join each other
        person(f"pool{sep}ross", 30, 30, "ann ross", False),
        person(f"pool{sep}ross", 31, 31, "bob ross", False),
        person(f"pool{sep}ross", 32, None, "ross", False),  # in the pool: stays alone
    ]
    assert both_orders(surname_links, surnames, SURNAMES) == {(4, 12), (4, 15), (22, 25)}


def test_entities_are_the_same_whatever_the_sort_budget(
    nlp: Language, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entity linking's chains, mentions and rows are sorted on disk (newsbench.spill): with a
    sort budget of a few KiB every sort is range-partitioned into many parts, and the rows are
    the same as sorted in memory."""
    from newsbench import spill

    articles, records = bbc_sample(nlp, "entertainment", slice(0, 24), 24, ["s1", "s2", None])
    in_memory = link(records, articles)
    parts: list[int] = []
    sorted_by = spill.SpilledTable.sorted_by

    def counting(self: spill.SpilledTable, key: str, budget_bytes: int | None = None) -> Any:
        parts.append(-(-self.seal().nbytes // spill.SORT_BUDGET_BYTES))
        return sorted_by(self, key, budget_bytes)

    monkeypatch.setattr(spill, "SORT_BUDGET_BYTES", 4096)
    monkeypatch.setattr(spill.SpilledTable, "sorted_by", counting)
    assert link(records, articles) == in_memory
    assert max(parts) > 10  # the entity rows were sorted in many parts
    assert len(in_memory["entities"]) > 100
    assert any(e["n_articles"] > 1 for e in in_memory["entities"])


def test_large_entities_drafted_with_arrow_equal_the_python_drafts(
    nlp: Language, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entity of many mentions is drafted with Arrow (newsbench.link._large_draft), the
    others with Python: with the threshold at 0, every entity takes the Arrow path, and every
    row (type vote, canonical name and its tie-breaks, aliases, sorted distinct mentions,
    n_articles, ids) equals the Python one."""
    from newsbench import link as linking

    articles, records = bbc_sample(nlp, "business", slice(0, 40), 40)
    by_python = link(records, articles)
    arrow_calls: list[int] = []
    large_draft = linking._large_draft

    def counting(group: Any, places: set[str]) -> Any:
        arrow_calls.append(group.num_rows)
        return large_draft(group, places)

    monkeypatch.setattr(linking, "_large_draft", counting)
    assert link(records, articles) == by_python and not arrow_calls  # below the threshold
    monkeypatch.setattr(linking, "LARGE_ENTITY_PARTS", 0)
    by_arrow = link(records, articles)
    assert len(arrow_calls) >= len(by_python["entities"])
    assert by_arrow == by_python
    people = [e for e in by_python["entities"] if e["type"] == "PERSON"]
    assert any(len(e["aliases"]) > 1 for e in people)  # a canonical name chosen among forms


def test_linking_reads_articles_in_id_order() -> None:
    """Chains are numbered in (article id, chain key) order in both passes, so extractions in
    another order are an error, not a silent misnumbering."""
    from newsbench.link import link_spilled

    first = named("a1", "Jane Holt spoke.", [("PERSON", "Jane Holt")])
    second = named("a2", "Jane Holt left.", [("PERSON", "Jane Holt")])
    inputs = [article("a1", "Jane Holt spoke."), article("a2", "Jane Holt left.")]

    class Unsorted(list):
        article_ids = ("a2", "a1")

    with pytest.raises(ValueError, match="id order"):
        link_spilled(Unsorted([second, first]), inputs)


def test_components_label_each_item_with_the_smallest_of_its_component() -> None:
    """Entities and claim clusters are connected components: each item is labelled with the
    smallest item joined to it through any chain of links, in either direction."""
    import numpy as np
    import pyarrow as pa

    from newsbench.link import NAME_PAIRS, _components, _Links

    links = _Links()
    pairs = {"a": [5, 2, 4, 9, 1], "b": [2, 7, 4, 8, 9]}  # (4, 4) is no link
    links.extend(pa.table(pairs, schema=NAME_PAIRS))
    assert len(links.a) == 4
    assert links.components(10).tolist() == [0, 1, 2, 3, 4, 2, 6, 2, 1, 1]
    assert _components(0, np.empty(0, np.int64), np.empty(0, np.int64)).tolist() == []
    assert _components(3, np.empty(0, np.int64), np.empty(0, np.int64)).tolist() == [0, 1, 2]


def test_large_blocks_cluster_out_of_core_as_in_memory(
    nlp: Language, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block of more than LARGE_BLOCK_ROWS rows is clustered from disk
    (newsbench.cluster_spilled), the others by the in-memory reduce. With every block out of
    core, or only the larger ones, and with batches of 7 rows (runs of equal keys span
    batches), a sort budget of 4 KiB (every sort in many parts) and pair chunks of 50, the
    quote and claim rows are those of the in-memory clustering."""
    from newsbench import cluster_spilled, spill
    from newsbench import link as linking

    articles, records = bbc_sample(nlp, "business", slice(200, 320), 120, ["s1", None, None, None])
    monkeypatch.setattr(cluster_spilled, "LARGE_BLOCK_ROWS", 10**9)
    in_memory = link(records, articles)
    story_of = {a.article_id: a.story_id for a in articles}
    for table, cluster in (("quotes", "quote_cluster_id"), ("claims", "claim_cluster_id")):
        pool = [r[cluster] for r in in_memory[table] if story_of[r["article_id"]] is None]
        assert len(set(pool)) < len(pool), f"{table}: no cluster joins rows of the pool"
    pool_claims = sum(story_of[r["article_id"]] is None for r in in_memory["claims"])
    assert pool_claims > linking.BLOCK_ALL_PAIRS  # the pool compares through its index

    out_of_core: list[tuple[str, str, int]] = []

    def spying(name: str) -> Any:
        fn = getattr(cluster_spilled, name)

        def spy(keys: Any) -> Any:
            blocks = set(keys.column("block"))
            assert len(blocks) == 1, "a large block is clustered alone"
            out_of_core.append((name, blocks.pop(), len(keys)))
            return fn(keys)

        return spy

    for name in ("quote_clusters", "claim_clusters"):
        monkeypatch.setattr(cluster_spilled, name, spying(name))
    monkeypatch.setattr(cluster_spilled, "BATCH_ROWS", 7)
    monkeypatch.setattr(cluster_spilled, "PAIR_CHUNK", 50)
    monkeypatch.setattr(spill, "SORT_BUDGET_BYTES", 4096)
    monkeypatch.setattr(cluster_spilled, "LARGE_BLOCK_ROWS", 0)
    assert link(records, articles) == in_memory
    assert {(name, block) for name, block, _ in out_of_core} == {
        (name, block)
        for name in ("quote_clusters", "claim_clusters")
        for block in ("pool", "story:s1")
    }
    out_of_core.clear()
    threshold = pool_claims - 1  # only the pool's claims are out of core
    monkeypatch.setattr(cluster_spilled, "LARGE_BLOCK_ROWS", threshold)
    assert link(records, articles) == in_memory
    assert out_of_core == [("claim_clusters", "pool", pool_claims)]
