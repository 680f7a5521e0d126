"""Reference numbers from the real libraries (Fairlearn 0.15, AIF360 0.6.1) and random data.

Both libraries are dev dependencies; they are imported here only, with their import-time logging
and their division warnings (degenerate groups) silenced so that pytest's warnings-as-errors
setting does not turn the *reference* into a failure.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import product
from typing import Any

import numpy as np
import pandas as pd


@contextmanager
def quiet() -> Iterator[None]:
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logging.disable(previous)


def make_frame(
    seed: int,
    n: int = 600,
    levels: Sequence[int] = (2, 3),
    *,
    weighted: bool = False,
    scored: bool = False,
    classes: int = 2,
) -> pd.DataFrame:
    """Random predictions whose selection rate depends on the first sensitive attribute, so the
    disparities are not all near zero."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"a{i}": rng.integers(0, k, n) for i, k in enumerate(levels)})
    if classes == 2:
        y = rng.integers(0, 2, n)
        s = np.clip(rng.random(n) * 0.8 + 0.15 * frame["a0"].to_numpy() + 0.1 * y, 0, 1)
        frame["y"], frame["p"] = y, (s > 0.5).astype(int)
        if scored:
            frame["s"] = s
    else:
        frame["y"] = rng.integers(0, classes, n)
        keep = rng.random(n) < 0.6
        frame["p"] = np.where(keep, frame["y"], rng.integers(0, classes, n))
    if weighted:
        frame["w"] = rng.uniform(0.2, 3.0, n)
    return frame


# --- Fairlearn ------------------------------------------------------------------------------
def _cm(y: Any, p: Any, w: Any) -> tuple[float, float, float, float]:
    import sklearn.metrics as skm

    tn, fp, fn, tp = skm.confusion_matrix(y, p, labels=[0, 1], sample_weight=w).ravel()
    return tp, fp, fn, tn


def fairlearn_group_rates(
    frame: pd.DataFrame, sensitive: Sequence[str], weight: str | None
) -> pd.DataFrame:
    """Per-group rates through MetricFrame, the way a Fairlearn user would get them."""
    import fairlearn.metrics as flm
    import sklearn.metrics as skm

    def npv(y: Any, p: Any, sample_weight: Any = None) -> float:
        _, _, fn, tn = _cm(y, p, sample_weight)
        return tn / (tn + fn)

    def fdr(y: Any, p: Any, sample_weight: Any = None) -> float:
        tp, fp, _, _ = _cm(y, p, sample_weight)
        return fp / (tp + fp)

    def false_omission(y: Any, p: Any, sample_weight: Any = None) -> float:
        _, _, fn, tn = _cm(y, p, sample_weight)
        return fn / (fn + tn)

    metrics = {
        "selection_rate": flm.selection_rate,
        "true_positive_rate": flm.true_positive_rate,
        "false_positive_rate": flm.false_positive_rate,
        "true_negative_rate": flm.true_negative_rate,
        "false_negative_rate": flm.false_negative_rate,
        "positive_predictive_value": skm.precision_score,
        "negative_predictive_value": npv,
        "false_discovery_rate": fdr,
        "false_omission_rate": false_omission,
        "accuracy": skm.accuracy_score,
        "balanced_accuracy": skm.balanced_accuracy_score,
    }
    params = None
    if weight is not None:
        params = {name: {"sample_weight": frame[weight]} for name in metrics}
    with quiet():
        mf = flm.MetricFrame(
            metrics=metrics,
            y_true=frame["y"],
            y_pred=frame["p"],
            sensitive_features=frame[list(sensitive)],
            sample_params=params,
        )
        return mf.by_group


def fairlearn_disparities(
    frame: pd.DataFrame, sensitive: Sequence[str], weight: str | None, y: str = "y", p: str = "p"
) -> dict[str, float]:
    import fairlearn.metrics as flm

    names = (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
        "equal_opportunity_difference",
        "equal_opportunity_ratio",
    )
    sample_weight = None if weight is None else frame[weight]
    with quiet():
        return {
            name: float(
                getattr(flm, name)(
                    frame[y],
                    frame[p],
                    sensitive_features=frame[list(sensitive)],
                    sample_weight=sample_weight,
                )
            )
            for name in names
        }


# --- AIF360 ---------------------------------------------------------------------------------
AIF360_CALLS = {
    "statistical_parity_difference": lambda m: m.statistical_parity_difference(),
    "disparate_impact": lambda m: m.disparate_impact(),
    "equal_opportunity_difference": lambda m: m.equal_opportunity_difference(),
    "average_odds_difference": lambda m: m.average_odds_difference(),
    "average_abs_odds_difference": lambda m: m.average_abs_odds_difference(),
    "equalized_odds_difference": lambda m: m.equalized_odds_difference(),
    "false_discovery_rate_difference": lambda m: m.false_discovery_rate_difference(),
    "false_discovery_rate_ratio": lambda m: m.false_discovery_rate_ratio(),
    "false_positive_rate_difference": lambda m: m.false_positive_rate_difference(),
    "false_positive_rate_ratio": lambda m: m.false_positive_rate_ratio(),
    "false_negative_rate_difference": lambda m: m.false_negative_rate_difference(),
    "false_negative_rate_ratio": lambda m: m.false_negative_rate_ratio(),
    "false_omission_rate_difference": lambda m: m.false_omission_rate_difference(),
    "false_omission_rate_ratio": lambda m: m.false_omission_rate_ratio(),
    "error_rate_difference": lambda m: m.error_rate_difference(),
    "error_rate_ratio": lambda m: m.error_rate_ratio(),
    "average_predictive_value_difference": lambda m: m.average_predictive_value_difference(),
    "theil_index": lambda m: m.theil_index(),
    "coefficient_of_variation": lambda m: m.coefficient_of_variation(),
    "between_group_theil_index": lambda m: m.between_group_theil_index(),
    "between_group_coefficient_of_variation": lambda m: m.between_group_coefficient_of_variation(),
    "between_all_groups_theil_index": lambda m: m.between_all_groups_theil_index(),
    "between_all_groups_coefficient_of_variation": (
        lambda m: m.between_all_groups_coefficient_of_variation()
    ),
}


