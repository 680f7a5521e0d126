"""Renderers turn a :class:`~modeltrust.findings.ScanResult` into bytes for people or machines."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum

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
