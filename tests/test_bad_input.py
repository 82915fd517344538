"""Every kind of bad input: exit 1, a message naming the file and the fix, no traceback,
previous output untouched; `--on-error skip` accounts for every input file."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import RAW, run_build
from test_build import tree_hashes

GOOD = "A headline\n\nA first paragraph of a real article.\n"


def _write(name: str, data: bytes) -> Callable[[Path], str]:
    def make(raw: Path) -> str:
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_bytes(data)
        return name

    return make


def _manifest(extra: str) -> Callable[[Path], str]:
    def make(raw: Path) -> str:
        with open(raw / "sources.yaml", "a", encoding="utf-8") as fh:
            fh.write(extra)
        return "sources.yaml"

    return make


def _replace_manifest(text: str) -> Callable[[Path], str]:
    def make(raw: Path) -> str:
        (raw / "sources.yaml").write_text(text, encoding="utf-8")
        return "sources.yaml"

    return make


def _symlink_out(raw: Path) -> str:
    outside = raw.parent / "outside.txt"
    outside.write_text(GOOD, encoding="utf-8")
    (raw / "link.txt").symlink_to(outside)
    return "link.txt"


def _huge(raw: Path) -> str:
    with open(raw / "huge.txt", "wb") as fh:  # 200 MB, sparse: costs no disk and is never read
        fh.truncate(200 * 1024 * 1024)
    return "huge.txt"


def _duplicate_id(raw: Path) -> str:
    (raw / "dupe.txt").write_text(GOOD, encoding="utf-8")
    with open(raw / "sources.yaml", "a", encoding="utf-8") as fh:
        fh.write("  - file: dupe.txt\n    id: 000_e5de351659e7d52d\n")
    return "dupe.txt"


# kind -> (make the bad input, words the message must contain)
CASES: dict[str, tuple[Callable[[Path], str], list[str]]] = {
    "invalid-utf8": (
        _write("bad_utf8.txt", b"Title\n\nPrice \xa315 today.\n"),
        ["not valid utf-8", "byte", "encoding"],
    ),
    "utf16-bom": (_write("utf16.txt", "Title\n\nText.\n".encode("utf-16")), ["UTF-16"]),
    "empty": (_write("empty.txt", b""), ["empty file"]),
    "whitespace-only": (_write("blank.txt", b" \n\t\n  \n"), ["only whitespace"]),
    "binary": (
        _write("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
        ["binary"],
    ),
    "html": (_write("page.txt", b"<!DOCTYPE html><html><body><p>Hi</p></body></html>"), ["HTML"]),
    "too-large": (_huge, ["bytes", "limit"]),
    "symlink-escape": (_symlink_out, ["outside the raw folder"]),
    "manifest-path-escape": (_manifest("  - file: ../../etc/passwd\n"), ["escapes the raw folder"]),
    "manifest-missing-file": (_manifest("  - file: nowhere.txt\n"), ["nowhere.txt", "not found"]),
    "duplicate-id": (_duplicate_id, ["duplicate article id"]),
    "manifest-bad-date": (
        _manifest("  - file: 000_e5de351659e7d52d.txt\n    published_date: 10/11/2025\n"),
        ["published_date", "YYYY-MM-DD"],
    ),
    "manifest-unknown-key": (
        _manifest("  - file: 001_bed9e1f06f7786ba.txt\n    outlett: AP\n"),
        ["unknown key", "outlett"],
    ),
    "malformed-yaml": (_replace_manifest("articles:\n  - file: [unclosed\n"), ["malformed YAML"]),
    "yaml-alias-bomb": (
        _replace_manifest(
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\narticles: [*c]\n"
        ),
        ["aliases"],
    ),
    "yaml-python-tag": (
        _replace_manifest("articles: !!python/object/apply:os.system ['true']\n"),
        ["malformed YAML"],
    ),
    "unknown-encoding": (
        _manifest("  - file: 002_0087b19c8e1d121b.txt\n    encoding: klingon\n"),
        ["unknown encoding"],
    ),
}


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("prev") / "newsbench"
    proc = run_build("--raw", str(RAW), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, tree_hashes(out)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_bad_input_fails_clearly_and_leaves_output(
    kind: str, raw_copy: Path, previous: tuple[Path, dict[str, str]]
) -> None:
    make, words = CASES[kind]
    culprit = make(raw_copy)
    out, before = previous
    proc = run_build("--raw", str(raw_copy), "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert culprit in proc.stderr
    for word in words:
        assert word.lower() in proc.stderr.lower(), (word, proc.stderr)
    assert "fix:" in proc.stderr
    assert tree_hashes(out) == before


def test_all_problems_are_listed_not_just_the_first(raw_copy: Path, tmp_path: Path) -> None:
    for kind in ("invalid-utf8", "empty", "binary", "html"):
        CASES[kind][0](raw_copy)
    proc = run_build("--raw", str(raw_copy), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    for name in ("bad_utf8.txt", "empty.txt", "image.txt", "page.txt"):
        assert name in proc.stderr
    assert "4 input problem(s)" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_skip_builds_the_good_articles_and_accounts_for_every_file(
    raw_copy: Path, tmp_path: Path
) -> None:
    bad = [
        CASES[k][0](raw_copy)
        for k in ("invalid-utf8", "utf16-bom", "empty", "whitespace-only", "binary", "html")
    ]
    (raw_copy / "nested" / "deeper").mkdir(parents=True)
    (raw_copy / "nested" / "deeper" / "good.txt").write_text(GOOD, encoding="utf-8")
    out = tmp_path / "out"
    proc = run_build("--raw", str(raw_copy), "--out", str(out), "--on-error", "skip")
    assert proc.returncode == 0, proc.stderr
    assert "rejected 6 file(s)" in proc.stdout
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert sorted(r["file"] for r in rejects) == sorted(bad)
    assert all(r["message"] for r in rejects)
    manifest = json.loads((out / "build_manifest.json").read_text())
    inputs = {p.relative_to(raw_copy).as_posix() for p in raw_copy.rglob("*.txt")}
    assert set(manifest["inputs"]) | {r["file"] for r in rejects} == inputs
    assert "nested/deeper/good.txt" in manifest["inputs"]
    assert not set(manifest["inputs"]) & {r["file"] for r in rejects}


def test_declared_encoding_reads_a_latin1_file(raw_copy: Path, tmp_path: Path) -> None:
    (raw_copy / "latin.txt").write_bytes(
        "Pound falls\n\nIt cost £15 yesterday.\n".encode("latin-1")
    )
    with open(raw_copy / "sources.yaml", "a", encoding="utf-8") as fh:
        fh.write("  - file: latin.txt\n    encoding: latin-1\n")
    out = tmp_path / "out"
    proc = run_build("--raw", str(raw_copy), "--out", str(out), "--no-gold")
    assert proc.returncode == 0, proc.stderr


def test_missing_raw_folder(tmp_path: Path) -> None:
    proc = run_build("--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "raw folder does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_concurrent_build_is_refused_while_the_lock_is_held(tmp_path: Path) -> None:
    from newsbench.write import output_lock

    out = tmp_path / "newsbench"
    with output_lock(out):
        proc = run_build("--raw", str(RAW), "--out", str(out))
    assert proc.returncode == 1
    assert "another build is writing" in proc.stderr
    assert not out.exists()
    assert os.path.exists(out.parent / ".newsbench.lock")
    shutil.rmtree(out.parent, ignore_errors=True)
