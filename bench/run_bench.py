#!/usr/bin/env python3
"""Benchmarks of the build on the BBC corpus and synthetic scale-ups; writes BENCHMARKS.md.

    python bench/run_bench.py [--corpus ../shared/corpora/bbc] [--scales 10,50] [--workers 2]

Measured, never asserted: end-to-end articles/s and words/s, peak RSS of the whole process
tree, the ratio of the build's time to spaCy's own nlp.pipe over the same texts (same model,
same number of processes), the speedup of 2 workers over 1, the cross-article stages at ×10 and
×50, and an incremental rebuild after adding one article. Scale-ups copy every article under a
new id and add a small perturbation (a boilerplate line the cleaner removes), so their texts
equal the originals: the extraction cache (warmed by the ×1 build) serves them, and the ×10 and
×50 runs measure everything else at scale. This is stated in the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERTURBATIONS = ["Share this post", "(AFP)", "Related stories", "LONDON"]


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (KiB), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        stack += children.get(p, [])
        try:
            with open(f"/proc/{p}/status", encoding="ascii", errors="replace") as fh:
                m = re.search(r"VmRSS:\s+(\d+)", fh.read())
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total


def run(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Run a command, sampling the process tree's RSS; returns seconds, peak MiB, stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_kib(proc.pid))
            time.sleep(0.25)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, err = proc.communicate()
    thread.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    stages = {m.group(1): float(m.group(2)) for m in re.finditer(r"stage (\S+)\s+([\d.]+) s", out)}
    driver = [float(m.group(1)) for m in re.finditer(r"peak RSS\s+([\d.]+) MiB", out)]
    return {
        "seconds": round(seconds, 2),
        "peak_mib": round(peak[0] / 1024, 1),
        "driver_peak_mib": max(driver, default=None),  # the build process alone
        "load_1min": round(os.getloadavg()[0], 2),
        "stages": stages,
        "stdout": out,
    }


def build(
    raw: Path, out: Path, workers: int, cache: Path | None, extra: list[str] | None = None
) -> dict:
    cmd = [
        sys.executable,
        str(ROOT / "build_dataset.py"),
        "--raw",
        str(raw),
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--on-error",
        "skip",
        *(extra or []),
    ]
    cmd += ["--cache", str(cache)] if cache else ["--no-cache"]
    return run(cmd)


def scale_up(corpus: Path, dest: Path, factor: int) -> int:
    """factor copies of every .txt, distinct ids, one removable boilerplate line added."""
    if dest.exists():
        shutil.rmtree(dest)
    n = 0
    files = sorted(corpus.rglob("*.txt"))
    for k in range(factor):
        for i, f in enumerate(files):
            target = dest / f"copy{k:03d}" / f.relative_to(corpus)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = f.read_bytes()
            if k:  # copy 0 is the original; the others carry a line the cleaner removes
                line = PERTURBATIONS[(k + i) % len(PERTURBATIONS)].encode()
                data = (
                    data + b"\n\n" + line + b"\n"
                    if line != b"LONDON"
                    else data.split(b"\n", 1)[0] + b"\n" + line + b"\n" + data.split(b"\n", 1)[-1]
                )
            target.write_bytes(data)
            n += 1
    return n


def spacy_pipe_seconds(texts_file: Path, workers: int) -> dict:
    """spaCy's own nlp.pipe over the same texts with the build's model and components."""
    code = f"""
import json, time
from newsbench.extract import load_nlp
texts = json.load(open({str(texts_file)!r}))
nlp = load_nlp(None)
start = time.perf_counter()
for _ in nlp.pipe(texts, batch_size=32, n_process={workers}):
    pass
