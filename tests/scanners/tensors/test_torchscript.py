"""TorchScript archives: code is reported (medium), and calls that reach native libraries, the OS
or files raise it to high. A real TorchScript file is made with torch.jit.save (never loaded).
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltrust import Severity, scan_paths
from modeltrust.cli import EXIT_FAILED, main
from modeltrust.scanners.tensors import torchscript
from modeltrust.scanners.tensors.torchscript import analyse_code
from tests.helpers import rule_ids, serious

FUZZ = settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BENIGN_CODE = """class Linear(Module):
  __parameters__ = ["weight", "bias", ]
  __buffers__ = []
  weight : Tensor
  bias : Tensor
  training : bool
  out_features : Final[int] = 2
  __annotations__["0"] = __torch__.torch.nn.modules.linear.Linear
  _packed_params : __torch__.torch.classes.quantized.LinearPackedParamsBase
  def forward(self: __torch__.torch.nn.modules.linear.Linear,
    input: Tensor) -> Tensor:
    _0 = getattr(self, "0")
    y = ops.quantized.linear_dynamic(input, self._packed_params)
    ops.prim.RaiseException("bad", "builtins.RuntimeError")
    return torch.linear(input, self.weight, self.bias)
"""


def torchscript_zip(code: dict[str, str], prefix: str = "archive/", **extra: bytes) -> bytes:
    """A TorchScript-shaped zip: data.pkl and constants.pkl (plain pickles) beside code/."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{prefix}data.pkl", pickle.dumps({"training": False}, protocol=2))
        for name, text in code.items():
            z.writestr(f"{prefix}code/{name}", text)
        z.writestr(f"{prefix}constants.pkl", pickle.dumps((), protocol=2))
        z.writestr(f"{prefix}version", b"10\n")
        for name, data in extra.items():
            z.writestr(f"{prefix}{name}", data)
    return buf.getvalue()


def scan(tmp_path: Path, data: bytes, name: str = "model.pt") -> list[tuple[str, Severity, str]]:
    path = tmp_path / name
    path.write_bytes(data)
    result = scan_paths([path])
    assert "MT-INT-001" not in rule_ids(result), serious(result)
    return [(f.rule_id, f.severity, f.message) for f in result.findings if f.rule_id == "MT-TS-001"]


# --- happy path ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_torchscript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("ts") / "linear.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))  # saved, never loaded
    return path


def test_real_torchscript_has_only_the_medium_code_finding(real_torchscript: Path) -> None:
    with zipfile.ZipFile(real_torchscript) as z:
        assert any(n.endswith("code/__torch__/torch/nn/modules/linear.py") for n in z.namelist())
    result = scan_paths([real_torchscript])
    assert "torchscript" in result.files[0].formats
    ours = [(f.rule_id, f.severity) for f in result.findings if f.rule_id.startswith("MT-TS")]
    assert ours == [("MT-TS-001", Severity.MEDIUM)]
    assert "MT-INT-001" not in rule_ids(result)


def test_real_torchscript_passes_the_default_gate(real_torchscript: Path) -> None:
    """torch.jit.load's own unpickler resolves __torch__.* from the archive's code/ (analysed as
    MT-TS-001) and the torch.jit._pickle helpers: they are not Python imports."""
    result = scan_paths([real_torchscript])
    assert serious(result) == []


def test_torchscript_pickles_still_flag_real_imports(tmp_path: Path) -> None:
    """The TorchScript dialect exempts only __torch__ classes and the jit helpers."""
    evil = b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueR."
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", evil)
        z.writestr("archive/constants.pkl", b"\x80\x02).")
        z.writestr("archive/code/__torch__/m.py", "class M:\n    pass\n")
        z.writestr("archive/code/__torch__/x.pkl", b"\x80\x02c__torch__.__builtins__\neval\n.")
    path = tmp_path / "ts.pt"
    path.write_bytes(buf.getvalue())
    ids = rule_ids(scan_paths([path]), Severity.HIGH)
    assert {"MT-PKL-002", "MT-PKL-011"} <= ids


def test_benign_torchscript_code_has_nothing_suspicious() -> None:
    found, parsed = analyse_code(BENIGN_CODE)
    assert parsed
    assert found == []


