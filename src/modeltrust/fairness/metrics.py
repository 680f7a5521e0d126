"""Group metrics and disparities in Fairlearn's and AIF360's conventions, from counts alone.

Every function takes count arrays whose last axis is the group, with any number of leading axes:
``(G,)`` for the point estimate, ``(B, G)`` for B bootstrap resamples, so one vectorised code
path serves both. Nothing here loops over rows or resamples.

The two libraries disagree on details, and each disparity follows its own library exactly (the
tests compare against both to 1e-9):

* **Fairlearn** (``MetricFrame``, ``method='between_groups'``): a disparity is ``max - min`` or
  ``min / max`` of a per-group value over the groups that have rows. A rate whose denominator is
  zero counts as 0 (scikit-learn's confusion matrix replaces 0/0 by 0), and equalized odds takes
  the worse of the TPR and FPR disparities (``agg='worst_case'``).
* **AIF360** (``ClassificationMetric``): one unprivileged side against one privileged side,
  ``u - p`` and ``u / p``. TPR/FPR/FNR/TNR with a zero denominator are NaN; PPV, NPV, FDR, FOR and
  accuracy are 0. The generalized entropy indices ignore sample weights (AIF360 computes them over
  rows); every other quantity is weighted.

Our own per-group table (:func:`group_metrics`) reports an undefined rate as NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modeltrust.fairness._deps import numpy

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]
    Mask = npt.NDArray[np.bool_]
else:
    Array = Any
    Mask = Any

GROUP_RATES = (
    "selection_rate",
    "base_rate",
    "true_positive_rate",
    "false_positive_rate",
    "true_negative_rate",
    "false_negative_rate",
    "positive_predictive_value",
    "negative_predictive_value",
    "false_discovery_rate",
    "false_omission_rate",
    "accuracy",
    "balanced_accuracy",
)
SCORE_RATES = ("generalized_true_positive_rate", "generalized_false_positive_rate", "mean_score")
GROUP_COUNTS = ("rows", "weight", "positives", "negatives", "tp", "fp", "fn", "tn")

FAIRLEARN = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
)
# Need a privileged/unprivileged split.
AIF360_PAIR = (
    "statistical_parity_difference",
    "disparate_impact",
    "equal_opportunity_difference",
    "average_odds_difference",
    "average_abs_odds_difference",
    "equalized_odds_difference",
    "false_discovery_rate_difference",
    "false_discovery_rate_ratio",
    "false_positive_rate_difference",
    "false_positive_rate_ratio",
    "false_negative_rate_difference",
    "false_negative_rate_ratio",
    "false_omission_rate_difference",
    "false_omission_rate_ratio",
    "error_rate_difference",
    "error_rate_ratio",
    "average_predictive_value_difference",
    "between_group_generalized_entropy_index",
    "between_group_theil_index",
    "between_group_coefficient_of_variation",
)
AIF360_PAIR_SCORE = ("generalized_equalized_odds_difference",)
# Defined without a privileged group.
AIF360_ALL = (
    "generalized_entropy_index",
    "theil_index",
    "coefficient_of_variation",
    "between_all_groups_generalized_entropy_index",
    "between_all_groups_theil_index",
    "between_all_groups_coefficient_of_variation",
    "smoothed_empirical_differential_fairness",
    "differential_fairness_bias_amplification",
)
# BinaryLabelDatasetMetric on the true labels: bias already in the data.
AIF360_DATASET_PAIR = ("statistical_parity_difference", "disparate_impact")
AIF360_DATASET_ALL = ("smoothed_empirical_differential_fairness",)


@dataclass(frozen=True, slots=True)
class Binary:
    """One-vs-rest confusion counts per group; every array has the group as its last axis.

    ``tp``... are weighted (plain row counts without weights); ``r_*`` are row counts, which the
    entropy indices use; ``gtp``/``gfp`` are weighted score sums over true positives/negatives.
    """

    tp: Array
    fp: Array
    fn: Array
    tn: Array
    r_tp: Array
    r_fp: Array
    r_fn: Array
    r_tn: Array
    gtp: Array
    gfp: Array

    @property
    def rows(self) -> Array:
        return self.r_tp + self.r_fp + self.r_fn + self.r_tn

    def pooled(self, mask: Mask | None = None) -> Binary:
        """Sum over groups (those in ``mask``), keeping a group axis of length 1."""
        np = numpy()

        def total(a: Array) -> Array:
            chosen = a if mask is None else np.where(mask, a, 0.0)
            return chosen.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]

        return Binary(*(total(getattr(self, f)) for f in self.__dataclass_fields__))


def one_vs_rest(rows: Array, weight: Array, score: Array, k: int) -> Binary:
    """Binary counts for class ``k`` against the rest from ``(..., G, K, K)`` cell arrays
    (axis -2 is the true class, axis -1 the predicted one). Cells are selected, never
    subtracted, so the binary counts are exact sums of cells."""
    np = numpy()
    others = np.arange(rows.shape[-1]) != k

    def split(a: Array) -> tuple[Array, Array, Array, Array]:
        tp = a[..., k, k]
        fn = a[..., k, others].sum(axis=-1)
        fp = a[..., others, k].sum(axis=-1)
        tn = a[..., others, :][..., others].sum(axis=(-2, -1))
        return tp, fp, fn, tn

    tp, fp, fn, tn = split(weight)
    r_tp, r_fp, r_fn, r_tn = split(rows)
    gtp = score[..., k, :].sum(axis=-1)
    gfp = score[..., others, :].sum(axis=(-2, -1))
    return Binary(tp, fp, fn, tn, r_tp, r_fp, r_fn, r_tn, gtp, gfp)


def _div(num: Array, den: Array) -> Array:
    """num / den, NaN where den is 0 (never a warning)."""
    np = numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)  # type: ignore[no-any-return]


def _div0(num: Array, den: Array) -> Array:
    """num / den, 0 where den is 0 (AIF360's PPV/NPV/FDR/FOR/accuracy, sklearn's rates)."""
    np = numpy()
    return np.where(den != 0, _div(num, den), 0.0)  # type: ignore[no-any-return]


def _ieee_div(num: Array, den: Array) -> Array:
    """num / den as numpy computes it: x/0 is +-inf, 0/0 is NaN (AIF360's ratios)."""
    np = numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(num, den)  # type: ignore[no-any-return]


# --- per group ------------------------------------------------------------------------------
def group_metrics(b: Binary) -> dict[str, Array]:
    """Counts and rates per group; a rate with a zero denominator is NaN."""
    np = numpy()
    n = b.tp + b.fp + b.fn + b.tn
    pos, neg = b.tp + b.fn, b.fp + b.tn
    tpr, tnr = _div(b.tp, pos), _div(b.tn, neg)
    with np.errstate(invalid="ignore"):
        balanced = np.where(np.isnan(tpr), tnr, np.where(np.isnan(tnr), tpr, (tpr + tnr) / 2.0))
    return {
        "rows": b.rows,
        "weight": n,
        "positives": pos,
        "negatives": neg,
        "tp": b.tp,
        "fp": b.fp,
        "fn": b.fn,
        "tn": b.tn,
        "selection_rate": _div(b.tp + b.fp, n),
        "base_rate": _div(pos, n),
        "true_positive_rate": tpr,
        "false_positive_rate": _div(b.fp, neg),
        "true_negative_rate": tnr,
        "false_negative_rate": _div(b.fn, pos),
        "positive_predictive_value": _div(b.tp, b.tp + b.fp),
        "negative_predictive_value": _div(b.tn, b.tn + b.fn),
        "false_discovery_rate": _div(b.fp, b.tp + b.fp),
        "false_omission_rate": _div(b.fn, b.tn + b.fn),
        "accuracy": _div(b.tp + b.tn, n),
        "balanced_accuracy": balanced,
        "generalized_true_positive_rate": _div(b.gtp, pos),
        "generalized_false_positive_rate": _div(b.gfp, neg),
        "mean_score": _div(b.gtp + b.gfp, n),
    }


# --- Fairlearn ------------------------------------------------------------------------------
def _spread(values: Array) -> tuple[Array, Array]:
    """(max - min, min / max) over the groups whose value is not NaN (pandas' skipna)."""
    np = numpy()
    valid = ~np.isnan(values)
    any_valid = valid.any(axis=-1)
    high = np.where(valid, values, -np.inf).max(axis=-1)
    low = np.where(valid, values, np.inf).min(axis=-1)
    high = np.where(any_valid, high, np.nan)
    low = np.where(any_valid, low, np.nan)
    with np.errstate(invalid="ignore"):
        return high - low, _ieee_div(low, high)


def fairlearn_metrics(b: Binary) -> dict[str, Array]:
    np = numpy()
    present = b.rows > 0
    n = b.tp + b.fp + b.fn + b.tn
    selection = np.where(present, _div(b.tp + b.fp, n), np.nan)
    tpr = np.where(present, _div0(b.tp, b.tp + b.fn), np.nan)
    fpr = np.where(present, _div0(b.fp, b.fp + b.tn), np.nan)
    dp_diff, dp_ratio = _spread(selection)
    tpr_diff, tpr_ratio = _spread(tpr)
    fpr_diff, fpr_ratio = _spread(fpr)
    with np.errstate(invalid="ignore"):
        # Python's max(tpr_d, fpr_d) and min(...) over the Series [tpr, fpr], NaNs included.
        eo_diff = np.where(fpr_diff > tpr_diff, fpr_diff, tpr_diff)
        eo_ratio = np.where(fpr_ratio < tpr_ratio, fpr_ratio, tpr_ratio)
    return {
        "demographic_parity_difference": dp_diff,
        "demographic_parity_ratio": dp_ratio,
        "equalized_odds_difference": eo_diff,
        "equalized_odds_ratio": eo_ratio,
        "equal_opportunity_difference": tpr_diff,
        "equal_opportunity_ratio": tpr_ratio,
    }


# --- AIF360 ---------------------------------------------------------------------------------
def _side(b: Binary) -> dict[str, Array]:
    """AIF360's rates for one pooled side (group axis of length 1 squeezed away)."""
    tp, fp, fn, tn = (a[..., 0] for a in (b.tp, b.fp, b.fn, b.tn))
    pos, neg, n = tp + fn, fp + tn, tp + fp + fn + tn
    accuracy = _div0(tp + tn, pos + neg)
    return {
        "selection_rate": _ieee_div(tp + fp, n),
        "base_rate": _ieee_div(pos, n),
        "tpr": _ieee_div(tp, pos),
        "fpr": _ieee_div(fp, neg),
        "fnr": _ieee_div(fn, pos),
        "ppv": _div0(tp, tp + fp),
        "fdr": _div0(fp, tp + fp),
        "for": _div0(fn, fn + tn),
        "error_rate": 1.0 - accuracy,
        "gtpr": _ieee_div(b.gtp[..., 0], pos),
        "gfpr": _ieee_div(b.gfp[..., 0], neg),
    }


def aif360_metrics(
    b: Binary,
    privileged: Mask | None,
    *,
    alpha: float = 2.0,
    concentration: float = 1.0,
    scored: bool = False,
) -> dict[str, Array]:
    """AIF360's ``ClassificationMetric`` values. The pair metrics need ``privileged`` (a boolean
    mask over groups; everyone else is unprivileged)."""
    np = numpy()
    out: dict[str, Array] = {}
    if privileged is not None:
        u, p = _side(b.pooled(~privileged)), _side(b.pooled(privileged))
        with np.errstate(invalid="ignore"):
            d = {key: u[key] - p[key] for key in u}
            out["statistical_parity_difference"] = d["selection_rate"]
            out["disparate_impact"] = _ieee_div(u["selection_rate"], p["selection_rate"])
            out["equal_opportunity_difference"] = d["tpr"]
            out["average_odds_difference"] = 0.5 * (d["fpr"] + d["tpr"])
            out["average_abs_odds_difference"] = 0.5 * (np.abs(d["fpr"]) + np.abs(d["tpr"]))
            out["equalized_odds_difference"] = _py_max(np.abs(d["fpr"]), np.abs(d["tpr"]))
            for name, key in (
                ("false_discovery_rate", "fdr"),
                ("false_positive_rate", "fpr"),
                ("false_negative_rate", "fnr"),
                ("false_omission_rate", "for"),
                ("error_rate", "error_rate"),
            ):
                out[f"{name}_difference"] = d[key]
                out[f"{name}_ratio"] = _ieee_div(u[key], p[key])
            out["average_predictive_value_difference"] = 0.5 * (d["ppv"] + d["for"])
            if scored:
                out["generalized_equalized_odds_difference"] = _py_max(
                    np.abs(d["gfpr"]), np.abs(d["gtpr"])
                )
        sides = np.stack(
            [_row_b(b.pooled(~privileged))[..., 0, :], _row_b(b.pooled(privileged))[..., 0, :]],
            axis=-2,
        )
        out.update(_entropy_family("between_group", sides, alpha))
    benefit = _row_b(b.pooled())[..., 0, :]  # (..., 3): rows with benefit 0, 1, 2
    levels = np.array([0.0, 1.0, 2.0])
    out["generalized_entropy_index"] = _gei(levels, benefit, alpha)
    out["theil_index"] = _gei(levels, benefit, 1.0)
    with np.errstate(invalid="ignore"):
        out["coefficient_of_variation"] = np.sqrt(2.0 * _gei(levels, benefit, 2.0))
    out.update(_entropy_family("between_all_groups", _row_b(b), alpha))
    predicted = _edf(b.tp + b.fp, b, concentration)
    out["smoothed_empirical_differential_fairness"] = predicted
    with np.errstate(invalid="ignore"):
        out["differential_fairness_bias_amplification"] = predicted - _edf(
            b.tp + b.fn, b, concentration
        )
    return out


def aif360_dataset_metrics(
    b: Binary, privileged: Mask | None, *, concentration: float = 1.0
) -> dict[str, Array]:
    """AIF360's ``BinaryLabelDatasetMetric`` on the true labels: bias present in the data."""
    np = numpy()
    out: dict[str, Array] = {}
    if privileged is not None:
        u, p = _side(b.pooled(~privileged)), _side(b.pooled(privileged))
        with np.errstate(invalid="ignore"):
            out["statistical_parity_difference"] = u["base_rate"] - p["base_rate"]
        out["disparate_impact"] = _ieee_div(u["base_rate"], p["base_rate"])
    out["smoothed_empirical_differential_fairness"] = _edf(b.tp + b.fn, b, concentration)
    return out


def _py_max(first: Array, second: Array) -> Array:
    """Python's ``max(first, second)``: ``second`` only when it is strictly greater."""
    np = numpy()
    with np.errstate(invalid="ignore"):
        return np.where(second > first, second, first)  # type: ignore[no-any-return]


def _row_b(b: Binary) -> Array:
    """Row counts of benefit b = prediction - label + 1 per group: (..., G, 3) for b = 0, 1, 2."""
    np = numpy()
    return np.stack([b.r_fn, b.r_tp + b.r_tn, b.r_fp], axis=-1)  # type: ignore[no-any-return]


def _entropy_family(prefix: str, counts: Array, alpha: float) -> dict[str, Array]:
    """Between-group indices: every row's benefit replaced by its group's mean benefit.
    ``counts`` is (..., groups, 3), the benefit counts of each group."""
    np = numpy()
    sizes = counts.sum(axis=-1)
    means = _div(counts[..., 1] + 2.0 * counts[..., 2], sizes)
    means = np.where(sizes > 0, means, 0.0)
    with np.errstate(invalid="ignore"):
        return {
            f"{prefix}_generalized_entropy_index": _gei(means, sizes, alpha),
            f"{prefix}_theil_index": _gei(means, sizes, 1.0),
            f"{prefix}_coefficient_of_variation": np.sqrt(2.0 * _gei(means, sizes, 2.0)),
        }


def _gei(values: Array, counts: Array, alpha: float) -> Array:
    """Generalized entropy index of a population where ``counts[..., i]`` members have benefit
    ``values[..., i]``, exactly as AIF360 codes it (its alpha=0 branch also divides by mu)."""
    np = numpy()
    values = np.broadcast_to(values, counts.shape)
    n = counts.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mu = (counts * values).sum(axis=-1) / n
        x = values / mu[..., None]
        used = counts > 0
        if alpha == 1.0:
            terms = np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)
            return np.where(used, counts * terms, 0.0).sum(axis=-1) / n  # type: ignore[no-any-return]
        if alpha == 0.0:
            logs = np.where(used, counts * np.log(x), 0.0).sum(axis=-1)
            return -logs / n / mu  # type: ignore[no-any-return]
        powered = np.where(x > 0, np.power(np.where(x > 0, x, 1.0), alpha), _zero_power(alpha))
        total = np.where(used, counts * (powered - 1.0), 0.0).sum(axis=-1)
        return total / n / (alpha * (alpha - 1.0))  # type: ignore[no-any-return]


def _zero_power(alpha: float) -> float:
    return 0.0 if alpha > 0 else float("inf")


def _edf(positives: Array, b: Binary, concentration: float) -> Array:
    """Smoothed empirical differential fairness (Foulds et al.) over the groups with rows:
    the largest |log ratio| of Dirichlet-smoothed positive (or negative) rates between groups."""
    np = numpy()
    total = b.tp + b.fp + b.fn + b.tn
    present = b.rows > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (positives + concentration / 2.0) / (total + concentration)
        spreads = []
        for logs in (np.log(rate), np.log(1.0 - rate)):
            high = np.where(present, logs, -np.inf).max(axis=-1)
            low = np.where(present, logs, np.inf).min(axis=-1)
            spreads.append(high - low)
        result = np.where(spreads[1] > spreads[0], spreads[1], spreads[0])
    return np.where(present.sum(axis=-1) >= 2, result, np.nan)  # type: ignore[no-any-return]


MetricFn = Callable[[Binary], dict[str, Array]]
