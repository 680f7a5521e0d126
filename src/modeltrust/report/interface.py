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
