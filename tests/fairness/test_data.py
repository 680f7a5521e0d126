"""Reading input: every format gives the same table; bad input is a clear DataError."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from modeltrust.errors import DataError, UsageError
from modeltrust.fairness import Columns, Settings, audit, audit_table, count

from .reference import make_frame

COLUMNS = Columns("y", "p", ("a0", "a1"), weight="w")


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.from_pandas(make_frame(31, n=300, levels=(2, 3), weighted=True))


def test_every_format_gives_the_same_table(frame: pl.DataFrame, tmp_path: Path) -> None:
    expected = count(frame, COLUMNS)
    frame.write_csv(tmp_path / "d.csv")
    frame.write_csv(tmp_path / "d.tsv", separator="\t")
    frame.write_parquet(tmp_path / "d.parquet")
    frame.write_ipc(tmp_path / "d.arrow")
    frame.write_ipc_stream(tmp_path / "d.arrows")
    frame.write_parquet(tmp_path / "parquet.csv")  # content decides, not the name
    sources: list[object] = [
        *(tmp_path / n for n in ("d.csv", "d.tsv", "d.parquet", "d.arrow", "d.arrows")),
        tmp_path / "parquet.csv",
        str(tmp_path / "d.parquet"),
        frame.to_pandas(),
        frame.lazy(),
    ]
    for source in sources:
        table = count(source, COLUMNS)
        assert (table.groups, table.classes, table.rows, table.weight) == (
            expected.groups,
            expected.classes,
            expected.rows,
            expected.weight,
        ), source


def test_pandas_without_pyarrow_falls_back(
    frame: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pyarrow(*args: object, **kwargs: object) -> None:
        raise ImportError("pyarrow")

    monkeypatch.setattr(pl, "from_pandas", no_pyarrow)
    assert count(frame.to_pandas(), COLUMNS).rows == count(frame, COLUMNS).rows


def test_values_of_different_types_name_the_same_classes() -> None:
    frame = pl.DataFrame(
        {"g": ["a", "b", "a", "b"], "y": [True, False, True, True], "p": [1.0, 0.0, 0.0, 1.0]}
    )
    table = count(frame, Columns("y", "p", ("g",)))
    assert table.classes == ("0", "1")


def test_csv_group_values_stay_text(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("zip,y,p\n01,1,1\n1,0,1\n01,0,0\n1,1,1\n")
    table = count(tmp_path / "d.csv", Columns("y", "p", ("zip",)))
    assert table.groups == (("1",), ("01",)) or table.groups == (("01",), ("1",))
    assert len(table.groups) == 2


def _count_and_audit(source: object, columns: Columns) -> None:
    audit_table(count(source, columns), Settings(n_resamples=0))


def _error(source: object, columns: Columns = COLUMNS) -> str:
    with pytest.raises(DataError) as info:
        _count_and_audit(source, columns)
    return str(info.value)


def test_missing_column_names_the_columns(frame: pl.DataFrame) -> None:
    message = _error(frame, Columns("label", "p", ("a0", "race")))
    assert "'label', 'race' not found" in message and "'a0'" in message


def test_missing_values_are_counted_per_column(frame: pl.DataFrame) -> None:
    broken = frame.with_columns(
        pl.when(pl.col("a0") == 0).then(None).otherwise(pl.col("y")).alias("y"),
        pl.when(pl.col("a1") == 2).then(float("nan")).otherwise(pl.col("w")).alias("w"),
    )
    message = _error(broken)
    assert "missing values" in message and "'y'" in message and "'w'" in message
    assert "--drop-missing" in message
    table = count(broken, COLUMNS, drop_missing=True)
    dropped = broken.filter(pl.col("y").is_null() | pl.col("w").is_nan()).height
    assert table.dropped_rows == dropped and table.total_rows == frame.height - dropped
    result = audit_table(table, Settings(n_resamples=0))
    assert "MT-FAIR-006" in {f.rule_id for f in result.findings}


def test_nan_in_a_float_label(frame: pl.DataFrame) -> None:
    broken = frame.with_columns(
        pl.when(pl.col("a0") == 0).then(float("nan")).otherwise(pl.col("y")).alias("y")
    )
    assert "missing values" in _error(broken)


def test_labels_that_are_not_binary(frame: pl.DataFrame) -> None:
    three = frame.with_columns((pl.col("y") + pl.col("a0")).alias("y"))
    message = _error(three)
    assert "not binary" in message and "--multiclass" in message
    words = frame.with_columns(
        pl.col("y").replace_strict({0: "no", 1: "yes"}),
        pl.col("p").replace_strict({0: "no", 1: "yes"}),
    )
    assert "--positive-label" in _error(words)
    result = audit_table(count(words, COLUMNS), Settings(positive_label="yes", n_resamples=0))
    numeric = audit_table(count(frame, COLUMNS), Settings(n_resamples=0))
    assert result.classes[0].fairlearn == numeric.classes[0].fairlearn
    with pytest.raises(DataError, match="not among the labels"):
        audit_table(count(words, COLUMNS), Settings(positive_label="maybe", n_resamples=0))


def test_invalid_weights_and_scores(frame: pl.DataFrame) -> None:
    negative = frame.with_columns((pl.col("w") - 2.0).alias("w"))
    assert "negative values in weight column 'w'" in _error(negative)
    infinite = frame.with_columns(pl.lit(float("inf")).alias("w"))
    assert "infinite values" in _error(infinite)
    zero = frame.with_columns(pl.lit(0.0).alias("w"))
    assert "is zero" in _error(zero)
    scored = frame.with_columns((pl.col("w") / 2).alias("s"))
    assert "outside [0, 1]" in _error(scored, Columns("y", "p", ("a0",), score="s"))
    text = frame.with_columns(pl.col("w").cast(pl.String))
    assert "must be numbers" in _error(text)


def test_empty_one_group_and_nested_columns(frame: pl.DataFrame, tmp_path: Path) -> None:
    assert "no rows" in _error(frame.head(0))
    one = frame.with_columns(pl.lit(1).alias("a0"), pl.lit(0).alias("a1"))
    assert "one group" in _error(one)
    nested = frame.with_columns(pl.concat_list("a0", "a1").alias("a1"))
    assert "must be numbers, booleans or text" in _error(nested)
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "is empty" in _error(tmp_path / "empty.csv")
    assert "is a folder" in _error(tmp_path)
    assert "Could not read" in _error(tmp_path / "absent.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1" + b"\x00" * 64)
    assert "Could not read" in _error(tmp_path / "bad.parquet")
    (tmp_path / "ragged.csv").write_text("a0,a1,y,p,w\n1,2,1,1,1.0\n1,2,x,1,1.0,9\n")
    assert "Could not read" in _error(tmp_path / "ragged.csv")


def test_privileged_groups_are_checked(frame: pl.DataFrame) -> None:
    table = count(frame, COLUMNS)
    with pytest.raises(DataError, match=r"No row .* matches --privileged a0=7"):
        audit_table(table, Settings(privileged=((("a0", "7"),),)))
    with pytest.raises(DataError, match="no unprivileged group"):
        audit_table(table, Settings(privileged=((("a0", "0"),), (("a0", "1"),))))
    with pytest.raises(UsageError, match="not a sensitive column"):
        audit_table(table, Settings(privileged=((("sex", "1"),),)))


def test_usage_errors() -> None:
    with pytest.raises(UsageError, match="at least one sensitive"):
        Columns("y", "p", ())
    with pytest.raises(UsageError, match="Cannot audit a dict"):
        count({"y": [1]}, COLUMNS)
    with pytest.raises(UsageError, match="--threshold"):
        Settings(threshold=1.5).validate()
    with pytest.raises(UsageError, match="Give at least one"):
        audit([], label="y", prediction="p", sensitive=["a0"])
    table = count(make_frame(1, n=100), Columns("y", "p", ("a0",)))
    for checks, message in (
        (("theil_index",), "not a disparity"),
        (("equal_opportunity_difference",), "exists in both conventions"),
        (("aif360.disparate_impact",), "pass --privileged"),
    ):
        with pytest.raises(UsageError, match=message):
            audit_table(table, Settings(checks=checks))
