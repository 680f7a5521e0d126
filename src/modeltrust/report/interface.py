"""Renderers turn a :class:`~modeltrust.findings.ScanResult` into bytes for people or machines."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable
from enum import StrEnum
from typing import TypeVar

from modeltrust.findings import ScanResult, Severity


class OutputFormat(StrEnum):
    TERMINAL = "terminal"
    JSON = "json"
    SARIF = "sarif"


class Renderer(ABC):
    name: str
    media_type: str

    @abstractmethod
    def render(self, result: ScanResult, *, fail_on: Severity) -> str: ...


def human_size(n: int) -> str:
    """``n`` bytes for people: ``512 B``, ``1.5 KiB`` ... ``12.3 GiB`` (binary units)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


T = TypeVar("T")

GROUP_FROM = 4
"""This many findings alike (same rule, severity and outcome) or more are shown as one row."""
GROUP_EXAMPLES = 3
"""The locations a grouped row names before "and N more"."""


def grouped(items: Iterable[T], key: Callable[[T], Hashable]) -> list[list[T]]:
    """``items`` for a person to read: runs of alike items (``key``) of at least
    :data:`GROUP_FROM` become one group, the rest stay one per group. The order is that of each
    group's first item. Machine formats (JSON, SARIF) list every finding, never groups."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    out: list[list[T]] = []
    for members in groups.values():
        if len(members) >= GROUP_FROM:
            out.append(members)
        else:
            out.extend([m] for m in members)
    return out


def more(shown: int, total: int) -> str:
    """The tail of a grouped row: "and 9,997 more" ("" when nothing is left out)."""
    return f"and {total - shown:,} more" if total > shown else ""
