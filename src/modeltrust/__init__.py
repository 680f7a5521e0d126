"""modeltrust: audit open AI models before you adopt them.

The scanner never executes, imports or unpickles what it scans.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from modeltrust.errors import ModelTrustError
from modeltrust.findings import Finding, Location, ScannedFile, ScanResult, Severity

if TYPE_CHECKING:
    from modeltrust.scanners.engine import scan_paths
    from modeltrust.scanners.interface import Limits

__all__ = [
    "Finding",
    "Limits",
    "Location",
    "ModelTrustError",
    "ScanResult",
    "ScannedFile",
    "Severity",
    "__version__",
    "scan_paths",
]


# The scanner is imported on first use, so ``import modeltrust`` (and every command that is not a
# scan) does not pay for it.
_LAZY = {"scan_paths": "modeltrust.scanners.engine", "Limits": "modeltrust.scanners.interface"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modeltrust' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
