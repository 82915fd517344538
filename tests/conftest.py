"""Shared fixtures: the repository's raw seeds, the BBC corpus beside it, and built datasets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "raw"
BBC = ROOT.parent / "shared" / "corpora" / "bbc"
SEED_IDS = sorted(p.stem for p in RAW.glob("*.txt"))


def run_build(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run build_dataset.py as a user would; returns the completed process."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "build_dataset.py"), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture(scope="session")
def bbc() -> Path:
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not beside the repository")
    return BBC


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed dataset with gold, built once per session by the real command."""
    out = tmp_path_factory.mktemp("built") / "newsbench"
    proc = run_build("--raw", str(RAW), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def raw_copy(tmp_path: Path) -> Path:
    """A writable copy of raw/ to damage in a test."""
    dest = tmp_path / "raw"
    shutil.copytree(RAW, dest)
    return dest
