"""The build, stage by stage: read → normalize → annotate/extract → link → validate → write → card.

Data flows one way. Each stage is a small function with per-stage stats (rows in and out, time),
and per-article work (read, normalize, extract) is pure so it can run in worker processes.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

from newsbench import __version__, stages
from newsbench import annotations as gold
from newsbench.cache import (
    PackedExtractions,
    ResultCache,
    extractor_fingerprint,
    prepare_fingerprint,
)
from newsbench.dedup import NUM_PERM, signature_matrix
from newsbench.faults import checkpoint
from newsbench.problems import BuildFailed, Problem
from newsbench.read import MAX_FILE_BYTES, discover
from newsbench.runner import LocalRunner, batched
from newsbench.spill import SpilledTable
from newsbench.stages import ExtractTask, PrepareTask
from newsbench.tables import Catalog, arrow_schema, load_catalog
from newsbench.validate import validate_tables
from newsbench.write import sha256_file

if TYPE_CHECKING:
    from newsbench.engines import Runner

Tables = dict[str, Any]  # table name -> rows: a list of dicts or a SpilledTable
PREPARE_BATCH = 64
EXTRACT_BATCH = 32


@dataclass(frozen=True)
class BuildConfig:
    raw: Path = Path("raw")
    out: Path = Path("dist/newsbench")
    on_error: Literal["fail", "skip"] = "fail"
    use_gold: bool = True
    model: str | None = None
    text_policy: Literal["full", "reference"] = "full"
    rules: Path | None = None
    max_file_bytes: int = MAX_FILE_BYTES
    lock_timeout: float = 0.0
    workers: int = 1
    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    cache: Path | None = None  # per-article extraction cache; None: no cache
    with_figures: bool = True
    baseline: bool = True  # score the extractors on the gold articles for the card
    max_shard_bytes: int = 500 * 1024 * 1024
    row_group_size: int = 10_000
    version: str = __version__  # the release version written into croissant.json and the card


@dataclass
class StageStats:
    name: str
    seconds: float = 0.0
    rows_in: int = 0
    rows_out: int = 0
    peak_rss_mib: float = 0.0  # the build process's peak resident memory at the stage's end
    notes: dict[str, Any] = field(default_factory=dict)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (workers are measured by bench/)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


@dataclass
class BuildResult:
    out: Path
    counts: dict[str, int]
    rejects: list[Problem]
    stages: list[StageStats]
    manifest: dict[str, Any]


class Progress:
    """Stage timing, and rich progress bars on a terminal (never in logs or CI output)."""

    def __init__(self, show: bool = False) -> None:
        self.stages: list[StageStats] = []
        self._bars: Any = None
        self._task: Any = None
        self._totals: dict[Any, int] = {}
        if show:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )

            self._bars = RichProgress(
                TextColumn("{task.description:<16}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> Progress:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()

    @contextmanager
    def stage(self, name: str, rows_in: int = 0, total: int | None = None) -> Iterator[StageStats]:
        stats = StageStats(name, rows_in=rows_in)
        task, outer = None, self._task  # stages may nest (the card inside the write)
        if self._bars is not None:
            task = self._task = self._bars.add_task(name, total=total)
        start = time.perf_counter()
        try:
            yield stats
        finally:
            stats.seconds = round(time.perf_counter() - start, 3)
            stats.peak_rss_mib = peak_rss_mib()
            self.stages.append(stats)
            if self._bars is not None:
                done = self._totals.get(task, total) or 1
                self._bars.update(task, total=done, completed=done)
                self._task = outer

    def set_total(self, total: int) -> None:
        if self._bars is not None and self._task is not None:
            self._totals[self._task] = total
            self._bars.update(self._task, total=total)

    def advance(self, n: int) -> None:
        if self._bars is not None and self._task is not None:
            self._bars.advance(self._task, n)


# --- stages ---------------------------------------------------------------------------------


def prepare_stage(
    cfg: BuildConfig,
    runner: Runner,
    progress: Progress | None = None,
    stats: StageStats | None = None,
) -> tuple[SpilledTable, np.ndarray, list[Problem]]:
    """Read, decode, normalize and sign every raw file on the runner's workers.

    The article rows go to a spill file as they come (newsbench.spill); the build process
    keeps the MinHash signatures, one row per article of a matrix (512 bytes an article:
    affine32's values fit in uint32), for near-duplicate detection.
    """
    sources, problems = discover(cfg.raw)
    if progress:
        progress.set_total(len(sources))
    from newsbench.normalize import default_rules_path

    rules_path = str(cfg.rules) if cfg.rules else None
    # absolute: workers (local or on Ray nodes) open it, whatever their working directory
    cache_dir = str((cfg.cache / "prepare").resolve()) if cfg.cache else None
    fingerprint = prepare_fingerprint(Path(rules_path or default_rules_path()))
    tasks = (  # made as the workers take batches: a task per file is never held for all
        PrepareTask(i, s, rules_path, cfg.max_file_bytes, cache_dir, fingerprint)
        for i, s in enumerate(sources)
    )
    rows = SpilledTable(arrow_schema(load_catalog()["articles"]))
    signatures: list[np.ndarray] = []  # a matrix per batch: 512 bytes an article, no objects
    hits = misses = 0
    for results in runner.map_batches(stages.prepare_batch, batched(tasks, PREPARE_BATCH)):
        if progress:
            progress.advance(len(results))
        batch_signatures = []
        for row, signature, cached in results:
            if isinstance(row, Problem):
                problems.append(row)
            else:
                rows.append(row)
                batch_signatures.append(signature)
                hits, misses = hits + cached, misses + (not cached)
        if batch_signatures:
            signatures.append(signature_matrix(batch_signatures))
    if stats is not None:
        stats.notes.update(cache_hits=hits, cache_misses=misses)
    matrix = np.concatenate(signatures) if signatures else np.empty((0, NUM_PERM), np.uint32)
    return rows.seal(), matrix, problems


def gold_stage(articles: Iterable[dict[str, Any]], cfg: BuildConfig) -> tuple[Tables, set[str]]:
    """Resolve raw/annotations; any annotation problem fails the build (gold must be exact)."""
    folder = cfg.raw / gold.ANNOTATIONS_DIR
    ann, problems = gold.load_annotations(folder, cfg.raw)
    wanted = {a["article_id"]: a for a in articles if a["article_id"] in ann.articles}
    rows, gold_ids, more = gold.resolve(ann, wanted)
    problems += more
    if problems:
        raise BuildFailed(problems, "gold annotations do not resolve")
    return rows, gold_ids


def extract_stage(
    articles: Iterable[dict[str, Any]],
    cfg: BuildConfig,
    runner: Runner | None = None,
    stats: StageStats | None = None,
    progress: Progress | None = None,
    skip: Collection[str] = (),
) -> tuple[Tables, dict[str, Any]]:
    """Automatic extraction (cached per article, on the workers) and cross-article linking of
    every article not in `skip` (the gold ones). `articles` is read once, in one pass (it may
    be a spilled table), as the workers take batches: the texts held are those of the batches
    in flight, never every text still to parse."""
    from newsbench import extract
    from newsbench.link import link_spilled

    runner = runner or LocalRunner(1)
    model = model_description(cfg.model)
    cache = ResultCache(cfg.cache / "extract" if cfg.cache else None, extractor_fingerprint(model))
    if progress and isinstance(articles, Sized):
        progress.set_total(len(articles) - len(skip))
    # Packed records go to a spill file as they come (from the cache or the workers): the
    # build process holds an offset per article, not the records.
    with PackedExtractions() as extractions:
        key_of: dict[str, str] = {}  # cache keys of the articles sent to the workers
        inputs: list[Any] = []

        def to_parse() -> Iterator[list[ExtractTask]]:
            """Batches of the articles the cache does not hold; cache hits are stored here."""
            batch: list[ExtractTask] = []
            for a in articles:
                if a["article_id"] in skip:
                    continue
                # linking reads the outlet and the story, never the text
                inputs.append(extract.ArticleInput(a["article_id"], "", a["outlet"], a["story_id"]))
                key = cache.key(a["outlet"], a["text"])
                blob = cache.get_packed(key)
                if blob is not None:
                    extractions.add(a["article_id"], blob)
                    if progress:
                        progress.advance(1)
                    continue
                key_of[a["article_id"]] = key
                batch.append(
                    ExtractTask(a["article_id"], a["text"], a["outlet"], a["story_id"], cfg.model)
                )
                if len(batch) == EXTRACT_BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

        batches = to_parse()
        first = next(batches, None)  # none when every article is gold or cached: no runner call
        todo = itertools.chain([first], batches)
        results_batches = runner.map_batches(stages.extract_batch, todo) if first else ()
        for results in results_batches:
            for article_id, blob in results:
                extractions.add(article_id, blob)
                cache.put_bytes(key_of.pop(article_id), blob)
            if progress:
                progress.advance(len(results))
        if not inputs:
            return {"quotes": [], "claims": [], "entities": []}, {}
        extractions.seal()
        if len(extractions) != len(inputs):  # a runner lost or repeated a batch
            raise RuntimeError(f"extraction returned {len(extractions)} of {len(inputs)} articles")
        rows = link_spilled(extractions, inputs, runner.reduce_by_key)
    if stats is not None:
        stats.notes.update(cache_hits=cache.hits, cache_misses=cache.misses)
    return rows, model


@functools.cache
def model_description(model: str | None) -> dict[str, Any]:
    """Name, version and components of the spaCy pipeline, without loading it here."""
    from newsbench import extract

    return extract.describe_model(model)


def baseline_scores(
    articles: Iterable[dict[str, Any]],
    gold_ids: set[str],
    gold_rows: Tables,
    cfg: BuildConfig,
    runner: Runner | None = None,
) -> dict[str, Any]:
    """The automatic extractors run on the gold articles and scored against the gold.

    These rows are not published (the gold is); they give the card's leaderboard its baseline.
    """
    import pandas as pd

    from newsbench.evaluate import evaluate

    gold_articles = [a for a in articles if a["article_id"] in gold_ids]
    auto, model = extract_stage(gold_articles, cfg, runner)
    scores = {
        task: evaluate(task, pd.DataFrame(list(auto[task])), pd.DataFrame(gold_rows[task]))
        for task in ("quotes", "claims", "entities")
    }
    close_tables(auto)
    return {"model": model, "scores": scores}


def merge_tables(articles: Any, gold_rows: Tables, auto_rows: Tables) -> Tables:
    """The four tables, gold rows before automatic ones; spilled automatic rows stay on disk
    (gold rows are few: they are spilled in front of them)."""
    merged: Tables = {"articles": articles}
    for name in ("quotes", "claims", "entities"):
        gold_part, auto_part = gold_rows.get(name, []), auto_rows.get(name, [])
        if isinstance(auto_part, SpilledTable):
            if gold_part:
                table = SpilledTable(auto_part.schema).extend(gold_part)
                for batch in auto_part.batches():
                    table.write(batch)
                auto_part.close()
                auto_part = table.seal()
            merged[name] = auto_part
        else:
            merged[name] = list(gold_part) + list(auto_part)
    return merged


def close_tables(tables: Mapping[str, Any]) -> None:
    """Remove the spill files of spilled tables (lists are left alone)."""
    for rows in tables.values():
        if isinstance(rows, SpilledTable):
            rows.close()


# --- the build ------------------------------------------------------------------------------


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"newsbench": __version__}  # the same from a checkout as from an installed package
    for name in (
        "datasets",
        "pyarrow",
        "pandas",
        "pandera",
        "huggingface-hub",
        "spacy",
        "ftfy",
        "rapidfuzz",
        "datasketch",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def build_tables(
    cfg: BuildConfig, progress: Progress | None = None
) -> tuple[Tables, list[Problem], dict[str, Any], Progress]:
    """Everything up to validation; raises BuildFailed with all problems found."""
    with make_runner(cfg) as runner:
        return _build_tables(cfg, progress or Progress(), runner)


def make_runner(cfg: BuildConfig) -> Runner:
    """The local process pool, or Ray Data when asked (imported only then)."""
    if cfg.engine == "local":
        return LocalRunner(cfg.workers)
    from newsbench.engines import make_runner as make_engine_runner

    return make_engine_runner(cfg.engine, cfg.workers, cfg.ray_address)


def _build_tables(
    cfg: BuildConfig, progress: Progress, runner: Runner
) -> tuple[Tables, list[Problem], dict[str, Any], Progress]:
    catalog = load_catalog()
    with progress.stage("read+normalize") as st:
        articles, signatures, problems = prepare_stage(cfg, runner, progress, st)
        st.rows_out = len(articles)
        st.notes["rejected"] = len(problems)
    checkpoint("prepare:done")
    with progress.stage("near-duplicates", len(articles)) as st:
        ids = list(articles.column("article_id"))
        copies = runner.near_duplicates(ids, signatures)
        del signatures  # 512 bytes an article, needed by nothing after this
        with articles:
            articles = articles.with_column(
                "near_duplicate_of", [copies.get(article_id) for article_id in ids]
            )
        del ids
        st.rows_out = len(copies)
    checkpoint("dedup:done")
    file_problems = [p for p in problems if p.stage in ("read", "normalize")]
    fatal = [p for p in problems if p.stage not in ("read", "normalize")]
    if fatal or (problems and cfg.on_error == "fail"):
        raise BuildFailed(problems, f"{len(problems)} input problem(s); nothing was written")
    if not articles:
        raise BuildFailed(
            problems
            or [Problem(str(cfg.raw), "no .txt articles found", "put articles in the raw folder")],
            "no articles to build",
        )
    with progress.stage("annotations", len(articles)) as st:
        gold_rows, gold_ids = gold_stage(articles, cfg) if cfg.use_gold else ({}, set())
        st.rows_out = sum(len(v) for v in gold_rows.values())
        st.notes["gold_articles"] = len(gold_ids)
    checkpoint("annotations:done")
    with progress.stage("extract+link", len(articles) - len(gold_ids)) as st:
        auto_rows, model = extract_stage(articles, cfg, runner, st, progress, skip=gold_ids)
        st.rows_out = sum(len(v) for v in auto_rows.values())
    checkpoint("extract:done")
    tables = merge_tables(articles, gold_rows, auto_rows)
    baseline, agreement = None, None
    if gold_ids and cfg.baseline:
        with progress.stage("baseline", len(gold_ids)):
            baseline = baseline_scores(articles, gold_ids, gold_rows, cfg, runner)
            checkpoint("baseline:done")
    if gold_ids:
        from newsbench.agreement import compute_agreement

        agreement = compute_agreement(cfg.raw / gold.ANNOTATIONS_DIR, articles)
    with progress.stage("validate", sum(len(v) for v in tables.values())):
        invalid = validate_tables(catalog, tables)
        if invalid:
            raise BuildFailed(invalid, "validation failed; nothing was written")
    checkpoint("validate:done")
    info = {
        "model": model or (baseline or {}).get("model"),
        "gold_articles": sorted(gold_ids),
        "catalog": catalog,
        "baseline": baseline,
        "agreement": agreement,
    }
    return tables, file_problems, info, progress


def build(cfg: BuildConfig, show_progress: bool = False) -> BuildResult:
    """Build the dataset folder atomically. Raises BuildFailed (nothing written) on bad input."""
    with Progress(show_progress) as progress:
        return _build(cfg, progress)


def _build(cfg: BuildConfig, progress: Progress) -> BuildResult:
    from newsbench import card, croissant, figures, write

    with write.output_lock(cfg.out, cfg.lock_timeout):
        checkpoint("lock:acquired")
        write.clean_stale(cfg.out)
        checkpoint("stale:cleaned")
        tables, rejects, info, progress = build_tables(cfg, progress)
        catalog: Catalog = info["catalog"]
        with progress.stage("write", sum(len(v) for v in tables.values())) as st:
            stage = write.staging_dir(cfg.out)
            checkpoint("write:staging")
            published: Tables = {}
            try:
                published = apply_text_policy(tables, cfg.text_policy)
                files, arrow_bytes = {}, {}
                for name in catalog.tables:
                    paths, arrow_bytes[name] = write.write_table(
                        catalog,
                        name,
                        published[name],
                        stage,
                        cfg.max_shard_bytes,
                        cfg.row_group_size,
                    )
                    files.update({p.relative_to(stage).as_posix(): sha256_file(p) for p in paths})
                    checkpoint(f"write:table:{name}")
                if rejects:
                    write.write_jsonl(stage / "rejects.jsonl", [p.to_json() for p in rejects])
                drawn = figures.draw_all(published, stage) if cfg.with_figures else {}
                files.update({rel: sha256_file(stage / rel) for rel in drawn.values()})
                checkpoint("write:figures")
                (stage / "LICENSE.md").write_text(card.LICENSE_TEXT, encoding="utf-8")
                files["LICENSE.md"] = sha256_file(stage / "LICENSE.md")
                manifest = build_manifest(cfg, tables, rejects, info, files, catalog)
                manifest["arrow_bytes"] = arrow_bytes
                header = card.card_yaml(
                    catalog, published, bool(manifest["gold_articles"]), arrow_bytes
                )
                croissant.write_croissant(stage, catalog, manifest, header, version=cfg.version)
                manifest["files"]["croissant.json"] = sha256_file(stage / "croissant.json")
                checkpoint("write:croissant")
                write.write_json(stage / "build_manifest.json", manifest)
                checkpoint("write:manifest")
                st.rows_out = len(files)
                with progress.stage("card"):
                    extra = card.card_extras(info, drawn)
                    card.write_card(stage, catalog, published, manifest, extra)
                checkpoint("card:done")
                write.publish_dir(stage, cfg.out)
            except BaseException:
                import shutil

                shutil.rmtree(stage, ignore_errors=True)
                raise
            finally:
                close_tables(tables)
                close_tables(published)
    counts = {name: len(rows) for name, rows in tables.items()}
    return BuildResult(cfg.out, counts, rejects, progress.stages, manifest)


def apply_text_policy(tables: Tables, policy: str) -> Tables:
    """`reference` drops the publishers' words (article text and title, quote and claim text,
    mention text) but keeps hashes, offsets, ids, clusters and entity names, from which
    `newsbench rehydrate` rebuilds the full tables given the raw files."""
    if policy == "full":
        return tables
    return {name: _without_text(name, rows) for name, rows in tables.items()}


_TEXT_COLUMNS = {"articles": ("text", "title"), "quotes": ("text",), "claims": ("text",)}


def _without_text(name: str, rows: Any) -> Any:
    if name == "entities":

        def strip(row: dict[str, Any]) -> dict[str, Any]:
            return {**row, "mentions": [{**m, "text": None} for m in row["mentions"]]}

        if isinstance(rows, SpilledTable):
            return rows.mapped(
                lambda b: pa.RecordBatch.from_pylist([strip(r) for r in b.to_pylist()], b.schema)
            )
        return [strip(r) for r in rows]
    columns = _TEXT_COLUMNS.get(name, ())
    if isinstance(rows, SpilledTable):

        def blank(batch: pa.RecordBatch) -> pa.RecordBatch:
            for column in columns:
                i = batch.schema.get_field_index(column)
                field = batch.schema.field(i)
                batch = batch.set_column(i, field, pa.nulls(batch.num_rows, field.type))
            return batch

        return rows.mapped(blank)
    return [{**r, **dict.fromkeys(columns)} for r in rows]


def build_manifest(
    cfg: BuildConfig,
    tables: Tables,
    rejects: list[Problem],
    info: dict[str, Any],
    files: dict[str, str],
    catalog: Catalog,
) -> dict[str, Any]:
    """What went in and what came out; no timestamps or local paths, so it is reproducible."""
    from newsbench.normalize import default_rules_path

    rules_file = cfg.rules or default_rules_path()
    annotation_files = {}
    ann_dir = cfg.raw / gold.ANNOTATIONS_DIR
    if cfg.use_gold and ann_dir.is_dir():
        annotation_files = {
            p.relative_to(cfg.raw).as_posix(): sha256_file(p)
            for p in sorted(ann_dir.rglob("*.yaml"))
        }
    inputs = {a["source_file"]: a["raw_sha256"] for a in tables["articles"]}
    manifest_file = cfg.raw / "sources.yaml"
    return {
        "newsbench_build": 1,
        "schema_version": catalog.schema_version,
        "version": cfg.version,
        "options": {"on_error": cfg.on_error, "gold": cfg.use_gold, "text_policy": cfg.text_policy},
        "inputs": dict(sorted(inputs.items())),
        "manifest_sha256": sha256_file(manifest_file) if manifest_file.exists() else None,
        "annotations": annotation_files,
        "rules_sha256": sha256_file(Path(rules_file)),
        "model": info.get("model") or None,
        "packages": package_versions(),
        "gold_articles": info.get("gold_articles", []),
        "row_counts": {name: len(rows) for name, rows in sorted(tables.items())},
        "baseline_scores": (info.get("baseline") or {}).get("scores"),
        "agreement": info.get("agreement"),
        "rejected": [{"file": p.file, "reason": p.message} for p in rejects],
        "files": dict(sorted(files.items())),
    }
