"""The scan path stays light and never runs what it scans."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CANARY_PAYLOAD = b"\x80\x02cposix\nsystem\nX{len}\x00\x00\x00{cmd}R."


def test_scanning_imports_neither_numpy_nor_torch(tmp_path: Path) -> None:
    import pickle

    (tmp_path / "m.pkl").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    code = (
        "import sys, modeltrust\n"
        f"modeltrust.scan_paths([{str(tmp_path)!r}])\n"
        "heavy = sorted(m for m in ('numpy', 'torch', 'pandas', 'sklearn', 'py7zr') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""


def test_a_payload_in_a_scanned_file_never_runs(tmp_path: Path) -> None:
    from modeltrust import Severity, scan_paths

    canary = tmp_path / "canary"
    cmd = f"touch {canary}".encode()
    data = b"\x80\x02cposix\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd + b"R."
    (tmp_path / "evil.pkl").write_bytes(data)
    result = scan_paths([tmp_path])
    assert result.at_or_above(Severity.CRITICAL)
    assert not canary.exists()
