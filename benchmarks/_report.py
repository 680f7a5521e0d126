"""Turn the benchmark's raw results into ``docs/benchmarks.md`` and stdout tables."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from _tools import CLEAN, ERROR, FLAGGED, RULES, SKIPPED, TIMEOUT

REFERENCE_PEERS = ("picklescan", "modelwarden")
RSS_GOAL_MB = 100.0
SPEED_FACTOR = 0.5
VIEW_ORDER = (
    "modeltrust",
    "picklescan",
    "modelscan",
    "fickling",
    "ModelAudit (exit code)",
    "ModelAudit (critical only)",
    "modelwarden",
)
RUN_ORDER = (
    "modeltrust",
    "modeltrust -j1",
    "picklescan",
    "modelscan",
    "fickling",
    "ModelAudit",
    "modelwarden",
)

KINDS = {
    "llm-fp32": "`torch.save` zip state dict, fp32 transformer (HF name `pytorch_model.bin`)",
    "vision-fp16": "`torch.save` zip state dict, fp16 transformer",
    "encoder-bf16": "`torch.save` zip state dict, bf16 transformer",
    "legacy": "legacy `torch.save` (`_use_new_zipfile_serialization=False`), conv net",
    "numpy": "numpy pickle, protocol 4, dict of float32 1024x1280 arrays",
    "sharded": "safetensors shards + `model.safetensors.index.json` + `config.json`",
    "runs": "small `torch.save` zip training checkpoints (model + AdamW state + scalars)",
    "mixed": "small files in turn: `torch.save` state dicts and optimizer + scheduler states "
    "(zip and legacy), `.npy` (plain and benign object arrays), `.npz` (plain, compressed, "
    "object arrays), sklearn estimators via joblib (some compressed), safetensors",
}


# ---------------------------------------------------------------------------------------------
# data helpers
# ---------------------------------------------------------------------------------------------


def describe_corpus(root: Path, files: list[Path]) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for f in files:
        top = f.relative_to(root).parts[0]
        g = groups.setdefault(top, {"group": top, "files": 0, "bytes": 0, "tensors": None})
        g["files"] += 1
        g["bytes"] += f.stat().st_size
    total = sum(g["bytes"] for g in groups.values())
    return {
        "root": str(root),
        "groups": [
            {**g, "kind": KINDS.get(g["group"], "")}
            for g in sorted(groups.values(), key=lambda g: -g["bytes"])
        ],
        "files": len(files),
        "total_bytes": total,
        "total_gib": total / 2**30,
    }


def goal(perf: dict[str, Any]) -> dict[str, Any]:
    ours = perf.get("modeltrust")
    refs = {
        n: perf[n]["median_s"] for n in REFERENCE_PEERS if n in perf and not perf[n]["timed_out"]
    }
    out: dict[str, Any] = {"factor": SPEED_FACTOR, "rss_goal_mb": RSS_GOAL_MB, "refs": refs}
    if ours is None:
        return out
    out["ours_s"] = ours["median_s"]
    out["ours_peak_mb"] = ours["peak_mb"]
    out["ours_tree_rss_mb"] = ours.get("tree_rss_mb", math.nan)
    out["ours_tree_pss_mb"] = ours.get("tree_pss_mb", math.nan)
    # Several processes: judge their summed PSS (their summed RSS counts the pages they share
    # after fork once per process); one process: its wait4 peak.
    tree = out["ours_tree_pss_mb"] if ours.get("procs", 1) > 1 else math.nan
    out["rss_ok"] = ours["peak_mb"] <= RSS_GOAL_MB and (math.isnan(tree) or tree <= RSS_GOAL_MB)
    single = perf.get("modeltrust -j1")
    if single:
        out["single_s"] = single["median_s"]
        out["single_peak_mb"] = single["peak_mb"]
    if refs:
        fastest = min(refs, key=refs.__getitem__)
        out["fastest_ref"] = fastest
        out["budget_s"] = round(SPEED_FACTOR * refs[fastest], 3)
        out["speed_ok"] = ours["median_s"] <= out["budget_s"]
        out["ratio"] = round(ours["median_s"] / refs[fastest], 2)
        if single:
            out["single_ok"] = single["median_s"] <= out["budget_s"]
            out["single_ratio"] = round(single["median_s"] / refs[fastest], 2)
    return out


def _findings(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [
        {
            "path": f["path"],
            "severity": f["severity"],
            "rule_id": f["rule_id"],
            "title": f["title"],
            "message": f["message"],
        }
        for f in data.get("findings", [])
    ]


def modeltrust_findings(path: Path) -> list[dict[str, Any]]:
    return _findings(path)[:50]


def modeltrust_detect_findings(base: Path, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """modeltrust's findings on every benign target (builder benign + real files)."""
    out = []
    for t in targets:
        if t["malicious"]:
            continue
        found = _findings(base / t["set"] / f"{Path(t['folder']).name}.json")
        out.extend({"target": f"{t['set']}/{t['name']}", **f} for f in found)
    return out


