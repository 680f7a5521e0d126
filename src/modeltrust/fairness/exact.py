"""Exact sums of float64 values, so that merged counts equal pooled counts bit for bit.

A floating-point sum depends on the order of its terms: summing three sites' weights and adding
the three totals gives a slightly different number from summing the pooled rows. Federated mode
promises *exactly* the pooled metrics, so weighted sums are kept exact instead.

Every finite float64 is an integer multiple of 2**-1074 (the smallest subnormal). A value's
mantissa ``m`` (53 bits, implicit bit included) and biased exponent ``e`` give
``value = m * 2**(max(e, 1) - 1075)``, i.e. ``m * 2**(max(e, 1) - 1)`` units of 2**-1074. The
counting query groups rows by ``e`` and sums the mantissa in two integer halves (high 32 bits and
low 21 bits), which integer arithmetic in polars does exactly and in any order. Here the per-
exponent sums are turned into one Python integer per cell, in units of 2**-1074. Adding such
integers is exact, and :func:`to_float` rounds once, correctly, at the end.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from modeltrust.errors import DataError

if TYPE_CHECKING:
    import polars as pl

SCALE_BITS = 1074
_LO_BITS = 21
_FRAC_BITS = 52
# Exponent keys that mark values which cannot be summed: they never reach to_units().
NAN_KEY = -2
NEGATIVE_KEY = -1
INF_KEY = 2047

_EXACT_RE = re.compile(r"^(0|[1-9][0-9]*)(?:p(-?[0-9]+))?$")


def exponent_expr(value: pl.Expr) -> pl.Expr:
    """The grouping key for ``value`` (a Float64 expression): its biased exponent, or
    :data:`NAN_KEY` / :data:`NEGATIVE_KEY`; +inf gives :data:`INF_KEY`; null stays null."""
    from modeltrust.fairness._deps import polars

    polars()  # a clear error when the extra is missing
    import polars as pl

    bits = value.abs().reinterpret(dtype=pl.Int64)  # abs() turns -0.0 into +0.0
    return (
        pl.when(value.is_nan())
        .then(NAN_KEY)
        .when(value < 0)
        .then(NEGATIVE_KEY)
        .otherwise(bits // (1 << _FRAC_BITS))
    )


def mantissa_sum_exprs(value: pl.Expr, prefix: str) -> list[pl.Expr]:
    """Two integer sums that, with the exponent key, give the exact sum of ``value``."""
    from modeltrust.fairness._deps import polars

    polars()  # a clear error when the extra is missing
    import polars as pl

    bits = value.abs().reinterpret(dtype=pl.Int64)
    frac = bits % (1 << _FRAC_BITS)
    mantissa = frac + (bits >= (1 << _FRAC_BITS)).cast(pl.Int64) * (1 << _FRAC_BITS)
    return [
        (mantissa // (1 << _LO_BITS)).sum().alias(f"{prefix}_hi"),
        (mantissa % (1 << _LO_BITS)).sum().alias(f"{prefix}_lo"),
    ]


def to_units(exponent: int, hi: int, lo: int) -> int:
    """The exact sum of one (cell, exponent) group, in units of 2**-1074."""
    return ((hi << _LO_BITS) + lo) << (max(exponent, 1) - 1)


def to_float(units: int) -> float:
    """Correctly rounded float of an exact sum (Python's int / int rounds correctly)."""
    try:
        return units / (1 << SCALE_BITS)
    except OverflowError:
        raise DataError(
            "A weighted sum is larger than the largest float64; rescale the weights "
            "(only their ratios matter) and run again."
        ) from None


def format_units(units: int) -> str:
    """Compact exact text for JSON: ``"m"`` or ``"mp-k"`` meaning m * 2**-k, m odd."""
    if units == 0:
        return "0"
    shift = (units & -units).bit_length() - 1
    mantissa, power = units >> shift, shift - SCALE_BITS
    return str(mantissa) if power == 0 else f"{mantissa}p{power}"


def parse_units(text: Any, where: str) -> int:
    """Inverse of :func:`format_units`; ``where`` names the field in error messages."""
    match = _EXACT_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise DataError(f"{where}: expected an exact sum such as '3p-1', got {text!r}.")
    mantissa, power = int(match.group(1)), int(match.group(2) or 0)
    shift = power + SCALE_BITS
    if shift < 0 or power > 4096:
        raise DataError(f"{where}: exponent {power} is out of range.")
    return mantissa << shift
