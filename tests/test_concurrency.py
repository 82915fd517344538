"""Two builds into one output folder, and output independent of the worker count.

A build holds the output lock from before it cleans stale staging folders until its swap is
done. The tests hold a real build inside its lock at a named checkpoint (NEWSBENCH_PAUSE_AT,
released by a file, never by a guessed duration) and start others against the same folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsbench.check import check_output
from newsbench.faults import read_points

from conftest import RAW, ROOT, run_build
from test_build import tree_hashes

HANG_GUARD = 300  # seconds: only so that a broken test ends; nothing here asserts on time
COMMON = ("--raw", str(RAW), "--workers", "1", "--no-cache")


def start_build(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """build_dataset.py in the background, as run_build runs it."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "build_dataset.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        cwd=ROOT,
    )


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"build exited ({proc.returncode}) before {what}: {err[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def reached(points_file: Path, point: str) -> bool:
    return any(name == point for name, _, _ in read_points(points_file))


def point_time(points_file: Path, point: str) -> float:
    return next(t for name, _, t in read_points(points_file) if name == point)


def has_open(pid: int, path: Path) -> bool:
    """Whether process `pid` holds `path` open (Linux /proc)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd_dir / fd) == str(path) for fd in os.listdir(fd_dir))
    except (FileNotFoundError, ProcessLookupError):
        return False


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (hidden ones too): file hashes, and folders as 'dir'."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@dataclass(frozen=True)
class Expected:
    full: dict[str, str]  # an uninterrupted default build
    reference: dict[str, str]  # an uninterrupted --text-policy reference build


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Expected]:
    work = tmp_path_factory.mktemp("expected")
    full, ref = work / "full" / "newsbench", work / "reference" / "newsbench"
    proc = run_build(*COMMON, "--out", str(full))
    assert proc.returncode == 0, proc.stderr
    proc = run_build(*COMMON, "--out", str(ref), "--text-policy", "reference")
    assert proc.returncode == 0, proc.stderr
    yield Expected(tree_hashes(full), tree_hashes(ref))


def test_second_build_is_refused_and_a_waiting_third_succeeds(
    expected: Expected, tmp_path: Path
) -> None:
    out = tmp_path / "newsbench"
    lock = tmp_path / ".newsbench.lock"
    release = tmp_path / "release"
    points_a, points_c = tmp_path / "points-a", tmp_path / "points-c"
    c: subprocess.Popen[str] | None = None

    # A: a reference build, held inside its lock until the test releases it
    a = start_build(
        *COMMON,
        "--out",
        str(out),
        "--text-policy",
        "reference",
        env={
            "NEWSBENCH_PAUSE_AT": f"lock:acquired:{HANG_GUARD}",
            "NEWSBENCH_RELEASE_FILE": str(release),
            "NEWSBENCH_POINTS_FILE": str(points_a),
        },
    )
    try:
        wait_until(lambda: reached(points_a, "lock:acquired"), a, "A holds the lock")
        before = snapshot(tmp_path)

        # B: no waiting allowed → a clear refusal, and not one byte written
        b = run_build(*COMMON, "--out", str(out), "--lock-timeout", "0")
        assert b.returncode == 1, b.stderr
        assert "Traceback" not in b.stderr + b.stdout
        assert "another build is writing" in b.stderr
        assert str(out) in b.stderr and str(lock) in b.stderr, b.stderr
        assert "--lock-timeout" in b.stderr
        assert snapshot(tmp_path) == before
        assert not out.exists()

        # C: a full build that waits up to 120 s; it opens the lock file while A still holds it
        c_started = time.time()
        c = start_build(
            *COMMON,
            "--out",
            str(out),
            "--lock-timeout",
            "120",
            env={"NEWSBENCH_POINTS_FILE": str(points_c)},
        )
        wait_until(lambda: has_open(c.pid, lock), c, "C tries the lock")
        c_trying = time.time()
        assert not reached(points_c, "lock:acquired")
        assert a.poll() is None, "A ended while it should hold the lock"
        release.touch()

        _, a_err = a.communicate(timeout=HANG_GUARD)
        assert a.returncode == 0, a_err
        _, c_err = c.communicate(timeout=HANG_GUARD)
        assert c.returncode == 0, c_err
    finally:
        for proc in (a, c):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()

    # C got the lock only after A had published (its last checkpoint): no overlap
    a_done = point_time(points_a, "publish:fsynced")
    c_locked = point_time(points_c, "lock:acquired")
    assert c_locked > a_done
    print(
        f"\nthe waiting build waited {c_locked - c_trying:.2f} s at the lock "
        f"({c_locked - c_started:.2f} s from its start)"
    )

    # the final folder is exactly C's uninterrupted build: no file of A's survives or mixes in
    assert tree_hashes(out) == expected.full
    assert check_output(out) == []
    assert sorted(p.name for p in tmp_path.iterdir() if ".newsbench." in p.name) == [
        ".newsbench.lock"
    ]


def test_refused_build_leaves_a_running_builds_staging_alone(
    expected: Expected, tmp_path: Path
) -> None:
    """A refused build must not run clean_stale: the staging folder belongs to a live build."""
    out = tmp_path / "newsbench"
    release, points = tmp_path / "release", tmp_path / "points"
    a = start_build(
        *COMMON,
        "--out",
        str(out),
        env={
            "NEWSBENCH_PAUSE_AT": f"write:table:claims:{HANG_GUARD}",
            "NEWSBENCH_RELEASE_FILE": str(release),
            "NEWSBENCH_POINTS_FILE": str(points),
        },
    )
    try:
        wait_until(lambda: reached(points, "write:table:claims"), a, "A is writing")
        staging = [p for p in tmp_path.iterdir() if p.name.startswith(".newsbench.building-")]
        assert len(staging) == 1
        before = snapshot(tmp_path)
        b = run_build(*COMMON, "--out", str(out), "--text-policy", "reference")
        assert b.returncode == 1 and "another build is writing" in b.stderr, b.stderr
        assert snapshot(tmp_path) == before
        release.touch()
        _, a_err = a.communicate(timeout=HANG_GUARD)
        assert a.returncode == 0, a_err
    finally:
        if a.poll() is None:
            a.kill()
            a.wait()
    assert tree_hashes(out) == expected.full
    assert not staging[0].exists()


def test_waiting_build_takes_over_from_a_killed_lock_holder(
    expected: Expected, tmp_path: Path
) -> None:
    """kill -9 of the build holding the lock (mid-write, staging folder on disk) frees the lock;
    the build waiting for it cleans the dead build's staging folder and publishes."""
    out, lock = tmp_path / "newsbench", tmp_path / ".newsbench.lock"
    points = tmp_path / "points"
    a = start_build(
        *COMMON,
        "--out",
        str(out),
        "--text-policy",
        "reference",
        env={
            "NEWSBENCH_PAUSE_AT": f"write:table:claims:{HANG_GUARD}",
            "NEWSBENCH_POINTS_FILE": str(points),
        },
    )
    c: subprocess.Popen[str] | None = None
    try:
        wait_until(lambda: reached(points, "write:table:claims"), a, "A is writing")
        dead = [p for p in tmp_path.iterdir() if p.name.startswith(".newsbench.building-")]
        assert len(dead) == 1
        c = start_build(*COMMON, "--out", str(out), "--lock-timeout", "120", env={})
        wait_until(lambda: has_open(c.pid, lock), c, "C tries the lock")
        a.kill()  # SIGKILL: no cleanup runs in A
        a.wait()
        assert a.returncode == -9
        _, c_err = c.communicate(timeout=HANG_GUARD)
        assert c.returncode == 0, c_err
    finally:
        for proc in (a, c):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert not dead[0].exists()
    assert tree_hashes(out) == expected.full
    assert check_output(out) == []


