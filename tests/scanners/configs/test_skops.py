"""skops files, built by hand with zipfile + json in the layout skops.io.dump writes (skops is not
installed): trusted types pass, scikit-learn's own untrusted structures are medium, unknown types
high and gadgets critical, wherever they hide in the schema.
"""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltrust import Severity, scan_paths
from modeltrust.cli import EXIT_FAILED, EXIT_OK, main
from modeltrust.scanners.configs.skops import collect_types, is_trusted, rate_type
from tests.helpers import rule_ids, serious

FUZZ = settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- builders in skops' schema layout ------------------------------------------------------------
def n(module: str, cls: str, loader: str, **extra: Any) -> dict[str, Any]:
    return {"__class__": cls, "__module__": module, "__loader__": loader, **extra, "__id__": 1}


def json_value(value: Any) -> dict[str, Any]:
    return n("builtins", type(value).__name__, "JsonNode", content=json.dumps(value), is_json=True)


def dict_node(content: dict[str, Any]) -> dict[str, Any]:
    key_types = n(
        "builtins", "list", "ListNode", content=[n("builtins", "str", "TypeNode")] * len(content)
    )
    return n("builtins", "dict", "DictNode", content=content, key_types=key_types)


def obj(module: str, cls: str, attrs: dict[str, Any]) -> dict[str, Any]:
    return n(module, cls, "ObjectNode", content=dict_node(attrs))


def array(file: str) -> dict[str, Any]:
    return n("numpy", "ndarray", "NdArrayNode", type="numpy", file=file)


def pipeline(*steps: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    items = [
        n("builtins", "tuple", "TupleNode", content=[json_value(name), est]) for name, est in steps
    ]
    return obj(
        "sklearn.pipeline", "Pipeline", {"steps": n("builtins", "list", "ListNode", content=items)}
    )


def benign_schema() -> dict[str, Any]:
    scaler = obj(
        "sklearn.preprocessing._data",
        "StandardScaler",
        {"with_mean": json_value(True), "mean_": array("1.npy"), "scale_": array("2.npy")},
    )
    logreg = obj(
        "sklearn.linear_model._logistic",
        "LogisticRegression",
        {"C": json_value(1.0), "coef_": array("3.npy"), "classes_": array("4.npy")},
    )
    func = obj(
        "sklearn.preprocessing._function_transformer",
        "FunctionTransformer",
        {"func": n("numpy", "log1p", "FunctionNode")},
    )
    schema = pipeline(("f", func), ("s", scaler), ("lr", logreg))
    schema.update(protocol=2, _skops_version="0.10.0")
    return schema


def skops_file(schema: Any, *, extra_schemas: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names, on purpose
        for i in range(1, 5):
            npy = io.BytesIO()
            np.save(npy, np.arange(3, dtype=np.float64) * i)
            z.writestr(f"{i}.npy", npy.getvalue())
        z.writestr("schema.json", schema if isinstance(schema, bytes) else json.dumps(schema))
        for extra in extra_schemas:
            z.writestr("schema.json", extra)
    return buf.getvalue()


def scan(tmp_path: Path, data: bytes) -> list[tuple[str, Severity, str]]:
    path = tmp_path / "model.skops"
    path.write_bytes(data)
    result = scan_paths([path])
    assert "MT-INT-001" not in rule_ids(result), serious(result)
    return [(f.rule_id, f.severity, f.message) for f in result.findings]


# --- happy path ----------------------------------------------------------------------------------
def test_benign_pipeline_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(skops_file(benign_schema()))
    result = scan_paths([path])
    assert result.findings == ()
    (scanned,) = result.files
    assert "skops" in scanned.formats
    assert dict(scanned.facts) == {"skops.protocol": "2", "skops.version": "0.10.0"}
    assert main(["scan", str(path), "--no-progress"]) == EXIT_OK


def test_collect_types_sees_every_object() -> None:
    types = collect_types(benign_schema())
    assert ("sklearn.pipeline", "Pipeline") in types
    assert ("numpy", "log1p") in types
    assert types[("numpy", "ndarray")].count == 4
    assert "NdArrayNode" in types[("numpy", "ndarray")].loaders


@pytest.mark.parametrize(
    ("module", "name", "trusted"),
    [
        ("builtins", "dict", True),
        ("builtins", "eval", False),
        ("collections", "OrderedDict", True),
        ("numpy", "float64", True),
        ("numpy", "exp", True),
        ("numpy", "load", False),
        ("numpy.random._pcg64", "PCG64", True),
        ("scipy.sparse._csr", "csr_matrix", True),
        ("scipy.special._ufuncs", "expit", True),
        ("sklearn.ensemble._forest", "RandomForestClassifier", True),
        ("sklearn.linear_model._sgd_fast", "Hinge", True),
        ("sklearn._loss._loss", "CyHalfBinomialLoss", True),
        ("sklearn.tree._tree", "Tree", False),
        ("sklearn.neighbors._kd_tree", "KDTree", False),
        ("sklearn.utils._testing", "LogisticRegression", False),
        ("mypkg", "LogisticRegression", False),
    ],
)
def test_is_trusted(module: str, name: str, trusted: bool) -> None:
    assert is_trusted(module, name) is trusted


# --- untrusted and dangerous types ---------------------------------------------------------------
def test_sklearn_tree_structure_is_medium(tmp_path: Path) -> None:
    tree = n(
        "sklearn.tree._tree",
        "Tree",
        "TreeNode",
        __reduce__={"args": json_value(1)},
        content=dict_node({}),
    )
    schema = obj("sklearn.tree._classes", "DecisionTreeClassifier", {"tree_": tree})
    schema.update(protocol=2)
    got = scan(tmp_path, skops_file(schema))
    assert [(r, s) for r, s, _ in got] == [("MT-SKOPS-001", Severity.MEDIUM)]
    assert "sklearn.tree._tree.Tree" in got[0][2]


def test_unknown_type_is_high(tmp_path: Path) -> None:
    schema = pipeline(("x", obj("mycompany.models", "Custom", {})))
    schema.update(protocol=2)
    got = scan(tmp_path, skops_file(schema))
    assert [(r, s) for r, s, _ in got] == [("MT-SKOPS-001", Severity.HIGH)]
    assert "'mycompany.models.Custom'" in got[0][2]
    assert main(["scan", str(tmp_path / "model.skops"), "--no-progress"]) == EXIT_FAILED


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (n("builtins", "eval", "FunctionNode"), "builtins.eval"),
        (n("posix", "system", "FunctionNode"), "posix.system"),
        (
            n("operator", "attrgetter", "OperatorFuncNode", attrs=json_value(["__globals__"])),
            "operator.attrgetter",
        ),
        (n("subprocess", "Popen", "TypeNode"), "subprocess.Popen"),
        (
            n(
                "sklearn.linear_model._logistic",
                "LogisticRegression",
                "MethodNode",
                content={
                    "func": "__reduce_ex__",
                    "obj": obj("sklearn.linear_model._logistic", "LogisticRegression", {}),
                },
            ),
            "LogisticRegression.__reduce_ex__",
        ),
        (
            n(
                "sklearn.tree._tree",
                "Tree",
                "TreeNode",
                __reduce__={
                    "constructor": {"__class__": "system", "__module__": "os"},
                    "args": json_value(1),
                },
            ),
            "os.system",
        ),
        (n("builtins", "getattr", "FunctionNode"), "builtins.getattr"),
        (n("torch", "load", "FunctionNode"), "torch.load"),
    ],
)
def test_gadgets_are_critical_wherever_they_hide(
    tmp_path: Path, node: dict[str, Any], expected: str
) -> None:
    hidden = obj(
        "sklearn.preprocessing._function_transformer",
        "FunctionTransformer",
        {"func": n("builtins", "list", "ListNode", content=[json_value(1), node])},
    )
    schema = pipeline(("a", hidden))
    schema.update(protocol=2)
    got = scan(tmp_path, skops_file(schema))
    critical = [m for _, s, m in got if s == Severity.CRITICAL]
    assert len(critical) == 1, got
    assert expected in critical[0]


