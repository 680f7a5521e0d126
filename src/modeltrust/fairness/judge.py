"""Turn metrics into threshold checks and findings (rules MT-FAIR-001 to MT-FAIR-006).

The default check is the four-fifths rule on selection rates: Fairlearn's
``demographic_parity_ratio`` (lowest over highest group) and, with ``--privileged``, AIF360's
``disparate_impact`` (unprivileged over privileged), which also fails above 1/threshold because
then the privileged rows are the disadvantaged ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from modeltrust.errors import UsageError
from modeltrust.fairness import metrics as m
from modeltrust.fairness.counts import CountTable
from modeltrust.fairness.result import DEFAULT_CHECKS, Check, ClassResult, Settings
from modeltrust.findings import Finding, Location, Severity
from modeltrust.rules import (
    FAIR_DROPPED,
    FAIR_SMALL_GROUP,
    FAIR_THRESHOLD,
    FAIR_UNCERTAIN,
    FAIR_UNDEFINED,
    FAIR_UNDEFINED_RATE,
)

_LISTED = 20  # findings of one kind listed one by one before they are summarised
# Which per-group rate a Fairlearn disparity spreads, for naming the groups at the extremes.
_RATE_OF = {
    "demographic_parity": ("selection_rate",),
    "equal_opportunity": ("true_positive_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
}


def checkable() -> list[str]:
    names = [f"fairlearn.{n}" for n in m.FAIRLEARN]
    names += [f"aif360.{n}" for n in (*m.AIF360_PAIR, *m.AIF360_PAIR_SCORE)]
    return [n for n in names if n.endswith(("_ratio", "_difference", ".disparate_impact"))]


def resolve_checks(settings: Settings, *, privileged: bool, scored: bool) -> list[str]:
    """Qualified metric names to check. Unqualified names are accepted when unambiguous."""
    if settings.checks is None:
        return [c for c in DEFAULT_CHECKS if privileged or not c.startswith("aif360.")]
    known = checkable()
    resolved = []
    for name in settings.checks:
        matches = [k for k in known if k == name or k.split(".", 1)[1] == name]
        if not matches:
            raise UsageError(
                f"--check '{name}' is not a disparity that can be checked; choose from: "
                + ", ".join(known)
            )
        if len(matches) > 1:
            raise UsageError(
                f"--check '{name}' exists in both conventions; write "
                + " or ".join(f"'{x}'" for x in matches)
            )
        qualified = matches[0]
        if qualified.startswith("aif360.") and not privileged:
            raise UsageError(f"--check '{qualified}' compares two sides: pass --privileged.")
        if qualified == "aif360.generalized_equalized_odds_difference" and not scored:
            raise UsageError(f"--check '{qualified}' needs --score.")
        resolved.append(qualified)
    return list(dict.fromkeys(resolved))


def _bounds(metric: str, settings: Settings) -> tuple[float, float]:
    name = metric.split(".", 1)[1]
    if name.endswith("_difference"):
        return -settings.max_difference, settings.max_difference
    if metric.startswith("aif360."):  # unprivileged / privileged: either side may lose
        return settings.threshold, 1.0 / settings.threshold
    return settings.threshold, math.inf


def judge(
    table: CountTable,
    settings: Settings,
    classes: Sequence[ClassResult],
    *,
    mode: Literal["binary", "multiclass"],
    empty: Sequence[tuple[str, ...]],
) -> tuple[tuple[Check, ...], tuple[Finding, ...]]:
    privileged = bool(settings.privileged)
    names = resolve_checks(settings, privileged=privileged, scored=table.score is not None)
    where = Location(", ".join(table.sources) or "<counts>")
    checks: list[Check] = []
    findings: list[Finding] = []
    for result in classes:
        prefix = f"class '{result.positive}' vs rest: " if mode == "multiclass" else ""
        for metric in names:
            section, name = metric.split(".", 1)
            value = (result.fairlearn if section == "fairlearn" else result.aif360)[name]
            check = _check(metric, result, value, settings)
            checks.append(check)
            finding = _check_finding(check, result, table, settings, prefix, where)
            if finding is not None:
                findings.append(finding)
        findings += _rate_findings(table, result, prefix, where)
    findings += _size_findings(table, settings, empty, where)
    if table.dropped_rows:
        findings.append(
            FAIR_DROPPED.finding(
                where,
                f"{table.dropped_rows} rows with missing values were left out (--drop-missing).",
                evidence=f"dropped_rows={table.dropped_rows}",
            )
        )
    return tuple(checks), tuple(findings)


def _check(metric: str, result: ClassResult, value: float, settings: Settings) -> Check:
    low, high = _bounds(metric, settings)
    interval = result.intervals.get(metric)
    if math.isnan(value):
        status: Literal["pass", "fail", "undefined"] = "undefined"
    else:
        status = "pass" if low <= value <= high else "fail"
    uncertain = (
        status == "pass"
        and interval is not None
        and not (low <= interval[0] and interval[1] <= high)
    )
    return Check(metric, result.positive, value, interval, low, high, status, uncertain)


def _fmt(x: float) -> str:
    return "undefined" if math.isnan(x) else f"{x:.4g}"


def _range(check: Check) -> str:
    if math.isinf(check.high):
        return f">= {_fmt(check.low)}"
    return f"within [{_fmt(check.low)}, {_fmt(check.high)}]"


def _check_finding(
    check: Check,
    result: ClassResult,
    table: CountTable,
    settings: Settings,
    prefix: str,
    where: Location,
) -> Finding | None:
    ci = (
        f" ({settings.confidence:.0%} CI {_fmt(check.interval[0])} to {_fmt(check.interval[1])})"
        if check.interval
        else ""
    )
    text = f"{prefix}{check.metric} = {_fmt(check.value)}{ci}; required {_range(check)}"
    evidence = _drivers(check.metric, result, table)
    if check.status == "fail":
        return FAIR_THRESHOLD.finding(where, text + ".", evidence=evidence)
    if check.status == "undefined":
        return FAIR_UNDEFINED.finding(
            where, f"{prefix}{check.metric} is undefined on this data.", evidence=evidence
        )
    if check.uncertain:
        return FAIR_UNCERTAIN.finding(
            where, text + ": the interval reaches past the threshold.", evidence=evidence
        )
    return None


def _label(table: CountTable, values: Sequence[str]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(table.sensitive, values, strict=True))


_SIDE_RATES = {
    "selection_rate": (("tp", "fp"), ("weight",)),
    "true_positive_rate": (("tp",), ("tp", "fn")),
    "false_positive_rate": (("fp",), ("fp", "tn")),
}


def _side_rate(result: ClassResult, privileged: bool, rate: str) -> float:
    numerator, denominator = _SIDE_RATES[rate]
    members = [g for g in result.groups if g.privileged is privileged]
    top = sum(g.counts[k] for g in members for k in numerator)
    bottom = sum(g.counts[k] for g in members for k in denominator)
    return top / bottom if bottom else math.nan


def _drivers(metric: str, result: ClassResult, table: CountTable) -> str:
    """Which groups (or sides) set the value: what a reader needs to act on a finding."""
    section, name = metric.split(".", 1)
    if section == "aif360":
        rates = ["selection_rate"]
        if "opportunity" in name or "odds" in name:
            rates = ["true_positive_rate", "false_positive_rate"]
        elif name not in ("disparate_impact", "statistical_parity_difference"):
            return "see the per-group rates in the report"
        return "; ".join(
            f"{rate}: unprivileged {_fmt(_side_rate(result, False, rate))}, "
            f"privileged {_fmt(_side_rate(result, True, rate))}"
            for rate in rates
        )
    base = name.rsplit("_", 1)[0]
    parts = []
    for rate in _RATE_OF.get(base, ()):
        valid = [g for g in result.groups if g.counts["rows"] > 0 and not math.isnan(g.rates[rate])]
        if len(valid) < 2:
            continue
        low = min(valid, key=lambda g: g.rates[rate])
        high = max(valid, key=lambda g: g.rates[rate])
        parts.append(
            f"{rate}: lowest {_fmt(low.rates[rate])} ({_label(table, low.values)}), "
            f"highest {_fmt(high.rates[rate])} ({_label(table, high.values)})"
        )
    return "; ".join(parts)


def _rate_findings(
    table: CountTable, result: ClassResult, prefix: str, where: Location
) -> list[Finding]:
    affected = []
    for g in result.groups:
        if g.counts["rows"] == 0:
            continue
        lacking = [
            what
            for what, key in (("positives", "positives"), ("negatives", "negatives"))
            if g.counts[key] == 0
        ]
        if lacking:
            affected.append((g, " and ".join(lacking)))
    findings = [
        FAIR_UNDEFINED_RATE.finding(
            where,
            f"{prefix}group {_label(table, g.values)} has no {what} ({g.counts['rows']:.0f} rows).",
            evidence="TPR/FNR need positives, FPR/TNR need negatives",
        )
        for g, what in affected[:_LISTED]
    ]
    if len(affected) > _LISTED:
        findings.append(
            FAIR_UNDEFINED_RATE.finding(
                where, f"{prefix}{len(affected) - _LISTED} more groups lack positives or negatives."
            )
        )
    return findings


def _size_findings(
    table: CountTable, settings: Settings, empty: Sequence[tuple[str, ...]], where: Location
) -> list[Finding]:
    small = [
        (g, n)
        for g, n in zip(table.groups, table.group_rows(), strict=True)
        if 0 < n < settings.min_group_size
    ]
    findings = [
        FAIR_SMALL_GROUP.finding(
            where,
            f"Group {_label(table, g)} has {n} rows, fewer than --min-group-size "
            f"{settings.min_group_size}.",
            evidence=f"rows={n}",
        )
        for g, n in small[:_LISTED]
    ]
    if len(small) > _LISTED:
        findings.append(
            FAIR_SMALL_GROUP.finding(
                where,
                f"{len(small) - _LISTED} more groups have fewer than {settings.min_group_size} rows.",
            )
        )
    if empty:
        shown = "; ".join(_label(table, combo) for combo in empty[:_LISTED])
        more = f" and {len(empty) - _LISTED} more" if len(empty) > _LISTED else ""
        findings.append(
            FAIR_SMALL_GROUP.finding(
                where,
                f"{len(empty)} combinations of sensitive values have no rows: {shown}{more}.",
                severity=Severity.LOW,
            )
        )
    return findings