print(time.perf_counter() - start)
"""
    result = run([sys.executable, "-c", code])
    return {
        "seconds": round(float(result["stdout"].strip().splitlines()[-1]), 2),
        "peak_mib": result["peak_mib"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    ap.add_argument("--scales", default="10,50")
    ap.add_argument("--work", type=Path, default=Path("/tmp/newsbench-bench"))
    ap.add_argument("--report", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--json", type=Path, default=None, help="also write raw figures as JSON")
    ap.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="only rewrite the report from figures saved with --json",
    )
    ap.add_argument(
        "--uncached",
        default="",
        help="scale-ups also built with no cache at all (every copy parsed), e.g. 10; with "
        "--from-json, run only these and add them to that file",
    )
    args = ap.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        if args.uncached:
            results.update(uncached_runs(args))
            args.from_json.write_text(json.dumps(results, indent=2))
        write_report(args, results)
        return
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        }
    }

    # ×1: one and two workers, no cache (every article parsed), then warm the cache.
    one = build(args.corpus, work / "out1", 1, None)
    two = build(args.corpus, work / "out2", 2, None)
    warm = build(args.corpus, work / "outc", 2, cache)
    manifest = json.loads((work / "out2" / "build_manifest.json").read_text())
    n_articles = manifest["row_counts"]["articles"]
    import pyarrow.parquet as pq

    articles = pq.read_table(work / "out2" / "data" / "articles").to_pylist()
    words = sum(a["n_words"] for a in articles)
    texts_file = work / "texts.json"
    texts_file.write_text(json.dumps([a["text"] for a in articles]))
    pipe1 = spacy_pipe_seconds(texts_file, 1)
    pipe2 = spacy_pipe_seconds(texts_file, 2)
    results["x1"] = {
        "articles": n_articles,
        "words": words,
        "workers1": one,
        "workers2": two,
        "cache_warm_build": warm,
        "spacy_pipe_1": pipe1,
        "spacy_pipe_2": pipe2,
    }

    # Incremental: add one article to the ×10 corpus after a full cached build.
    for factor in [int(x) for x in args.scales.split(",") if x]:
        raw = work / f"raw_x{factor}"
        n = scale_up(args.corpus, raw, factor)
        res = build(raw, work / f"out_x{factor}", 2, cache)
        results[f"x{factor}"] = {"files": n, "build": res}
        if factor == 10:
            extra = raw / "added" / "one.txt"
            extra.parent.mkdir(parents=True, exist_ok=True)
            extra.write_text(
                "Budget vote delayed\n\nThe council delayed its budget vote to "
                "Friday, the mayor said on Monday.\n",
                encoding="utf-8",
            )
            results["incremental_x10"] = build(raw, work / f"out_x{factor}", 2, cache)
            extra.unlink()
    results.update(uncached_runs(args))
    for key in list(results):
        for sub in ("workers1", "workers2", "cache_warm_build", "build"):
            if isinstance(results[key], dict) and sub in results[key]:
                results[key][sub].pop("stdout", None)
        if isinstance(results[key], dict):
            results[key].pop("stdout", None)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    write_report(args, results)


def uncached_runs(args: argparse.Namespace) -> dict:
    """Scale-ups built from nothing (2 workers, no cache): spaCy parses every copy, so these
    show the whole build's cost and the process tree's memory with the models loaded."""
    out = {}
    for factor in [int(x) for x in args.uncached.split(",") if x]:
        raw = args.work / f"raw_x{factor}"
        n = scale_up(args.corpus, raw, factor)
        res = build(raw, args.work / f"out_uncached_x{factor}", 2, None)
        res.pop("stdout", None)
        out[f"uncached_x{factor}"] = {"files": n, "build": res}
    return out


def write_report(args: argparse.Namespace, r: dict) -> None:
    x1 = r["x1"]
    t1, t2 = x1["workers1"]["seconds"], x1["workers2"]["seconds"]
    uncached = sorted((k for k in r if k.startswith("uncached_x")), key=lambda k: int(k[10:]))
    lines = [
        "# Benchmarks",
        "",
        "Written by `bench/run_bench.py` (measured, not asserted). Command:",
        "",
        f"    python bench/run_bench.py --corpus ../shared/corpora/bbc --scales {args.scales}"
        + (f" --uncached {','.join(k[10:] for k in uncached)}" if uncached else ""),
        "",
        f"Machine: {r['machine']['cpus']} cores, Python {r['machine']['python']}, "
        f"{r['machine']['platform']}.",
        "",
        "Load average (1 min) after each run is recorded in the JSON; other work on the machine",
        "inflates wall times, so compare ratios rather than absolute seconds.",
        "",
        "## ×1: the BBC corpus",
        "",
        f"{x1['articles']} articles, {x1['words']:,} words (one Latin-1 file rejected with "
        "`--on-error skip`).",
        "",
        "| run | seconds | articles/s | words/s | peak RSS (MiB, whole process tree) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, res in (
        ("build, 1 worker, no cache", x1["workers1"]),
        ("build, 2 workers, no cache", x1["workers2"]),
        ("build, 2 workers, cold cache", x1["cache_warm_build"]),
    ):
        lines.append(
            f"| {label} | {res['seconds']} | {x1['articles'] / res['seconds']:.1f} "
            f"| {x1['words'] / res['seconds']:,.0f} | {res['peak_mib']} |"
        )
    p1, p2 = x1["spacy_pipe_1"]["seconds"], x1["spacy_pipe_2"]["seconds"]
    lines += [
        f"| spaCy nlp.pipe only, 1 process | {p1} | {x1['articles'] / p1:.1f} "
        f"| {x1['words'] / p1:,.0f} | {x1['spacy_pipe_1']['peak_mib']} |",
        f"| spaCy nlp.pipe only, 2 processes | {p2} | {x1['articles'] / p2:.1f} "
        f"| {x1['words'] / p2:,.0f} | {x1['spacy_pipe_2']['peak_mib']} |",
        "",
        f"- Build time / nlp.pipe time: **{t1 / p1:.2f}** with 1 worker, **{t2 / p2:.2f}** with "
        "2 (target ≤ 1.3).",
        f"- Speedup of 2 workers over 1: **{t1 / t2:.2f}** (target ≥ 1.7).",
        "",
        "Time per stage (2 workers, no cache):",
        "",
        "| stage | seconds |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in x1["workers2"]["stages"].items()]
    scales = [k for k in r if re.fullmatch(r"x\d+", k) and k != "x1"]
    if scales:
        lines += [
            "",
            "## Scale-ups",
            "",
            "Every article copied under a new id with one removable boilerplate line, so the",
            "cleaned texts equal the originals and the extraction cache serves them: these runs",
            "measure reading, cleaning, near-duplicate detection, linking, validation and",
            "writing at scale, not spaCy (whose cost is linear and measured at ×1).",
            "",
            "| scale | files | seconds | peak RSS, tree (MiB) | peak RSS, build process (MiB) "
            "| read+normalize | near-duplicates | extract+link | validate | write |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        base = x1["cache_warm_build"]
        for k in ["x1", *scales]:
            res = base if k == "x1" else r[k]["build"]
            n = x1["articles"] if k == "x1" else r[k]["files"]
            st = res["stages"]
            lines.append(
                f"| {k} | {n} | {res['seconds']} | {res['peak_mib']} "
                f"| {res.get('driver_peak_mib', '')} | {st.get('read+normalize', '')} "
                f"| {st.get('near-duplicates', '')} "
                f"| {st.get('extract+link', '')} | {st.get('validate', '')} "
                f"| {st.get('write', '')} |"
            )
        if "x50" in r:
            ratio = r["x50"]["build"]["peak_mib"] / base["peak_mib"]
            lines.append("")
            lines.append(f"- Peak RSS ×50 / ×1: **{ratio:.2f}** (target ≤ 1.5).")
    if uncached:
        lines += [
            "",
            "## Uncached scale-ups",
            "",
            "The same corpora built with no cache at all (2 workers): every copy is parsed.",
            "",
            "| scale | files | seconds | × the ×1 build, per file | peak RSS, tree (MiB) "
            "| peak RSS, build process (MiB) | extract+link | near-duplicates |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for k in uncached:
            res, n = r[k]["build"], r[k]["files"]
            per_file = (res["seconds"] / n) / (t2 / x1["articles"])
            lines.append(
                f"| {k[9:]} | {n} | {res['seconds']} | {per_file:.2f} | {res['peak_mib']} "
                f"| {res.get('driver_peak_mib', '')} | {res['stages'].get('extract+link', '')} "
                f"| {res['stages'].get('near-duplicates', '')} |"
            )
    if "incremental_x10" in r:
        inc = r["incremental_x10"]["seconds"]
        full = r["x10"]["build"]["seconds"]
        measured = r.get("uncached_x10", {}).get("build", {}).get("seconds")
        denominator = measured or t2 * 10
        how = "measured" if measured else "estimated as 10 × the ×1 build"
        lines += [
            "",
            "## Incremental rebuild",
            "",
            f"Adding one article to the ×10 corpus and rebuilding with the cache: {inc} s, "
            f"against {full} s for the cached ×10 build and {denominator:.0f} s for an "
            f"uncached ×10 build ({how}): **{inc / denominator:.1%}** of a full "
            "build (target < 10%).",
        ]
    lines += ["", "## What limits them", "", LIMITS]
    args.report.write_text("\n".join(lines) + "\n", encoding="utf-8")


LIMITS = """- **Build / nlp.pipe ratio and speedup.** Met with 2 workers, not with 1: 1.39 with 1
  worker and 1.18 with 2, speedup 1.80 (the previous full run, at e1619cf, gave 1.38, 1.40 and
  1.69, and a second ×1 sample 1.25, 1.40 and 1.83). The code measured here (3c51a60) changes
  no extraction since then: its changes are in linking, whose cached share of the ×1 build is
  about 10 s. So the spread between runs is the machine's (spaCy's own 1-process run took 130,
  153 and now 144 s): do not read any one run as a margin. What the 1-worker build adds to
  spaCy's parse is the rule-based quote, claim and entity extraction in Python over every
  token (its extract+link took 190 s against spaCy's 144) and then about 10 s of linking,
  validating and writing alone in the build process. That is Amdahl: spaCy's own run has no
  serial part.
- **Memory.** Met on this measure: peak RSS ×50 / ×1 is 0.88. No table's rows stay in memory
  (Arrow IPC spill files in `TMPDIR`, `newsbench.spill`), and the cross-article stages hold
  keys, not rows: near-duplicate detection spills its band keys and sorts them on disk, quote
  and claim clustering is a keyed reduce over keys spilled beside the rows, one block (a
  story, or the pool of articles without a story id) at a time, and entity linking now spills
  its chains and mentions, makes its links in keyed reduces and its entity rows from sorts on
  disk, holding integer arrays per chain (about 50 bytes a chain). The ×1 tree peak includes
  the two workers' spaCy models (about 500 MiB each), which the cached scale-ups never load,
  so the ratio flatters. The build process itself peaks at 382, 609 and 961 MiB at ×1, ×10
  and ×50 (382, 737 and 1,117 in the previous full run): it grows by about 5.0 KiB per article
  between ×10 and ×50, where it grew by 5.4. What grows is mostly the clustering of the pool:
  the BBC corpus has no story ids, so its pool is the whole corpus, and the reduce holds the
  pool's keys (about 530 bytes a claim and 740 a quote at the clustering peak: input keys,
  inverted index, one component's dicts). With story ids clustering is bounded by the
  largest story; without them it is not, and bounding it needs an out-of-core clustering
  (document frequencies as a reduce, postings sorted on disk, features joined to the
  candidate pairs on disk), which is not written. Entity linking's own memory, measured alone
  (`bench/entity_memory.py`, tracemalloc, Arrow's buffers from a pool of their own): on the
  distinct BBC articles its Python peak fell from 20.4 to 7.2 MiB and what it keeps for the
  second pass from 11.7 to 2.0 MiB; at ×10 from 107 to 40 MiB (bounded now by the on-disk
  sort's 64 MiB budget, plus 47 MiB of Arrow buffers in that sort) and from 80 to 1 MiB. It
  took 8.5 s at ×1 (9.3 before) and 62 s at ×10 under tracemalloc (52 before). The largest
  entity's row grows with the corpus (United States: 1,432 mentions at ×1, 71,600 at ×50):
  linking drafts such rows with Arrow, but validation turns a chunk of at least 1,000 rows
  into Python objects. Linking's overall Python peak on the distinct BBC articles is 12.5 KiB
  an article (`bench/memory_profile.py`; 11.6 at ee22dd3 in the same run's conditions, within
  the fixed buffers' noise at ×1): it is the pool's clustering, which this run does not
  change. **The scale-ups understate the cost of distinct articles**: their copies share
  interned keys.
- **Incremental rebuild.** Met. Unchanged raw files are read and hashed, never cleaned or
  signed again (prepare cache); unchanged texts are never parsed again (extraction cache,
  relabelled for free on load). What remains is the cross-article work over the whole corpus:
  loading the cached extractions and linking (about 60% of the rebuild), near-duplicates,
  validation and writing. Reusing the previous link (only stories and keys touched by new
  articles) is the step after this.
- **Cross-article stages.** Linking reduces identical quotes and claims by key before any
  pairwise comparison and compares the rest inside blocks, so its time grows about linearly
  (×10 → ×50: 3.95 times the time for 5 times the articles; 3.5 in the previous full run).
  Near-duplicate detection grew 4.2 times (1.9 s to 8.0 s; 7.1 in the previous run, with the
  same local code: seconds this short move with the machine's load). Validation grew 3.3
  times. On Ray, clustering, entity linking's three reduces and the near-duplicate search
  (verified inside its tasks) are hash-partitioned groupbys (`docs/ray.md`); on one machine
  the local runner is faster.
- **Scale-ups.** The ×10 and ×50 corpora repeat the BBC texts (distinct ids, boilerplate
  perturbations), so the extraction cache serves them and near-duplicate detection finds every
  copy: they measure the stages other than spaCy, whose cost per word is constant. The
  uncached ×10 build (`--uncached 10`) parses every copy: 0.82 times the ×1 build's time per
  file (linear; the ×1 build also pays the fixed costs), and a tree peak of 1.13 times the ×1
  build's with both workers' models loaded. An uncached ×50 (about 75 minutes here) was not
  run. Their read+normalize column is a first build (prepare cache cold); the ×1 row is the
  cold-cache build, spaCy included."""


if __name__ == "__main__":
    main()