def test_partial_and_itemgetter_are_high_not_critical() -> None:
    assert rate_type("functools", "partial", {"PartialNode"})[0] == Severity.HIGH
    assert rate_type("operator", "itemgetter", {"OperatorFuncNode"})[0] == Severity.HIGH
    assert rate_type("operator", "methodcaller", {"OperatorFuncNode"})[0] == Severity.CRITICAL
    assert rate_type("", "x", {"ObjectNode"})[0] == Severity.HIGH
    assert rate_type("os;rm", "x", {"ObjectNode"})[0] == Severity.HIGH


def test_every_schema_json_is_checked(tmp_path: Path) -> None:
    evil = pipeline(("x", n("builtins", "exec", "FunctionNode")))
    evil.update(protocol=2)
    data = skops_file(benign_schema(), extra_schemas=[json.dumps(evil).encode()])
    assert [s for _, s, _ in scan(tmp_path, data)] == [Severity.CRITICAL]


# --- not skops, malformed, limits ----------------------------------------------------------------
def test_other_zips_are_not_claimed(tmp_path: Path) -> None:
    for schema in ({"type": "object", "properties": {}}, [1, 2], "no"):
        path = tmp_path / "x.zip"
        path.write_bytes(skops_file(schema))
        result = scan_paths([path])
        assert "skops" not in result.files[0].formats
        assert not [f for f in result.findings if f.rule_id == "MT-SKOPS-001"]


def test_broken_schema_is_high(tmp_path: Path) -> None:
    got = scan(tmp_path, skops_file(b'{"__loader__": "ObjectNode", "content": [}'))
    assert [(r, s) for r, s, _ in got] == [("MT-SKOPS-001", Severity.HIGH)]
    assert "could not be analysed" in got[0][2]


def test_deeply_nested_schema_is_a_finding(tmp_path: Path) -> None:
    deep = b'{"__loader__": "ListNode", "content": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    got = scan(tmp_path, skops_file(deep))
    assert [(r, s) for r, s, _ in got] == [("MT-SKOPS-001", Severity.HIGH)]


def test_many_types_are_capped(tmp_path: Path) -> None:
    schema = pipeline(*((f"s{i}", obj("pkg", f"T{i}", {})) for i in range(120)))
    schema.update(protocol=2)
    got = scan(tmp_path, skops_file(schema))
    assert len(got) == 101


def test_oversized_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modeltrust.scanners.configs import skops

    monkeypatch.setattr(skops, "MAX_SCHEMA", 100)
    got = scan(tmp_path, skops_file(benign_schema()))
    assert [(r, s) for r, s, _ in got] == [("MT-SKOPS-001", Severity.HIGH)]


# --- fuzz ----------------------------------------------------------------------------------------
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["__module__", "__class__", "__loader__", "content", "func", "x"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@FUZZ
@given(_JSON)
def test_random_schemas_never_crash(tmp_path: Path, content: Any) -> None:
    schema = {
        "__loader__": "ObjectNode",
        "__module__": "sklearn.pipeline",
        "__class__": "Pipeline",
        "protocol": 2,
        "content": content,
    }
    path = tmp_path / "model.skops"
    path.write_bytes(skops_file(schema))
    result = scan_paths([path])
    assert "MT-INT-001" not in rule_ids(result), serious(result)
