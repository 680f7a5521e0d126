"""Regenerate src/modeltrust/scanners/common/data/library_names.txt.

The list holds exact ``module:qualname`` entries for classes of well-known ML libraries, plus the
reconstruction helpers those libraries' real pickles use (observed by emulating pickles of a corpus
of typical objects, never by loading one). Entries the denylist covers are left out.

Run in the dev environment: python tools/gen_library_names.py
"""

from __future__ import annotations

import importlib
import inspect
import io
import pickle
import pkgutil
import re
import warnings
from pathlib import Path

from modeltrust.scanners.common.callables import Category, classify
from modeltrust.scanners.interface import Limits
from modeltrust.scanners.pickle.vm import PickleMachine, Reader

OUT = Path(__file__).resolve().parents[1] / "src/modeltrust/scanners/common/data/library_names.txt"
PACKAGES = {
    "sklearn": ("sklearn",),
    "pandas": ("pandas",),
    "torch": ("torch.nn", "torch.optim"),
}
# Classes that read or write files, run engines or pools are not "just data", whatever module
# re-exports them: leave them out so they stay MT-PKL-009 (high).
SIDE_EFFECT_NAMES = re.compile(
    r"Reader|Writer|Store|File|Excel|HDF|SQL|Sql|Executor|Engine|ThreadPool|ProcessPool|Thread"
    r"|Process|Connection"
    r"|Stream|Socket|Handler|Parser|Loader|Saver|Download|Opener|Memmap"
)
SKIP_PARTS = {
    "tests",
    "test",
    "_testing",
    "testing",
    "io",
    "externals",
    "conftest",
    "plotting",
    "_build_utils",
    "datasets",
}


def walk(package: str) -> list[str]:
    names = [package]
    mod = importlib.import_module(package)
    for info in pkgutil.walk_packages(mod.__path__, prefix=package + "."):
        if SKIP_PARTS & set(info.name.split(".")):
            continue
        names.append(info.name)
    return names


def classes_of(module_name: str, library: str) -> set[str]:
    """Classes a module defines or re-exports from the same library (pandas:DatetimeTZDtype)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - optional submodules with missing deps
        return set()
    out = set()
    for name, obj in list(vars(mod).items()):
        if not inspect.isclass(obj) or name.startswith("__") or SIDE_EFFECT_NAMES.search(name):
            continue
        home = getattr(obj, "__module__", None) or ""
        if home.split(".")[0] != library or SKIP_PARTS & set(home.split(".")):
            continue
        out.add(f"{module_name}:{name}")
    return out


def observed_globals(objects: list[object]) -> set[str]:
    out = set()
    for obj in objects:
        for protocol in (2, 4, 5):
            data = pickle.dumps(obj, protocol=protocol)
            reader = Reader(io.BytesIO(data), len(data), True)
            analysis = PickleMachine(reader, Limits()).run()
            out.update(str(e.glob) for e in analysis.imports)
    return out


def corpus() -> list[object]:
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification
    from sklearn.decomposition import PCA
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        IsolationForest,
        RandomForestClassifier,
    )
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    x, y = make_classification(n_samples=80, n_features=6, random_state=0)
    frame = pd.DataFrame(x[:, :2], columns=["a", "b"]).assign(c=["u", "v"] * 40)
    models = [
        LogisticRegression().fit(x, y),
        RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
        GradientBoostingClassifier(n_estimators=3).fit(x, y),
        HistGradientBoostingClassifier(max_iter=3).fit(x, y),
        IsolationForest(n_estimators=3, random_state=0).fit(x),
        SVC().fit(x, y),
        KMeans(n_clusters=2, n_init=1, random_state=0).fit(x),
        PCA(n_components=2).fit(x),
        KNeighborsClassifier().fit(x, y),
        MLPClassifier(max_iter=5).fit(x, y),
        LabelEncoder().fit(y),
        TfidfVectorizer().fit(["apple banana cherry", "banana cherry date"]),
        Pipeline([("s", StandardScaler()), ("m", LogisticRegression())]).fit(x, y),
        ColumnTransformer(
            [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(), ["c"])]
        ).fit(frame),
    ]
    frames = [
        frame,
        frame["a"],
        pd.DataFrame(
            {
                "cat": pd.Categorical(["x", "y"]),
                "ts": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"),
                "td": pd.to_timedelta([1, 2], unit="s"),
                "i": pd.array([1, None], dtype="Int64"),
                "s": pd.array(["a", None], dtype="string"),
                "p": pd.period_range("2024-01", periods=2, freq="M"),
                "iv": pd.interval_range(0, 2),
                "b": pd.array([True, None], dtype="boolean"),
            }
        ),
        pd.MultiIndex.from_tuples([(1, "a"), (2, "b")]),
        pd.date_range("2024-01-01", periods=3),
        pd.RangeIndex(5),
        pd.Series(pd.arrays.SparseArray([0, 0, 1])),
        pd.Timestamp("2024-01-01", tz="Europe/Paris"),
        pd.Timedelta("1D"),
    ]
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3),
        torch.nn.BatchNorm2d(2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.LazyLinear(4),
        torch.nn.Dropout(),
        torch.nn.LayerNorm(4),
        torch.nn.GELU(),
        torch.nn.Embedding(5, 4),
        torch.nn.LSTM(4, 4),
        torch.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8),
    )
    opt = torch.optim.Adam(torch.nn.Linear(2, 2).parameters())
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    rng = [np.random.RandomState(0), np.random.default_rng(0)]
    return [*models, *frames, net, opt.state_dict(), sched.state_dict(), *rng]


def main() -> None:
    entries: set[str] = set()
    for library, packages in PACKAGES.items():
        for package in packages:
            for module_name in walk(package):
                entries |= classes_of(module_name, library)
    entries |= observed_globals(corpus())
    keep = sorted(
        e
        for e in entries
        if classify(*e.split(":", 1)).category is Category.UNKNOWN
        or classify(*e.split(":", 1)).category is Category.LIBRARY
    )
    header = (
        "# Exact module:qualname entries rated MT-PKL-010 (low): classes of scikit-learn, pandas,\n"
        "# torch.nn and torch.optim, and the helpers their real pickles use. Generated by\n"
        "# tools/gen_library_names.py; regenerate after a library release, review the diff.\n"
    )
    OUT.write_text(header + "\n".join(keep) + "\n")
    print(f"wrote {len(keep)} entries to {OUT}")


if __name__ == "__main__":
    main()
