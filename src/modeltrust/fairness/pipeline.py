"""Orchestration: count the data (or merge counts), compute every metric, bootstrap, judge.

Kept free of printing and of rendering; the CLI and the Python API both end here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import product
from typing import TYPE_CHECKING, Any, Literal

from modeltrust.errors import DataError, UsageError
from modeltrust.fairness import metrics as m
from modeltrust.fairness._deps import numpy
from modeltrust.fairness.bootstrap import bootstrap
from modeltrust.fairness.counts import CountTable, merge, sort_key
from modeltrust.fairness.data import Columns, count
from modeltrust.fairness.judge import judge
from modeltrust.fairness.result import (
    ClassResult,
    FairnessResult,
    GroupResult,
    Interval,
    Settings,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]
    Mask = npt.NDArray[np.bool_]
else:
    Array = Any
    Mask = Any

_BINARY_SETS = ({"0", "1"}, {"-1", "1"})


def audit(
    data: object,
    *,
    label: str,
    prediction: str,
    sensitive: Sequence[str],
    score: str | None = None,
    weight: str | None = None,
    drop_missing: bool = False,
    settings: Settings | None = None,
) -> FairnessResult:
    """Audit one source or a list of sources (paths, polars or pandas frames); several sources
    are counted separately and merged, exactly as federated counts are."""
    columns = Columns(label, prediction, tuple(sensitive), score=score, weight=weight)
    sources = list(data) if isinstance(data, (list, tuple)) else [data]
    if not sources:
        raise UsageError("Give at least one data file or frame to audit.")
    started = time.perf_counter()
    tables = [count(s, columns, drop_missing=drop_missing) for s in sources]
    table = tables[0] if len(tables) == 1 else merge(tables)
    return audit_table(table, settings or Settings(), started=started)


def audit_table(
    table: CountTable, settings: Settings, *, started: float | None = None
) -> FairnessResult:
    """Every metric, interval, check and finding for one count table."""
    from modeltrust import __version__

    settings.validate()
    begin = time.perf_counter() if started is None else started
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    present = [g for g, n in zip(table.groups, table.group_rows(), strict=True) if n > 0]
    if len(present) < 2:
        only = ", ".join(f"{c}={v}" for c, v in zip(table.sensitive, present[0], strict=True))
        raise DataError(
            f"Every row of {_where(table)} is in one group ({only}): a fairness audit compares "
            "at least two groups. Check --sensitive."
        )
    if table.weight is not None and not any(table.weight):
        raise DataError(
            f"Every weight in column '{table.weight_column}' of {_where(table)} is zero: "
            "nothing to audit."
        )
    mode: Literal["binary", "multiclass"] = "multiclass" if settings.multiclass else "binary"
    if mode == "binary":
        table = _binary(table, settings)
        positives = [1]
    else:
        if table.score is not None:
            raise UsageError("--score needs binary labels; leave it out with --multiclass.")
        positives = list(range(len(table.classes)))
    privileged = _privileged(table, settings)
    rows, weight, score = table.arrays()
    scored = table.score is not None

    def statistic(r: Array, w: Array, s: Array) -> dict[str, Array]:
        return _statistic(r, w, s, positives, privileged, settings, scored=scored)

    point = statistic(rows, weight, score)
    intervals: dict[str, tuple[Array, Array]] = {}
    if settings.n_resamples > 0:
        intervals = bootstrap(
            rows,
            weight,
            score,
            statistic,
            n_resamples=settings.n_resamples,
            seed=settings.seed,
            confidence=settings.confidence,
        )
    classes = tuple(
        _class_result(table, k, point, intervals, privileged, scored=scored) for k in positives
    )
    empty = _empty_intersections(table)
    checks, findings = judge(table, settings, classes, mode=mode, empty=empty)
    return FairnessResult(
        table=table,
        settings=settings,
        mode=mode,
        classes=classes,
        checks=checks,
        findings=findings,
        sensitive=table.sensitive,
        empty_intersections=empty,
        duration_s=time.perf_counter() - begin,
        tool_version=__version__,
        started_at=started_at,
    )


def _where(table: CountTable) -> str:
    return ", ".join(f"'{s}'" for s in table.sources) or "the data"


# --- labels ---------------------------------------------------------------------------------
def _binary(table: CountTable, settings: Settings) -> CountTable:
    """The table over exactly two classes, (negative, positive)."""
    classes = set(table.classes)
    positive = settings.positive_label
    if positive is None:
        if len(classes) > 2:
            raise DataError(_not_binary(table))
        for allowed in _BINARY_SETS:
            if classes <= allowed:
                positive = "1"
                break
        else:
            raise DataError(
                f"The labels of {_where(table)} are {_listed(table.classes)}: say which is the "
                "favourable (positive) outcome with --positive-label."
            )
    if positive not in classes and len(classes) >= 2:
        raise DataError(
            f"--positive-label '{positive}' is not among the labels and predictions of "
            f"{_where(table)}: {_listed(table.classes)}."
        )
    others = sorted(classes - {positive}, key=sort_key)
    if len(others) > 1:
        raise DataError(_not_binary(table))
    negative = others[0] if others else ("0" if positive != "0" else "1")
    return table.with_classes([negative, positive])


def _not_binary(table: CountTable) -> str:
    return (
        f"The label and prediction columns of {_where(table)} hold {len(table.classes)} "
        f"different values ({_listed(table.classes)}), so the labels are not binary. Pass "
        "--multiclass to audit each class against the rest, or map the labels to two values."
    )


def _listed(values: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(f"'{v}'" for v in list(values)[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


# --- privileged groups ----------------------------------------------------------------------
def _privileged(table: CountTable, settings: Settings) -> Mask | None:
    if not settings.privileged:
        return None
    np = numpy()
    for clause in settings.privileged:
        for column, _ in clause:
            if column not in table.sensitive:
                raise UsageError(
                    f"--privileged names column '{column}', which is not a sensitive column "
                    f"({', '.join(table.sensitive)}). Add it to --sensitive."
                )
    index = {c: i for i, c in enumerate(table.sensitive)}
    mask = np.array(
        [
            any(all(group[index[c]] == v for c, v in clause) for clause in settings.privileged)
            for group in table.groups
        ],
        dtype=bool,
    )
    rows = np.array(table.group_rows())
    described = " or ".join(",".join(f"{c}={v}" for c, v in cl) for cl in settings.privileged)
    if not (rows[mask] > 0).any():
        values = {
            c: _listed(sorted({g[index[c]] for g in table.groups}, key=sort_key))
            for clause in settings.privileged
            for c, _ in clause
        }
        present = "; ".join(f"{c}: {v}" for c, v in values.items())
        raise DataError(
            f"No row of {_where(table)} matches --privileged {described}. Values present: "
            f"{present}."
        )
    if not (rows[~mask] > 0).any():
        raise DataError(
            f"Every row of {_where(table)} matches --privileged {described}, so there is no "
            "unprivileged group to compare with."
        )
    return mask  # type: ignore[no-any-return]


# --- metrics --------------------------------------------------------------------------------
def _statistic(
    rows: Array,
    weight: Array,
    score: Array,
    positives: list[int],
    privileged: Mask | None,
    settings: Settings,
    *,
    scored: bool,
) -> dict[str, Array]:
    """Every number of the audit, keyed ``"<class>|<section>|<name>"``; arrays keep any leading
    resample axis."""
    out: dict[str, Array] = {}
    for k in positives:
        b = m.one_vs_rest(rows, weight, score, k)
        sections = {
            "group": m.group_metrics(b),
            "overall": {n: v[..., 0] for n, v in m.group_metrics(b.pooled()).items()},
            "fairlearn": m.fairlearn_metrics(b),
            "aif360": m.aif360_metrics(
                b,
                privileged,
                alpha=settings.alpha,
                concentration=settings.concentration,
                scored=scored,
            ),
            "aif360_dataset": m.aif360_dataset_metrics(
                b, privileged, concentration=settings.concentration
            ),
        }
        for section, values in sections.items():
            for name, value in values.items():
                out[f"{k}|{section}|{name}"] = value
    return out


def _class_result(
    table: CountTable,
    k: int,
    point: dict[str, Array],
    intervals: dict[str, tuple[Array, Array]],
    privileged: Mask | None,
    *,
    scored: bool,
) -> ClassResult:
    rates = [*m.GROUP_RATES, *(m.SCORE_RATES if scored else ())]

    def section(name: str) -> dict[str, float]:
        prefix = f"{k}|{name}|"
        return {key[len(prefix) :]: float(v) for key, v in point.items() if key.startswith(prefix)}

    def ci(key: str, index: int | None = None) -> Interval | None:
        if key not in intervals:
            return None
        low, high = intervals[key]
        pair = (
            float(low if index is None else low[index]),
            float(high if index is None else high[index]),
        )
        return None if pair[0] != pair[0] else pair

    groups = []
    for g, values in enumerate(table.groups):
        group_intervals = {}
        for rate in rates:
            found = ci(f"{k}|group|{rate}", g)
            if found is not None:
                group_intervals[rate] = found
        groups.append(
            GroupResult(
                values=values,
                privileged=None if privileged is None else bool(privileged[g]),
                counts={c: float(point[f"{k}|group|{c}"][g]) for c in m.GROUP_COUNTS},
                rates={r: float(point[f"{k}|group|{r}"][g]) for r in rates},
                intervals=group_intervals,
            )
        )
    overall = section("overall")
    disparities: dict[str, Interval] = {}
    for name in ("fairlearn", "aif360", "aif360_dataset"):
        for metric in section(name):
            found = ci(f"{k}|{name}|{metric}")
            if found is not None:
                disparities[f"{name}.{metric}"] = found
    aif = section("aif360")
    if not scored:
        aif.pop("generalized_equalized_odds_difference", None)
    return ClassResult(
        positive=table.classes[k],
        groups=tuple(groups),
        overall={r: overall[r] for r in (*m.GROUP_COUNTS, *rates)},
        fairlearn=section("fairlearn"),
        aif360=aif,
        aif360_dataset=section("aif360_dataset"),
        intervals=disparities,
    )


def _empty_intersections(table: CountTable) -> tuple[tuple[str, ...], ...]:
    """Combinations of sensitive values, each seen in the data, that no row has."""
    if len(table.sensitive) < 2:
        return ()
    rows = dict(zip(table.groups, table.group_rows(), strict=True))
    levels = [
        sorted({g[i] for g, n in rows.items() if n > 0}, key=sort_key)
        for i in range(len(table.sensitive))
    ]
    total = 1
    for level in levels:
        total *= len(level)
    if total > 100_000:
        return ()
    return tuple(combo for combo in product(*levels) if rows.get(combo, 0) == 0)
