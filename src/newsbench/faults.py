"""Named points where a test harness may kill or hold the build (fault injection).

Environment variables, all read at each checkpoint (so worker processes see them too):

- NEWSBENCH_KILL_AT=<point>: the process sends itself SIGKILL when it reaches that point; no
  cleanup handler runs, exactly as with `kill -9`.
- NEWSBENCH_POINTS_FILE=<path>: every reached point is appended to the file as one line
  `<point>\\t<pid>\\t<unix time>` (one O_APPEND write per line, so lines from worker processes
  never tear). A harness runs one build with it to discover the points it can kill at.
- NEWSBENCH_PAUSE_AT=<point>:<seconds>: the process sleeps at that point (point names contain
  colons; the seconds are after the last one), e.g. to hold the output lock while a test starts
  a second build. With NEWSBENCH_RELEASE_FILE=<path> the pause ends as soon as that file
  exists, so a test releases the build when it is ready instead of guessing a duration.

Unset, a checkpoint costs a few environment lookups.
"""

from __future__ import annotations

import os
import signal
import time

POINTS: list[str] = []  # every checkpoint name reached in this process, for the harness

KILL_ENV = "NEWSBENCH_KILL_AT"
POINTS_FILE_ENV = "NEWSBENCH_POINTS_FILE"
PAUSE_ENV = "NEWSBENCH_PAUSE_AT"
RELEASE_ENV = "NEWSBENCH_RELEASE_FILE"


def _record(path: str, name: str) -> None:
    line = f"{name}\t{os.getpid()}\t{time.time():.6f}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _pause(spec: str, name: str) -> None:
    point, sep, seconds = spec.rpartition(":")
    if not sep or point != name:
        return
    deadline = time.monotonic() + float(seconds)
    release = os.environ.get(RELEASE_ENV)
    while time.monotonic() < deadline:
        if release and os.path.exists(release):
            return
        time.sleep(0.05)


def checkpoint(name: str) -> None:
    POINTS.append(name)
    env = os.environ
    points_file = env.get(POINTS_FILE_ENV)
    if points_file:
        _record(points_file, name)
    pause = env.get(PAUSE_ENV)
    if pause:
        _pause(pause, name)
    if env.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def read_points(path: str | os.PathLike[str]) -> list[tuple[str, int, float]]:
    """The (point, pid, time) lines a NEWSBENCH_POINTS_FILE holds, in the order written."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        name, pid, when = line.split("\t")
        out.append((name, int(pid), float(when)))
    return out
