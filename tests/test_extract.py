"""The per-article extractors: quote marks, quotes and speakers, name chains, claims.

Every paragraph here is written for these tests (no seed article text), so the rules are tested
on text they were not tuned on.
"""

from __future__ import annotations

import pickle

import pytest
from spacy.language import Language

from newsbench.extract import ArticleInput, extract_article, load_nlp, model_info
from newsbench.extract.claims import numbers_in
from newsbench.extract.names import load_alias_table, match_key
from newsbench.extract.quotes import find_quote_spans
from newsbench.extract.records import ArticleExtraction, Quote


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_nlp()


def extract(nlp: Language, text: str, article_id: str = "a1") -> ArticleExtraction:
    return extract_article(ArticleInput(article_id, text, outlet="Example News"), nlp(text))


def quote_with(ex: ArticleExtraction, words: str) -> Quote:
    found = [q for q in ex.quotes if words in q.text]
    assert found, f"no quote containing {words!r} in {[q.text for q in ex.quotes]}"
    return found[0]


def chain_name(ex: ArticleExtraction, key: str | None) -> str | None:
    return next((c.name for c in ex.chains if c.key == key), None)


def assert_offsets(ex: ArticleExtraction, text: str) -> None:
    for row in (*ex.mentions, *ex.quotes, *ex.claims):
        assert text[row.char_start : row.char_end] == row.text


# --- pairing quotation marks (no parser needed) -----------------------------------------------


def inner(text: str) -> list[str]:
    return [text[s.start : s.end] for s in find_quote_spans(text)]


def test_straight_and_curly_marks_pair() -> None:
    text = 'She said "we are ready" and “we will win”.'
    assert inner(text) == ["we are ready", "we will win"]


def test_quote_over_two_paragraphs_is_one_span() -> None:
    text = '"The first part goes on here.\n\n"And the second part ends it," he said.'
    spans = find_quote_spans(text)
    assert len(spans) == 1
    assert text[spans[0].start : spans[0].end].startswith("The first part")
    assert text[spans[0].start : spans[0].end].endswith("ends it,")


def test_unclosed_quote_is_repaired_at_the_paragraph_end() -> None:
    text = 'He said: "we never close this one at all\n\nA new paragraph follows.'
    spans = find_quote_spans(text)
    assert [text[s.start : s.end] for s in spans] == ["we never close this one at all"]
    assert spans[0].repaired


def test_stray_marks_never_crash() -> None:
    for text in ['"', '""', 'a " b', "” backwards “", "'", "it's 5'10\" tall", '"\n\n"\n"']:
        for span in find_quote_spans(text):
            assert 0 <= span.start <= span.end <= len(text)


def test_apostrophes_are_not_single_quotes() -> None:
    assert inner("The players' union said it's Tom's call.") == []
    assert inner("They called it 'Operation Sunrise' in May.") == ["Operation Sunrise"]


# --- quotes and speakers ----------------------------------------------------------------------


def test_direct_quote_with_trailing_attribution(nlp: Language) -> None:
    text = '"We will rebuild the bridge before the winter," the mayor said on Friday.'
    ex = extract(nlp, text)
    q = quote_with(ex, "rebuild the bridge")
    assert q.text == "We will rebuild the bridge before the winter,"  # marks excluded
    assert (q.kind, q.cue, q.speaker_text) == ("direct", "said", "the mayor")
    assert_offsets(ex, text)


def test_partial_quote_and_named_speaker(nlp: Language) -> None:
    text = "Opposition leader Maria Lopez said the budget was “a complete disaster” for farmers."
    ex = extract(nlp, text)
    q = quote_with(ex, "complete disaster")
    assert q.kind == "partial"
    assert chain_name(ex, q.speaker_chain) == "Maria Lopez"


def test_colon_introduces_a_direct_quote(nlp: Language) -> None:
    text = 'Tom Brady told the BBC: "I have played my last game."'
    ex = extract(nlp, text)
    q = quote_with(ex, "last game")
    assert (q.kind, q.cue) == ("direct", "told")
    assert chain_name(ex, q.speaker_chain) == "Tom Brady"


def test_pronoun_speaker_is_the_previous_person(nlp: Language) -> None:
    text = (
        "Carlos Mendes, the head of the dockworkers' union, met reporters on Tuesday.\n\n"
        '"We are not going back to work until the contract is signed," he said.'
    )
    ex = extract(nlp, text)
    q = quote_with(ex, "not going back")
    assert chain_name(ex, q.speaker_chain) == "Carlos Mendes"


