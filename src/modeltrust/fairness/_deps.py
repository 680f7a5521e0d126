"""numpy and polars, imported only when a fairness audit actually runs.

``import modeltrust`` and ``modeltrust scan`` must stay fast and must work without the
``fairness`` extra, so nothing in this package imports either library at module level; every
function that needs one calls :func:`numpy` or :func:`polars` first. A missing library becomes a
:class:`~modeltrust.errors.MissingExtraError` that names the extra to install.
"""

from __future__ import annotations

from types import ModuleType

from modeltrust.errors import MissingExtraError

_HINT = "pip install 'modeltrust[fairness]'"


def numpy() -> ModuleType:
    try:
        import numpy as np
    except ImportError:
        raise MissingExtraError(
            f"The fairness audit needs numpy, which is not installed. Run: {_HINT}"
        ) from None
    return np


def polars() -> ModuleType:
    try:
        import polars as pl
    except ImportError:
        raise MissingExtraError(
            f"The fairness audit reads data with polars, which is not installed. Run: {_HINT}"
        ) from None
    return pl
