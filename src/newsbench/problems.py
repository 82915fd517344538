"""Problems found in the input, reported together and readably.

A build never stops at the first bad file: every stage returns the problems it found, and the
command line prints them all (file, line or field, what is wrong, how to fix it) before exiting.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    file: str  # path relative to the raw folder (or the output folder for validation)
    message: str  # what is wrong
    hint: str = ""  # how to fix it
    line: int | None = None
    field: str | None = None
    stage: str = "read"  # read, manifest, normalize, annotations, validate

    def location(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f" [{self.field}]"
        return where

    def render(self) -> str:
        text = f"{self.location()}: {self.message}"
        if self.hint:
            text += f"\n    fix: {self.hint}"
        return text

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, sort_keys=True)


class BuildFailed(Exception):
    """Raised with every problem found; the CLI prints them and exits 1, without a traceback."""

    def __init__(self, problems: list[Problem], summary: str = "build failed") -> None:
        self.problems = problems
        self.summary = summary
        super().__init__(f"{summary}: {len(problems)} problem(s)")

    def render(self) -> str:
        lines = [f"{self.summary}: {len(self.problems)} problem(s)"]
        lines += [p.render() for p in self.problems]
        return "\n".join(lines)
