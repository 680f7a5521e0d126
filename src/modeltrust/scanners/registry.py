"""The scanners modeltrust runs: the built-ins below, then plugins from the entry-point group
``modeltrust.scanners``. Nothing registers itself at import time."""

from __future__ import annotations

from importlib.metadata import entry_points

from modeltrust.errors import ScannerError
from modeltrust.scanners.archive import CompressedScanner, SevenZipScanner, TarScanner, ZipScanner
from modeltrust.scanners.interface import Scanner
from modeltrust.scanners.numpy import NumpyScanner
from modeltrust.scanners.pickle import PickleScanner
from modeltrust.scanners.safetensors import SafetensorsIndexScanner, SafetensorsScanner

BUILTIN: tuple[type[Scanner], ...] = (
    ZipScanner,
    TarScanner,
    SevenZipScanner,
    CompressedScanner,
    NumpyScanner,
    SafetensorsScanner,
    SafetensorsIndexScanner,
    PickleScanner,
)
ENTRY_POINT_GROUP = "modeltrust.scanners"


def load_scanners(*, plugins: bool = True) -> tuple[Scanner, ...]:
    scanners: list[Scanner] = [cls() for cls in BUILTIN]
    if plugins:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Scanner)):
                raise ScannerError(
                    f"Plugin '{ep.name}' ({ep.value}) is not a modeltrust Scanner class. "
                    "Fix or uninstall the package that provides it."
                )
            scanners.append(cls())
    return tuple(scanners)
