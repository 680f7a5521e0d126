"""Fairness metrics in the AIF360 and Fairlearn conventions, computed from group counts.

    from modeltrust.fairness import audit, Settings

    result = audit("predictions.parquet", label="y", prediction="y_hat", sensitive=["sex", "race"],
                   settings=Settings(privileged=(( ("sex", "male"), ),)))
    result.classes[0].fairlearn["demographic_parity_ratio"]

numpy and polars (the ``fairness`` extra) are imported when an audit runs, not by this import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modeltrust.fairness.counts import CountTable, merge
    from modeltrust.fairness.data import Columns, count
    from modeltrust.fairness.pipeline import audit, audit_table
    from modeltrust.fairness.result import (
        Check,
        ClassResult,
        FairnessResult,
        GroupResult,
        Settings,
        parse_privileged,
    )

_HOMES = {
    "CountTable": "counts",
    "merge": "counts",
    "Columns": "data",
    "count": "data",
    "audit": "pipeline",
    "audit_table": "pipeline",
    "Check": "result",
    "ClassResult": "result",
    "FairnessResult": "result",
    "GroupResult": "result",
    "Settings": "result",
    "parse_privileged": "result",
}
"""The module of each public name, imported on first use: counting (:mod:`.data`) can then be
imported without the metrics, the judge and the rule catalogue, which ``modeltrust fairness``
imports in parallel with it (see ``modeltrust.cli._counting``)."""


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


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


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
