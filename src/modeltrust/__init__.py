"""modeltrust: audit open AI models before you adopt them.

The scanner never executes, imports or unpickles what it scans.
"""

from __future__ import annotations

__version__ = "0.1.0"

from modeltrust.errors import ModelTrustError
from modeltrust.findings import Finding, Location, ScannedFile, ScanResult, Severity
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
