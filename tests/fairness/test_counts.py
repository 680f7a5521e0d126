"""The count table: exact weighted sums, JSON round trip, federated merge equal to pooled data."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modeltrust.errors import DataError
from modeltrust.fairness import Columns, CountTable, Settings, audit_table, count, merge
from modeltrust.fairness.exact import format_units, parse_units, to_float

from .reference import make_frame

COLUMNS = Columns("y", "p", ("a0", "a1"), weight="w", score="s")


def _frame(seed: int = 21, n: int = 900) -> pl.DataFrame:
    return pl.from_pandas(make_frame(seed, n=n, levels=(2, 3), weighted=True, scored=True))


def _split(frame: pl.DataFrame, parts: int, seed: int) -> list[pl.DataFrame]:
    order = np.random.default_rng(seed).permutation(frame.height)
    return [frame[np.sort(chunk)] for chunk in np.array_split(order, parts)]


def test_weighted_sums_are_exact() -> None:
    frame = _frame()
    table = count(frame, COLUMNS)
    exact = sum(Fraction(w) for w in frame["w"].to_list())
    assert Fraction(sum(table.weight or ())) / 2**1074 == exact
    assert to_float(sum(table.weight or ())) == math.fsum(frame["w"].to_list())
    products = (frame["w"] * frame["s"]).to_list()
    assert Fraction(sum(table.score or ())) / 2**1074 == sum(Fraction(x) for x in products)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2),
            st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
            st.floats(0, 1, allow_nan=False),
        ),
        min_size=2,
        max_size=60,
    ),
    st.integers(1, 4),
    st.integers(0, 1000),
)
def test_merged_parts_equal_the_pooled_table(
    rows: list[tuple[int, float, float]], parts: int, seed: int
) -> None:
    """Any split of any rows (subnormal, huge or zero weights included) merges back exactly."""
    frame = pl.DataFrame(
        {
            "g": [r[0] for r in rows],
            "y": [i % 2 for i in range(len(rows))],
            "p": [(i // 2) % 2 for i in range(len(rows))],
            "w": [r[1] for r in rows],
            "s": [r[2] for r in rows],
        }
    )
    columns = Columns("y", "p", ("g",), weight="w", score="s")
    pooled = count(frame, columns, name="all")
    pieces = [p for p in _split(frame, parts, seed) if p.height]
    merged = merge(count(p, columns, name=f"part{i}") for i, p in enumerate(pieces))
    assert (merged.groups, merged.classes) == (pooled.groups, pooled.classes)
    assert (merged.rows, merged.weight, merged.score) == (pooled.rows, pooled.weight, pooled.score)


def test_federated_audit_equals_pooled_audit_exactly(tmp_path: Path) -> None:
    frame = _frame()
    settings = Settings(privileged=((("a0", "1"),),), n_resamples=300, seed=7)
    pooled = audit_table(count(frame, COLUMNS), settings)
    files = []
    for i, part in enumerate(_split(frame, 3, seed=3)):
        path = tmp_path / f"site{i}.json"
        path.write_text(count(part, COLUMNS, name=f"site{i}").to_json("test"))
        files.append(path)
    merged = audit_table(merge(CountTable.read(str(p)) for p in files), settings)
    for ours, theirs in zip(merged.classes, pooled.classes, strict=True):
        assert ours.fairlearn == theirs.fairlearn
        assert ours.aif360 == theirs.aif360
        assert ours.aif360_dataset == theirs.aif360_dataset
        assert ours.intervals == theirs.intervals
        assert [g.rates for g in ours.groups] == [g.rates for g in theirs.groups]
    assert merged.table.sources == tuple(str(p) for p in files)


def test_counts_file_holds_no_rows_and_round_trips() -> None:
    table = count(_frame(n=200), COLUMNS, name="mine.parquet")
    text = table.to_json("0.1.0")
    doc = json.loads(text)
    assert doc["schema"] == "modeltrust-fairness-counts" and doc["version"] == 1
    assert doc["columns"] == {
        "label": "y",
        "prediction": "p",
        "sensitive": ["a0", "a1"],
        "weight": "w",
        "score": "s",
    }
    assert sum(sum(map(sum, g["rows"])) for g in doc["groups"]) == 200
    assert set(doc["groups"][0]) == {"values", "rows", "weight", "score"}
    assert CountTable.from_json(text, "mine.json") == replace(table, sources=("mine.json",))


@given(st.integers(0, 2**1200))
def test_exact_text_round_trips(units: int) -> None:
    assert parse_units(format_units(units), "x") == units


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema="other"), "not a modeltrust counts file"),
        (lambda d: d.update(version=99), "version 99"),
        (lambda d: d["groups"][0].update(rows=[[1, 2]]), "2 x 2 matrix"),
        (lambda d: d["groups"][0]["rows"][0].__setitem__(0, -1), "non-negative integer"),
        (lambda d: d["groups"][0]["weight"][0].__setitem__(0, "1.5"), "exact sum"),
        (lambda d: d["groups"][0].update(values=["x"]), "one value per sensitive column"),
        (lambda d: d["groups"].append(d["groups"][0]), "appears twice"),
        (lambda d: d.update(classes="01"), "'classes'"),
    ],
)
def test_malformed_counts_files_are_clear_errors(mutate: object, message: str) -> None:
    doc = json.loads(count(_frame(n=100), COLUMNS).to_json("x"))
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(DataError, match=message):
        CountTable.from_json(json.dumps(doc), "bad.json")


def test_unreadable_and_invalid_counts_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Could not read counts file"):
        CountTable.read(str(tmp_path / "absent.json"))
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(DataError, match="not valid JSON"):
        CountTable.read(str(tmp_path / "bad.json"))


def test_merge_refuses_tables_of_different_shape() -> None:
    frame = _frame(n=100)
    weighted = count(frame, COLUMNS)
    plain = count(frame, Columns("y", "p", ("a0", "a1")))
    other = count(frame, Columns("y", "p", ("a0",), weight="w", score="s"))
    with pytest.raises(DataError, match="same --weight and --score"):
        merge([weighted, plain])
    with pytest.raises(DataError, match="same --sensitive"):
        merge([weighted, other])
    with pytest.raises(DataError, match="No counts"):
        merge([])


def test_sites_with_different_groups_and_classes_merge() -> None:
    frame = pl.DataFrame({"g": ["a", "a", "b", "b"], "y": [0, 1, 0, 1], "p": [0, 1, 1, 1]})
    columns = Columns("y", "p", ("g",))
    first = count(frame.filter(pl.col("g") == "a"), columns)
    second = count(frame.filter(pl.col("g") == "b"), columns)
    merged = merge([first, second])
    assert first.classes == ("0", "1") and second.classes == ("0", "1")
    assert merged.rows == replace(merge([second, first])).rows == count(frame, columns).rows
    assert merged.groups == (("a",), ("b",))
    only_zero = count(frame.filter(pl.col("y") == 0, pl.col("p") == 0), columns)
    assert only_zero.classes == ("0",)
    assert merge([only_zero, second]).classes == ("0", "1")
