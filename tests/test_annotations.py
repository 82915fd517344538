"""Gold anchors resolve by string; failures name file, annotation and closest match."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsbench.annotations import load_annotations, resolve

TEXT = (
    'Trump met Ahmed al-Sharaa. Trump said Syria would be "very successful". '
    "Sharaa said the talks were good. Syrians cheered in Syria."
)
ARTICLES = {"a1": {"article_id": "a1", "text": TEXT, "outlet": "Example Wire"}}


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "annotations"
    folder.mkdir()
    for name, body in files.items():
        (folder / name).write_text(body, encoding="utf-8")
    return folder


REGISTRY = """entities:
  - {id: donald-trump, name: Donald Trump, type: PERSON}
  - {id: ahmed-al-sharaa, name: Ahmed al-Sharaa, type: PERSON}
  - {id: syria, name: Syria, type: GPE}
  - {id: syrian, name: Syrian, type: NORP}
"""


def test_anchors_resolve_to_offsets(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "entities.yaml": REGISTRY,
            "a1.yaml": """article_id: a1
mentions:
  ahmed-al-sharaa: [Ahmed al-Sharaa, {text: Sharaa, occurrence: 2}]
  donald-trump: [{text: Trump, occurrence: all}]
  syria: [{text: Syria, occurrence: all}]
  syrian: [Syrians]
quotes:
  - {text: very successful, speaker: donald-trump, cue: said, kind: partial, cluster: vs}
  - {text: the talks were good, speaker: ahmed-al-sharaa, cue: said, kind: indirect, cluster: tg}
claims:
  - {text: Trump met Ahmed al-Sharaa, cluster: met}
""",
        },
    )
    ann, problems = load_annotations(folder, tmp_path)
    assert problems == []
    rows, gold_ids, problems = resolve(ann, ARTICLES)
    assert problems == [] and gold_ids == {"a1"}
    ents = {e["entity_id"]: e for e in rows["entities"]}
    # "Syria" is whole-word: twice, never inside "Syrians"
    assert [(m["char_start"], m["text"]) for m in ents["syria"]["mentions"]] == [
        (TEXT.index("Syria would"), "Syria"),
        (TEXT.rindex("Syria"), "Syria"),
    ]
    # "-" is neither letter nor digit, so "Sharaa" also occurs inside "al-Sharaa": occurrence 2
    assert ents["ahmed-al-sharaa"]["aliases"] == ["Ahmed al-Sharaa", "Sharaa"]
    assert ents["donald-trump"]["n_articles"] == 1 and len(ents["donald-trump"]["mentions"]) == 2
    q = {r["text"]: r for r in rows["quotes"]}
    assert q["very successful"]["speaker"] == "Donald Trump"
    assert (
        TEXT[q["very successful"]["char_start"] : q["very successful"]["char_end"]]
        == "very successful"
    )
    claim = rows["claims"][0]
    assert claim["claimant"] == "Example Wire" and claim["claimant_entity_id"] is None  # the outlet


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "quotes:\n  - {text: very sucessful, kind: partial, cluster: x}\n",
            ["not found", "closest match 'very successful'"],
        ),
        ("claims:\n  - {text: Trump, cluster: x}\n", ["matches 2 times", "occurrence"]),
        ("claims:\n  - {text: Trump, occurrence: 5, cluster: x}\n", ["out of range"]),
        (
            "quotes:\n  - {text: very successful, speaker: nobody, kind: partial, cluster: x}\n",
            ["unknown entity 'nobody'"],
        ),
        ("quotes:\n  - {text: very successful, kind: yelled, cluster: x}\n", ["kind 'yelled'"]),
        ("claims:\n  - {text: Trump met Ahmed al-Sharaa}\n", ["missing `cluster:`"]),
        (
            "mentions:\n  syria: [{text: Syria, occurrence: 1}, {text: Syria, occurrence: 1}]\n",
            ["overlaps"],
        ),
    ],
)
def test_broken_anchors_are_reported(tmp_path: Path, body: str, expected: list[str]) -> None:
    folder = _folder(tmp_path, {"entities.yaml": REGISTRY, "a1.yaml": "article_id: a1\n" + body})
    ann, problems = load_annotations(folder, tmp_path)
    _, _, more = resolve(ann, ARTICLES)
    rendered = "\n".join(p.render() for p in problems + more)
    assert "annotations/a1.yaml" in rendered
    for word in expected:
        assert word in rendered, rendered


def test_unknown_article_and_bad_yaml_are_reported(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "entities.yaml": REGISTRY,
            "x.yaml": "article_id: nope\nclaims: []\n",
            "y.yaml": "article_id: a1\nclaims: [\n",
            "z.yaml": "entities:\n  - {id: q, name: Q, type: DATE}\n",
        },
    )
    ann, problems = load_annotations(folder, tmp_path)
    _, _, more = resolve(ann, ARTICLES)
    rendered = "\n".join(p.render() for p in problems + more)
    assert "annotations/x.yaml" in rendered and "unknown article_id 'nope'" in rendered
    assert "annotations/y.yaml" in rendered and "malformed YAML" in rendered
    assert "annotations/z.yaml" in rendered and "unknown type 'DATE'" in rendered


def test_passes_folder_is_not_gold(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"entities.yaml": REGISTRY})
    (folder / "passes" / "pass2").mkdir(parents=True)
    (folder / "passes" / "pass2" / "a1.yaml").write_text("article_id: a1\nclaims: []\n")
    ann, problems = load_annotations(folder, tmp_path)
    assert problems == [] and dict(ann.articles) == {}
