#!/usr/bin/env python3
"""Speed, memory and detection benchmark: modeltrust against picklescan, modelscan, fickling,
ModelAudit and modelwarden.

    .venv/bin/python benchmarks/bench_scan.py            # full run, writes docs/benchmarks.md
    .venv/bin/python benchmarks/bench_scan.py --quick    # ~200 MB corpus, report under .work/
    .venv/bin/python benchmarks/bench_scan.py --skip-peers

What it does:

1. builds a ~1.5 GiB corpus of benign real checkpoints with torch/numpy (cached);
2. installs every peer from PyPI into a throwaway venv under ``benchmarks/.work/venvs``;
3. warms the page cache, then times each tool over the whole corpus folder (wall time including
   start-up, peak RSS from ``os.wait4``), median of ``--runs`` for modeltrust and the two reference
   peers, one run for the slow ones;
4. checks the goal: modeltrust <= 0.5 x the faster of picklescan and modelwarden, peak RSS <= 100 MB,
   and neither numpy nor torch imported on the scan path;
5. runs every tool on every sample of ``tests/builders/samples.py`` (malicious and benign), on small
   real benign files and (from step 3) on every corpus file, and counts detections, false alarms
   and errors;
6. checks that the canary path that every malicious payload would create does not exist;
7. prints the tables and writes ``docs/benchmarks.md``.

Nothing here loads or unpickles a sample. Everything it writes, except the report, is under
``benchmarks/.work/``.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import _corpus  # noqa: E402
import _report  # noqa: E402
from _measure import Run, median, peak, run_measured  # noqa: E402
from _tools import (  # noqa: E402
    CLEAN,
    ERROR,
    FLAGGED,
    TIMEOUT,
    Tool,
    make_tools,
    single_process_modeltrust,
)

REFERENCE_PEERS = ("picklescan", "modelwarden")
REPEATED = ("modeltrust", "modeltrust -j1", *REFERENCE_PEERS)
HEAVY_MODULES = ("numpy", "torch", "pandas", "sklearn", "joblib")
# Set by --rev: PYTHONPATH pointing at an exported commit's src/, for every modeltrust run.
SRC_ENV: dict[str, str] = {}


def log(msg: str) -> None:
    print(msg, flush=True)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "x"


# ---------------------------------------------------------------------------------------------
# machine
# ---------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = "?"
    with Path("/proc/cpuinfo").open() as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with Path("/proc/meminfo").open() as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ---------------------------------------------------------------------------------------------
# speed and memory
# ---------------------------------------------------------------------------------------------


def attribute(locations: list[str], rels: list[str]) -> list[str]:
    """Corpus files (relative paths) that the reported locations point at."""
    hits = []
    for rel in rels:
        pat = re.compile(r"(?:^|/)" + re.escape(rel) + r"(?=$|[:\s(])")
        if any(pat.search(loc) for loc in locations):
            hits.append(rel)
    return hits


def run_record(run: Run) -> dict[str, Any]:
    return {
        "wall_s": round(run.wall_s, 4),
        "cpu_s": round(run.cpu_s, 3),
        "peak_mb": round(run.peak_mb, 1),
        "tree_rss_mb": round(run.tree_rss_mb, 1),
        "tree_pss_mb": round(run.tree_pss_mb, 1),
        "procs": run.max_procs,
        "rc": run.rc,
        "timed_out": run.timed_out,
        "stderr_tail": run.stderr.strip()[-400:],
    }


def time_once(tool: Tool, root: Path, rels: list[str], i: int, timeout: float, tag: str):
    """One timed run of ``tool`` over the folder ``root``; returns its record."""
    out_dir = WORK / "runs" / slug(tool.name) / tag
    out = out_dir / f"run{i}.json"
    out.unlink(missing_ok=True)
    run = run_measured(
        tool.command(root, out),
        timeout=timeout,
        env=tool.env,
        log_dir=out_dir,
        tag=f"run{i}",
        sample_tree=True,
    )
    rec = run_record(run)
    rec["views"] = {}
    for label, judge in tool.views():
        v = judge(run, out)
        rec["views"][label] = {
            "status": v.status,
            "detail": v.detail,
            "scanned": v.scanned,
            "flagged_files": attribute(v.flagged_locations, rels),
            "errored_files": [],
        }
    rec["output"] = str(out)
    log(
        f"  {tool.name:14s} run {i + 1}: {run.wall_s:8.2f} s (cpu {run.cpu_s:.2f})"
        f"  {run.peak_mb:7.1f} MB "
        f"(tree {run.tree_rss_mb:.0f} MB RSS, {run.tree_pss_mb:.0f} MB PSS, "
        f"{run.max_procs} proc)  exit {run.rc}{' TIMEOUT' if run.timed_out else ''}"
    )
    return rec


def time_folder(
    tools: list[Tool], root: Path, rels: list[str], runs: int, timeout: float, tag: str
) -> dict[str, list[dict[str, Any]]]:
    """Time each tool ``runs`` times over ``root``, round-robin (tool A, B, C, A, B, C ...) so
    that a burst of load from elsewhere on the machine hits every tool alike. A tool that times
    out is not run again."""
    records: dict[str, list[dict[str, Any]]] = {t.name: [] for t in tools}
    for i in range(runs):
        for tool in tools:
            if records[tool.name] and records[tool.name][-1]["timed_out"]:
                continue
            records[tool.name].append(time_once(tool, root, rels, i, timeout, tag))
    return records


def time_per_file(tool: Tool, root: Path, rels: list[str], timeout: float, tag: str):
    """For a CLI that takes one file: run it once per file, sum the times, keep the largest RSS.

    JSON sidecars (``config.json``, the shard index) are not model files and are left out.
    """
    out_dir = WORK / "runs" / slug(tool.name) / tag
    wall = 0.0
    peak_mb = tree_rss = tree_pss = cpu = 0.0
    flagged, errored, rcs = [], [], {}
    timed_out = False
    scanned = 0
    for k, rel in enumerate(rels):
        if rel.endswith(".json"):
            continue
        left = timeout - wall
        if left <= 0:
            timed_out = True
            break
        out = out_dir / f"f{k:04d}.json"
        out.unlink(missing_ok=True)
        run = run_measured(
            tool.command(root / rel, out),
            timeout=left,
            env=tool.env,
            log_dir=out_dir,
            tag=f"f{k}",
            sample_tree=True,
        )
        wall += run.wall_s
        cpu += run.cpu_s
        peak_mb = peak([peak_mb, run.peak_mb])
        tree_rss = peak([tree_rss, run.tree_rss_mb])
        tree_pss = peak([tree_pss, run.tree_pss_mb])
        v = tool.verdict(run, out)
        rcs[str(run.rc)] = rcs.get(str(run.rc), 0) + 1
        scanned += v.scanned or 0
        if v.status == FLAGGED:
            flagged.append(rel)
        elif v.status in (ERROR, TIMEOUT):
            errored.append(rel)
        if run.timed_out:
            timed_out = True
            break
    status = TIMEOUT if timed_out else (FLAGGED if flagged else (ERROR if errored else CLEAN))
    rec = {
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 3),
        "peak_mb": round(peak_mb, 1),
        "tree_rss_mb": round(tree_rss, 1),
        "tree_pss_mb": round(tree_pss, 1),
        "procs": 1,
        "rc": ", ".join(f"{c} ({n} files)" for c, n in sorted(rcs.items())),
        "timed_out": timed_out,
        "stderr_tail": "",
        "views": {
            tool.name: {
                "status": status,
                "detail": f"{len(flagged)} flagged, {len(errored)} errors",
                "scanned": scanned,
                "flagged_files": flagged,
                "errored_files": errored,
            }
        },
        "output": str(out_dir),
    }
    log(
        f"  {tool.name:12s} per file : {wall:8.2f} s  {peak_mb:7.1f} MB  exits {rec['rc']}"
        f"{' TIMEOUT' if timed_out else ''}"
    )
    return [rec]


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in records]
    return {
        "runs": len(records),
        "median_s": round(median(walls), 3),
        "min_s": round(min(walls), 3),
        "max_s": round(max(walls), 3),
        "cpu_s": round(median([r["cpu_s"] for r in records]), 3),
        "peak_mb": peak([r["peak_mb"] for r in records]),
        "tree_rss_mb": peak([r["tree_rss_mb"] for r in records]),
        "tree_pss_mb": peak([r["tree_pss_mb"] for r in records]),
        "procs": max(r["procs"] for r in records),
        "timed_out": any(r["timed_out"] for r in records),
        "rc": records[0]["rc"],
        "views": records[0]["views"],
        "stderr_tail": records[0]["stderr_tail"],
    }


def wait_for_idle(max_wait: float, log_every: float = 60) -> dict[str, Any]:
    """Timings on a shared machine are only comparable when nothing else runs: wait (up to
    ``max_wait`` s) for the 1-minute load average to drop below half the core count."""
    limit = (os.cpu_count() or 1) / 2
    start = time.monotonic()
    last = 0.0
    while os.getloadavg()[0] >= limit and time.monotonic() - start < max_wait:
        if time.monotonic() - last >= log_every:
            log(f"speed: machine busy (load {os.getloadavg()[0]:.1f} >= {limit:.1f}); waiting")
            last = time.monotonic()
        time.sleep(10)
    return {
        "load_before": round(os.getloadavg()[0], 2),
        "waited_s": round(time.monotonic() - start),
        "limit": limit,
    }


def startup_probe(tools: list[Tool], runs: int) -> dict[str, float]:
    """Median wall time on a folder holding one 4-byte pickle (``None``): the fixed cost."""
    folder = WORK / "startup"
    folder.mkdir(parents=True, exist_ok=True)
    tiny = folder / "tiny.pkl"
    tiny.write_bytes(b"\x80\x02N.")
    out: dict[str, float] = {}
    for tool in tools:
        target = folder if tool.folders else tiny
        walls = []
        for i in range(runs):
            o = WORK / "runs" / slug(tool.name) / "startup" / f"run{i}.json"
            o.parent.mkdir(parents=True, exist_ok=True)
            r = run_measured(
                tool.command(target, o), timeout=120, env=tool.env, log_dir=o.parent, tag=f"s{i}"
            )
            walls.append(r.wall_s)
        out[tool.name] = round(median(walls), 3)
        log(f"  start-up {tool.name:12s} {out[tool.name]:.3f} s")
    return out


def startup_breakdown(runs: int = 5) -> list[dict[str, Any]]:
    """Where modeltrust's fixed cost goes: interpreter, imports, CLI parsing, a trivial scan."""
    tiny = WORK / "startup"
    out = WORK / "runs" / "modeltrust" / "breakdown"
    py = sys.executable
    steps = [
        ("Python interpreter (`python -c pass`)", [py, "-c", "pass"]),
        (
            "`import modeltrust.cli` (click, the findings model)",
            [py, "-c", "import modeltrust.cli"],
        ),
        (
            "`import modeltrust.scanners.engine` (the engine and lazy registry, no scanner yet)",
            [py, "-c", "import modeltrust.scanners.engine"],
        ),
        (
            "`import modeltrust.scanners.pickle.scanner` (what a pickle scan loads)",
            [py, "-c", "import modeltrust.scanners.pickle.scanner"],
        ),
        (
            "`modeltrust scan` of one 4-byte pickle, JSON output",
            [
                str(Path(py).with_name("modeltrust")),
                "scan",
                str(tiny),
                "-f",
                "json",
                "-o",
                str(out / "tiny.json"),
                "--no-progress",
            ],
        ),
    ]
    rows = []
    for label, cmd in steps:
        walls = [
            run_measured(cmd, timeout=60, env=SRC_ENV, log_dir=out, tag=f"b{i}").wall_s
            for i in range(runs)
        ]
        rows.append({"step": label, "median_s": round(median(walls), 3)})
        log(f"  breakdown: {rows[-1]['median_s']:.3f} s  {label}")
    return rows


