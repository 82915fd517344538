"""The whole build on the seeds: loadable configs, exact types, determinism, atomicity."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from datasets import load_dataset

from newsbench.check import check_output
from newsbench.tables import TABLE_NAMES, features, load_catalog

from conftest import RAW, ROOT, SEED_IDS, run_build


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_load_dataset_reads_every_config_with_declared_features(
    built: Path, name: str, tmp_path: Path
) -> None:
    ds = load_dataset(
        str(built),
        name,
        split="test",
        verification_mode="all_checks",
        cache_dir=str(tmp_path / "cache"),
    )
    assert ds.features == features(load_catalog()[name])
    assert ds.num_rows > 0


def test_default_config_is_claims(built: Path, tmp_path: Path) -> None:
    ds = load_dataset(str(built), split="test", cache_dir=str(tmp_path / "cache"))
    assert "claim_id" in ds.column_names


def test_every_seed_is_an_article_with_gold(built: Path) -> None:
    manifest = json.loads((built / "build_manifest.json").read_text())
    assert manifest["gold_articles"] == SEED_IDS
    assert sorted(manifest["inputs"]) == [f"{i}.txt" for i in SEED_IDS]
    for name in ("quotes", "claims", "entities"):
        assert manifest["row_counts"][name] > 0


def test_offsets_index_the_article_text(built: Path, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    texts = {
        a["article_id"]: a["text"]
        for a in load_dataset(str(built), "articles", split="test", cache_dir=cache)
    }
    for name in ("quotes", "claims"):
        for row in load_dataset(str(built), name, split="test", cache_dir=cache):
            assert texts[row["article_id"]][row["char_start"] : row["char_end"]] == row["text"]
    for ent in load_dataset(str(built), "entities", split="test", cache_dir=cache):
        for m in ent["mentions"]:
            assert texts[m["article_id"]][m["char_start"] : m["char_end"]] == m["text"]


def test_manifest_records_inputs_versions_schema_and_counts(built: Path) -> None:
    manifest = json.loads((built / "build_manifest.json").read_text())
    raw_sha = {
        f"{i}.txt": hashlib.sha256((RAW / f"{i}.txt").read_bytes()).hexdigest() for i in SEED_IDS
    }
    assert manifest["inputs"] == raw_sha
    assert manifest["schema_version"] == load_catalog().schema_version
    assert manifest["packages"]["pyarrow"] and manifest["packages"]["datasets"]
    assert set(manifest["row_counts"]) == set(TABLE_NAMES)
    hashes = tree_hashes(built)
    assert manifest["files"] == {k: hashes[k] for k in manifest["files"]}
    assert {k for k in hashes if k.endswith(".parquet")} <= set(manifest["files"])


def test_output_holds_no_local_paths(built: Path) -> None:
    for path in built.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in (str(ROOT).encode(), str(Path.home()).encode() + b"/", b"/tmp/"):
                assert needle not in data, (path, needle)


def test_validate_command_accepts_the_build_and_catches_tampering(
    built: Path, tmp_path: Path
) -> None:
    assert check_output(built) == []
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    target = copy / "data" / "claims" / "test-00000-of-00001.parquet"
    target.write_bytes(target.read_bytes()[:-100] + b"\0" * 100)
    problems = check_output(copy)
    assert any("claims" in p.file for p in problems)


def test_rebuild_is_byte_identical_whatever_the_hash_seed(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    proc = run_build("--raw", str(RAW), "--out", str(out), env={"PYTHONHASHSEED": "12345"})
    assert proc.returncode == 0, proc.stderr
    assert tree_hashes(out) == tree_hashes(built)


def test_killed_build_leaves_previous_output_intact(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "newsbench"
    shutil.copytree(built, out)
    before = tree_hashes(out)
    for point in ("write:table:quotes", "publish:fsynced"):
        proc = run_build("--raw", str(RAW), "--out", str(out), env={"NEWSBENCH_KILL_AT": point})
        assert proc.returncode == -9, (point, proc.stderr)
        assert tree_hashes(out) == before, point
    proc = run_build("--raw", str(RAW), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert tree_hashes(out) == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".newsbench.building")]


def test_help_documents_the_options() -> None:
    proc = run_build("--help")
    assert proc.returncode == 0
    for option in ("--raw", "--out", "--on-error", "--no-gold", "--text-policy"):
        assert option in proc.stdout
    assert "dist/newsbench" in proc.stdout and "raw" in proc.stdout