def test_unattributed_quote_paragraph_continues_the_speaker(nlp: Language) -> None:
    text = (
        '"The harvest was the worst in thirty years," farmer Anna Weber told reporters.\n\n'
        '"Nobody here has seen anything like it and we are all worried about next year."'
    )
    ex = extract(nlp, text)
    q = quote_with(ex, "Nobody here")
    assert q.kind == "direct"
    assert chain_name(ex, q.speaker_chain) == "Anna Weber"


def test_indirect_speech_and_according_to(nlp: Language) -> None:
    text = (
        "Officials said the steel plant would close in June. "
        "According to the regional council, about 400 workers will lose their jobs."
    )
    ex = extract(nlp, text)
    plant = quote_with(ex, "steel plant")
    assert (plant.kind, plant.text, plant.speaker_text) == (
        "indirect",
        "the steel plant would close in June",
        "Officials",
    )
    jobs = quote_with(ex, "400 workers")
    assert jobs.kind == "indirect" and jobs.cue == "according to"
    assert jobs.text.startswith("about 400 workers")


def test_unnamed_source_keeps_its_description(nlp: Language) -> None:
    text = "The talks will resume next week, a senior European diplomat said."
    ex = extract(nlp, text)
    q = quote_with(ex, "talks will resume")
    assert q.speaker_chain is None
    assert q.speaker_text == "a senior European diplomat"


def test_scare_quotes_and_quoted_names_are_not_speech(nlp: Language) -> None:
    text = (
        'The so-called "reform" was passed on Monday. '
        "He used to write for 'The Guardian' in London."
    )
    ex = extract(nlp, text)
    assert [q for q in ex.quotes if q.kind != "indirect"] == []


def test_unbalanced_marks_in_an_article_do_not_crash(nlp: Language) -> None:
    text = (
        'The minister said "the road will open in May.\n\n'
        "Traffic has been diverted since January.\n\n"
        "Local drivers” complained about the “delays for weeks, one resident said."
    )
    ex = extract(nlp, text)
    assert_offsets(ex, text)


def test_multi_paragraph_quote_is_one_row(nlp: Language) -> None:
    text = (
        'Coach Ellen Park was blunt. "We did not defend well enough in the first half.\n\n'
        '"And in the second half we simply ran out of energy," she said.'
    )
    ex = extract(nlp, text)
    q = quote_with(ex, "did not defend")
    assert "ran out of energy" in q.text
    assert chain_name(ex, q.speaker_chain) == "Ellen Park"


# --- entities and name chains -----------------------------------------------------------------


def test_surname_joins_the_full_name_and_titles_are_stripped(nlp: Language) -> None:
    text = (
        "President Joe Biden arrived in Berlin on Monday. Chancellor Olaf Scholz greeted him. "
        "Biden's visit was short. Later Scholz said the talks went well."
    )
    ex = extract(nlp, text)
    by_text = {m.text: m for m in ex.mentions}
    assert "Joe Biden" in by_text and "President Joe Biden" not in by_text
    assert "Biden" in by_text and "Biden's" not in by_text  # possessive stripped
    assert by_text["Biden"].chain == by_text["Joe Biden"].chain
    assert by_text["Scholz"].chain == by_text["Olaf Scholz"].chain
    assert by_text["Biden"].chain != by_text["Scholz"].chain
    assert_offsets(ex, text)


def test_titles_before_a_name_are_found_longest_first(nlp: Language) -> None:
    from newsbench.extract.entities import _after_title
    from newsbench.extract.names import strip_title

    table = load_alias_table()
    assert strip_title(["Prime", "Minister", "Keir", "Starmer"], table) == 2
    assert strip_title(["Deputy", "Prime", "Minister", "Angela", "Rayner"], table) == 3
    assert strip_title(["President", "Biden"], table) == 1
    assert strip_title(["President"], table) == 0  # a title alone is the name
    assert strip_title(["Keir", "Starmer"], table) == 0
    text = "Talks with Foreign Minister Lavrov ended. Talks with the ministry ended."
    doc = nlp(text)
    assert _after_title(doc, text.index("Lavrov"), table)
    assert not _after_title(doc, text.index("ministry"), table)
    assert not _after_title(doc, 0, table)


def test_acronym_defined_in_parentheses_joins_its_name(nlp: Language) -> None:
    text = (
        "The World Food Programme (WFP) sent trucks to the region. "
        "WFP said more convoys would follow."
    )
    ex = extract(nlp, text)
    chains = {m.text: m.chain for m in ex.mentions}
    assert chains.get("WFP") == chains.get("World Food Programme")


