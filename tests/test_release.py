"""What a Hugging Face user meets: the card, reference builds and rehydration, inspect."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from newsbench.card import check_header
from newsbench.tables import TABLE_NAMES, features_yaml, load_catalog

from conftest import RAW, ROOT, run_build
from test_build import tree_hashes


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The `newsbench` command line, run from the repository as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "newsbench.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


SECTIONS = [
    "## Dataset summary",
    "## Supported tasks and leaderboard",
    "## Languages",
    "## Dataset structure",
    "## Data splits",
    "### Curation rationale",
    "### Source data",
    "### Annotations",
    "### Personal and sensitive information",
    "### Bias, risks and limitations",
    "### Licensing",
    "### Citation",
    "### Version and changelog",
]


def card(folder: Path) -> tuple[dict, str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    _, front, body = text.split("---", 2)
    return yaml.safe_load(front), body


def test_card_header_is_complete_and_valid_for_the_hub(built: Path) -> None:
    header, _ = card(built)
    for key in (
        "pretty_name",
        "license",
        "language",
        "task_categories",
        "task_ids",
        "tags",
        "size_categories",
        "annotations_creators",
        "source_datasets",
        "configs",
        "dataset_info",
    ):
        assert header.get(key), key
    assert check_header(header) == []
    assert header["size_categories"] == ["n<1K"]
    default = [c["config_name"] for c in header["configs"] if c.get("default")]
    assert default == ["claims"]
    catalog = load_catalog()
    infos = {i["config_name"]: i for i in header["dataset_info"]}
    assert set(infos) == set(TABLE_NAMES)
    for name in TABLE_NAMES:
        assert infos[name]["features"] == features_yaml(catalog[name])


def test_header_check_catches_bad_values() -> None:
    bad = {
        "license": "apache",
        "task_categories": ["text-classification"],
        "task_ids": ["claim-spotting"],
        "size_categories": ["tiny"],
        "configs": [{"config_name": "a", "data_files": [{"split": "te-st", "path": "x/*"}]}],
    }
    problems = " | ".join(check_header(bad))
    for word in ("'apache'", "'claim-spotting'", "'tiny'", "default", "*.parquet", "'te-st'"):
        assert word in problems


def test_card_body_has_every_section_and_no_placeholders(built: Path) -> None:
    _, body = card(built)
    for section in SECTIONS:
        assert section in body, section
    assert "[More Information Needed]" not in body
    assert not re.search(r"\{\{\s*[\w.]+\s*\}\}|\{%", body)  # no unrendered Jinja
    # one field table and one real example row per config
    for name in TABLE_NAMES:
        assert f"### `{name}`" in body
        for col in load_catalog()[name].column_names:
            assert f"`{col}`" in body
    # the leaderboard's baseline row and the agreement table are computed, with figures
    assert re.search(r"\| newsbench rules \+ spaCy .*\| 0\.\d{3} \|", body)
    assert "Agreement of pass 2 with pass 1" in body
    assert "publishers" in body  # rights stated plainly
    for png in re.findall(r"\]\((figures/[\w.]+\.png)\)", body):
        assert (built / png).is_file()
    assert len(re.findall(r"\]\((figures/[\w.]+\.png)\)", body)) == 3


def test_reference_build_has_no_text_and_rehydrates_to_the_full_build(
    built: Path, tmp_path: Path
) -> None:
    ref = tmp_path / "ref"
    proc = run_build("--raw", str(RAW), "--out", str(ref), "--text-policy", "reference")
    assert proc.returncode == 0, proc.stderr
    # no article sentence survives anywhere in the reference build's data
    sentence = b"Syria is joining the global coalition against"
    for path in (ref / "data").rglob("*.parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        assert sentence not in str(table.to_pylist()).encode()
    assert cli("validate", str(ref)).returncode == 0
    full = tmp_path / "full"
    proc = cli("rehydrate", "--dataset", str(ref), "--raw", str(RAW), "--out", str(full))
    assert proc.returncode == 0, proc.stderr
    built_hashes, full_hashes = tree_hashes(built), tree_hashes(full)
    for name in TABLE_NAMES:
        key = f"data/{name}/test-00000-of-00001.parquet"
        assert full_hashes[key] == built_hashes[key], name


def test_rehydrate_refuses_modified_raw_files(tmp_path: Path, raw_copy: Path) -> None:
    ref = tmp_path / "ref"
    assert (
        run_build("--raw", str(RAW), "--out", str(ref), "--text-policy", "reference").returncode
        == 0
    )
    (raw_copy / "000_e5de351659e7d52d.txt").write_text("edited", encoding="utf-8")
    proc = cli(
        "rehydrate", "--dataset", str(ref), "--raw", str(raw_copy), "--out", str(tmp_path / "full")
    )
    assert proc.returncode == 1
    assert "000_e5de351659e7d52d.txt" in proc.stderr and "sha256" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_inspect_shows_counts_samples_and_warnings(built: Path, tmp_path: Path) -> None:
    proc = cli("inspect", str(built))
    assert proc.returncode == 0, proc.stderr
    for name in TABLE_NAMES:
        assert re.search(rf"^{name}\s+\d+", proc.stdout, re.M)
    assert "--- claims (first 2 by id)" in proc.stdout
    assert "1 article(s) without a headline line" in proc.stdout  # seed 004 has none
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    (copy / "README.md").write_text(
        (copy / "README.md").read_text().replace("num_examples: 5", "num_examples: 6")
    )
    proc = cli("inspect", str(copy))
    assert "card declares 6 rows" in proc.stdout


def test_newsbench_build_is_the_same_as_build_dataset(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    proc = cli("build", "--raw", str(RAW), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert tree_hashes(out) == tree_hashes(built)


@pytest.mark.parametrize(
    "command", ["build", "validate", "evaluate", "inspect", "publish", "rehydrate"]
)
def test_every_subcommand_has_help(command: str) -> None:
    proc = cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--help" in proc.stdout


def test_progress_bars_on_a_terminal_and_quiet_in_logs(tmp_path: Path) -> None:
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "build_dataset.py"),
            "--raw",
            str(RAW),
            "--out",
            str(tmp_path / "tty"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    os.close(slave)
    chunks = []
    while True:  # read while it runs: a full pty buffer would block the build
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=600) == 0
    on_tty = b"".join(chunks).decode("utf-8", "replace")
    assert "read+normalize" in on_tty and "━" in on_tty  # a bar per stage
    piped = run_build("--raw", str(RAW), "--out", str(tmp_path / "piped"), "--workers", "1")
    assert "━" not in piped.stderr and piped.stderr == ""
    assert "stage read+normalize" in piped.stdout  # the summary: time per stage