def _counts(results: dict[str, Any], label: str, targets: list[dict[str, Any]]) -> dict[str, int]:
    per = results.get("detection", {}).get(label, {})
    c = {"n": 0, FLAGGED: 0, CLEAN: 0, ERROR: 0, SKIPPED: 0, TIMEOUT: 0, "nonzero": 0}
    for t in targets:
        v = per.get(t["path"])
        if v is None:
            continue
        c["n"] += 1
        c[v["status"]] += 1
        if v["rc"] not in (0, None):
            c["nonzero"] += 1
    return c


def _frac(a: int, n: int) -> str:
    return f"{a}/{n}" if n else "-"


def _md_table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _num(x: float, fmt: str = ".0f") -> str:
    return "?" if math.isnan(x) else format(x, fmt)


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


# ---------------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------------


def speed_table(results: dict[str, Any]) -> str:
    perf = results.get("perf", {})
    startup = results.get("startup", {})
    versions = {t["name"]: t["version"] for t in results.get("tools", [])}
    n_files = results["corpus"]["files"]
    rows = []
    for name in RUN_ORDER:
        if name not in perf:
            continue
        p = perf[name]
        labels = sorted(p["views"], key=lambda lab: (lab not in VIEW_ORDER, lab))
        flagged = "; ".join(
            f"{len(p['views'][lab]['flagged_files'])}"
            + (f" ({lab.split('(')[1].rstrip(')')})" if "(" in lab else "")
            for lab in labels
        )
        errs = max(len(p["views"][lab].get("errored_files", [])) for lab in labels)
        scanned = p["views"][labels[0]]["scanned"]
        wall = f"**{p['median_s']:.2f}**" if name == "modeltrust" else f"{p['median_s']:.2f}"
        if p["runs"] > 1:
            wall += f" ({p['min_s']:.2f}-{p['max_s']:.2f})"
        if p["timed_out"]:
            wall = f"> {p['max_s']:.0f} (timeout)"
        rows.append(
            [
                name,
                versions.get(name, versions.get(name.split(" ")[0], "?")),
                p["runs"],
                wall,
                _num(p.get("cpu_s", math.nan), ".2f"),
                f"{startup.get(name, math.nan):.2f}",
                "-" if p["timed_out"] else f"{p['median_s'] - startup.get(name, math.nan):.2f}",
                _num(p["peak_mb"]),
                (
                    f"{_num(p.get('tree_rss_mb', math.nan))} / "
                    f"{_num(p.get('tree_pss_mb', math.nan))} ({p['procs']} processes)"
                    if p.get("procs", 1) > 1
                    else "1 process"
                ),
                p["rc"],
                "?" if scanned is None else scanned,
                flagged + (f"; {errs} errors" if errs else ""),
            ]
        )
    return _md_table(
        [
            "Tool",
            "Version",
            "Runs",
            "Wall s, median (min-max)",
            "CPU s (user+sys)",
            "Start-up s",
            "Wall - start-up s",
            "Peak RSS MB (largest process)",
            "Process tree MB, RSS sum / PSS sum (sampled)",
            "Exit",
            f"Files scanned (of {n_files})",
            "Corpus files flagged (all benign)",
        ],
        rows,
    )


