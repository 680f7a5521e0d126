"""Fairness metrics in the AIF360 and Fairlearn conventions, computed from group counts.

    from modeltrust.fairness import audit, Settings

    result = audit("predictions.parquet", label="y", prediction="y_hat", sensitive=["sex", "race"],
                   settings=Settings(privileged=(( ("sex", "male"), ),)))
    result.classes[0].fairlearn["demographic_parity_ratio"]

numpy and polars (the ``fairness`` extra) are imported when an audit runs, not by this import.
"""

from __future__ import annotations

from modeltrust.fairness.audit import audit, audit_table
from modeltrust.fairness.counts import CountTable, merge
from modeltrust.fairness.data import Columns, count
from modeltrust.fairness.result import (
    Check,
    ClassResult,
    FairnessResult,
    GroupResult,
    Settings,
    parse_privileged,
)

__all__ = [
    "Check",
    "ClassResult",
    "Columns",
    "CountTable",
    "FairnessResult",
    "GroupResult",
    "Settings",
    "audit",
    "audit_table",
    "count",
    "merge",
    "parse_privileged",
]
