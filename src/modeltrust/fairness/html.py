"""A self-contained HTML report: per-group bar charts with their confidence intervals as inline
SVG, the disparity tables, checks and findings. No JavaScript, no fonts or styles from a CDN:
the file opens offline and can be attached to an audit record as it is.

Geometry is computed here; the Jinja2 template (autoescaping on) only places it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib.resources import files

from modeltrust.fairness.render import fmt, fmt_ci
from modeltrust.fairness.result import ClassResult, FairnessResult
from modeltrust.findings import Severity

CHART_RATES = (
    ("selection_rate", "Selection rate"),
    ("true_positive_rate", "True positive rate (TPR)"),
    ("false_positive_rate", "False positive rate (FPR)"),
    ("positive_predictive_value", "Positive predictive value (precision)"),
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced accuracy"),
)
LABEL_W = 230
PLOT_W = 380
VALUE_W = 150
BAR_H = 16
GAP = 8
TOP = 22
BOTTOM = 26


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    y: float
    width: float  # 0 when undefined
    value_text: str
    ci: tuple[float, float] | None  # x positions of the whisker
    privileged: bool
    undefined: bool


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    rate: str
    width: int
    height: int
    label_w: int
    plot_w: int
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]
    overall_x: float | None
    reference_x: float | None  # four-fifths line on selection rates
    reference_text: str


def _x(value: float) -> float:
    return LABEL_W + max(0.0, min(1.0, value)) * PLOT_W


def chart(result: FairnessResult, c: ClassResult, rate: str, title: str) -> Chart:
    bars = []
    for i, g in enumerate(c.groups):
        value = g.rates[rate]
        undefined = math.isnan(value)
        ci = g.intervals.get(rate)
        bars.append(
            Bar(
                label=", ".join(
                    f"{n}={v}" for n, v in zip(result.sensitive, g.values, strict=True)
                ),
                y=TOP + i * (BAR_H + GAP),
                width=0.0 if undefined else _x(value) - LABEL_W,
                value_text=fmt(value, 3) + (f" {fmt_ci(ci, 2)}" if ci else ""),
                ci=None if ci is None else (_x(ci[0]), _x(ci[1])),
                privileged=bool(g.privileged),
                undefined=undefined,
            )
        )
    height = TOP + len(bars) * (BAR_H + GAP) + BOTTOM
    overall = c.overall.get(rate, math.nan)
    reference_x, reference_text = None, ""
    if rate == "selection_rate":
        defined = [g.rates[rate] for g in c.groups if not math.isnan(g.rates[rate])]
        if defined and max(defined) > 0:
            line = result.settings.threshold * max(defined)
            reference_x = _x(line)
            reference_text = f"{result.settings.threshold:g} x highest = {line:.3f}"
    return Chart(
        title=title,
        rate=rate,
        width=LABEL_W + PLOT_W + VALUE_W,
        height=height,
        label_w=LABEL_W,
        plot_w=PLOT_W,
        bars=tuple(bars),
        ticks=tuple((_x(t / 4), f"{t / 4:g}") for t in range(5)),
        overall_x=None if math.isnan(overall) else _x(overall),
        reference_x=reference_x,
        reference_text=reference_text,
    )


def render_html(result: FairnessResult, *, fail_on: Severity) -> str:
    import jinja2

    source = (files("modeltrust.fairness") / "templates" / "report.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["num"] = fmt
    env.filters["ci"] = fmt_ci
    template = env.from_string(source)
    charts = {
        c.positive: [chart(result, c, rate, title) for rate, title in CHART_RATES]
        for c in result.classes
    }
    failed = result.at_or_above(fail_on)
    privileged = " or ".join(
        ", ".join(f"{col}={v}" for col, v in clause) for clause in result.settings.privileged
    )
    return template.render(
        result=result,
        table=result.table,
        charts=charts,
        failed=failed,
        fail_on=fail_on.label,
        privileged=privileged,
        confidence=f"{result.settings.confidence:.0%}",
        inf=math.inf,
        group_label=lambda values: ", ".join(
            f"{n}={v}" for n, v in zip(result.sensitive, values, strict=True)
        ),
    )