def goal_lines(results: dict[str, Any]) -> list[str]:
    g = results.get("goal", {})
    lines = []
    load = results.get("load")
    # Only the load before counts: the measured tools themselves keep about one core busy.
    if load and load["load_before"] >= load["limit"]:
        lines.append(
            f"- **Warning: the machine was busy** (1-min load average {load['load_before']} "
            f"on {results['machine']['cores']} cores when the timing runs started): wall times "
            "are inflated; CPU times are the steadier figure."
        )
    if "speed_ok" in g:
        verdict = "PASS" if g["speed_ok"] else "FAIL"
        refs = ", ".join(f"{n} {s:.2f} s" for n, s in g["refs"].items())
        lines.append(
            f"- **Speed: {verdict}.** modeltrust {g['ours_s']:.2f} s; budget "
            f"{g['factor']} x {g['fastest_ref']} = {g['budget_s']:.2f} s ({refs}); modeltrust "
            f"takes {g['ratio']:.2f}x the time of the faster reference peer (goal: <= "
            f"{g['factor']}x)."
            + (
                f" With `--jobs 1` (one process, as the peers run): {g['single_s']:.2f} s, "
                f"{g['single_ratio']:.2f}x ({'PASS' if g['single_ok'] else 'FAIL'})."
                if "single_s" in g
                else ""
            )
        )
    elif "ours_s" in g:
        lines.append("- **Speed: n/a** (no reference peer was run).")
    perf = results.get("perf", {})
    cpu = {
        n: perf[n]["cpu_s"]
        for n in ("modeltrust", "modeltrust -j1", *REFERENCE_PEERS)
        if n in perf and not math.isnan(perf[n].get("cpu_s", math.nan))
    }
    if len(cpu) > 1:
        lines.append(
            "- CPU time (user+sys, less sensitive to other load than wall time): "
            + ", ".join(f"{n} {c:.2f} s" for n, c in cpu.items())
            + "."
        )
    if "rss_ok" in g:
        verdict = "PASS" if g["rss_ok"] else "FAIL"
        lines.append(
            f"- **Peak RSS: {verdict}.** Largest process {g['ours_peak_mb']:.0f} MB (`wait4`); "
            f"all its processes together {_num(g['ours_tree_pss_mb'])} MB PSS "
            f"({_num(g['ours_tree_rss_mb'])} MB if their RSS is summed, which counts the pages "
            f"the forked workers share once per process), sampled every 50 ms; goal <= "
            f"{g['rss_goal_mb']:.0f} MB for the largest process and for the PSS sum."
            + (f" With `--jobs 1`: {g['single_peak_mb']:.0f} MB." if "single_peak_mb" in g else "")
        )
    imp = results.get("imports")
    if imp:
        if imp.get("heavy") is None:
            lines.append(f"- **No numpy/torch on the scan path: UNKNOWN** ({imp.get('error')}).")
        else:
            verdict = "PASS" if imp["ok"] else "FAIL"
            extra = "" if imp["ok"] else f": imported {', '.join(imp['heavy'])}"
            lines.append(
                f"- **No numpy/torch/pandas/sklearn/joblib imported by a scan: {verdict}**{extra}."
            )
    if "modeltrust" in perf:
        fa = perf["modeltrust"]["views"]["modeltrust"]["flagged_files"]
        verdict = "PASS" if not fa and perf["modeltrust"]["rc"] == 0 else "FAIL"
        lines.append(
            f"- **No false alarm on the benign corpus: {verdict}** (exit "
            f"{perf['modeltrust']['rc']}; flagged: {', '.join(fa) if fa else 'none'})."
        )
    return lines