def import_hygiene(root: Path) -> dict[str, Any]:
    """Run a modeltrust scan in one interpreter and list the heavy modules it imported."""
    out = WORK / "runs" / "modeltrust" / "imports.json"
    report = WORK / "runs" / "modeltrust" / "imports-report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    code = (
        "import json, sys\n"
        "from modeltrust.cli import main\n"
        f"sys.argv = ['modeltrust', 'scan', {str(root)!r}, '-f', 'json', '-o', {str(report)!r},"
        " '--no-progress']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY_MODULES!r})\n"
        f"open({str(out)!r}, 'w').write(json.dumps(heavy))\n"
    )
    run = run_measured(
        [sys.executable, "-c", code], timeout=900, env=SRC_ENV, log_dir=out.parent, tag="imports"
    )
    try:
        heavy = json.loads(out.read_text())
    except (OSError, ValueError):
        return {"ok": False, "heavy": None, "error": run.stderr[-400:]}
    return {"ok": not heavy, "heavy": heavy[:20], "count": len(heavy)}


def scaling_runs(tools: list[Tool], root: Path, runs: int, timeout: float) -> list[dict[str, Any]]:
    """Same pickle structure, payload 1000x larger: cost should follow structure, not bytes."""
    rows = []
    for case in sorted(p.name for p in root.iterdir() if p.is_dir()):
        folder = root / case
        size = _corpus.dir_size(folder)
        row: dict[str, Any] = {"case": case, "bytes": size, "tools": {}}
        timed = time_folder(
            [t for t in tools if t.folders], folder, [], runs, timeout, f"scaling-{case}"
        )
        for name, recs in timed.items():
            row["tools"][name] = {
                "median_s": round(median([r["wall_s"] for r in recs]), 3),
                "min_s": round(min(r["wall_s"] for r in recs), 3),
                "peak_mb": peak([r["peak_mb"] for r in recs]),
                "rc": recs[0]["rc"],
            }
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------------


