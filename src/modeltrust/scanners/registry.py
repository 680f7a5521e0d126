"""The scanners modeltrust runs: the built-ins below, then plugins from the entry-point group
``modeltrust.scanners``. Nothing registers itself at import time."""

from __future__ import annotations

from importlib.metadata import entry_points

from modeltrust.errors import ScannerError
from modeltrust.scanners.archive import CompressedScanner, SevenZipScanner, TarScanner, ZipScanner
from modeltrust.scanners.gguf import GgufScanner
from modeltrust.scanners.hdf5 import Hdf5Scanner
from modeltrust.scanners.hydra import HydraConfigScanner
from modeltrust.scanners.interface import Scanner
from modeltrust.scanners.keras import KerasScanner
from modeltrust.scanners.numpy import NumpyScanner
from modeltrust.scanners.onnx import OnnxScanner
from modeltrust.scanners.pickle import PickleScanner
from modeltrust.scanners.remote_code import RemoteCodeScanner
from modeltrust.scanners.safetensors import SafetensorsIndexScanner, SafetensorsScanner
from modeltrust.scanners.savedmodel import SavedModelScanner
from modeltrust.scanners.skops import SkopsScanner
from modeltrust.scanners.templates import ChatTemplateScanner
from modeltrust.scanners.torchscript import TorchScriptScanner

BUILTIN: tuple[type[Scanner], ...] = (
    ZipScanner,
    TarScanner,
    SevenZipScanner,
    CompressedScanner,
    NumpyScanner,
    SafetensorsScanner,
    SafetensorsIndexScanner,
    GgufScanner,
    ChatTemplateScanner,
    OnnxScanner,
    KerasScanner,
    Hdf5Scanner,
    SavedModelScanner,
    TorchScriptScanner,
    HydraConfigScanner,
    SkopsScanner,
    RemoteCodeScanner,
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
