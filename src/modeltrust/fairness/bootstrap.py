"""Bootstrap confidence intervals, resampling the count table instead of the rows.

Why a multinomial draw over cells is the row bootstrap: resampling n rows with replacement picks
each row a Multinomial(n, 1/n, ..., 1/n) number of times, and rows in the same cell (same group,
true class, predicted class) are interchangeable for every count-based metric, so the resampled
cell counts are Multinomial(n, rows_c / n). Drawing those directly has exactly the distribution of
Fairlearn's ``DataFrame.sample(frac=1, replace=True)`` bootstrap for unweighted data, at a cost
that depends on the number of cells, not rows: 1,000 resamples of a 15-group table take
milliseconds, and merged federated counts give the same intervals as the pooled rows.

We chose the multinomial over the Poisson bootstrap (each cell ~ Poisson(rows_c)) because the
multinomial keeps n fixed, as the classic row bootstrap does, and needs no row-level data.

With sample weights a resampled cell carries its count times the cell's mean weight (and mean
weight x score). That is exact when weights are constant within a cell, as AIF360's Reweighing
produces (one weight per group and label); otherwise it leaves out the variation of weights
inside a cell and the intervals are somewhat narrower than a row bootstrap's.

Intervals are percentile intervals over the resamples where the metric is defined.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from modeltrust.fairness._deps import numpy

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]
else:
    Array = Any

_BATCH_CELLS = 2_000_000  # resampled cells held at once (16 MB of int64)
# An interval is reported only when the metric is defined in this share of the resamples.
MIN_DEFINED = 0.5


def resamples(
    rows: Array, weight: Array, score: Array, *, n_resamples: int, seed: int
) -> Iterator[tuple[Array, Array, Array]]:
    """Batches of resampled (rows, weight, score) arrays, shape (b, *rows.shape)."""
    np = numpy()
    rng = np.random.default_rng(seed)
    flat = rows.reshape(-1)
    total = int(flat.sum())
    probabilities = flat / total
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_weight = np.where(flat > 0, weight.reshape(-1) / np.where(flat > 0, flat, 1), 0.0)
        mean_score = np.where(flat > 0, score.reshape(-1) / np.where(flat > 0, flat, 1), 0.0)
    batch = max(1, min(n_resamples, _BATCH_CELLS // max(1, flat.size)))
    done = 0
    while done < n_resamples:
        size = min(batch, n_resamples - done)
        drawn = rng.multinomial(total, probabilities, size=size).astype(np.float64)
        shape = (size, *rows.shape)
        yield (
            drawn.reshape(shape),
            (drawn * mean_weight).reshape(shape),
            (drawn * mean_score).reshape(shape),
        )
        done += size


def bootstrap(
    rows: Array,
    weight: Array,
    score: Array,
    statistic: Callable[[Array, Array, Array], dict[str, Array]],
    *,
    n_resamples: int,
    seed: int,
    confidence: float,
) -> dict[str, tuple[Array, Array]]:
    """Percentile intervals ``(low, high)`` of every array ``statistic`` returns; the statistic
    gets arrays with a leading resample axis and must return arrays with the same leading axis."""
    np = numpy()
    collected: dict[str, list[Array]] = {}
    for batch in resamples(rows, weight, score, n_resamples=n_resamples, seed=seed):
        for name, values in statistic(*batch).items():
            collected.setdefault(name, []).append(np.asarray(values, dtype=np.float64))
    tail = (1.0 - confidence) / 2.0
    names = list(collected)
    blocks = [np.concatenate(collected[n], axis=0) for n in names]
    shapes = [b.shape[1:] for b in blocks]
    flat = np.concatenate([b.reshape(b.shape[0], -1) for b in blocks], axis=1)
    low, high = _percentiles(flat, tail)
    out, start = {}, 0
    for name, shape in zip(names, shapes, strict=True):
        size = int(np.prod(shape))
        out[name] = (
            low[start : start + size].reshape(shape),
            high[start : start + size].reshape(shape),
        )
        start += size
    return out


def _percentiles(values: Array, tail: float) -> tuple[Array, Array]:
    """Order-statistic percentiles of each column over the resamples where it is defined:
    numpy's ``method="lower"`` for the low end and ``"higher"`` for the high end, which never
    interpolate (an infinite ratio stays infinite) and are never narrower than interpolation.
    One sort for all columns; NaN sorts last."""
    np = numpy()
    ordered = np.sort(values, axis=0)
    defined = (~np.isnan(values)).sum(axis=0)
    last = np.maximum(defined - 1, 0)
    low_at = np.floor(tail * last).astype(np.intp)
    high_at = np.ceil((1.0 - tail) * last).astype(np.intp)
    low = np.take_along_axis(ordered, low_at[None, :], axis=0)[0]
    high = np.take_along_axis(ordered, high_at[None, :], axis=0)[0]
    keep = defined >= MIN_DEFINED * values.shape[0]
    return np.where(keep, low, np.nan), np.where(keep, high, np.nan)
