"""The normalizer on the real seeds, the whole BBC corpus, each rule kind, and random input."""

from __future__ import annotations

import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbench.normalize import check_partition, load_rules, normalize, normalize_span
from newsbench.read import discover, read_source

from conftest import RAW

# What a reader of each raw seed sees, written by hand from the raw files (not program output).
SEEDS = {
    "000_e5de351659e7d52d": dict(
        title="Syria joins anti-ISIL alliance after landmark White House talks",
        first="Syria is joining the global coalition against the ISIL terrorist organization",
        last="suggested talks facilitated by Trump and Washington could help start negotiations.",
        reasons={"duplicate-title", "dateline", "caption"},
        gone=["In this photo released by Syrian Presidency", "WASHINGTON\n"],
    ),
    "001_bed9e1f06f7786ba": dict(
        title="Meeting with Trump: Syria joins US-led coalition against IS",
        first="Syria has joined the US-led coalition to combat the terrorist organization",
        last="under the so-called Caesar Act would be suspended for another 180 days.",
        reasons={"dateline", "newsletter", "credit-line"},
        gone=["By subscribing to the newsletter", "Every other Tuesday", "RND/AP", "\nrnd"],
    ),
    "002_0087b19c8e1d121b": dict(
        title="Syria to Join US-Led Coalition Against Islamic State After Trump Meeting",
        first="Syria will join the international coalition to combat the Islamic State group",
        last='addressing "foreign terrorists" and militant groups operating in the country.',
        reasons={
            "duplicate-title",
            "share-widget",
            "comments-widget",
            "newsletter",
            "appended-unrelated-story",
        },
        gone=[
            "Share this post",
            "Comments",
            "Be the first to know",
            "Subscribing",
            "Grammys",
            "Rock Hall of Fame",
            "Knives Out",
            "Kendrick Lamar",
            "O A",
        ],
    ),
    "003_1aac22ea31ac63a2": dict(
        title="Syria joins alliance against Daesh after White House talks",
        first="Syria is joining the global coalition against Daesh, a US official said Monday",
        last="in their first meeting since the removal of Assad, a key Kremlin ally.",
        reasons={"caption", "audio-note", "summary"},
        gone=[
            "(L) shaking hands",
            "AI technology was used",
            "- Syria is joining",
            "- Syrian President Ahmed al-Sharaa visited",
        ],
    ),
    "004_7f75fb188196c575": dict(
        title=None,
        first="DONALD Trump welcomed the Syrian President and ex-Jihadi fighter",
        last="slammed for links to killings of members of Syria’s Alawite minority.",
        reasons=set(),
        gone=[],
    ),
}


@pytest.mark.parametrize("article_id", sorted(SEEDS))
def test_seed_cleaned_as_a_reader_would(article_id: str) -> None:
    raw = (RAW / f"{article_id}.txt").read_text(encoding="utf-8")
    result = normalize(raw)
    want = SEEDS[article_id]
    assert check_partition(raw, result) == []
    assert result.title == want["title"]
    assert result.text.startswith(want["first"])
    assert result.text.endswith(want["last"])  # the last body sentence is kept
    reasons = {s.label for s in result.removed} - {"whitespace"}
    assert reasons == want["reasons"]
    for fragment in want["gone"]:
        assert fragment.strip() not in result.text
    # paragraphs kept, separated by exactly one blank line
    assert "\n\n\n" not in result.text and all(p.strip() == p for p in result.text.split("\n\n"))


@pytest.mark.parametrize("article_id", sorted(SEEDS))
def test_words_are_never_changed(article_id: str) -> None:
    raw = (RAW / f"{article_id}.txt").read_text(encoding="utf-8")
    result = normalize(raw)
    kept_words = Counter(
        w
        for s in result.kept
        if s.label == "body"
        for w in unicodedata.normalize("NFC", raw[s.start : s.end]).split()
    )
    assert Counter(result.text.split()) == kept_words


def test_seed_002_keeps_the_story_and_drops_everything_appended() -> None:
    raw = (RAW / "002_0087b19c8e1d121b.txt").read_text(encoding="utf-8")
    result = normalize(raw)
    appended = [s for s in result.removed if s.label == "appended-unrelated-story"]
    assert len(appended) == 1
    assert raw[appended[0].start : appended[0].end].startswith("Listen to the 8 Songs")
    assert appended[0].end == len(raw)  # everything to the end of the file


def test_provenance_partition_holds_for_every_bbc_article(bbc: Path) -> None:
    sources, problems = discover(bbc)
    assert problems == []
    assert len(sources) == 1808  # 510 + 386 + 511 + 401 (README.TXT is not an article)
    n_ok, rejected = 0, []
    for source in sources:
        doc = read_source(source)
        if not hasattr(doc, "raw_text"):
            rejected.append(doc.file)
            continue
        result = normalize(doc.raw_text)
        assert check_partition(doc.raw_text, result) == [], source.source_file
        assert result.title and result.text, source.source_file
        n_ok += 1
    assert rejected == ["sport/199.txt"]  # the one Latin-1 file: rejected, never guessed
    assert n_ok == 1807


def test_latin1_file_partitions_when_its_encoding_is_declared(bbc: Path) -> None:
    raw = (bbc / "sport" / "199.txt").read_bytes().decode("latin-1")
    result = normalize(raw)
    assert check_partition(raw, result) == []
    assert "£" in result.text


