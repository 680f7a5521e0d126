"""Read predictions and count them into a :class:`~.counts.CountTable` in one pass.

Input is a CSV, Parquet or Arrow (IPC file or stream) file, or a polars or pandas frame. Files
are recognised by their content (Parquet and Arrow have magic bytes; anything else is read as
CSV). Only the named columns are read, and the whole computation is one polars ``group_by``
run on the streaming engine: rows are never materialised as Python objects or as a full copy of
the columns, so memory stays near the size of one batch however large the file is.

The group keys are the sensitive columns, the label and the prediction, plus, for weights and
scores, the float exponent that makes their sums exact (:mod:`.exact`). Missing and invalid
values show up as their own keys (null, NaN, a negative-number marker), so validation costs no
second pass: the few hundred result rows are checked here and turned into clear errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modeltrust.errors import DataError, UsageError
from modeltrust.fairness._deps import polars
from modeltrust.fairness.counts import CountTable, build, canonical
from modeltrust.fairness.exact import (
    INF_KEY,
    NAN_KEY,
    NEGATIVE_KEY,
    exponent_expr,
    mantissa_sum_exprs,
    to_units,
)

if TYPE_CHECKING:
    import polars as pl

PARQUET_MAGIC = b"PAR1"
ARROW_FILE_MAGIC = b"ARROW1"
ARROW_STREAM_MAGIC = b"\xff\xff\xff\xff"
_CSV_NULLS = ["", "NA", "NaN", "nan", "null", "NULL"]
_SEPARATORS = (",", "\t", ";", "|")


@dataclass(frozen=True, slots=True)
class Columns:
    """Which column plays which role."""

    label: str
    prediction: str
    sensitive: tuple[str, ...]
    score: str | None = None
    weight: str | None = None

    def __post_init__(self) -> None:
        if not self.sensitive:
            raise UsageError("Name at least one sensitive column (--sensitive COL[,COL]).")
        if len(set(self.sensitive)) != len(self.sensitive):
            raise UsageError(f"A sensitive column is named twice: {list(self.sensitive)}.")

    @property
    def needed(self) -> list[str]:
        names = [self.label, self.prediction, *self.sensitive, self.score, self.weight]
        return list(dict.fromkeys(n for n in names if n is not None))


def count(
    source: object,
    columns: Columns,
    *,
    drop_missing: bool = False,
    name: str | None = None,
) -> CountTable:
    """Count ``source`` (a path, or a polars/pandas frame) into a table. ``name`` is how the
    source is called in messages and in the exported counts (default: the file name)."""
    lazy, display = _open(source, columns)
    return _count(lazy, columns, display if name is None else name, drop_missing=drop_missing)


# --- opening sources ------------------------------------------------------------------------
def _open(source: object, columns: Columns) -> tuple[pl.LazyFrame, str]:
    polars()  # a clear error when the extra is missing
    import polars as pl

    if isinstance(source, (str, Path)):
        return _scan_file(Path(source), columns), Path(source).name
    if isinstance(source, pl.LazyFrame):
        return source, "<polars LazyFrame>"
    if isinstance(source, pl.DataFrame):
        return source.lazy(), "<polars DataFrame>"
    if type(source).__module__.startswith("pandas") and type(source).__name__ == "DataFrame":
        return _from_pandas(source, columns), "<pandas DataFrame>"
    raise UsageError(
        f"Cannot audit a {type(source).__name__}: give a CSV, Parquet or Arrow file path, or a "
        "polars or pandas DataFrame."
    )


def _scan_file(path: Path, columns: Columns) -> pl.LazyFrame:
    polars()  # a clear error when the extra is missing
    import polars as pl

    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except IsADirectoryError:
        raise DataError(f"'{path}' is a folder; give a CSV, Parquet or Arrow file.") from None
    except OSError as e:
        raise DataError(f"Could not read '{path}': {e.strerror or e}. Check the path.") from None
    if not head:
        raise DataError(f"'{path}' is empty: it has no header and no rows.")
    try:
        if head.startswith(PARQUET_MAGIC):
            return pl.scan_parquet(path)
        if head.startswith(ARROW_FILE_MAGIC):
            return pl.scan_ipc(path)
        if head.startswith(ARROW_STREAM_MAGIC):
            schema = pl.read_ipc_stream(path, n_rows=0).schema
            present = _present(schema, columns, str(path))
            return pl.read_ipc_stream(path, columns=present).lazy()
        return _scan_csv(path, head, columns)
    except (pl.exceptions.PolarsError, OSError) as e:
        raise DataError(f"Could not read '{path}': {_first_line(e)}.") from None


def _scan_csv(path: Path, head: bytes, columns: Columns) -> pl.LazyFrame:
    polars()  # a clear error when the extra is missing
    import polars as pl

    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    separator = max(_SEPARATORS, key=first.count)
    header = pl.scan_csv(path, separator=separator, n_rows=0).collect_schema().names()
    # Group values are text; reading "01" as the number 1 would merge two groups.
    overrides = {c: pl.String for c in columns.sensitive if c in header}
    return pl.scan_csv(
        path,
        separator=separator,
        schema_overrides=overrides,
        null_values=_CSV_NULLS,
        infer_schema_length=10_000,
    )


def _present(schema: Any, columns: Columns, name: str) -> list[str]:
    names = list(schema.keys()) if hasattr(schema, "keys") else list(schema)
    missing = [c for c in columns.needed if c not in names]
    if missing:
        raise DataError(_missing_columns(missing, names, name))
    return columns.needed


def _from_pandas(frame: Any, columns: Columns) -> pl.LazyFrame:
    polars()  # a clear error when the extra is missing
    import polars as pl

    _present(list(map(str, frame.columns)), columns, "<pandas DataFrame>")
    subset = frame[columns.needed]
    try:
        return pl.from_pandas(subset).lazy()
    except (ImportError, TypeError, ValueError, pl.exceptions.PolarsError):
        # Without pyarrow, polars builds each column from its numpy array instead.
        return pl.DataFrame({c: subset[c].to_numpy() for c in columns.needed}).lazy()


# --- the counting query ---------------------------------------------------------------------
def _count(lazy: pl.LazyFrame, columns: Columns, name: str, *, drop_missing: bool) -> CountTable:
    polars()  # a clear error when the extra is missing
    import polars as pl

    try:
        schema = lazy.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as e:
        raise DataError(f"Could not read '{name}': {_first_line(e)}.") from None
    _present(schema, columns, name)
    keys = [_key(schema, c, f"k{i}", name) for i, c in enumerate(columns.sensitive)]
    keys += [_key(schema, columns.label, "y", name)]
    keys += [_key(schema, columns.prediction, "p", name)]
    aggs: list[pl.Expr] = [pl.len().alias("n")]
    weight = _number(schema, columns.weight, name)
    score = _number(schema, columns.score, name)
    if weight is not None:
        keys.append(exponent_expr(weight).alias("we"))
        aggs += mantissa_sum_exprs(weight, "w")
    if score is not None:
        scored = score if weight is None else weight * score
        keys.append(exponent_expr(scored).alias("se"))
        aggs += mantissa_sum_exprs(scored, "s")
        aggs += [score.min().alias("smin"), score.max().alias("smax")]
    query = lazy.group_by(keys).agg(aggs)
    try:
        result = query.collect(engine="streaming")
    except (pl.exceptions.PolarsError, OSError) as e:
        raise DataError(f"Could not read '{name}': {_first_line(e)}.") from None
    return _table(result.rows(), columns, name, drop_missing=drop_missing)


def _key(schema: Any, column: str, alias: str, name: str) -> pl.Expr:
    import polars as pl

    dtype = schema[column]
    if dtype.is_nested() or dtype in (pl.Binary, pl.Object):
        raise DataError(
            f"Column '{column}' in '{name}' holds {dtype} values; labels, predictions and "
            "sensitive attributes must be numbers, booleans or text."
        )
    expr = pl.col(column)
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        expr = expr.cast(pl.String)
    elif dtype.is_decimal():
        expr = expr.cast(pl.Float64)
    return expr.alias(alias)


def _number(schema: Any, column: str | None, name: str) -> pl.Expr | None:
    import polars as pl

    if column is None:
        return None
    dtype = schema[column]
    if not (dtype.is_numeric() or dtype == pl.Boolean):
        raise DataError(
            f"Column '{column}' in '{name}' holds {dtype} values; weights and scores must be "
            "numbers."
        )
    return pl.col(column).cast(pl.Float64)


# --- checking the result --------------------------------------------------------------------
class _Problems:
    """Everything wrong with the input, gathered so that one message lists it all."""

    def __init__(self) -> None:
        self.missing: dict[str, int] = {}
        self.invalid: list[str] = []

    def add_missing(self, column: str, rows: int) -> None:
        self.missing[column] = self.missing.get(column, 0) + rows


def _table(
    result: list[tuple[Any, ...]], columns: Columns, name: str, *, drop_missing: bool
) -> CountTable:
    s = len(columns.sensitive)
    weighted, scored = columns.weight is not None, columns.score is not None
    problems = _Problems()
    cells: dict[tuple[tuple[str, ...], str, str], list[int]] = {}
    dropped = 0
    for row in result:
        values = iter(row)
        group = [next(values) for _ in range(s)]
        true, pred = next(values), next(values)
        w_exp = next(values) if weighted else None
        s_exp = next(values) if scored else None
        n = next(values)
        w_hi, w_lo = (next(values), next(values)) if weighted else (0, 0)
        s_hi, s_lo = (next(values), next(values)) if scored else (0, 0)
        s_min, s_max = (next(values), next(values)) if scored else (0.0, 0.0)
        missing = [c for c, v in zip(columns.sensitive, group, strict=True) if _missing(v)]
        missing += [columns.label] if _missing(true) else []
        missing += [columns.prediction] if _missing(pred) else []
        if weighted and columns.weight and (w_exp is None or w_exp == NAN_KEY):
            missing.append(columns.weight)
        if scored and columns.score and (s_exp is None or s_exp == NAN_KEY):
            missing.append(columns.score)
        if missing:
            if not drop_missing:
                for column in dict.fromkeys(missing):
                    problems.add_missing(column, n)
            dropped += n
            continue
        if weighted:
            _check_weight(w_exp, n, columns, problems)
        if scored:
            _check_score(s_exp, s_min, s_max, columns, problems)
        key = (tuple(canonical(v) for v in group), canonical(true), canonical(pred))
        cell = cells.setdefault(key, [0, 0, 0])
        cell[0] += n
        if weighted and w_exp is not None and 0 <= w_exp < INF_KEY:
            cell[1] += to_units(w_exp, w_hi, w_lo)
        if scored and s_exp is not None and 0 <= s_exp < INF_KEY:
            cell[2] += to_units(s_exp, s_hi, s_lo)
    _raise(problems, name)
    if not cells:
        raise DataError(
            f"'{name}' has no rows to audit"
            + (f" ({dropped} rows with missing values were dropped)." if dropped else ".")
        )
    return build(
        cells,
        sensitive=columns.sensitive,
        label=columns.label,
        prediction=columns.prediction,
        weight_column=columns.weight,
        score_column=columns.score,
        source=name,
        dropped_rows=dropped,
    )


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check_weight(exp: int | None, n: int, columns: Columns, problems: _Problems) -> None:
    if exp == NEGATIVE_KEY:
        problems.invalid.append(f"{n} negative values in weight column '{columns.weight}'")
    elif exp == INF_KEY:
        problems.invalid.append(f"{n} infinite values in weight column '{columns.weight}'")


def _check_score(
    exp: int | None, low: float | None, high: float | None, columns: Columns, problems: _Problems
) -> None:
    out_of_range = exp in (NEGATIVE_KEY, INF_KEY)
    out_of_range |= low is not None and low < 0
    out_of_range |= high is not None and high > 1
    if out_of_range:
        text = f"score column '{columns.score}' has values outside [0, 1]"
        if text not in problems.invalid:
            problems.invalid.append(text)


def _raise(problems: _Problems, name: str) -> None:
    parts = []
    if problems.missing:
        listed = ", ".join(f"'{c}' ({n} rows)" for c, n in problems.missing.items())
        parts.append(
            f"missing values (null or NaN) in {listed}; fill them (for a sensitive attribute, "
            "with a value such as 'unknown') or pass --drop-missing to leave those rows out"
        )
    if problems.invalid:
        parts.append("; ".join(problems.invalid))
    if parts:
        raise DataError(f"'{name}' cannot be audited as it is: " + "; ".join(parts) + ".")


def _missing_columns(missing: Sequence[str], present: Sequence[str], name: str) -> str:
    shown = ", ".join(f"'{c}'" for c in list(present)[:30])
    more = f" and {len(present) - 30} more" if len(present) > 30 else ""
    which = ", ".join(f"'{c}'" for c in missing)
    plural = "s" if len(missing) > 1 else ""
    return (
        f"Column{plural} {which} not found in '{name}'. Its columns are: {shown}{more}. "
        "Check --label, --prediction, --sensitive, --score and --weight."
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__).rstrip(".")
