"""The count table: everything the fairness metrics need, and nothing that identifies a row.

For every group (one combination of sensitive values) and every pair (true class, predicted
class) the table holds the number of rows, and, when the data has them, the exact sum of the
sample weights and the exact sum of weight x score. Every metric in :mod:`.metrics` is a function
of these cells, which is why a data owner can share the table instead of the rows (federated
mode), and why tables from several owners add up to the table of the pooled data exactly:
row counts are integers and weighted sums are kept as exact integers (see :mod:`.exact`).

The JSON form is versioned (``"schema": "modeltrust-fairness-counts"``, ``"version": 1``) and
documented in docs/fairness.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from modeltrust.errors import DataError
from modeltrust.fairness.exact import format_units, parse_units, to_float

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SCHEMA = "modeltrust-fairness-counts"
VERSION = 1
_MAX_GROUPS = 1_000_000


def canonical(value: object) -> str:
    """One text form per value, so that 1, 1.0 and True (label vs prediction columns of different
    types, or several files) name the same class or group."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def sort_key(label: str) -> tuple[int, float, str]:
    """Numbers in numeric order first, then text; the same order for every owner's file."""
    try:
        number = float(label)
    except ValueError:
        return (1, 0.0, label)
    if math.isnan(number):
        return (1, 0.0, label)
    return (0, number, label)