def load_samples(canary: str, wait_s: float, poll_s: float):
    """Import tests.builders.samples, waiting for it to appear (it is written concurrently)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    deadline = time.monotonic() + wait_s
    while True:
        try:
            importlib.invalidate_caches()
            for name in [m for m in sys.modules if m.startswith("tests")]:
                del sys.modules[name]
            mod = importlib.import_module("tests.builders.samples")
            mal = mod.malicious_samples(canary)
            ben = mod.benign_samples()
        except Exception as e:  # noqa: BLE001 - a half-written module may fail in any way
            if time.monotonic() >= deadline:
                return None, None, f"{type(e).__name__}: {e}"
            log(
                f"detection: tests.builders.samples not usable yet ({type(e).__name__}: {e}); "
                f"retrying in {poll_s:.0f} s"
            )
            time.sleep(poll_s)
        else:
            return mal, ben, None


def write_targets(samples, kind: str) -> list[dict[str, Any]]:
    base = WORK / "samples" / kind
    shutil.rmtree(base, ignore_errors=True)
    out = []
    used: set[str] = set()
    for i, s in enumerate(samples):
        rel = Path(s.filename)
        if rel.is_absolute() or ".." in rel.parts:
            rel = Path(rel.name)
        # Named after the sample (not its position), so that --reuse-peers can match it later.
        key = slug(s.name)
        if key in used:
            key = f"{key}-{i}"
        used.add(key)
        folder = base / key
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s.data)
        out.append(
            {
                "set": kind,
                "name": s.name,
                "file": str(rel),
                "folder": str(folder),
                "path": str(path),
                "malicious": bool(s.malicious),
                "item": getattr(s, "item", ""),
                "advisory": getattr(s, "advisory", ""),
                "size": len(s.data),
            }
        )
    return out


def real_targets(pairs) -> list[dict[str, Any]]:
    return [
        {
            "set": "real",
            "name": name,
            "file": path.name,
            "folder": str(path.parent),
            "path": str(path),
            "malicious": False,
            "item": "",
            "advisory": "",
            "size": path.stat().st_size,
        }
        for name, path in pairs
    ]


def run_detection(
    tools: list[Tool],
    targets: list[dict[str, Any]],
    timeout: float,
    jobs: int,
    reuse: dict[str, dict[str, Any]] | None = None,
):
    """Run every tool on every target; returns {view label: {target path: verdict dict}}.

    ``reuse``: earlier results by view label; a (tool, target) pair found there for every view of
    the tool is not run again.
    """
    reuse = reuse or {}
    results: dict[str, dict[str, Any]] = {}
    tasks = []
    for t in targets:
        for tool in tools:
            old = [reuse.get(label, {}).get(t["path"]) for label, _ in tool.views()]
            if all(old):
                for (label, _), v in zip(tool.views(), old, strict=True):
                    results.setdefault(label, {})[t["path"]] = v
            else:
                tasks.append((tool, t))

    def one(task):
        tool, t = task
        target = Path(t["folder"]) if tool.folders else Path(t["path"])
        out_dir = WORK / "runs" / slug(tool.name) / "detect" / t["set"]
        tag = Path(t["folder"]).name
        out = out_dir / f"{tag}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        run = run_measured(
            tool.command(target, out), timeout=timeout, env=tool.env, log_dir=out_dir, tag=tag
        )
        return (
            tool,
            t,
            {
                label: {"status": v.status, "detail": v.detail, "rc": run.rc, "wall_s": run.wall_s}
                for label, judge in tool.views()
                for v in [judge(run, out)]
            },
        )

    done = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for _tool, t, views in pool.map(one, tasks):
            for label, v in views.items():
                results.setdefault(label, {})[t["path"]] = v
            done += 1
            if done % 50 == 0 or done == len(tasks):
                log(f"  detection: {done}/{len(tasks)} runs")
    return results


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def git(*args: str) -> str:
    res = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    )
    return res.stdout.strip()


def src_tree(rev: str | None) -> str | None:
    """The git tree id of src/ that is measured (None: a working tree with local changes)."""
    if rev is None:
        if git("status", "--porcelain", "--", "src"):
            return None
        rev = "HEAD"
    return git("rev-parse", f"{rev}:src") or None


def modeltrust_source(rev: str | None) -> str:
    """Export ``rev``'s src/ under .work/rev/ and point SRC_ENV at it; describe what is measured."""
    if rev is None:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "src"))
        return f"working tree at {head}" + (" with uncommitted changes in src/" if dirty else "")
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not sha:
        raise SystemExit(f"--rev {rev}: not a commit")
    dest = WORK / "rev" / sha[:12]
    if not (dest / "src" / "modeltrust" / "__init__.py").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", sha, "src"], capture_output=True, check=True
        )
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(dest, filter="data")
    SRC_ENV["PYTHONPATH"] = str(dest / "src")
    subject = git("log", "-1", "--format=%s", sha)
    if len(subject) > 72:
        subject = subject[:72].rsplit(" ", 1)[0] + " ..."
    return f"commit {sha[:12]} ({subject})"