def test_code_without_a_torchscript_archive_is_not_claimed(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("repo/code/evil.py", "import os\nos.system('x')\n")
    path = tmp_path / "src.zip"
    path.write_bytes(buf.getvalue())
    result = scan_paths([path])
    assert "torchscript" not in result.files[0].formats


# --- suspicious code -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('torch.ops.load_library("/tmp/evil.so")', "native library"),
        ("y = ops.evilns.run(x)", "namespace 'evilns'"),
        ("y = torch.ops.evilns.run(x)", "namespace 'evilns'"),
        ("t : __torch__.torch.classes.evil.Thing", "namespace 'evil'"),
        ('m = __import__("os")', "import or evaluation"),
        ('eval("1")', "import or evaluation"),
        ('os.system("id")', "os module"),
        ('subprocess.Popen(["id"])', "subprocess module"),
        ("builtins.exec", "builtins module"),
        ('f = open("/etc/passwd")', "import or evaluation"),
        ('t = torch.load("/tmp/x")', "files through torch"),
        ('t = torch.from_file("/etc/shadow", True, 8)', "files through torch"),
        ('fut = rpc_async("worker", f)', "remote procedure calls"),
        ("g = x.__class__.__subclasses__()", "dunder"),
        ("g = f.__globals__", "dunder"),
        ("a = getattr(x, name)", "computed or dunder"),
        ('a = getattr(x, "__dict__")', "computed or dunder"),
        ("import socket", "imports a module"),
    ],
)
def test_suspicious_calls(line: str, why: str) -> None:
    found, parsed = analyse_code(f"def forward(self, x: Tensor) -> Tensor:\n    {line}\n")
    assert parsed
    assert found, line
    assert any(why in s.why for s in found), [s.why for s in found]


def test_malicious_archive_reports_each_call_at_high(tmp_path: Path) -> None:
    code = {
        "__torch__.py": BENIGN_CODE,
        "__torch__/evil.py": (
            "def forward(self, x: Tensor) -> Tensor:\n"
            '  torch.ops.load_library("/tmp/evil.so")\n'
            "  return ops.evilns.pwn(x)\n"
        ),
    }
    got = scan(tmp_path, torchscript_zip(code))
    assert ("MT-TS-001", Severity.MEDIUM) in [(r, s) for r, s, _ in got]
    high = [m for r, s, m in got if s == Severity.HIGH]
    assert len(high) == 2
    assert all("__torch__/evil.py" in m for m in high)
    assert any("on line 2" in m and "load_library" in m for m in high)
    assert main(["scan", str(tmp_path / "model.pt"), "--no-progress"]) == EXIT_FAILED


def test_unparsable_code_is_searched_as_text(tmp_path: Path) -> None:
    code = {"__torch__.py": "def forward(self x:\n    os.system('id')  ((((\n"}
    got = scan(tmp_path, torchscript_zip(code))
    high = [m for _, s, m in got if s == Severity.HIGH]
    assert len(high) == 1
    assert "os.system" in high[0]
    assert "searched as text" in high[0]


def test_every_prefix_and_duplicate_member_is_read(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the duplicate name is the point
        z.writestr("m/data.pkl", pickle.dumps(None))
        z.writestr("m/code/__torch__.py", BENIGN_CODE)
        z.writestr("m/code/__torch__.py", "def f(x):\n  return os.getcwd()\n")
    got = scan(tmp_path, buf.getvalue())
    assert [s for _, s, _ in got].count(Severity.HIGH) == 1


# --- malformed input and limits ------------------------------------------------------------------
def test_oversized_code_file_is_not_analysed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torchscript, "MAX_CODE_FILE", 100)
    got = scan(tmp_path, torchscript_zip({"__torch__.py": BENIGN_CODE}))
    high = [m for _, s, m in got if s == Severity.HIGH]
    assert len(high) == 1
    assert "could not be analysed" in high[0]


def test_total_code_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torchscript, "MAX_CODE_TOTAL", 10)
    got = scan(tmp_path, torchscript_zip({"a.py": BENIGN_CODE, "b.py": BENIGN_CODE}))
    assert [s for _, s, _ in got].count(Severity.HIGH) == 1


def test_corrupt_code_member_is_a_finding(tmp_path: Path) -> None:
    data = bytearray(torchscript_zip({"__torch__.py": BENIGN_CODE * 20}))
    start = data.find(b"code/__torch__.py") + len("code/__torch__.py")
    data[start + 5 : start + 40] = b"\xff" * 35  # break the deflate stream
    path = tmp_path / "model.pt"
    path.write_bytes(bytes(data))
    result = scan_paths([path])
    assert "MT-INT-001" not in rule_ids(result)
    assert any(f.rule_id == "MT-TS-001" and f.severity >= Severity.HIGH for f in result.findings)


def test_deeply_nested_code_does_not_crash() -> None:
    found, _ = analyse_code("x = " + "(" * 5000 + "1" + ")" * 5000 + "\nos.system('x')\n")
    assert any("os" in s.what for s in found)
    found, parsed = analyse_code("x = " + "-" * 50_000 + "1\n")
    assert isinstance(parsed, bool)


# --- fuzz ----------------------------------------------------------------------------------------
@FUZZ
@given(st.text(max_size=400))
def test_analyse_code_never_raises(text: str) -> None:
    found, parsed = analyse_code(text)
    assert isinstance(found, list)
    assert isinstance(parsed, bool)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)), max_size=8))
def test_mutated_archives_never_crash(tmp_path: Path, edits: list[tuple[int, int]]) -> None:
    data = bytearray(torchscript_zip({"__torch__.py": BENIGN_CODE}))
    for pos, value in edits:
        data[pos % len(data)] = value
    path = tmp_path / "model.pt"
    path.write_bytes(bytes(data))
    result = scan_paths([path])
    assert "MT-INT-001" not in rule_ids(result), serious(result)
