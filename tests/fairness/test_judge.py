"""Checks and findings: the four-fifths rule, small and empty groups, undefined metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from modeltrust.errors import UsageError
from modeltrust.fairness import Columns, Settings, audit_table, count
from modeltrust.fairness.render import render_json
from modeltrust.findings import Severity


def _frame(rates: dict[tuple[str, str], tuple[int, float]], seed: int = 0) -> pl.DataFrame:
    """Rows per (sex, region) with exactly the given selection rate; labels are random."""
    rng = np.random.default_rng(seed)
    parts = []
    for (sex, region), (n, rate) in rates.items():
        parts.append(
            pl.DataFrame(
                {
                    "sex": [sex] * n,
                    "region": [region] * n,
                    "y": rng.integers(0, 2, n),
                    "p": (np.arange(n) < round(rate * n)).astype(int),
                }
            )
        )
    return pl.concat(parts)


COLUMNS = Columns("y", "p", ("sex", "region"))


def _ids(result: object) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in result.findings:  # type: ignore[attr-defined]
        found.setdefault(f.rule_id, []).append(f.message)
    return found


def test_four_fifths_rule_fails_and_names_the_groups() -> None:
    frame = _frame({("f", "n"): (2000, 0.3), ("m", "n"): (2000, 0.6)})
    result = audit_table(count(frame, COLUMNS), Settings(privileged=((("sex", "m"),),)))
    assert {c.metric: c.status for c in result.checks} == {
        "fairlearn.demographic_parity_ratio": "fail",
        "aif360.disparate_impact": "fail",
    }
    failing = [f for f in result.findings if f.rule_id == "MT-FAIR-001"]
    assert len(failing) == 2 and all(f.severity == Severity.HIGH for f in failing)
    fairlearn = next(f for f in failing if "fairlearn" in f.message)
    assert "lowest" in (fairlearn.evidence or "") and "sex=f, region=n" in (
        fairlearn.evidence or ""
    )
    aif = next(f for f in failing if "aif360" in f.message)
    assert "unprivileged 0.3" in (aif.evidence or "")
    assert not result.passed


def test_disparate_impact_fails_on_either_side() -> None:
    frame = _frame({("f", "n"): (2000, 0.6), ("m", "n"): (2000, 0.3)})
    result = audit_table(count(frame, COLUMNS), Settings(privileged=((("sex", "m"),),)))
    di = next(c for c in result.checks if c.metric == "aif360.disparate_impact")
    assert di.value > 1.25 and di.status == "fail" and di.high == pytest.approx(1.25)


def test_borderline_pass_is_uncertain() -> None:
    frame = _frame({("f", "n"): (300, 0.44), ("m", "n"): (300, 0.5)})
    result = audit_table(count(frame, COLUMNS), Settings(seed=1))
    check = result.checks[0]
    assert check.status == "pass" and check.uncertain
    assert "MT-FAIR-005" in _ids(result)


def test_small_and_empty_groups() -> None:
    frame = _frame({("f", "n"): (500, 0.5), ("m", "n"): (500, 0.5), ("f", "s"): (12, 0.5)})
    result = audit_table(count(frame, COLUMNS), Settings(n_resamples=0))
    found = _ids(result)
    assert any("sex=f, region=s has 12 rows" in m for m in found["MT-FAIR-002"])
    assert any("sex=m, region=s" in m and "no rows" in m for m in found["MT-FAIR-002"])
    assert result.empty_intersections == (("m", "s"),)
    low = [f for f in result.findings if "no rows" in f.message]
    assert low[0].severity == Severity.LOW
    doc = json.loads(render_json(result))
    assert doc["empty_intersections"] == [{"sex": "m", "region": "s"}]


def test_undefined_check_fails_closed_and_json_has_no_nan() -> None:
    frame = _frame({("f", "n"): (100, 0.0), ("m", "n"): (100, 0.0)})
    result = audit_table(count(frame, COLUMNS), Settings(privileged=((("sex", "m"),),)))
    assert {c.status for c in result.checks} == {"undefined"}
    assert {f.severity for f in result.findings if f.rule_id == "MT-FAIR-003"} == {Severity.HIGH}
    assert result.at_or_above(Severity.HIGH)
    text = render_json(result)  # allow_nan=False: would raise on NaN
    doc = json.loads(text)
    assert doc["results"][0]["fairlearn"]["demographic_parity_ratio"] is None
    assert math.isnan(result.classes[0].fairlearn["demographic_parity_ratio"])


def test_multiclass_checks_every_class() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    frame = pl.DataFrame(
        {
            "sex": rng.choice(["f", "m"], n),
            "region": ["n"] * n,
            "y": rng.choice(["cat", "dog", "eel"], n),
            "p": rng.choice(["cat", "dog", "eel"], n),
        }
    )
    table = count(frame, COLUMNS)
    result = audit_table(table, Settings(multiclass=True, n_resamples=50))
    assert [c.positive for c in result.checks] == ["cat", "dog", "eel"]
    with pytest.raises(UsageError, match="no effect with --multiclass"):
        audit_table(table, Settings(multiclass=True, positive_label="cat"))