def test_alias_table_keys() -> None:
    table = load_alias_table()
    assert match_key("ISIL", "ORG", table) == match_key("Daesh", "GPE", table)
    assert match_key("U.S.", "GPE", table) == match_key("United States", "GPE", table)
    assert match_key("Britain", "GPE", table) == match_key("UK", "GPE", table)
    coalition = match_key("Global Coalition to Defeat ISIL", "ORG", table)
    assert coalition == match_key("Global Coalition to Defeat Islamic State", "ORG", table)
    assert coalition != match_key("ISIL", "ORG", table)
    assert match_key("Mohammed bin Salman", "PERSON", table) == match_key(
        "Muhammad bin Salman", "PERSON", table
    )
    assert match_key("is", "ORG", table) != match_key("IS", "ORG", table)  # capitals only


# --- claims -----------------------------------------------------------------------------------


def test_claims_are_factual_clauses(nlp: Language) -> None:
    text = (
        "The company cut 300 jobs at its Ohio plant in March. "
        "Will the workers ever come back? "
        "I think this is a very sad day."
    )
    ex = extract(nlp, text)
    texts = [c.text for c in ex.claims]
    assert any("cut 300 jobs" in t for t in texts)
    assert not any("?" in t or "sad day" in t for t in texts)
    claim = next(c for c in ex.claims if "cut 300 jobs" in c.text)
    assert claim.claimant_text == "Example News"  # the outlet asserts unattributed facts
    assert "300" in claim.numbers
    assert_offsets(ex, text)


def test_attributed_claim_belongs_to_the_speaker(nlp: Language) -> None:
    text = "The mine will close in 2027 with the loss of 1,200 jobs, the energy minister said."
    ex = extract(nlp, text)
    claim = next(c for c in ex.claims if "mine will close" in c.text)
    assert claim.claimant_text == "the energy minister"
    assert set(claim.numbers) >= {"2027", "1200"}


def test_significance_clause_is_not_a_claim(nlp: Language) -> None:
    text = (
        "The merger of Northwind and Contoso marks a profound change for the Danish brewing "
        "industry. Northwind bought Contoso for 900 million euros in Copenhagen."
    )
    texts = [c.text for c in extract(nlp, text).claims]
    assert not any("marks a profound change" in t for t in texts), texts
    assert any("bought Contoso" in t for t in texts), texts


def test_citing_participle_stays_in_its_claim(nlp: Language) -> None:
    text = (
        "In 2019, the regulator fined Northwind Brewing, citing safety failures at its Leeds plant."
    )
    ex = extract(nlp, text)
    texts = [c.text for c in ex.claims]
    assert any("fined Northwind Brewing, citing safety failures" in t for t in texts), texts
    assert not any(t.startswith("citing") for t in texts), texts
    assert_offsets(ex, text)


def test_coincident_clause_is_a_claim_of_its_own(nlp: Language) -> None:
    text = (
        "Chancellor Olaf Berger received the Polish prime minister in Berlin on Tuesday "
        "as the two governments signed a gas pipeline agreement."
    )
    ex = extract(nlp, text)
    texts = [c.text for c in ex.claims]
    assert any(t.endswith("in Berlin on Tuesday") for t in texts), texts
    assert "the two governments signed a gas pipeline agreement" in texts, texts
    assert_offsets(ex, text)


def test_numbers_are_normalised() -> None:
    assert numbers_in("the 90th member, 1,200 jobs and four months") == ("1200", "4", "90")


# --- the contract -----------------------------------------------------------------------------


def test_extraction_is_picklable_and_pure(nlp: Language) -> None:
    text = '"Prices will fall," Anna Weber said in Vienna on Monday.'
    first = extract(nlp, text)
    again = extract(nlp, text)
    assert first == again
    assert pickle.loads(pickle.dumps(first)) == first


def test_parse_must_be_of_the_article_text(nlp: Language) -> None:
    with pytest.raises(ValueError, match="parse"):
        extract_article(ArticleInput("a1", "One text."), nlp("Another text."))


def test_missing_model_error_names_model_and_package() -> None:
    with pytest.raises(RuntimeError, match="no_such_model_xyz"):
        load_nlp("no_such_model_xyz")


def test_model_info_for_the_manifest(nlp: Language) -> None:
    info = model_info(nlp)
    assert info["name"].startswith("en_core_web_sm")
    assert info["version"] and info["spacy"]
    assert "parser" in info["components"] and "ner" in info["components"]


def test_model_description_without_loading_matches_the_loaded_pipeline(nlp: Language) -> None:
    from newsbench.extract import describe_model, model_info

    assert describe_model(None) == model_info(nlp)