def scaling_table(results: dict[str, Any]) -> str:
    rows = []
    tools = [n for n in RUN_ORDER if any(n in r["tools"] for r in results.get("scaling", []))]
    for r in results.get("scaling", []):
        cells = [r["case"], _mb(r["bytes"])]
        for n in tools:
            t = r["tools"].get(n)
            cells.append(
                "-"
                if t is None
                else f"{t.get('min_s', t['median_s']):.2f} s / {_num(t['peak_mb'])} MB"
            )
        rows.append(cells)
    return _md_table(["Case", "Size", *[f"{n} (s / peak RSS)" for n in tools]], rows)


def detection_table(results: dict[str, Any]) -> str:
    targets = results.get("targets", [])
    mal = [t for t in targets if t["malicious"]]
    ben = [t for t in targets if not t["malicious"] and t["set"] == "benign"]
    real = [t for t in targets if t["set"] == "real"]
    perf = results.get("perf", {})
    n_corpus = results["corpus"]["files"]
    rows = []
    for label in VIEW_ORDER:
        if label not in results.get("detection", {}):
            continue
        m = _counts(results, label, mal)
        b = _counts(results, label, ben)
        r = _counts(results, label, real)
        run_name = "ModelAudit" if label.startswith("ModelAudit") else label
        cview = perf.get(run_name, {}).get("views", {}).get(label)
        if cview is None:
            corpus = "-"
        elif perf[run_name]["timed_out"]:
            corpus = "timeout"
        else:
            corpus = _frac(len(cview["flagged_files"]), n_corpus)
        rows.append(
            [
                label,
                f"**{_frac(m[FLAGGED], m['n'])}**",
                m[ERROR] + m[TIMEOUT],
                m[SKIPPED],
                m[CLEAN],
                _frac(m["nonzero"], m["n"]),
                f"**{_frac(b[FLAGGED], b['n'])}**",
                b[ERROR] + b[SKIPPED] + b[TIMEOUT],
                f"**{_frac(r[FLAGGED], r['n'])}**",
                r[ERROR] + r[SKIPPED] + r[TIMEOUT],
                corpus,
            ]
        )
    return _md_table(
        [
            "Tool",
            "Malicious flagged",
            "errors/timeouts",
            "skipped",
            "passed as clean",
            "exit != 0",
            "Benign samples: false alarms",
            "errors/skipped",
            "Real small files: false alarms",
            "errors/skipped",
            "Corpus files: false alarms",
        ],
        rows,
    )


_SYMBOL_MAL = {FLAGGED: "hit", CLEAN: "**miss**", ERROR: "error", SKIPPED: "skip", TIMEOUT: "t/o"}
_SYMBOL_BEN = {FLAGGED: "**FA**", CLEAN: "ok", ERROR: "error", SKIPPED: "skip", TIMEOUT: "t/o"}


def matrix(results: dict[str, Any], malicious: bool) -> str:
    targets = [t for t in results.get("targets", []) if t["malicious"] == malicious]
    labels = [lab for lab in VIEW_ORDER if lab in results.get("detection", {})]
    sym = _SYMBOL_MAL if malicious else _SYMBOL_BEN
    rows = []
    for t in targets:
        cells = [f"{t['set']}/{t['name']}", f"`{t['file']}`"]
        if malicious:
            cells.append(" ".join(x for x in (t["item"], t["advisory"]) if x))
        for lab in labels:
            v = results["detection"][lab].get(t["path"])
            cells.append("-" if v is None else sym[v["status"]])
        rows.append(cells)
    short = [lab.replace("ModelAudit ", "MA ") for lab in labels]
    head = ["Sample", "File", *(["Item / advisory"] if malicious else []), *short]
    return _md_table(head, rows)


def corpus_table(results: dict[str, Any]) -> str:
    c = results["corpus"]
    rows = [[f"`{g['group']}/`", g["kind"], g["files"], _mb(g["bytes"])] for g in c["groups"]]
    rows.append(
        ["**total**", "", c["files"], f"{_mb(c['total_bytes'])} ({c['total_gib']:.2f} GiB)"]
    )
    return _md_table(["Folder", "What", "Files", "Size"], rows)


# ---------------------------------------------------------------------------------------------
# documents
# ---------------------------------------------------------------------------------------------