# --- one synthetic example per rule kind -------------------------------------------------------

BODY = "The council approved the budget on Tuesday after a long debate.\n\nIt passes next week."


@pytest.mark.parametrize(
    ("inserted", "reason", "where"),
    [
        ("Photo: a protester holds a sign outside parliament", "caption", "head"),
        ("Ministers meet in Brussels (L) before the vote", "caption", "body"),
        ("The mayor speaks to reporters on Monday. Reuters", "caption", "body"),
        ("By Jane Doe and John Smith", "byline", "head"),
        ("LONDON", "dateline", "head"),
        ("• Budget approved\n• Vote next week", "summary", "head"),
        ("Listen to this article", "audio-note", "head"),
        ("Morning Briefing: the news you need. Every weekday.", "newsletter", "body"),
        ("Sign up for our daily newsletter", "newsletter", "body"),
    ],
)
def test_each_rule_kind_removes_its_line(inserted: str, reason: str, where: str) -> None:
    title = "Council approves city budget"
    if where == "head":
        raw = f"{title}\n{inserted}\n{BODY}\n"
    else:
        first, rest = BODY.split("\n\n")
        raw = f"{title}\n\n{first}\n\n{inserted}\n\n{rest}\n"
    result = normalize(raw)
    assert check_partition(raw, result) == []
    assert result.title == title
    assert reason in {s.label for s in result.removed}
    assert inserted.splitlines()[0] not in result.text
    assert result.text.endswith("It passes next week.")


def test_trailing_credit_and_related_links_end_the_article() -> None:
    raw = (
        "Council approves city budget\n\nThe council approved the budget.\n\n"
        "Related stories\n\nMayor resigns over scandal\n\nSchools reopen\n\n(AFP)\n"
    )
    result = normalize(raw)
    assert result.text == "The council approved the budget."
    labels = [s.label for s in result.removed]
    assert "related-links" in labels and "appended-unrelated-story" in labels


def test_inline_dateline_is_cut_but_honorifics_are_not() -> None:
    raw = "Budget passes\n\nBerlin. The Bundestag passed the budget.\n"
    assert normalize(raw).text == "The Bundestag passed the budget."
    raw = "Budget passes\n\nMr. Scholz said the budget passed.\n"
    assert normalize(raw).text == "Mr. Scholz said the budget passed."


def test_mojibake_repaired_and_invisible_characters_dropped_words_kept() -> None:
    raw = "Headline here\n\nThe minister didnâ€™t say\u200b when.\u202e  Itâ€™s  late.\r\n"
    result = normalize(raw)
    assert result.text == "The minister didn’t say when. It’s late."
    assert check_partition(raw, result) == []
    assert normalize_span("Caf\u0065\u0301") == "Café"  # NFC


def test_a_file_with_only_boilerplate_has_no_text() -> None:
    raw = "Share this post\nComments\n"
    result = normalize(raw)
    assert result.text == ""
    assert check_partition(raw, result) == []


def test_rules_file_is_data_a_maintainer_can_extend(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    packaged = Path(load_rules().source).read_text(encoding="utf-8")
    extra = "  - reason: sponsor\n    where: anywhere\n    match: '^Sponsored by '\n"
    rules.write_text(packaged + extra, encoding="utf-8")
    raw = "Budget passes\n\nSponsored by ACME Corp\n\nThe council passed the budget.\n"
    result = normalize(raw, load_rules(str(rules)))
    assert "sponsor" in {s.label for s in result.removed}
    assert result.text == "The council passed the budget."


# --- property tests ------------------------------------------------------------------------------

BOILERPLATE = [
    "Share this post",
    "Comments",
    "By subscribing to the newsletter, I agree.",
    "Note: AI technology was used to generate this article’s audio.",
    "WASHINGTON",
    "In this photo released by the press office, two leaders meet.",
    "RND/AP",
    "- bullet",
]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_partitions_exactly(raw: str) -> None:
    result = normalize(raw)
    assert check_partition(raw, result) == []


@settings(max_examples=200, deadline=None)
@given(
    paragraphs=st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1),
        min_size=1,
        max_size=8,
    ),
    inserts=st.lists(st.tuples(st.integers(0, 8), st.sampled_from(BOILERPLATE)), max_size=4),
    sep=st.sampled_from(["\n", "\n\n", "\r\n", "\n \n"]),
)
def test_boilerplate_inserted_anywhere_keeps_the_partition(paragraphs, inserts, sep) -> None:
    lines = list(paragraphs)
    for pos, line in inserts:
        lines.insert(min(pos, len(lines)), line)
    raw = sep.join(lines)
    result = normalize(raw)
    assert check_partition(raw, result) == []
    kept_ranges = [(s.start, s.end) for s in result.kept]
    for s in result.removed:  # no removed character is inside a kept span
        assert all(s.end <= a or b <= s.start for a, b in kept_ranges)


def test_windows_1252_quote_marks_at_a_line_edge_are_restored_not_trimmed() -> None:
    raw = "Title\n\n\x93Hello\x94 he said.\n"  # cp1252 quotes mis-decoded as C1 controls
    result = normalize(raw)
    assert result.text == "“Hello” he said."
    assert check_partition(raw, result) == []
