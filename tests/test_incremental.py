"""Incremental rebuilds: unchanged raw files are neither cleaned nor parsed again, and the output
is byte for byte the output of a build without any cache.

Real data: the five seeds plus BBC articles; the counts come from the stage statistics that the
build reports (newsbench.pipeline.StageStats.notes), not from the cache folder's layout.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from newsbench.cache import prepare_fingerprint
from newsbench.normalize import default_rules_path
from newsbench.pipeline import BuildConfig, BuildResult, build

from conftest import RAW

BBC_FILES = ("business/001.txt", "sport/002.txt", "tech/003.txt", "entertainment/004.txt")


def corpus(tmp: Path, bbc: Path) -> Path:
    raw = tmp / "raw"
    raw.mkdir()
    for seed in sorted(RAW.glob("*.txt")):
        shutil.copy2(seed, raw / seed.name)
    shutil.copy2(RAW / "sources.yaml", raw / "sources.yaml")
    for rel in BBC_FILES[:3]:
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(bbc / rel, raw / rel)
    return raw


def run(raw: Path, out: Path, cache: Path | None, rules: Path | None = None) -> BuildResult:
    cfg = BuildConfig(
        raw=raw,
        out=out / "newsbench",
        use_gold=False,
        cache=cache,
        workers=1,
        with_figures=False,
        rules=rules,
    )
    return build(cfg)


def cache_counts(result: BuildResult) -> dict[str, tuple[int, int]]:
    notes = {st.name: st.notes for st in result.stages}
    return {
        stage: (notes[stage]["cache_hits"], notes[stage]["cache_misses"])
        for stage in ("read+normalize", "extract+link")
    }


def same_bytes(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory, bbc: Path) -> tuple[Path, Path, BuildResult]:
    tmp = tmp_path_factory.mktemp("incremental")
    raw = corpus(tmp, bbc)
    cache = tmp / "cache"
    return raw, cache, run(raw, tmp / "cold", cache)


def test_cold_build_computes_every_article(warm: tuple[Path, Path, BuildResult]) -> None:
    _, _, cold = warm
    assert cache_counts(cold) == {"read+normalize": (0, 8), "extract+link": (0, 8)}


def test_adding_one_article_recomputes_only_that_article(
    warm: tuple[Path, Path, BuildResult], bbc: Path, tmp_path: Path
) -> None:
    raw, cache, _ = warm
    added = raw / BBC_FILES[3]
    added.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(bbc / BBC_FILES[3], added)
    try:
        again = run(raw, tmp_path / "warm", cache)
        assert cache_counts(again) == {"read+normalize": (8, 1), "extract+link": (8, 1)}
        assert again.counts["articles"] == 9
        same_bytes(run(raw, tmp_path / "uncached", None).out, again.out)
    finally:
        added.unlink()


def test_an_edit_the_cleaner_removes_reuses_the_extraction(
    warm: tuple[Path, Path, BuildResult], tmp_path: Path
) -> None:
    """New raw bytes (a share line appended) are cleaned again; the cleaned text is unchanged,
    so spaCy and the extractors are not run again."""
    raw, cache, _ = warm
    edited = raw / BBC_FILES[0]
    original = edited.read_bytes()
    edited.write_bytes(original + b"\n\nShare this post\n")
    try:
        again = run(raw, tmp_path / "warm", cache)
        assert cache_counts(again) == {"read+normalize": (7, 1), "extract+link": (8, 0)}
        same_bytes(run(raw, tmp_path / "uncached", None).out, again.out)
    finally:
        edited.write_bytes(original)


def test_changed_rules_invalidate_the_prepare_cache(
    warm: tuple[Path, Path, BuildResult], tmp_path: Path
) -> None:
    raw, cache, _ = warm
    rules = tmp_path / "normalize.yaml"
    rules.write_text(default_rules_path().read_text(encoding="utf-8") + "\n# edited\n")
    assert prepare_fingerprint(rules) != prepare_fingerprint(default_rules_path())
    again = run(raw, tmp_path / "warm", cache, rules)
    assert cache_counts(again)["read+normalize"] == (0, 8)
    assert cache_counts(again)["extract+link"] == (8, 0)  # same cleaned texts


def truncated(blob: bytes) -> bytes:
    return blob[:10]


def one_byte_flipped(blob: bytes) -> bytes:
    """Same length, one byte changed: it may still unpickle (into a wrong row), so only the
    entry's checksum can tell."""
    changed = bytearray(blob)
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


@pytest.mark.parametrize("damage", [truncated, one_byte_flipped])
def test_a_damaged_cache_entry_is_a_miss_and_is_rewritten(
    warm: tuple[Path, Path, BuildResult], tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    """Entries are written atomically, but a disk can still damage one: it must be recomputed
    (never read as a bad row) and replaced, so the next build hits again."""
    raw, cache, _ = warm
    for folder in ("prepare", "extract"):
        for entry in (cache / folder).rglob("*.pkl"):
            entry.write_bytes(damage(entry.read_bytes()))
    again = run(raw, tmp_path / "damaged", cache)
    assert cache_counts(again) == {"read+normalize": (0, 8), "extract+link": (0, 8)}
    same_bytes(run(raw, tmp_path / "uncached", None).out, again.out)
    assert cache_counts(run(raw, tmp_path / "repaired", cache)) == {
        "read+normalize": (8, 0),
        "extract+link": (8, 0),
    }


def test_a_runner_that_loses_a_batch_fails_the_build(
    warm: tuple[Path, Path, BuildResult], tmp_path: Path
) -> None:
    """Extractions are collected by article id into the spill file: a runner that drops a
    result batch must stop the build, never publish the articles without their rows."""
    from newsbench import pipeline
    from newsbench.runner import LocalRunner

    class Lossy(LocalRunner):
        def map_batches(self, fn, batches):  # type: ignore[no-untyped-def]
            results = list(super().map_batches(fn, batches))
            yield from results[:-1]

    raw, _, _ = warm
    cfg = BuildConfig(raw=raw, out=tmp_path / "out", cache=None, with_figures=False)
    articles, _, _ = pipeline.prepare_stage(cfg, LocalRunner(1))
    with pytest.raises(RuntimeError, match=r"extraction returned \d+ of \d+ articles"):
        pipeline.extract_stage(articles, cfg, Lossy(1))
