"""Named points where a test harness may kill the build (fault injection for atomicity tests).

Set NEWSBENCH_KILL_AT=<point> and the process sends itself SIGKILL when it reaches that point:
no cleanup handler runs, exactly as with `kill -9`. Unset, a checkpoint costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

POINTS: list[str] = []  # every checkpoint name reached in this process, for the harness


def checkpoint(name: str) -> None:
    POINTS.append(name)
    if os.environ.get("NEWSBENCH_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
