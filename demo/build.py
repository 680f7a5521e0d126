"""Build the demo folder: one benign checkpoint and one trojaned copy of it.

The trojaned checkpoint is the benign one with its ``data.pkl`` swapped for a pickle that would
run ``touch <demo>/PWNED`` inside ``torch.load``. Nothing here loads either file; the demo ends by
checking that PWNED does not exist, because modeltrust never executes what it scans.

Usage: python -m demo.build OUT_DIR
"""

from __future__ import annotations

import shutil
import struct
import sys
import zipfile
from pathlib import Path


def benign_checkpoint(path: Path) -> None:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}, path)


def trojan_pickle(canary: Path) -> bytes:
    """A protocol-2 pickle whose loading calls posix.system("touch <canary>")."""
    command = f"touch {canary}".encode()
    return (
        b"\x80\x02"
        + b"cposix\nsystem\n"
        + b"X"
        + struct.pack("<I", len(command))
        + command
        + b"\x85R"  # TUPLE1, REDUCE: the call torch.load would make
        + b"0"  # POP the result, so the checkpoint still looks like a dict
        + b"}."
    )


def trojan_checkpoint(benign: Path, path: Path, canary: Path) -> None:
    with zipfile.ZipFile(benign) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                data = trojan_pickle(canary)
            dst.writestr(info, data)


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "demo-out")
    shutil.rmtree(out, ignore_errors=True)
    (out / "benign").mkdir(parents=True)
    (out / "malicious").mkdir()
    benign = out / "benign" / "checkpoint.pt"
    benign_checkpoint(benign)
    canary = (out / "PWNED").resolve()
    trojan_checkpoint(benign, out / "malicious" / "checkpoint.pt", canary)
    print(f"Demo models written to {out}/: benign/checkpoint.pt and malicious/checkpoint.pt")
    print(f"(the malicious one would create {canary} if anything ever loaded it)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