def render_stdout(results: dict[str, Any]) -> str:
    parts = ["== Speed and memory over the whole corpus ==", speed_table(results), ""]
    parts += goal_lines(results)
    if results.get("scaling"):
        parts += ["", "== Payload scaling ==", scaling_table(results)]
    if results.get("detection"):
        parts += ["", "== Detection and false alarms ==", detection_table(results)]
    parts += ["", f"canary: {results['canary']}"]
    return "\n".join(parts)


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    tools = results.get("tools", [])
    quick = " (QUICK MODE: reduced corpus, not the reference figures)" if results["quick"] else ""
    out: list[str] = []
    w = out.append
    w(f"# Benchmarks{quick}\n")
    w(
        "Generated by `benchmarks/bench_scan.py` (`make bench`). Do not edit by hand: rerun the "
        "script. Raw numbers are in `benchmarks/.work/results.json` after a run.\n"
    )
    if results.get("reused"):
        r = results["reused"]
        w(
            f"> Peer figures ({', '.join(r['tools'])}) were reused from the run of {r['date']} "
            "(`--reuse-peers`); only modeltrust was measured again on this date.\n"
        )
    w("## Summary\n")
    out.extend(goal_lines(results))
    w("")
    w(
        "Goal (from the issue): scan a folder of ~1.5 GiB of real checkpoints in at most half the "
        "time of the faster of picklescan and modelwarden, with peak RSS <= 100 MB, and keep "
        "numpy and torch out of the scan path's imports.\n"
    )
    w("## Machine\n")
    w(
        f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_gib']} GiB; Linux {m['kernel']}\n"
        f"- Python {m['python']} (modeltrust and the peers that run on 3.11); modelwarden on "
        "Python 3.12.1 (it requires >= 3.12)\n"
        f"- Date: {m['date']}\n"
        f"- modeltrust measured: {results.get('modeltrust_source', '?')}\n"
        + (
            f"- 1-min load average: {results['load']['load_before']} when the timing runs "
            f"started (waited {results['load']['waited_s']} s for it to drop below "
            f"{results['load']['limit']:.0f}), {results['load'].get('load_after', '?')} at "
            "their end (the measured tools included). On a shared VM timings move with other "
            "jobs on the host: compare tools within one run (their runs are interleaved), not "
            "across runs\n"
            if results.get("load")
            else ""
        )
    )
    w("## Tools\n")
    rows = []
    for t in tools:
        note = t["note"]
        if t["extra"]:
            note = (note + "; " if note else "") + "also installed: " + ", ".join(t["extra"])
        rows.append([t["name"], t["version"], t["python"], f"`{t['command']}`", note])
    w(_md_table(["Tool", "Version", "Python", "Command", "Notes"], rows))
    w("")
    w(
        "Peers are installed from PyPI by the script into throwaway venvs "
        "(`benchmarks/.work/venvs/<tool>`); modeltrust runs from the project venv. TARGET is the "
        "corpus folder for the timing runs, and one sample's folder (fickling: the file) in the "
        "detection runs. ModelAudit runs with `PROMPTFOO_DISABLE_TELEMETRY=1`.\n"
    )
    w("How a run is read (detection rule per tool):\n")
    for label in VIEW_ORDER:
        if label in RULES and (label.split(" ")[0] in {t["name"] for t in tools}):
            w(f"- **{label}**: {RULES[label]}")
    w("")
    w("## Corpus\n")
    w(
        "All files are benign and written by the real libraries (torch 2.13 CPU, numpy) in the "
        "project venv; the safetensors shards are written by hand to the format (8-byte "
        "little-endian header length, JSON header, raw bytes). Tensor values are random "
        "normal, like trained weights.\n"
    )
    w(corpus_table(results))
    w("")
    w("## Speed and memory\n")
    w(
        "Page cache warmed first (every file read once). Wall time is measured around the child "
        "process and includes interpreter start-up. *Peak RSS (largest process)* is `ru_maxrss` "
        "from `wait4`, taken by `/usr/bin/time -f %M` around the tool (the high-water mark "
        "survives `execve`, so the tool must not be forked straight from the benchmark, which "
        "holds torch); for a tool that forks workers it is the largest single process. The "
        "*process tree* column sums RSS and PSS over the tool's whole process group, sampled "
        "every 50 ms from `/proc`, for tools that run more than one process (a sample can miss "
        "a short peak; RSS double-counts pages shared after `fork`, PSS does not). MB = 10^6 bytes. *CPU s* is user + system time "
        "of the tool and the children it waited for (median run; 10 ms resolution). "
        "modeltrust (as shipped: `--jobs 0`, one worker per CPU), `modeltrust --jobs 1`, "
        f"picklescan and modelwarden: median of {results.get('runs', 3)} runs, taken "
        "round-robin (one run of each in turn) so that load from elsewhere hits them alike; "
        "the others: 1 run. Timeout: 900 s per tool. *Start-up* is the median wall time "
        "on a folder holding one 4-byte pickle. *Files scanned* is what the tool itself reports "
        "(for fickling: files it could parse). *Corpus files flagged* are per-file false alarms "
        "attributed from each tool's report (every corpus file is benign).\n"
    )
    w(speed_table(results))
    w("")
    out.extend(goal_lines(results))
    w("")
    if results.get("breakdown"):
        w("### Where modeltrust's fixed cost goes\n")
        w(
            "Median of 5 runs each, wall time of the whole process. The goal leaves modeltrust "
            "half of the faster peer's total; this is the part it pays before reading any file.\n"
        )
        w(
            _md_table(
                ["Step", "Wall s"],
                [[b["step"], f"{b['median_s']:.3f}"] for b in results["breakdown"]],
            )
        )
        w("")
    if results.get("scaling"):
        w("### Cost follows structure, not payload\n")
        w(
            "Pairs of files with the same pickle structure (a dict of 40 float32 arrays) whose "
            "payload differs ~1000x (`-small` / `-large`), and two files with 100x the structure "
            "(4000 small arrays, `-4000-small`, a tenth of the `-large` payload). Fastest of "
            f"{results.get('runs', 3)} runs each (other load on the machine only ever adds "
            "time), wall time of the whole "
            "process (start-up included: compare with the start-up column above).\n"
        )
        w(scaling_table(results))
        w("")
    if results.get("modeltrust_corpus_findings"):
        w("### modeltrust findings on the benign corpus\n")
        rows = [
            [f"`{f['path']}`", f["severity"], f["rule_id"], f["message"]]
            for f in results["modeltrust_corpus_findings"]
        ]
        w(_md_table(["File", "Severity", "Rule", "Message"], rows))
        w("")
    if results.get("detection"):
        targets = results["targets"]
        n_mal = sum(t["malicious"] for t in targets)
        n_ben = sum(1 for t in targets if t["set"] == "benign")
        n_real = sum(1 for t in targets if t["set"] == "real")
        w("## Detection and false alarms\n")
        if results.get("detection_reused"):
            w(
                f"> Detection results reused from the run of {results['detection_reused']} "
                "(same modeltrust, tools and samples; `--reuse-detection`).\n"
            )
        w(
            f"{n_mal} malicious and {n_ben} benign samples from `tests/builders/samples.py` "
            "(built from raw opcodes/bytes, never loaded), each written to its own folder; "
            f"{n_real} small real benign files made by torch, sklearn/joblib, pandas and numpy; "
            f"and the {results['corpus']['files']} corpus files (from the timing run). Per-sample "
            "timeout: 120 s. *errors* are scan failures (picklescan exit 2, fickling exit 2, "
            "ModelAudit exit 2, ...), counted apart from detections; *skipped* means the tool "
            "reported that it scanned nothing; *exit != 0* is what a CI gate on the exit code "
            "alone would block.\n"
        )
        w(detection_table(results))
        w("")
        w("### Per malicious sample\n")
        w(
            "hit = flagged, **miss** = passed as clean, error = scan error, skip = nothing scanned.\n"
        )
        w(matrix(results, malicious=True))
        w("")
        w("### Per benign sample and real file\n")
        w("**FA** = false alarm, ok = clean.\n")
        w(matrix(results, malicious=False))
        w("")
        if results.get("modeltrust_benign_findings"):
            w("### modeltrust findings on benign samples and real files\n")
            rows = [
                [f["target"], f["severity"], f["rule_id"], f["message"]]
                for f in results["modeltrust_benign_findings"]
            ]
            w(_md_table(["Target", "Severity", "Rule", "Message"], rows))
            w("")
    elif results.get("samples_error"):
        w("## Detection and false alarms\n")
        w(f"Not run: `tests.builders.samples` could not be used ({results['samples_error']}).\n")
    w("## Canary\n")
    c = results["canary"]
    ok = not c["exists"] and not c["leftovers"]
    w(
        f"Every malicious payload would create `{Path(c['path']).name}` under "
        f"`benchmarks/.work/canary/` if it were ever executed. After the run: "
        f"**{'absent (nothing executed)' if ok else 'PRESENT - a payload was executed'}**.\n"
    )
    w("## Caveats\n")
    w(
        "- One machine, small core count; timings on a shared VM vary by a few percent between "
        "runs (min-max shown where runs were repeated).\n"
        "- Timing is over the whole folder in one process per tool, except fickling, whose CLI "
        "takes one file: it is run once per file (JSON sidecars left out), its start-up is "
        "paid per file and its peak RSS is the largest single run. fickling's CLI cannot read "
        "PyTorch zips or safetensors, so those files count as errors for it, not detections.\n"
        "- Each tool is judged by its own exit-code contract (rules above). ModelAudit exits 1 "
        "on warnings too, so it is shown twice: by exit code and by CRITICAL issues only.\n"
        "- picklescan runs with `--strict` (default-deny; the HF Hub runs the default mode) and "
        "without numpy in its venv (a plain `pip install picklescan`): it skips `.npy` files "
        "(`Scanned files: 0`)."
        "\n"
        "- The malicious set is the project's own sample builder (it mirrors the attack catalogue "
        "in the design notes, so it is not an independent test set), and the benign real set is "
        "small; a tool's miss on one sample may be a design choice (e.g. modelscan does not look "
        "at safetensors, GGUF or ONNX at all).\n"
        "- Corpus false alarms are attributed from each tool's report by file path; a finding "
        "whose location names no corpus file is not counted there (the exit code is shown).\n"
        "- No network use except the PyPI installs; nothing was ever loaded or unpickled.\n"
    )
    w(other_benchmarks())
    return "\n".join(out).rstrip() + "\n"