@dataclass(frozen=True, slots=True)
class CountTable:
    """Cells indexed ``(group * K + true_class) * K + predicted_class`` (K = len(classes)).

    ``weight`` and ``score`` hold exact sums in units of 2**-1074 (``None`` when the data has no
    weight or score column); without weights every row weighs 1.
    """

    sensitive: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    classes: tuple[str, ...]
    rows: tuple[int, ...]
    weight: tuple[int, ...] | None
    score: tuple[int, ...] | None
    label: str
    prediction: str
    weight_column: str | None = None
    score_column: str | None = None
    sources: tuple[str, ...] = ()
    dropped_rows: int = 0

    def __post_init__(self) -> None:
        cells = len(self.groups) * len(self.classes) ** 2
        for name, values in (("rows", self.rows), ("weight", self.weight), ("score", self.score)):
            if values is not None and len(values) != cells:
                raise ValueError(f"{name} has {len(values)} cells, expected {cells}")

    @property
    def total_rows(self) -> int:
        return sum(self.rows)

    @property
    def weighted(self) -> bool:
        return self.weight is not None

    def group_rows(self) -> list[int]:
        k2 = len(self.classes) ** 2
        return [sum(self.rows[g * k2 : (g + 1) * k2]) for g in range(len(self.groups))]

    def arrays(self) -> tuple[npt.NDArray[np.float64], ...]:
        """(rows, weights, scores) as float arrays of shape (G, K, K); weights are the row
        counts when unweighted, scores are zeros when there is no score column."""
        from modeltrust.fairness._deps import numpy

        np_ = numpy()
        shape = (len(self.groups), len(self.classes), len(self.classes))
        rows = np_.array(self.rows, dtype=np_.float64).reshape(shape)
        weight = (
            rows.copy()
            if self.weight is None
            else np_.array([to_float(u) for u in self.weight], dtype=np_.float64).reshape(shape)
        )
        score = (
            np_.zeros(shape)
            if self.score is None
            else np_.array([to_float(u) for u in self.score], dtype=np_.float64).reshape(shape)
        )
        return rows, weight, score

    def with_classes(self, classes: Sequence[str]) -> CountTable:
        """The same table over ``classes`` (a superset of this table's classes, any order)."""
        if tuple(classes) == self.classes:
            return self
        position = {c: i for i, c in enumerate(classes)}
        if any(c not in position for c in self.classes):
            raise ValueError("with_classes needs a superset of the table's classes")
        k_old, k_new = len(self.classes), len(classes)
        index = [position[c] for c in self.classes]

        def remap(values: tuple[int, ...] | None) -> tuple[int, ...] | None:
            if values is None:
                return None
            out = [0] * (len(self.groups) * k_new * k_new)
            for g in range(len(self.groups)):
                for i in range(k_old):
                    for j in range(k_old):
                        v = values[(g * k_old + i) * k_old + j]
                        out[(g * k_new + index[i]) * k_new + index[j]] = v
            return tuple(out)

        return _replace(
            self,
            classes=tuple(classes),
            rows=remap(self.rows) or (),
            weight=remap(self.weight),
            score=remap(self.score),
        )

    # --- JSON ------------------------------------------------------------------------------
    def to_json(self, tool_version: str) -> str:
        k = len(self.classes)

        def matrix(values: tuple[int, ...], g: int, exact: bool) -> list[list[Any]]:
            base = g * k * k
            return [
                [
                    format_units(values[base + i * k + j]) if exact else values[base + i * k + j]
                    for j in range(k)
                ]
                for i in range(k)
            ]

        groups = []
        for g, values in enumerate(self.groups):
            entry: dict[str, Any] = {"values": list(values), "rows": matrix(self.rows, g, False)}
            if self.weight is not None:
                entry["weight"] = matrix(self.weight, g, True)
            if self.score is not None:
                entry["score"] = matrix(self.score, g, True)
            groups.append(entry)
        doc = {
            "schema": SCHEMA,
            "version": VERSION,
            "tool_version": tool_version,
            "sources": list(self.sources),
            "columns": {
                "label": self.label,
                "prediction": self.prediction,
                "sensitive": list(self.sensitive),
                "weight": self.weight_column,
                "score": self.score_column,
            },
            "classes": list(self.classes),
            "dropped_rows": self.dropped_rows,
            "groups": groups,
        }
        return json.dumps(doc, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> CountTable:
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            raise DataError(f"Counts file '{source}' is not valid JSON: {e}.") from None
        return _parse(doc, source)

    @classmethod
    def read(cls, path: str) -> CountTable:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else e
            raise DataError(
                f"Could not read counts file '{path}': {reason}. Check the path."
            ) from None
        return cls.from_json(text, path)


def _replace(table: CountTable, **changes: Any) -> CountTable:
    fields = {name: getattr(table, name) for name in CountTable.__dataclass_fields__}
    fields.update(changes)
    return CountTable(**fields)


def build(
    cells: dict[tuple[tuple[str, ...], str, str], list[int]],
    *,
    sensitive: Sequence[str],
    label: str,
    prediction: str,
    weight_column: str | None,
    score_column: str | None,
    source: str,
    dropped_rows: int = 0,
) -> CountTable:
    """A table from ``{(group values, true class, predicted class): [rows, weight, score]}``."""
    groups = sorted({key[0] for key in cells}, key=lambda g: tuple(sort_key(v) for v in g))
    classes = sorted({c for key in cells for c in key[1:]}, key=sort_key)
    g_index = {g: i for i, g in enumerate(groups)}
    c_index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    size = len(groups) * k * k
    rows, weight, score = [0] * size, [0] * size, [0] * size
    for (group, true, pred), (n, w, s) in cells.items():
        at = (g_index[group] * k + c_index[true]) * k + c_index[pred]
        rows[at] += n
        weight[at] += w
        score[at] += s
    return CountTable(
        sensitive=tuple(sensitive),
        groups=tuple(groups),
        classes=tuple(classes),
        rows=tuple(rows),
        weight=tuple(weight) if weight_column else None,
        score=tuple(score) if score_column else None,
        label=label,
        prediction=prediction,
        weight_column=weight_column,
        score_column=score_column,
        sources=(source,),
        dropped_rows=dropped_rows,
    )


def merge(tables: Iterable[CountTable]) -> CountTable:
    """The table of the pooled data. Every table must describe the same sensitive columns and
    agree on whether rows are weighted and scored; groups and classes may differ (a site may
    lack a group), they are united."""
    tables = list(tables)
    if not tables:
        raise DataError("No counts to merge: give at least one counts file.")
    first = tables[0]
    for t in tables[1:]:
        where = ", ".join(t.sources) or "a counts table"
        if t.sensitive != first.sensitive:
            raise DataError(
                f"Counts from '{where}' group by {list(t.sensitive)}, but '{first.sources[0]}' "
                f"by {list(first.sensitive)}. Export every site with the same --sensitive columns."
            )
        if t.weighted != first.weighted or (t.score is None) != (first.score is None):
            raise DataError(
                f"Counts from '{where}' and '{first.sources[0]}' differ in whether they have "
                "weights or scores. Export every site with the same --weight and --score options."
            )
    cells: dict[tuple[tuple[str, ...], str, str], list[int]] = {}
    for t in tables:
        k = len(t.classes)
        for g, group in enumerate(t.groups):
            for i, true in enumerate(t.classes):
                for j, pred in enumerate(t.classes):
                    at = (g * k + i) * k + j
                    cell = cells.setdefault((group, true, pred), [0, 0, 0])
                    cell[0] += t.rows[at]
                    cell[1] += t.weight[at] if t.weight is not None else 0
                    cell[2] += t.score[at] if t.score is not None else 0
    merged = build(
        cells,
        sensitive=first.sensitive,
        label=first.label,
        prediction=first.prediction,
        weight_column=first.weight_column,
        score_column=first.score_column,
        source="",
        dropped_rows=sum(t.dropped_rows for t in tables),
    )
    return _replace(merged, sources=tuple(s for t in tables for s in t.sources))


# --- parsing, strictly: a counts file comes from someone else -------------------------------
def _parse(doc: Any, source: str) -> CountTable:
    def fail(what: str) -> DataError:
        return DataError(
            f"Counts file '{source}' is not a modeltrust counts file: {what}. Export it with "
            "'modeltrust fairness DATA ... --export-counts FILE'."
        )

    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise fail(f"'schema' is not '{SCHEMA}'")
    if doc.get("version") != VERSION:
        raise DataError(
            f"Counts file '{source}' has version {doc.get('version')!r}; this modeltrust reads "
            f"version {VERSION}. Export it again with this version."
        )
    columns = doc.get("columns")
    classes = doc.get("classes")
    groups = doc.get("groups")
    if not isinstance(columns, dict):
        raise fail("'columns' is missing")
    sensitive = columns.get("sensitive")
    if not _str_list(sensitive) or not sensitive:
        raise fail("'columns.sensitive' must be a non-empty list of names")
    if not _str_list(classes) or not classes or len(set(classes)) != len(classes):
        raise fail("'classes' must be a list of distinct class names")
    if not isinstance(groups, list) or not groups or len(groups) > _MAX_GROUPS:
        raise fail("'groups' must be a non-empty list")
    for key in ("label", "prediction"):
        if not isinstance(columns.get(key), str):
            raise fail(f"'columns.{key}' must be a name")
    for key in ("weight", "score"):
        if columns.get(key) is not None and not isinstance(columns.get(key), str):
            raise fail(f"'columns.{key}' must be a name or null")
    k = len(classes)
    weighted, scored = columns.get("weight") is not None, columns.get("score") is not None
    cells: dict[tuple[tuple[str, ...], str, str], list[int]] = {}
    for n, entry in enumerate(groups):
        where = f"groups[{n}]"
        if not isinstance(entry, dict):
            raise fail(f"{where} is not an object")
        values = entry.get("values")
        if not _str_list(values) or len(values) != len(sensitive):
            raise fail(f"{where}.values must list one value per sensitive column")
        rows = _matrix(entry.get("rows"), k, f"{source}: {where}.rows", exact=False)
        weight = (
            _matrix(entry.get("weight"), k, f"{source}: {where}.weight", exact=True)
            if weighted
            else None
        )
        score = (
            _matrix(entry.get("score"), k, f"{source}: {where}.score", exact=True)
            if scored
            else None
        )
        for i, true in enumerate(classes):
            for j, pred in enumerate(classes):
                if (tuple(values), true, pred) in cells:
                    raise fail(f"group {values} appears twice")
                cells[(tuple(values), true, pred)] = [
                    rows[i][j],
                    weight[i][j] if weight else 0,
                    score[i][j] if score else 0,
                ]
    dropped = doc.get("dropped_rows", 0)
    if not isinstance(dropped, int) or isinstance(dropped, bool) or dropped < 0:
        raise fail("'dropped_rows' must be a non-negative integer")
    return build(
        cells,
        sensitive=sensitive,
        label=columns["label"],
        prediction=columns["prediction"],
        weight_column=columns.get("weight"),
        score_column=columns.get("score"),
        source=source,
        dropped_rows=dropped,
    )


def _str_list(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _matrix(value: Any, k: int, where: str, *, exact: bool) -> list[list[int]]:
    if not isinstance(value, list) or len(value) != k:
        raise DataError(f"{where} must be a {k} x {k} matrix (true class x predicted class).")
    out = []
    for row in value:
        if not isinstance(row, list) or len(row) != k:
            raise DataError(f"{where} must be a {k} x {k} matrix (true class x predicted class).")
        if exact:
            out.append([parse_units(v, where) for v in row])
        else:
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in row):
                raise DataError(f"{where} must hold non-negative integer row counts.")
            out.append(list(row))
    return out