# --- determinism across the worker count -------------------------------------------------------

PER_TOPIC = 18  # 4 topics x 18 = 72 articles: two prepare batches (64) and three extract (32)


def test_output_is_identical_with_one_or_two_workers(bbc: Path, tmp_path: Path) -> None:
    """--no-gold so that extraction runs on every article; with 72 articles both per-article
    stages have several batches, so --workers 2 really runs them on a process pool. The hash
    seeds differ too (0 and 4242)."""
    raw = tmp_path / "raw"
    for topic in sorted(p.name for p in bbc.iterdir() if p.is_dir()):
        files = sorted((bbc / topic).glob("*.txt"))[:PER_TOPIC]
        if files:
            (raw / topic).mkdir(parents=True)
            for f in files:
                shutil.copy(f, raw / topic / f.name)
    assert len(list(raw.rglob("*.txt"))) > 64
    hashes, pids = {}, {}
    for workers, seed in (("1", "0"), ("2", "4242")):
        out, points = tmp_path / f"w{workers}" / "newsbench", tmp_path / f"points-{workers}"
        proc = run_build(
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--no-gold",
            "--no-cache",
            "--on-error",
            "skip",
            "--workers",
            workers,
            env={"PYTHONHASHSEED": seed, "NEWSBENCH_POINTS_FILE": str(points)},
        )
        assert proc.returncode == 0, proc.stderr
        hashes[workers] = tree_hashes(out)
        lines = read_points(points)
        main = next(pid for name, pid, _ in lines if name == "lock:acquired")
        pids[workers] = {pid for name, pid, _ in lines if name.startswith("prepare:file:")} - {main}
    assert pids["1"] == set()
    assert len(pids["2"]) == 2, "--workers 2 did not read the files on two worker processes"
    assert hashes["1"] == hashes["2"]
