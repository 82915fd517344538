"""YAML for files people edit: safe types only, no aliases, bounded size.

`yaml.safe_load` already refuses arbitrary tags, but it expands anchors and aliases, so a
"billion laughs" file of a few hundred bytes can take gigabytes. Input YAML here never needs
aliases, so they are refused outright.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_YAML_BYTES = 5 * 1024 * 1024


class YamlError(ValueError):
    """A YAML file that cannot be used; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YamlError(
                "YAML aliases (*name) are not allowed in newsbench input files",
                line=event.start_mark.line + 1,
            )
        return super().compose_node(parent, index)


def load_yaml(path: Path) -> Any:
    """Parse one input YAML file or raise YamlError with the line of the problem."""
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise YamlError(f"file is {size:,} bytes; YAML input is limited to {MAX_YAML_BYTES:,}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"not valid UTF-8 at byte {exc.start}") from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(f"malformed YAML: {exc.problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"malformed YAML: {exc}") from None