def other_benchmarks() -> str:
    """Links to the other benchmarks' reports, with the fairness goals copied from its report
    (``benchmarks/bench_fairness.py`` writes it) so that every goal's figures are on this page."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    lines = [
        "## Other benchmarks\n",
        (
            "- The other model formats (safetensors, GGUF, ONNX, Keras, TensorFlow): "
            "[benchmarks-formats.md](benchmarks-formats.md), from `benchmarks/bench_formats.py`."
        ),
        (
            "- The fairness engine against Fairlearn: [benchmarks-fairness.md](benchmarks-fairness.md),"
            " from `benchmarks/bench_fairness.py`."
        ),
        (
            "- The governed hub against a static file server: "
            "[benchmarks-serve.md](benchmarks-serve.md), from `benchmarks/bench_serve.py`."
        ),
        (
            "- Uploads to the governed hub against nginx's PUT: "
            "[benchmarks-upload.md](benchmarks-upload.md), from `benchmarks/bench_upload.py`.\n"
        ),
    ]
    fairness = docs / "benchmarks-fairness.md"
    if fairness.exists():
        text = fairness.read_text()
        if "## Goals\n" in text:
            goals = text.split("## Goals\n", 1)[1].split("\n## ", 1)[0].strip()
            lines += ["### Fairness engine goals (copied from benchmarks-fairness.md)\n", goals, ""]
    return "\n".join(lines)
