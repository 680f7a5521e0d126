"""Bootstrap intervals: seeded, containing the estimate, as wide as a row bootstrap."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from modeltrust.fairness import Columns, Settings, audit_table, count
from modeltrust.fairness.bootstrap import resamples

from .reference import make_frame

PRIVILEGED = ((("a0", "1"),),)


def _table(seed: int = 41, n: int = 4000, weighted: bool = False):  # type: ignore[no-untyped-def]
    frame = pl.from_pandas(make_frame(seed, n=n, levels=(2, 2), weighted=weighted))
    return count(frame, Columns("y", "p", ("a0", "a1"), weight="w" if weighted else None))


def test_intervals_contain_the_estimate() -> None:
    result = audit_table(_table(), Settings(privileged=PRIVILEGED, n_resamples=1000))
    c = result.classes[0]
    checked = 0
    for section in ("fairlearn", "aif360", "aif360_dataset"):
        values = getattr(c, section)
        for name, value in values.items():
            if "entropy" in name or "theil" in name or "coefficient" in name:
                continue  # spreads of group means: see docs/fairness.md on their bias
            if "differential" in name:
                continue
            low, high = c.intervals[f"{section}.{name}"]
            assert low <= value <= high, (section, name, low, value, high)
            checked += 1
    assert checked >= 25
    for group in c.groups:
        for rate, (low, high) in group.intervals.items():
            assert low <= group.rates[rate] <= high, (group.values, rate)


def test_same_seed_same_intervals_other_seed_other_intervals() -> None:
    table = _table(weighted=True)
    first = audit_table(table, Settings(n_resamples=300, seed=3)).classes[0].intervals
    again = audit_table(table, Settings(n_resamples=300, seed=3)).classes[0].intervals
    other = audit_table(table, Settings(n_resamples=300, seed=4)).classes[0].intervals
    assert first == again
    assert first != other


def test_no_resamples_no_intervals() -> None:
    result = audit_table(_table(), Settings(n_resamples=0))
    assert result.classes[0].intervals == {}
    assert all(g.intervals == {} for g in result.classes[0].groups)


def test_multinomial_spread_matches_the_row_bootstrap() -> None:
    """A group's selection rate p over n rows has bootstrap standard deviation about
    sqrt(p (1 - p) / n); the multinomial draw over cells must reproduce it."""
    table = _table(n=3000)
    rows, weight, score = table.arrays()
    drawn = np.concatenate(
        [r for r, _, _ in resamples(rows, weight, score, n_resamples=4000, seed=1)]
    )
    assert drawn.shape == (4000, *rows.shape)
    assert (drawn.sum(axis=(1, 2, 3)) == rows.sum()).all()  # n is fixed, as in a row bootstrap
    n_g = drawn.sum(axis=(2, 3))
    selected = drawn[:, :, :, 1].sum(axis=2)
    for g in range(rows.shape[0]):
        n = rows[g].sum()
        p = rows[g, :, 1].sum() / n
        expected = math.sqrt(p * (1 - p) / n)
        spread = float(np.std(selected[:, g] / n_g[:, g]))
        assert abs(spread - expected) / expected < 0.08, (g, spread, expected)


def test_weighted_resamples_carry_the_cell_mean_weight() -> None:
    table = _table(weighted=True)
    rows, weight, score = table.arrays()
    r, w, _ = next(resamples(rows, weight, score, n_resamples=10, seed=0))
    mean = np.divide(weight, rows, out=np.zeros_like(weight), where=rows > 0)
    assert np.allclose(w, r * mean)