def aif360_metrics(
    frame: pd.DataFrame,
    sensitive: Sequence[str],
    privileged: Sequence[dict[str, int]],
    *,
    weight: str | None = None,
    score: str | None = None,
    alpha: float = 2.0,
    concentration: float = 1.0,
    y: str = "y",
    p: str = "p",
) -> tuple[dict[str, float], dict[str, float]]:
    """(ClassificationMetric values, BinaryLabelDatasetMetric values on the labels).
    ``privileged`` is AIF360's list of dicts; the unprivileged groups are every other
    combination of sensitive values present in the data."""
    with quiet():
        from aif360.datasets import BinaryLabelDataset
        from aif360.metrics import BinaryLabelDatasetMetric, ClassificationMetric

        columns = [*sensitive, y] + ([weight] if weight else [])
        data = frame[columns].astype(float)
        truth = BinaryLabelDataset(
            df=data,
            label_names=[y],
            protected_attribute_names=list(sensitive),
            instance_weights_name=weight,
            favorable_label=1.0,
            unfavorable_label=0.0,
        )
        predicted = truth.copy(deepcopy=True)
        predicted.labels = frame[[p]].to_numpy(dtype=float)
        if score:
            predicted.scores = frame[[score]].to_numpy(dtype=float)
        combos = sorted(set(map(tuple, frame[list(sensitive)].to_numpy().tolist())))
        unprivileged = [
            dict(zip(sensitive, combo, strict=True))
            for combo in combos
            if not any(
                all(dict(zip(sensitive, combo, strict=True))[k] == v for k, v in c.items())
                for c in privileged
            )
        ]
        cm = ClassificationMetric(
            truth, predicted, unprivileged_groups=unprivileged, privileged_groups=list(privileged)
        )
        out = {name: float(call(cm)) for name, call in AIF360_CALLS.items()}
        out["generalized_entropy_index"] = float(cm.generalized_entropy_index(alpha=alpha))
        out["between_group_generalized_entropy_index"] = float(
            cm.between_group_generalized_entropy_index(alpha=alpha)
        )
        out["between_all_groups_generalized_entropy_index"] = float(
            cm.between_all_groups_generalized_entropy_index(alpha=alpha)
        )
        out["smoothed_empirical_differential_fairness"] = float(
            BinaryLabelDatasetMetric(predicted).smoothed_empirical_differential_fairness(
                concentration
            )
        )
        out["differential_fairness_bias_amplification"] = float(
            cm.differential_fairness_bias_amplification(concentration)
        )
        if score:
            out["generalized_equalized_odds_difference"] = float(
                cm.generalized_equalized_odds_difference()
            )
        labels = BinaryLabelDatasetMetric(
            truth, unprivileged_groups=unprivileged, privileged_groups=list(privileged)
        )
        dataset = {
            "statistical_parity_difference": float(labels.statistical_parity_difference()),
            "disparate_impact": float(labels.disparate_impact()),
            # ClassificationMetric inherits this from the labels' metric: it measures the data.
            "smoothed_empirical_differential_fairness": float(
                cm.smoothed_empirical_differential_fairness(concentration)
            ),
        }
        return out, dataset


def all_combos(frame: pd.DataFrame, sensitive: Sequence[str]) -> list[tuple[int, ...]]:
    return list(product(*(sorted(frame[c].unique()) for c in sensitive)))


def assert_close(ours: float, theirs: float, name: str, tol: float = 1e-9) -> None:
    """Equal to ``tol``, or both NaN, or the same infinity.

    One known difference: AIF360 takes the coefficient of variation as ``sqrt(2 * GEI(2))``, and
    when every group has the same mean benefit rounding leaves its GEI a hair off zero (-2e-16
    gives NaN, +2e-16 gives 2e-8) where ours, from exact counts, is 0. So coefficients of
    variation are compared as the GEI they are the square root of: ``cv**2 / 2``."""
    if name.endswith("coefficient_of_variation") and not np.isnan(ours):
        theirs_gei = 0.0 if np.isnan(theirs) else theirs * theirs / 2
        assert abs(ours * ours / 2 - theirs_gei) <= tol, f"{name}: ours {ours!r}, theirs {theirs!r}"
        return
    if np.isnan(theirs) or np.isnan(ours):
        assert np.isnan(theirs) and np.isnan(ours), f"{name}: ours {ours!r}, theirs {theirs!r}"
    elif np.isinf(theirs) or np.isinf(ours):
        assert ours == theirs, f"{name}: ours {ours!r}, theirs {theirs!r}"
    else:
        assert abs(ours - theirs) <= tol, f"{name}: ours {ours!r}, theirs {theirs!r}"