def reusable_detection(
    earlier: dict[str, Any], now: dict[str, Any], canary: str, wait_s: float
) -> dict[str, Any] | None:
    """``earlier`` if its detection part still holds: same modeltrust, same tools, same
    samples (by name and malicious flag)."""
    same = now["modeltrust_src_tree"] is not None and earlier.get(
        "modeltrust_src_tree", earlier.get("modeltrust_source")
    ) in (now["modeltrust_src_tree"], now["modeltrust_source"])
    if "detection" not in earlier or not same:
        log("detection: the earlier results measured another modeltrust; running again")
        return None
    if [t["version"] for t in earlier["tools"]] != [t["version"] for t in now["tools"]]:
        log("detection: the earlier results used other tool versions; running again")
        return None
    mal, ben, _why = load_samples(canary, wait_s, poll_s=120)
    names = {(s.name, bool(s.malicious)) for s in (mal or []) + (ben or [])}
    old = {(t["name"], t["malicious"]) for t in earlier["targets"] if t["set"] != "real"}
    if names != old:
        log("detection: the sample set changed; running again")
        return None
    return earlier


def results_path(quick: bool) -> Path:
    return WORK / ("results-quick.json" if quick else "results.json")


def previous_results(args: argparse.Namespace, now: dict[str, Any]) -> dict[str, Any] | None:
    """The last results file, if it was made on the same corpus."""
    try:
        prev = json.loads(results_path(args.quick).read_text())
    except (OSError, ValueError):
        log("reuse: no earlier results; running the peers")
        return None
    if prev.get("corpus", {}).get("total_bytes") != now["corpus"]["total_bytes"]:
        log("reuse: the earlier results were made on another corpus; running the peers")
        return None
    return prev


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="~200 MB corpus, 20 small checkpoints")
    p.add_argument("--skip-peers", action="store_true", help="only modeltrust")
    p.add_argument("--skip-detection", action="store_true", help="speed and memory only")
    p.add_argument("--skip-scaling", action="store_true", help="no payload-scaling table")
    p.add_argument(
        "--runs", type=int, default=5, help="runs for modeltrust and the reference peers"
    )
    p.add_argument("--timeout", type=float, default=900, help="seconds per tool per corpus")
    p.add_argument("--sample-timeout", type=float, default=120, help="seconds per tool per sample")
    p.add_argument("--jobs", type=int, default=2, help="parallel runs in the detection part")
    p.add_argument(
        "--wait-samples", type=float, default=40 * 60, help="seconds to wait for the samples module"
    )
    p.add_argument(
        "--output",
        type=Path,
        help="report path (default docs/benchmarks.md; "
        "benchmarks/.work/benchmarks-quick.md with --quick)",
    )
    p.add_argument("--tools", help="comma-separated subset of tools to run")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=1800,
        help="seconds to wait for a quiet machine (1-min load < cores/2) before timing",
    )
    p.add_argument(
        "--rev",
        help="measure modeltrust as of this commit (its src/ exported under .work/rev/) instead "
        "of the working tree",
    )
    p.add_argument(
        "--reuse-detection",
        action="store_true",
        help="take the detection tables from the last results file when modeltrust, the tools "
        "and the samples are unchanged (to retime on a quieter machine)",
    )
    p.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the report from the last results file without running anything",
    )
    p.add_argument(
        "--reuse-peers",
        action="store_true",
        help="take the peers' figures from the last results file (same corpus), run only "
        "modeltrust; the report says so",
    )
    return p.parse_args(argv)


