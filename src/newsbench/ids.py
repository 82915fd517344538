"""Ids derived from content, so they are stable across rebuilds and across versions (as dolma)."""

from __future__ import annotations

import hashlib


def content_id(prefix: str, *parts: str, length: int = 16) -> str:
    """`prefix-` + the first `length` hex digits of sha1 over the parts joined by a separator."""
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:length]}"
