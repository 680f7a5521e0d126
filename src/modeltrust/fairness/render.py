"""The fairness report as JSON (for machines) and as tables in the terminal (for people).

JSON keys are the metric names of Fairlearn and AIF360, unchanged. JSON has no NaN or infinity:
an undefined value (a zero denominator) or an infinite ratio is written as ``null``; the
findings say which. The format is described in docs/fairness.md (``"schema":
"modeltrust-fairness-result"``, ``"version": 1``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from modeltrust.fairness.judge import resolve_checks
from modeltrust.fairness.result import ClassResult, FairnessResult, GroupResult
from modeltrust.findings import Severity

if TYPE_CHECKING:
    from rich.console import Console

SCHEMA = "modeltrust-fairness-result"
VERSION = 1
SECTIONS = ("fairlearn", "aif360", "aif360_dataset")


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _nums(values: dict[str, float] | Any) -> dict[str, float | None]:
    return {k: _num(v) for k, v in values.items()}


def _pair(pair: tuple[float, float] | None) -> list[float | None] | None:
    return None if pair is None else [_num(pair[0]), _num(pair[1])]


def to_dict(result: FairnessResult) -> dict[str, Any]:
    table, settings = result.table, result.settings
    checks = resolve_checks(
        settings, privileged=bool(settings.privileged), scored=table.score is not None
    )
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "tool": {"name": "modeltrust", "version": result.tool_version},
        "started_at": result.started_at,
        "duration_s": round(result.duration_s, 4),
        "input": {
            "sources": list(table.sources),
            "rows": table.total_rows,
            "dropped_rows": table.dropped_rows,
            "label": table.label,
            "prediction": table.prediction,
            "sensitive": list(table.sensitive),
            "score": table.score_column,
            "weight": table.weight_column,
            "classes": list(table.classes),
            "mode": result.mode,
        },
        "settings": {
            "privileged": [dict(clause) for clause in settings.privileged],
            "threshold": settings.threshold,
            "checks": checks,
            "max_difference": settings.max_difference,
            "min_group_size": settings.min_group_size,
            "bootstrap": settings.n_resamples,
            "confidence": settings.confidence,
            "seed": settings.seed,
            "alpha": settings.alpha,
            "concentration": settings.concentration,
        },
        "passed": result.passed,
        "results": [_class(result, c) for c in result.classes],
        "checks": [
            {
                "metric": c.metric,
                "positive_label": c.positive,
                "value": _num(c.value),
                "interval": _pair(c.interval),
                "low": _num(c.low),
                "high": _num(c.high),
                "status": c.status,
                "uncertain": c.uncertain,
            }
            for c in result.checks
        ],
        "empty_intersections": [
            dict(zip(result.sensitive, combo, strict=True)) for combo in result.empty_intersections
        ],
        "findings": [f.to_dict() for f in result.findings],
        "summary": {
            "findings": {
                s.label: n
                for s, n in sorted(
                    Counter(f.severity for f in result.findings).items(), reverse=True
                )
            }
        },
    }


def _class(result: FairnessResult, c: ClassResult) -> dict[str, Any]:
    intervals: dict[str, dict[str, list[float | None] | None]] = {s: {} for s in SECTIONS}
    for key, pair in c.intervals.items():
        section, name = key.split(".", 1)
        intervals[section][name] = _pair(pair)
    return {
        "positive_label": c.positive,
        "groups": [_group(result, g) for g in c.groups],
        "overall": _nums(c.overall),
        "fairlearn": _nums(c.fairlearn),
        "aif360": _nums(c.aif360),
        "aif360_dataset": _nums(c.aif360_dataset),
        "intervals": intervals,
    }


def _group(result: FairnessResult, g: GroupResult) -> dict[str, Any]:
    return {
        "group": dict(zip(result.sensitive, g.values, strict=True)),
        "privileged": g.privileged,
        "counts": _nums(g.counts),
        "rates": _nums(g.rates),
        "intervals": {k: _pair(v) for k, v in g.intervals.items()},
    }


def render_json(result: FairnessResult) -> str:
    return json.dumps(to_dict(result), indent=2, allow_nan=False) + "\n"


# --- terminal -------------------------------------------------------------------------------
_TERMINAL_RATES = (
    ("selection_rate", "selection"),
    ("true_positive_rate", "TPR"),
    ("false_positive_rate", "FPR"),
    ("positive_predictive_value", "PPV"),
    ("accuracy", "accuracy"),
    ("balanced_accuracy", "bal. acc."),
)
_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def fmt(x: float, digits: int = 4) -> str:
    if math.isnan(x):
        return "undefined"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}f}"


def fmt_ci(pair: tuple[float, float] | None, digits: int = 3) -> str:
    return "" if pair is None else f"[{fmt(pair[0], digits)}, {fmt(pair[1], digits)}]"


def render_terminal(result: FairnessResult, console: Console, *, fail_on: Severity) -> None:
    from rich.table import Table

    table = result.table
    privileged = " or ".join(
        ",".join(f"{c}={v}" for c, v in clause) for clause in result.settings.privileged
    )
    console.print(
        f"[bold]modeltrust fairness[/] {', '.join(table.sources)}: {table.total_rows:,} rows, "
        f"{len(table.groups)} groups of {' x '.join(table.sensitive)}, {result.mode}"
        + (f", privileged: {privileged}" if privileged else "")
        + (f", weighted by '{table.weight_column}'" if table.weighted else "")
    )
    for c in result.classes:
        title = f"positive label '{c.positive}'"
        groups = Table(title=f"Groups ({title})", title_justify="left")
        groups.add_column("group")
        groups.add_column("rows", justify="right")
        for _, head in _TERMINAL_RATES:
            groups.add_column(head, justify="right")
        for g in c.groups:
            label = ", ".join(f"{n}={v}" for n, v in zip(result.sensitive, g.values, strict=True))
            if g.privileged:
                label += " (privileged)"
            groups.add_row(
                label,
                f"{g.counts['rows']:,.0f}",
                *(
                    fmt(g.rates[r], 3)
                    + (f"\n{fmt_ci(g.intervals.get(r))}" if g.intervals.get(r) else "")
                    for r, _ in _TERMINAL_RATES
                ),
            )
        console.print(groups)
        disparities = Table(title=f"Disparities ({title})", title_justify="left")
        for head in ("convention", "metric", "value", f"{result.settings.confidence:.0%} CI"):
            disparities.add_column(head, justify="right" if head != "metric" else "left")
        for section, values in (
            ("fairlearn", c.fairlearn),
            ("aif360", c.aif360),
            ("aif360 (labels)", c.aif360_dataset),
        ):
            key = section.split(" ")[0] if section != "aif360 (labels)" else "aif360_dataset"
            for name, value in values.items():
                disparities.add_row(
                    section, name, fmt(value), fmt_ci(c.intervals.get(f"{key}.{name}"))
                )
        console.print(disparities)
    if result.checks:
        checks = Table(title="Checks", title_justify="left")
        for head in ("metric", "class", "value", "required", "result"):
            checks.add_column(head)
        for ch in result.checks:
            required = (
                f">= {fmt(ch.low, 3)}"
                if math.isinf(ch.high)
                else f"{fmt(ch.low, 3)} .. {fmt(ch.high, 3)}"
            )
            style = {"pass": "green", "fail": "red", "undefined": "yellow"}[ch.status]
            status = ch.status + (" (uncertain)" if ch.uncertain else "")
            checks.add_row(ch.metric, ch.positive, fmt(ch.value), required, f"[{style}]{status}[/]")
        console.print(checks)
    for f in result.findings:
        console.print(
            f"[{_STYLE[f.severity]}]{f.severity.label:>8}[/] {f.rule_id} {f.message}",
            highlight=False,
        )
        if f.evidence:
            console.print(f"         [dim]{f.evidence}[/]", highlight=False)
    failed = result.at_or_above(fail_on)
    verdict = (
        f"[red]FAIL[/]: {len(failed)} finding(s) at or above {fail_on.label}"
        if failed
        else f"[green]PASS[/]: nothing at or above {fail_on.label}"
    )
    console.print(f"{verdict} ({result.duration_s:.2f} s)")
