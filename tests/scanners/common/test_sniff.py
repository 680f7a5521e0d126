"""The lazy registry's prefilters never hide a blob from the scanner that would have claimed it.

Each built-in scanner is imported only when a blob passes a cheap necessary condition
(``modeltrust.scanners.common.sniff``). If a prefilter were stricter than the scanner's own ``sniff``,
that scanner would silently stop seeing some files: these tests run every sample, and every blob
nested inside them, past both and fail on any blob the prefilter drops but the scanner wants.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modeltrust.errors import ScannerError
from modeltrust.findings import Location
from modeltrust.scanners.engine import Engine
from modeltrust.scanners.engine.registry import BUILTIN, LazyScanner, load_scanners
from modeltrust.scanners.interface import Blob, BytesBlob, ScanContext, Scanner
from tests.builders.samples import benign_samples, malicious_samples


class _Checked(Scanner):
    """A real scanner that also records every blob its prefilter would have dropped."""

    def __init__(self, real: Scanner, prefilter: LazyScanner, misses: list[str]) -> None:
        self.real = real
        self.prefilter = prefilter
        self.name = real.name
        self.needs_seek = real.needs_seek
        self.misses = misses

    def sniff(self, head: bytes, blob: Blob) -> bool:
        wanted = self.real.sniff(head, blob)
        if wanted and not self.prefilter.prefilter(head, blob):
            self.misses.append(f"{self.name}: {blob.location}")
        return wanted

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        return self.real.scan(blob, ctx)


def _checked(misses: list[str]) -> list[Scanner]:
    out: list[Scanner] = []
    for lazy in load_scanners(plugins=False):
        assert isinstance(lazy, LazyScanner)
        module, _, cls = lazy.target.partition(":")
        out.append(_Checked(getattr(import_module(module), cls)(), lazy, misses))
    return out


def test_registry_entries_match_their_scanners() -> None:
    for lazy in load_scanners(plugins=False):
        assert isinstance(lazy, LazyScanner)
        assert lazy.real.name == lazy.name
        assert lazy.real.needs_seek == lazy.needs_seek
    assert len({name for _, name, _, _ in BUILTIN}) == len(BUILTIN)


def test_prefilters_are_necessary_conditions_on_every_sample(tmp_path: Path) -> None:
    misses: list[str] = []
    engine = Engine(_checked(misses))
    samples = [*malicious_samples(str(tmp_path / "CANARY")), *benign_samples()]
    for sample in samples:
        path = tmp_path / sample.name / sample.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sample.data)
    engine.scan([tmp_path])
    assert not (tmp_path / "CANARY").exists()
    assert misses == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["x.bin", "x.py", "x.jinja", "config.json"]))
def test_prefilters_are_necessary_conditions_on_any_bytes(data: bytes, name: str) -> None:
    misses: list[str] = []
    scanners = _checked(misses)
    blob = BytesBlob(data, Location(name))
    for s in scanners:
        s.sniff(data[:4096], blob)
    assert misses == []


def test_a_pickle_scan_imports_no_other_format() -> None:
    """The point of the prefilters: a raw pickle (and a config without a chat template) loads
    the scanners they need, and neither jinja2 nor the other formats' code."""
    code = (
        "import pickle, sys, tempfile, pathlib\n"
        "from modeltrust.scanners.engine import scan_paths\n"
        "d = pathlib.Path(tempfile.mkdtemp())\n"
        "(d / 'a.pkl').write_bytes(pickle.dumps({'w': [1.0, 2.0]}, 4))\n"
        "(d / 'config.json').write_text('{\"model_type\": \"llama\"}')\n"
        "scan_paths([d])\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('modeltrust.scanners.'))))\n"
        "print(' '.join(m for m in ('jinja2', 'importlib.metadata', 'yaml') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    loaded = set(out[0].split())
    for unneeded in ("onnx", "template_analysis", "keras", "hdf5", "savedmodel", "gguf", "skops"):
        assert f"modeltrust.scanners.{unneeded}" not in loaded
    assert "modeltrust.scanners.pickle.scanner" in loaded
    assert out[1:] in ([], [""])


def test_opcode_bytes_are_exactly_the_pickle_opcodes() -> None:
    """A first byte that is no opcode makes every unpickler stop before it runs anything."""
    import pickletools

    from modeltrust.scanners.common.sniff import OPCODE_BYTES

    assert {op.code.encode("latin-1")[0] for op in pickletools.opcodes} == OPCODE_BYTES


def _install_plugin(site: Path, module: str, target: str) -> None:
    """A distribution on ``site`` that declares ``target`` in modeltrust's plugin group."""
    dist = site / f"{module.replace('_', '-')}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[modeltrust.scanners]\nmine = {target}\n")


_PLUGIN_SOURCE = """
from modeltrust.scanners.interface import Scanner

class MagicScanner(Scanner):
    name = "magic"

    def sniff(self, head, blob):
        return head.startswith(b"MAGIC")

    def scan(self, blob, ctx):
        ctx.saw("magic")
        return True

NOT_A_SCANNER = object
"""


def test_plugins_are_found_through_their_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "mt_magic_plugin.py").write_text(_PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(site))
    assert "magic" not in {s.name for s in load_scanners()}
    _install_plugin(site, "mt_magic_plugin", "mt_magic_plugin:MagicScanner")
    scanners = load_scanners()
    assert scanners[-1].name == "magic"
    assert "magic" not in {s.name for s in load_scanners(plugins=False)}
    (tmp_path / "x.bin").write_bytes(b"MAGIC and more")
    result = Engine(scanners).scan([tmp_path / "x.bin"])
    assert result.files[0].formats == ("magic",)


def test_a_plugin_that_is_not_a_scanner_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "mt_bad_plugin.py").write_text(_PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(site))
    _install_plugin(site, "mt_bad_plugin", "mt_bad_plugin:NOT_A_SCANNER")
    with pytest.raises(ScannerError, match="is not a modeltrust Scanner class"):
        load_scanners()