def write_report(results: dict[str, Any], args: argparse.Namespace) -> Path:
    if results.get("perf"):
        results["goal"] = _report.goal(results["perf"])  # the current rule, also on --render-only
    doc = args.output or (
        WORK / "benchmarks-quick.md" if args.quick else REPO / "docs" / "benchmarks.md"
    )
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(_report.render(results))
    print()
    print(_report.render_stdout(results))
    return doc


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render_only:
        results = json.loads(results_path(args.quick).read_text())
        log(f"\nreport: {write_report(results, args)}")
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    canary_dir = WORK / "canary"
    canary_dir.mkdir(exist_ok=True)
    canary = canary_dir / f"PWNED-{uuid.uuid4().hex[:12]}"
    if any(canary_dir.iterdir()):
        log(f"FATAL: {canary_dir} is not empty before the run: something executed a payload.")
        return 3

    results: dict[str, Any] = {"machine": machine_info(), "quick": args.quick, "runs": args.runs}
    log(f"machine: {results['machine']}")

    # 1. corpora -------------------------------------------------------------------------------
    spec = _corpus.CorpusSpec.quick() if args.quick else _corpus.CorpusSpec.full()
    root = _corpus.build_perf_corpus(WORK / ("corpus-quick" if args.quick else "corpus-full"), spec)
    files = _corpus.corpus_files(root)
    rels = [str(p.relative_to(root)) for p in files]
    real_pairs = _corpus.build_real_benign(WORK / "benign-real")
    scaling_root = _corpus.build_scaling(
        WORK / ("scaling-quick" if args.quick else "scaling-full"), quick=args.quick
    )
    results["corpus"] = _report.describe_corpus(root, files)
    log(f"corpus: {results['corpus']['total_gib']:.2f} GiB, {len(files)} files at {root}")

    # 2. tools ---------------------------------------------------------------------------------
    results["modeltrust_source"] = modeltrust_source(args.rev)
    results["modeltrust_src_tree"] = src_tree(args.rev)
    log(f"modeltrust: {results['modeltrust_source']}")
    # An installed package has its bytecode compiled; a checkout or an exported commit may not
    # (or may hold stale .pyc files when PYTHONDONTWRITEBYTECODE is set). Time what users run:
    # compile the tree that is measured.
    measured = Path(SRC_ENV.get("PYTHONPATH") or REPO / "src") / "modeltrust"
    compileall.compile_dir(measured, quiet=1)
    tools = make_tools(WORK, REPO)
    for t in tools:
        if t.name == "modeltrust":
            t.env = dict(SRC_ENV)
    if args.skip_peers:
        tools = [t for t in tools if t.name == "modeltrust"]
    if args.tools:
        wanted = {s.strip() for s in args.tools.split(",")}
        tools = [t for t in tools if t.name in wanted]
    for tool in tools:
        tool.install(log)
    results["tools"] = [
        {
            "name": t.name,
            "version": t.version,
            "package": t.package,
            "python": "3.12" if "3.12" in t.base_python else platform.python_version(),
            "command": t.display_command(),
            "folders": t.folders,
            "note": t.note,
            "extra": list(t.extra_packages),
        }
        for t in tools
    ]
    log("tools: " + ", ".join(f"{t.name} {t.version}" for t in tools))

    # 3. speed and memory ----------------------------------------------------------------------
    results["load"] = wait_for_idle(args.wait_idle)
    log("speed: warming the page cache")
    _corpus.warm_page_cache(files + _corpus.corpus_files(scaling_root))
    timed = list(tools)
    if any(t.name == "modeltrust" for t in tools):
        single = single_process_modeltrust()
        single.env = dict(SRC_ENV)
        single.install(log)
        timed.insert(1, single)
    prev = previous_results(args, results) if args.reuse_peers else None
    reused = (
        {t.name for t in timed if not t.name.startswith("modeltrust") and t.name in prev["perf"]}
        if prev
        else set()
    )
    if reused:
        results["reused"] = {"date": prev["machine"]["date"], "tools": sorted(reused)}
        log(f"reusing peer figures from {prev['machine']['date']}: {sorted(reused)}")
    log("speed: start-up (one 4-byte pickle)")
    results["startup"] = startup_probe([t for t in timed if t.name not in reused], runs=3)
    if prev:
        results["startup"].update({n: prev["startup"][n] for n in reused if n in prev["startup"]})
    log(f"speed: whole corpus, timeout {args.timeout:.0f} s per tool")
    perf: dict[str, Any] = {n: prev["perf"][n] for n in reused} if prev else {}
    fast = [t for t in timed if t.name in REPEATED and t.name not in reused]
    for name, recs in time_folder(fast, root, rels, args.runs, args.timeout, "corpus").items():
        perf[name] = summarise(recs)
    for tool in timed:
        if tool.name in perf:
            continue
        if tool.folders:
            recs = time_folder([tool], root, rels, 1, args.timeout, "corpus")[tool.name]
        else:
            recs = time_per_file(tool, root, rels, args.timeout, "corpus")
        perf[tool.name] = summarise(recs)
    perf = {t.name: perf[t.name] for t in timed if t.name in perf}
    results["perf"] = perf
    results["load"]["load_after"] = round(os.getloadavg()[0], 2)
    results["goal"] = _report.goal(perf)
    if any(t.name == "modeltrust" for t in tools):
        results["imports"] = import_hygiene(root)
        results["breakdown"] = startup_breakdown()
        results["modeltrust_corpus_findings"] = _report.modeltrust_findings(
            WORK / "runs" / "modeltrust" / "corpus" / "run0.json"
        )
    if not args.skip_scaling:
        log("speed: payload scaling (same structure, 1000x the bytes)")
        ref = [t for t in timed if t.name in REPEATED and t.name not in reused]
        results["scaling"] = scaling_runs(ref, scaling_root, args.runs, args.timeout)
        old_rows = {r["case"]: r for r in (prev or {}).get("scaling", [])}
        for row in results["scaling"]:
            old = old_rows.get(row["case"], {}).get("tools", {})
            row["tools"].update({n: v for n, v in old.items() if n in reused})

    # 4. detection -----------------------------------------------------------------------------
    earlier = previous_results(args, results) if args.reuse_detection else None
    if earlier and not args.skip_detection:
        earlier = reusable_detection(earlier, results, str(canary), args.wait_samples)
    if earlier:
        for key in ("targets", "detection", "modeltrust_benign_findings"):
            results[key] = earlier[key]
        results["detection_reused"] = earlier.get("detection_reused", earlier["machine"]["date"])
        log(f"detection: reusing the results of {results['detection_reused']}")
    elif not args.skip_detection:
        mal, ben, why = load_samples(str(canary), args.wait_samples, poll_s=120)
        targets = real_targets(real_pairs)
        if mal is None:
            log(f"detection: no builder samples ({why}); real benign files only")
            results["samples_error"] = why
        else:
            targets = write_targets(mal, "malicious") + write_targets(ben, "benign") + targets
        log(f"detection: {len(targets)} targets x {len(tools)} tools")
        results["targets"] = targets
        old_det = {
            label: v
            for label, v in (prev or {}).get("detection", {}).items()
            if label.split(" ")[0] in reused
        }
        results["detection"] = run_detection(
            tools, targets, args.sample_timeout, args.jobs, reuse=old_det
        )
        results["modeltrust_benign_findings"] = _report.modeltrust_detect_findings(
            WORK / "runs" / "modeltrust" / "detect", targets
        )

    # 5. canary --------------------------------------------------------------------------------
    leftovers = sorted(str(p) for p in canary_dir.iterdir())
    results["canary"] = {"path": str(canary), "exists": canary.exists(), "leftovers": leftovers}

    out_json = results_path(args.quick)
    out_json.write_text(json.dumps(results, indent=2, default=str))
    doc = write_report(results, args)
    log(f"\nreport: {doc}\nraw results: {out_json}")

    if canary.exists() or leftovers:
        log(
            f"\nFATAL: the canary {canary} (or another file in {canary_dir}) exists: "
            f"{leftovers}. A payload was executed."
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
