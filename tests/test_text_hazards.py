"""Hostile text through the real build: control characters, terminal escapes, bidi overrides,
zero-width characters, BOMs, line-end variants, Unicode spaces, mojibake, NFD, huge lines.

What normalize.normalize_span documents, and what is asserted for every article:
- ftfy drops C0 control characters and terminal escape sequences; \\n is the only control
  character left (paragraphs are joined with "\\n\\n"; tabs and Unicode spaces collapse to one
  space; CR, CRLF, VT, FF, FS/GS/RS, NEL, U+2028/9 end a line).
- bidi embeddings, overrides, isolates, LRM/RLM, zero-width space, word joiner and BOM are
  removed (ZWJ/ZWNJ are kept on purpose: scripts and emoji need them).
- mojibake is repaired, the text is NFC; words are otherwise never changed.
- the kept and removed spans published in `articles` partition the raw text exactly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from newsbench.normalize import Normalized, Span, check_partition, normalize

from conftest import ROOT, run_build

ARGS = ("--no-gold", "--no-cache", "--workers", "1")
BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZERO_WIDTH = set("\u200b\u2060\ufeff")
BODY = "The minister said the plan would work."

# file -> (raw bytes, the title and text a reader sees)
CASES: dict[str, tuple[bytes, str | None, str]] = {
    "bell.txt": (
        b"A ringing title\n\nThe bell\x07 rang at noon in the hall.\n",
        "A ringing title",
        "The bell rang at noon in the hall.",
    ),
    "ansi.txt": (
        b"Red \x1b[1malert\x1b[0m\n\nThe \x1b[31mred\x1b[0m light was on\x1b[2K all night.\n",
        "Red alert",
        "The red light was on all night.",
    ),
    "c0-mix.txt": (
        b"Controls\x01 title\n\nOne\x02 two\x08 three\x0e four\x1f five\x7f six\tseven.\n",
        "Controls title",
        "One two three four five six seven.",
    ),
    "nul-late.txt": (  # past the 8 KB binary sniff, so it is decoded and cleaned
        b"Late nul\n\n" + b"Padding words here. " * 500 + b"\n\nThe\x00 end.\n",
        "Late nul",
        " ".join(["Padding words here."] * 500) + "\n\nThe end.",
    ),
    "bidi.txt": (
        "Bidi \u202etitle\u202c\n\nThe file \u202eexe.txt\u202c was named \u2066oddly\u2069"
        " and \u2067so\u2069 was \u2068that\u2069, \u202aembedded\u202c \u202bhere\u202c"
        " \u202doverridden\u202c \u200emarked\u200f.\n".encode(),
        "Bidi title",
        "The file exe.txt was named oddly and so was that, embedded here overridden marked.",
    ),
    "zero-width.txt": (
        "Zero\u200bwidth\n\nThe mini\u200bster spoke to the com\ufeffmittee on Tues\u2060day.\n"
        "ZWJ stays: family \U0001f468\u200d\U0001f469 and ZWNJ: \u0645\u06cc\u200c\u062e\u0648"
        "\u0627\u0647\u0645.\n".encode(),
        "Zerowidth",
        "The minister spoke to the committee on Tuesday.\n\n"
        "ZWJ stays: family \U0001f468\u200d\U0001f469 and ZWNJ: \u0645\u06cc\u200c\u062e\u0648"
        "\u0627\u0647\u0645.",
    ),
    "bom.txt": (
        b"\xef\xbb\xbfBom title\n\n" + BODY.encode() + b"\n",
        "Bom title",
        BODY,
    ),
    "crlf.txt": (
        b"Crlf title\r\n\r\nFirst paragraph here.\r\nSecond paragraph here.\r\n",
        "Crlf title",
        "First paragraph here.\n\nSecond paragraph here.",
    ),
    "lone-cr.txt": (
        b"Old Mac title\r\rFirst paragraph here.\rSecond paragraph here.\r",
        "Old Mac title",
        "First paragraph here.\n\nSecond paragraph here.",
    ),
    "other-breaks.txt": (
        "Breaks title\n\nOne\u2028two\u2029three\x0bfour\x0cfive\x1csix\x85seven.\n".encode(),
        "Breaks title",
        "One\n\ntwo\n\nthree\n\nfour\n\nfive\n\nsix\n\nseven.",
    ),
    "spaces.txt": (
        "Spaces\u00a0title\n\nThe\u00a0minister\u2009said\u3000the\u2003plan\u202fwould"
        "\u2002\u2002work.\n".encode(),
        "Spaces title",
        BODY,
    ),
    "mojibake.txt": (
        "Mojibake title\n\nShe said: I donâ€™t know what the cafÃ© will do.\n".encode(),
        "Mojibake title",
        "She said: I don’t know what the café will do.",
    ),
    "nfd.txt": (
        "Cafe\u0301 title\n\nThe cafe\u0301 in Zu\u0308rich opened on the A\u030ar.\n".encode(),
        "Café title",
        "The café in Zürich opened on the År.",
    ),
}
BOILERPLATE = b"Share this article\n\nSubscribe now\n\nComments\n\nBe the first to know\n"


def decode(data: bytes) -> str:
    return data.decode("utf-8")  # as read.read_source does: a UTF-8 BOM stays in the raw text


def from_row(row: dict[str, Any]) -> Normalized:
    return Normalized(
        title=row["title"],
        text=row["text"],
        kept=[Span(s["start"], s["end"], s["role"]) for s in row["kept"]],
        removed=[Span(s["start"], s["end"], s["reason"]) for s in row["removed"]],
    )


def hazards(text: str) -> list[str]:
    """What must never be in published text, by character."""
    found = []
    for ch in set(text):
        if (ch < " " and ch != "\n") or ch == "\x7f":
            found.append(f"C0 control {ch!r}")
        if ch in BIDI_CONTROLS:
            found.append(f"bidi control U+{ord(ch):04X}")
        if ch in ZERO_WIDTH:
            found.append(f"zero-width U+{ord(ch):04X}")
    if unicodedata.normalize("NFC", text) != text:
        found.append("not NFC")
    if re.search(r"[^\S\n]{2,}| \n|\n ", text):
        found.append("uncollapsed whitespace")
    return sorted(found)


@pytest.fixture(scope="module")
def hazard_build(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, Path, dict[str, dict[str, Any]]]]:
    work = tmp_path_factory.mktemp("hazards")
    raw, out = work / "raw", work / "out" / "newsbench"
    raw.mkdir()
    for name, (data, _, _) in CASES.items():
        (raw / name).write_bytes(data)
    (raw / "boilerplate.txt").write_bytes(BOILERPLATE)
    proc = run_build("--raw", str(raw), "--out", str(out), "--on-error", "skip", *ARGS)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = pq.read_table(out / "data" / "articles" / "test-00000-of-00001.parquet").to_pylist()
    yield raw, out, {r["source_file"]: r for r in rows}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hazard_is_cleaned_and_words_are_kept(
    name: str,
    hazard_build: tuple[Path, Path, dict[str, dict[str, Any]]],
) -> None:
    raw, _, rows = hazard_build
    _, title, text = CASES[name]
    row = rows[name]
    assert row["title"] == title
    assert row["text"] == text
    assert hazards(row["text"]) == []
    assert hazards(row["title"] or "") == []
    raw_text = decode((raw / name).read_bytes())
    assert check_partition(raw_text, from_row(row)) == []
    assert row["n_words"] == len(text.split())


def test_boilerplate_only_file_is_rejected_with_its_reasons(
    hazard_build: tuple[Path, Path, dict[str, dict[str, Any]]],
) -> None:
    _, out, rows = hazard_build
    assert "boilerplate.txt" not in rows
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert [r["file"] for r in rejects] == ["boilerplate.txt"]
    message = rejects[0]["message"]
    assert "no article text left after cleaning" in message
    for reason in ("share-widget", "newsletter", "comments-widget"):
        assert reason in message
    assert set(rows) == set(CASES)  # every other hazard file became an article


def test_boilerplate_only_file_fails_the_default_build_clearly(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    (raw / "good.txt").write_text(f"Title\n\n{BODY}\n", encoding="utf-8")
    (raw / "boilerplate.txt").write_bytes(BOILERPLATE)
    proc = run_build("--raw", str(raw), "--out", str(out), *ARGS)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "boilerplate.txt: no article text left after cleaning" in proc.stderr
    assert "fix:" in proc.stderr
    assert not out.exists()


# --- what the normalizer's documented sets leave out (known gaps, see RELIABILITY.md) ----------


def test_every_bidi_control_is_removed() -> None:
    for ch in sorted(BIDI_CONTROLS):
        raw = f"Title\n\nThe mini{ch}ster spoke.\n"
        result = normalize(raw)
        assert check_partition(raw, result) == []
        assert result.text == "The minister spoke.", f"U+{ord(ch):04X}"


def test_no_c1_control_survives() -> None:
    raw = "Title\n\n" + "".join(f"w{chr(c)}x " for c in range(0x80, 0xA0) if c != 0x85) + "end\n"
    result = normalize(raw)
    assert check_partition(raw, result) == []
    left = sorted(f"U+{ord(c):04X}" for c in set(result.text) if 0x80 <= ord(c) < 0xA0)
    assert left == []


# --- very long lines ---------------------------------------------------------------------------

MB = 1024 * 1024
PHRASE = b"the minister said on Tuesday that the council would review its plan "


def long_article() -> bytes:
    """A headline and one body line of 1 MiB (1,048,576 bytes, all on one line)."""
    line = (PHRASE * (MB // len(PHRASE) + 1))[: MB - 1].rstrip() + b"."
    return b"One very long line\n\n" + line.ljust(MB, b"x") + b"\n"


def test_normalizer_handles_a_one_megabyte_line() -> None:
    raw = decode(long_article())
    result = normalize(raw)
    assert check_partition(raw, result) == []
    assert result.title == "One very long line"
    assert result.text.split() == raw.split("\n\n", 1)[1].split()
    assert hazards(result.text) == []


def test_build_survives_a_one_megabyte_line(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    (raw / "long.txt").write_bytes(long_article())
    (raw / "good.txt").write_text(f"Title\n\n{BODY}\n", encoding="utf-8")
    proc = run_build("--raw", str(raw), "--out", str(out), "--on-error", "skip", *ARGS)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = pq.read_table(out / "data" / "articles").to_pylist()
    long_rows = [r for r in rows if r["source_file"] == "long.txt"]
    if long_rows:  # built: the partition holds; otherwise it must be listed as rejected
        assert check_partition(decode(long_article()), from_row(long_rows[0])) == []
    else:
        assert "long.txt" in (out / "rejects.jsonl").read_text()


# --- the size limit is checked before reading -----------------------------------------------


def refusal_peak_rss(raw: Path, out: Path, *extra: str) -> tuple[int, str, float]:
    """Run a build that must refuse its input: (exit code, stderr, the build's own peak RSS
    in MB, from wait4, so earlier child processes of the test session do not count)."""
    cmd = [sys.executable, str(ROOT / "build_dataset.py"), "--raw", str(raw), "--out", str(out)]
    with open(out.parent / "stderr", "w+") as err:
        proc = subprocess.Popen(
            [*cmd, *ARGS, *extra],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            cwd=ROOT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return proc.returncode, err.read(), usage.ru_maxrss / 1024  # Linux: KiB


def test_oversized_sparse_file_is_refused_without_being_read(tmp_path: Path) -> None:
    """A 200 MB sparse file next to a good one is refused by its size alone: the build's peak
    RSS is that of the same build refusing a 2 KB file for size (--max-file-mb 0.001), not
    200 MB more, so the file was never read."""
    big, small = tmp_path / "big", tmp_path / "small"
    for folder in (big, small):
        (folder / "raw").mkdir(parents=True)
        (folder / "raw" / "good.txt").write_text(f"Title\n\n{BODY}\n", encoding="utf-8")
    with open(big / "raw" / "huge.txt", "wb") as fh:
        fh.truncate(200 * MB)
    (small / "raw" / "huge.txt").write_bytes(b"Title\n\n" + b"word " * 400)

    code, stderr, peak = refusal_peak_rss(big / "raw", big / "out")
    assert code == 1, stderr
    assert "huge.txt: file is 209,715,200 bytes, over the 20,971,520-byte limit" in stderr
    assert "Traceback" not in stderr and not (big / "out").exists()

    code, stderr, peak_small = refusal_peak_rss(
        small / "raw", small / "out", "--max-file-mb", "0.001"
    )
    assert code == 1 and "huge.txt: file is 2,007 bytes, over the 1,048-byte limit" in stderr
    print(f"\npeak RSS refusing a 200 MB file: {peak:.0f} MB; a 2 KB file: {peak_small:.0f} MB")
    assert peak - peak_small < 50
