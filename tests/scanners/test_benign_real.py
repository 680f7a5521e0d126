"""Real benign files, made by the real libraries, pass with no finding at or above MEDIUM.

These files are written with torch.save, joblib.dump, pickle.dump and numpy.save; the scanner only
reads them. Nothing here loads a file back.
"""

from __future__ import annotations

import argparse
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from modeltrust import Severity, scan_paths
from tests.helpers import rule_ids

torch = pytest.importorskip("torch")
joblib = pytest.importorskip("joblib")
pd = pytest.importorskip("pandas")
sklearn_ensemble = pytest.importorskip("sklearn.ensemble")


def _net() -> object:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 16),
        torch.nn.Dropout(0.1),
        torch.nn.LayerNorm(16),
        torch.nn.Linear(16, 2),
    )


def _checkpoint() -> dict[str, object]:
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net(torch.randn(2, 1, 8, 8)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, 10)
    return {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": 7,
        "best": np.float64(0.93),
        "step": np.int64(1200),
        "args": argparse.Namespace(lr=1e-3, layers=[1, 2], name="run"),
        "rng": np.random.get_state(),
        "torch_rng": torch.get_rng_state(),
    }


def _forest() -> object:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=120, n_features=8, random_state=0)
    return sklearn_ensemble.RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)


def _pipeline() -> object:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) ** 0.5, "c": ["u", "v"] * 20})
    y = np.arange(40) % 2
    pre = ColumnTransformer([("n", StandardScaler(), ["a", "b"]), ("c", OneHotEncoder(), ["c"])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(frame, y)


def _frame() -> object:
    return pd.DataFrame(
        {
            "x": np.arange(5.0),
            "cat": pd.Categorical(list("abcab")),
            "when": pd.date_range("2024-01-01", periods=5, tz="UTC"),
            "n": pd.array([1, None, 3, 4, 5], dtype="Int64"),
        }
    )


Writer = Callable[[Path], None]
CODECS = ("zlib", "gzip", "bz2", "lzma", "xz", "lz4")


def _forest_dump(codec: str) -> Writer:
    return lambda p: joblib.dump(_forest(), p, compress=(codec, 3))


CASES: dict[str, Writer] = {
    "state_dict_zip.pt": lambda p: torch.save(_net().state_dict(), p),
    "state_dict_legacy.pt": lambda p: torch.save(
        _net().state_dict(), p, _use_new_zipfile_serialization=False
    ),
    "module_zip.pt": lambda p: torch.save(_net(), p),
    "module_legacy.pth": lambda p: torch.save(_net(), p, _use_new_zipfile_serialization=False),
    "checkpoint.ckpt": lambda p: torch.save(_checkpoint(), p),
    "checkpoint_legacy.tar": lambda p: torch.save(
        _checkpoint(), p, _use_new_zipfile_serialization=False
    ),
    "forest.pkl": lambda p: p.write_bytes(pickle.dumps(_forest(), protocol=5)),
    "forest.joblib": lambda p: joblib.dump(_forest(), p),
    "pipeline.joblib": lambda p: joblib.dump(_pipeline(), p),
    "pipeline_z3.joblib": lambda p: joblib.dump(_pipeline(), p, compress=3),
    **{f"forest_{codec}.joblib": _forest_dump(codec) for codec in CODECS},
    "pipeline_p2.pkl": lambda p: p.write_bytes(pickle.dumps(_pipeline(), protocol=2)),
    "frame.pkl": lambda p: _frame().to_pickle(p),  # type: ignore[attr-defined]
    "frame_p2.pkl": lambda p: p.write_bytes(pickle.dumps(_frame(), protocol=2)),
    "scalars.pkl": lambda p: p.write_bytes(
        pickle.dumps(
            {
                "f": np.float32(1.5),
                "i": np.int8(3),
                "ns": argparse.Namespace(a=1),
                "d": np.dtype("f4"),
            }
        )
    ),
    "array_p4.pkl": lambda p: p.write_bytes(pickle.dumps(np.ones((256, 256)), protocol=4)),
    "array_p5.pkl": lambda p: p.write_bytes(pickle.dumps(np.ones((256, 256)), protocol=5)),
    "array_p0.pkl": lambda p: p.write_bytes(pickle.dumps(np.arange(10), protocol=0)),
    "structured.npy": lambda p: np.save(p, np.zeros(4, dtype=[("a", "<i4"), ("b", "<f8", (2,))])),
    "numeric.npy": lambda p: np.save(p, np.arange(100, dtype=np.float16)),
    "fortran.npy": lambda p: np.save(p, np.asfortranarray(np.ones((3, 4)))),
    "unicode.npy": lambda p: np.save(p, np.array(["ab", "cde"])),
    "arrays.npz": lambda p: np.savez(p, a=np.arange(3), b=np.eye(3)),
    "arrays_c.npz": lambda p: np.savez_compressed(p, a=np.arange(3), b=np.eye(3)),
    "plain_p0.pkl": lambda p: p.write_bytes(pickle.dumps({"a": [1, 2.5, "x", None]}, protocol=0)),
    "plain_p1.pkl": lambda p: p.write_bytes(pickle.dumps({"a": (1, b"x", True)}, protocol=1)),
    "plain_p3.pkl": lambda p: p.write_bytes(pickle.dumps({1: {2, 3}, "b": b"\x00" * 10}, 3)),
    "plain_p5.pkl": lambda p: p.write_bytes(pickle.dumps([frozenset({1}), 10**40, -1.5], 5)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_benign_file_passes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        CASES[name](path)
    result = scan_paths([path])
    worrying = [
        f"{f.severity.label} {f.rule_id} {f.location}: {f.message}"
        for f in result.findings
        if f.severity >= Severity.MEDIUM
    ]
    assert worrying == []
    assert result.files[0].formats != ("unknown",)


def test_formats_are_recognised(tmp_path: Path) -> None:
    expected = {
        "state_dict_zip.pt": "pytorch-zip",
        "state_dict_legacy.pt": "pytorch-legacy",
        "forest.joblib": "joblib",
        "forest_gzip.joblib": "gzip",
        "numeric.npy": "npy",
        "arrays.npz": "zip",
        "plain_p0.pkl": "pickle",
    }
    for name in expected:
        CASES[name](tmp_path / name)
    result = scan_paths([tmp_path])
    formats = {Path(f.path).name: f.formats for f in result.files}
    for name, fmt in expected.items():
        assert fmt in formats[name], (name, formats[name])


def test_library_classes_are_low_not_high(tmp_path: Path) -> None:
    CASES["forest.joblib"](tmp_path / "forest.joblib")
    result = scan_paths([tmp_path / "forest.joblib"])
    assert "MT-PKL-010" in rule_ids(result)
    assert not result.at_or_above(Severity.MEDIUM)


def test_user_defined_classes_are_high(tmp_path: Path) -> None:
    """A whole module pickled with a class from __main__ needs code nobody vetted."""
    data = pickle.dumps(argparse.Namespace(a=1)).replace(b"argparse", b"__main__")
    data = data.replace(b"\x8c\x08__main__", b"\x8c\x08__main__")
    path = tmp_path / "custom.pkl"
    path.write_bytes(data)
    result = scan_paths([path])
    assert "MT-PKL-009" in rule_ids(result, Severity.HIGH)
