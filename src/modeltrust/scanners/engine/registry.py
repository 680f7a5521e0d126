"""The scanners modeltrust runs: the built-ins below, then plugins from the entry-point group
``modeltrust.scanners``. Nothing registers itself at import time.

Built-in scanners are imported lazily: each is represented by a :class:`LazyScanner` holding a
cheap necessary condition from :mod:`modeltrust.scanners.common.sniff`, and its module is imported the
first time a blob passes it. Scanning a folder of checkpoints therefore never loads the code for
ONNX, TensorFlow or chat templates.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path

from modeltrust.errors import ScannerError
from modeltrust.scanners.common import sniff
from modeltrust.scanners.interface import Blob, ScanContext, Scanner

Sniff = Callable[[bytes, Blob], bool]


class LazyScanner(Scanner):
    """A built-in scanner whose module is imported when a blob first passes ``prefilter``.

    ``prefilter`` must be a necessary condition of the real scanner's ``sniff`` (tests check
    this over every sample); the real ``sniff`` then has the last word.
    """

    def __init__(self, target: str, name: str, prefilter: Sniff, *, needs_seek: bool) -> None:
        self.target = target
        self.name = name
        self.needs_seek = needs_seek
        self.prefilter = prefilter
        self._real: Scanner | None = None

    @property
    def real(self) -> Scanner:
        if self._real is None:
            module, _, cls = self.target.partition(":")
            scanner = getattr(import_module(module), cls)()
            if scanner.name != self.name or scanner.needs_seek != self.needs_seek:
                raise ScannerError(  # pragma: no cover - a table below is out of date
                    f"Built-in scanner {self.target} does not match its registry entry."
                )
            self._real = scanner
        return self._real

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return self.prefilter(head, blob) and self.real.sniff(head, blob)

    def real_sniff(self, head: bytes, blob: Blob) -> bool:
        """The scanner's own ``sniff``, for a blob that already passed ``prefilter``."""
        return self.real.sniff(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        return self.real.scan(blob, ctx)


_S = "modeltrust.scanners."
BUILTIN: tuple[tuple[str, str, Sniff, bool], ...] = (
    # (module:class, name, necessary condition, needs_seek), in the order they are offered a blob
    (_S + "containers.zip:ZipScanner", "zip", sniff.zip_like, True),
    (_S + "containers.tar:TarScanner", "tar", sniff.tar, False),
    (_S + "containers.sevenzip:SevenZipScanner", "7z", sniff.seven_zip, True),
    (_S + "containers.compressed:CompressedScanner", "compressed", sniff.compressed, False),
    (_S + "pickle.numpy:NumpyScanner", "npy", sniff.npy, True),
    (_S + "tensors.safetensors:SafetensorsScanner", "safetensors", sniff.safetensors, True),
    (
        _S + "tensors.safetensors:SafetensorsIndexScanner",
        "safetensors-index",
        sniff.safetensors_index,
        False,
    ),
    (_S + "tensors.gguf:GgufScanner", "gguf", sniff.gguf, True),
    (_S + "configs.templates:ChatTemplateScanner", "chat-template", sniff.chat_template, False),
    (_S + "tensors.onnx:OnnxScanner", "onnx", sniff.onnx, False),
    (_S + "tensors.keras:KerasScanner", "keras", sniff.keras, True),
    (_S + "tensors.hdf5:Hdf5Scanner", "hdf5", sniff.hdf5, True),
    (_S + "tensors.savedmodel:SavedModelScanner", "tf-savedmodel", sniff.savedmodel, True),
    (_S + "tensors.torchscript:TorchScriptScanner", "torchscript", sniff.torchscript, True),
    (_S + "configs.hydra:HydraConfigScanner", "hydra-config", sniff.hydra, False),
    (_S + "configs.skops:SkopsScanner", "skops", sniff.skops, True),
    (_S + "remote_code.configs:RemoteCodeScanner", "remote-code", sniff.remote_code, False),
    (_S + "pickle.scanner:PickleScanner", "pickle", sniff.pickle, False),
)
ENTRY_POINT_GROUP = "modeltrust.scanners"


def _anything(head: bytes, blob: Blob) -> bool:
    return True


def sniff_steps(scanners: Sequence[Scanner]) -> tuple[tuple[Sniff, Sniff, Scanner], ...]:
    """(cheap condition, sniff, scanner) for each scanner, so a dispatcher makes one call per
    scanner for most blobs, which fail the condition (plugins have no condition of their own)."""
    return tuple(
        (s.prefilter, s.real_sniff, s) if isinstance(s, LazyScanner) else (_anything, s.sniff, s)
        for s in scanners
    )


def load_scanners(*, plugins: bool = True) -> tuple[Scanner, ...]:
    scanners: list[Scanner] = [
        LazyScanner(target, name, prefilter, needs_seek=seek)
        for target, name, prefilter, seek in BUILTIN
    ]
    if plugins and _plugins_may_exist():
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Scanner)):
                raise ScannerError(
                    f"Plugin '{ep.name}' ({ep.value}) is not a modeltrust Scanner class. "
                    "Fix or uninstall the package that provides it."
                )
            scanners.append(cls())
    return tuple(scanners)


def _plugins_may_exist() -> bool:
    """Whether any installed distribution declares the plugin group, from a plain byte search of
    the ``entry_points.txt`` files on ``sys.path``. ``importlib.metadata`` costs more to import
    than a whole scan of a small file, so it is loaded only when this finds something."""
    marker = f"[{ENTRY_POINT_GROUP}]".encode()
    for entry in sys.path:
        folder = entry or "."
        try:
            with os.scandir(folder) as it:
                names = [d.name for d in it if d.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue  # zip archives and missing folders: importlib.metadata reads those
        for name in names:
            try:
                # Plain strings and open(): the Path objects cost more than the reads here.
                path = f"{folder}/{name}/entry_points.txt"
                with open(path, "rb") as f:  # noqa: PTH123
                    if marker in f.read():
                        return True
            except OSError:
                continue
    # Distributions inside zip files on sys.path are only visible to importlib.metadata.
    return any(entry.endswith(".zip") and Path(entry).is_file() for entry in sys.path)
