"""skops files: a zip whose ``schema.json`` names the type of every object ``skops.io.load`` builds.

Every JSON object in the schema with ``__module__`` and ``__class__`` is a type skops imports
(nodes of any ``__loader__``, ``__reduce__`` constructors, ``key_types``); a ``MethodNode`` also
reaches the method named in ``content.func``. ``skops.io.load`` refuses types outside its default
trusted set unless the caller passes them in ``trusted=``, and the advisories (CVE-2025-54412,
CVE-2025-54413, CVE-2025-54886) show that trusting the wrong one runs code. Each type is judged:

1. by the pickle policy first: code execution, processes, dynamic imports, nested loaders,
   dunders and scanner tampering are MT-SKOPS-001 at **critical**; file, network and
   model-tampering callables at high;
2. against :func:`is_trusted`, modeltrust's rendering of skops' default trusted set - no finding;
3. classes of scikit-learn, NumPy and SciPy themselves that skops does not trust by default
   (KD-trees, kernels, distance metrics, ``numpy.dtype``; and scikit-learn's tree structures
   ``Tree``/``TreePredictor``, which recent skops releases stopped trusting because a crafted
   node array can crash the process) at medium: skops.io.load asks for them, but they import no
   outside code;
4. everything else at high: skops would ask you to trust it.

The ``.npy`` members are scanned by the zip scanner like any member.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from modeltrust import rules
from modeltrust.findings import Finding, Location, Severity
from modeltrust.scanners.common import sniff
from modeltrust.scanners.common.callables import Category, classify
from modeltrust.scanners.common.zip import ZipEntry, read_zip_member, zip_entries
from modeltrust.scanners.interface import (
    Blob,
    CorruptData,
    LimitExceeded,
    MiB,
    ScanContext,
    Scanner,
)

MAX_SCHEMA = 64 * MiB
_MAX_FINDINGS = 100

_BUILTINS = frozenset(
    {
        "int",
        "float",
        "complex",
        "str",
        "bool",
        "bytes",
        "bytearray",
        "list",
        "tuple",
        "set",
        "frozenset",
        "dict",
        "slice",
        "NoneType",
    }
)
_NUMPY_TYPES = frozenset(
    {
        "ndarray",
        "generic",
        "number",
        "bool",
        "bool_",
        "int8",
        "int16",
        "int32",
        "int64",
        "intc",
        "intp",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintc",
        "uintp",
        "longlong",
        "ulonglong",
        "float16",
        "float32",
        "float64",
        "longdouble",
        "complex64",
        "complex128",
        "clongdouble",
        "str_",
        "bytes_",
        "void",
        "object_",
        "datetime64",
        "timedelta64",
    }
)
NUMPY_UFUNCS = frozenset(
    [
        "absolute",
        "acos",
        "acosh",
        "add",
        "arccos",
        "arccosh",
        "arcsin",
        "arcsinh",
        "arctan",
        "arctan2",
        "arctanh",
        "asin",
        "asinh",
        "atan",
        "atan2",
        "atanh",
        "bitwise_and",
        "bitwise_count",
        "bitwise_invert",
        "bitwise_left_shift",
        "bitwise_not",
        "bitwise_or",
        "bitwise_right_shift",
        "bitwise_xor",
        "cbrt",
        "ceil",
        "conj",
        "conjugate",
        "copysign",
        "cos",
        "cosh",
        "deg2rad",
        "degrees",
        "divide",
        "divmod",
        "equal",
        "exp",
        "exp2",
        "expm1",
        "fabs",
        "float_power",
        "floor",
        "floor_divide",
        "fmax",
        "fmin",
        "fmod",
        "frexp",
        "gcd",
        "greater",
        "greater_equal",
        "heaviside",
        "hypot",
        "invert",
        "isfinite",
        "isinf",
        "isnan",
        "isnat",
        "lcm",
        "ldexp",
        "left_shift",
        "less",
        "less_equal",
        "log",
        "log10",
        "log1p",
        "log2",
        "logaddexp",
        "logaddexp2",
        "logical_and",
        "logical_not",
        "logical_or",
        "logical_xor",
        "matmul",
        "matvec",
        "maximum",
        "minimum",
        "mod",
        "modf",
        "multiply",
        "negative",
        "nextafter",
        "not_equal",
        "positive",
        "pow",
        "power",
        "rad2deg",
        "radians",
        "reciprocal",
        "remainder",
        "right_shift",
        "rint",
        "sign",
        "signbit",
        "sin",
        "sinh",
        "spacing",
        "sqrt",
        "square",
        "subtract",
        "tan",
        "tanh",
        "true_divide",
        "trunc",
        "vecdot",
        "vecmat",
    ]
)
"""numpy's public ufuncs, which skops' FunctionNode trusts by default."""

_NUMPY_EXACT = frozenset(
    {
        "numpy.ma.core.MaskedArray",
        "numpy.ma.MaskedArray",
        "numpy.random.mtrand.RandomState",
        "numpy.random.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random.Generator",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._mt19937.MT19937",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.PCG64",
        "numpy.random.PCG64DXSM",
        "numpy.random.MT19937",
        "numpy.random.Philox",
        "numpy.random.SFC64",
    }
)
_SPARSE = frozenset(
    f"{kind}_{form}"
    for kind in ("csr", "csc", "coo", "bsr", "dia", "dok", "lil")
    for form in ("matrix", "array")
)
_SKLEARN_INTERNAL = frozenset(
    {
        "sklearn._loss.link.HalfLogitLink",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.LogLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.ExponentialLoss",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfGammaLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.HuberLoss",
        "sklearn._loss.loss.PinballLoss",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    }
)
SKLEARN_ESTIMATORS = frozenset(
    [
        "ARDRegression",
        "AdaBoostClassifier",
        "AdaBoostRegressor",
        "AdditiveChi2Sampler",
        "AffinityPropagation",
        "AgglomerativeClustering",
        "BaggingClassifier",
        "BaggingRegressor",
        "BayesianGaussianMixture",
        "BayesianRidge",
        "BernoulliNB",
        "BernoulliRBM",
        "Binarizer",
        "Birch",
        "BisectingKMeans",
        "CCA",
        "CalibratedClassifierCV",
        "CategoricalNB",
        "ClassicalMDS",
        "ClassifierChain",
        "ColumnTransformer",
        "ComplementNB",
        "CountVectorizer",
        "DBSCAN",
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "DictVectorizer",
        "DictionaryLearning",
        "DummyClassifier",
        "DummyRegressor",
        "ElasticNet",
        "ElasticNetCV",
        "EllipticEnvelope",
        "EmpiricalCovariance",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "FactorAnalysis",
        "FastICA",
        "FeatureAgglomeration",
        "FeatureHasher",
        "FeatureUnion",
        "FixedThresholdClassifier",
        "FrozenEstimator",
        "FunctionTransformer",
        "GammaRegressor",
        "GaussianMixture",
        "GaussianNB",
        "GaussianProcessClassifier",
        "GaussianProcessRegressor",
        "GaussianRandomProjection",
        "GenericUnivariateSelect",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "GraphicalLasso",
        "GraphicalLassoCV",
        "GridSearchCV",
        "HDBSCAN",
        "HashingVectorizer",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
        "HuberRegressor",
        "IncrementalPCA",
        "IsolationForest",
        "Isomap",
        "IsotonicRegression",
        "KBinsDiscretizer",
        "KMeans",
        "KNNImputer",
        "KNeighborsClassifier",
        "KNeighborsRegressor",
        "KNeighborsTransformer",
        "KernelCenterer",
        "KernelDensity",
        "KernelPCA",
        "KernelRidge",
        "LabelBinarizer",
        "LabelEncoder",
        "LabelPropagation",
        "LabelSpreading",
        "Lars",
        "LarsCV",
        "Lasso",
        "LassoCV",
        "LassoLars",
        "LassoLarsCV",
        "LassoLarsIC",
        "LatentDirichletAllocation",
        "LedoitWolf",
        "LinearDiscriminantAnalysis",
        "LinearRegression",
        "LinearSVC",
        "LinearSVR",
        "LocalOutlierFactor",
        "LocallyLinearEmbedding",
        "LogisticRegression",
        "LogisticRegressionCV",
        "MDS",
        "MLPClassifier",
        "MLPRegressor",
        "MaxAbsScaler",
        "MeanShift",
        "MinCovDet",
        "MinMaxScaler",
        "MiniBatchDictionaryLearning",
        "MiniBatchKMeans",
        "MiniBatchNMF",
        "MiniBatchSparsePCA",
        "MissingIndicator",
        "MultiLabelBinarizer",
        "MultiOutputClassifier",
        "MultiOutputRegressor",
        "MultiTaskElasticNet",
        "MultiTaskElasticNetCV",
        "MultiTaskLasso",
        "MultiTaskLassoCV",
        "MultinomialNB",
        "NMF",
        "NearestCentroid",
        "NearestNeighbors",
        "NeighborhoodComponentsAnalysis",
        "Normalizer",
        "NuSVC",
        "NuSVR",
        "Nystroem",
        "OAS",
        "OPTICS",
        "OneClassSVM",
        "OneHotEncoder",
        "OneVsOneClassifier",
        "OneVsRestClassifier",
        "OrdinalEncoder",
        "OrthogonalMatchingPursuit",
        "OrthogonalMatchingPursuitCV",
        "OutputCodeClassifier",
        "PCA",
        "PLSCanonical",
        "PLSRegression",
        "PLSSVD",
        "PassiveAggressiveClassifier",
        "PassiveAggressiveRegressor",
        "PatchExtractor",
        "Perceptron",
        "Pipeline",
        "PoissonRegressor",
        "PolynomialCountSketch",
        "PolynomialFeatures",
        "PowerTransformer",
        "QuadraticDiscriminantAnalysis",
        "QuantileRegressor",
        "QuantileTransformer",
        "RANSACRegressor",
        "RBFSampler",
        "RFE",
        "RFECV",
        "RadiusNeighborsClassifier",
        "RadiusNeighborsRegressor",
        "RadiusNeighborsTransformer",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "RandomTreesEmbedding",
        "RandomizedSearchCV",
        "RegressorChain",
        "Ridge",
        "RidgeCV",
        "RidgeClassifier",
        "RidgeClassifierCV",
        "RobustScaler",
        "SGDClassifier",
        "SGDOneClassSVM",
        "SGDRegressor",
        "SVC",
        "SVR",
        "SelectFdr",
        "SelectFpr",
        "SelectFromModel",
        "SelectFwe",
        "SelectKBest",
        "SelectPercentile",
        "SelfTrainingClassifier",
        "SequentialFeatureSelector",
        "ShrunkCovariance",
        "SimpleImputer",
        "SkewedChi2Sampler",
        "SparseCoder",
        "SparsePCA",
        "SparseRandomProjection",
        "SpectralBiclustering",
        "SpectralClustering",
        "SpectralCoclustering",
        "SpectralEmbedding",
        "SplineTransformer",
        "StackingClassifier",
        "StackingRegressor",
        "StandardScaler",
        "TSNE",
        "TargetEncoder",
        "TfidfTransformer",
        "TfidfVectorizer",
        "TheilSenRegressor",
        "TransformedTargetRegressor",
        "TruncatedSVD",
        "TunedThresholdClassifierCV",
        "TweedieRegressor",
        "VarianceThreshold",
        "VotingClassifier",
        "VotingRegressor",
    ]
)
"""Class names of scikit-learn's estimators (what ``sklearn.utils.all_estimators`` lists), the
core of skops' trusted set. Matched by name under any ``sklearn.*`` module, since private module
paths move between releases."""

_SGD_LOSSES = frozenset(
    {
        "Hinge",
        "Log",
        "ModifiedHuber",
        "SquaredLoss",
        "Huber",
        "EpsilonInsensitive",
        "SquaredEpsilonInsensitive",
        "SquaredHinge",
    }
)
SKLEARN_UNTRUSTED_STRUCTURES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)
_SKLEARN_NOT_ESTIMATORS = ("test", "tests", "_testing", "externals", "datasets", "_build_utils")
_CRITICAL = frozenset(
    {
        Category.EXEC,
        Category.PROCESS,
        Category.IMPORT,
        Category.LOADER,
        Category.DUNDER,
        Category.SCANNER,
    }
)
_HIGH = frozenset({Category.FILE, Category.NETWORK, Category.TAMPER})
_MILDER = {"functools.partial": Severity.HIGH, "operator.itemgetter": Severity.HIGH}
"""Containers of other callables: untrusted, but what they wrap is judged on its own."""


def is_trusted(module: str, name: str) -> bool:
    """Whether ``module.name`` is in (modeltrust's rendering of) skops' default trusted set.

    builtins' value and container types, ``collections.OrderedDict``/``defaultdict``; NumPy
    arrays, scalar types, ``numpy.dtypes`` classes, masked arrays, random states, generators,
    bit generators and public ufuncs; SciPy sparse matrices and arrays and ``scipy.special``
    ufuncs; scikit-learn's estimators (the class names ``sklearn.utils.all_estimators`` lists,
    under any ``sklearn.*`` module but tests, externals and datasets), SGD losses, and the
    loss, link and binning helpers skops lists. Deviation: skops matches exact module paths,
    which move between releases; modeltrust matches estimator names, so a file from another
    scikit-learn release is judged alike.
    """
    full = f"{module}.{name}"
    if module == "builtins":
        return name in _BUILTINS
    if module == "collections":
        return name in ("OrderedDict", "defaultdict")
    if module == "numpy":
        return name in _NUMPY_TYPES or name in NUMPY_UFUNCS
    if module == "numpy.dtypes":
        return name.endswith("DType") and name.isidentifier()
    if module.startswith("numpy."):
        return full in _NUMPY_EXACT
    if module == "scipy.sparse" or module.startswith("scipy.sparse."):
        return name in _SPARSE
    if module == "scipy.special" or module.startswith("scipy.special."):
        return name.isidentifier() and name[:1].islower() and not name.startswith("_")
    if module.startswith("sklearn."):
        if full in _SKLEARN_INTERNAL:
            return True
        if module.startswith("sklearn.linear_model._sgd_fast") and name in _SGD_LOSSES:
            return True
        if module == "sklearn._loss._loss" and name.startswith("Cy") and name.isidentifier():
            return True  # the Cython losses behind sklearn._loss.loss, rebuilt by LossNode
        parts = module.split(".")
        return name in SKLEARN_ESTIMATORS and not any(p in _SKLEARN_NOT_ESTIMATORS for p in parts)
    return False


def is_own_type(module: str, name: str) -> bool:
    """A class of scikit-learn, NumPy or SciPy that skops does not trust by default but that
    imports no outside code (KD-trees, kernels, distance metrics, optimisers, ``numpy.dtype``)."""
    top = module.split(".", 1)[0]
    if top not in ("sklearn", "numpy", "scipy") or not name.isidentifier():
        return False
    if f"{module}.{name}" == "numpy.dtype":
        return True
    parts = module.split(".")
    return name[:1].isupper() and not any(p in _SKLEARN_NOT_ESTIMATORS for p in parts)


@dataclass(slots=True)
class _Type:
    module: str
    name: str
    loaders: set[str] = field(default_factory=set)
    count: int = 0


def collect_types(schema: Any) -> dict[tuple[str, str], _Type]:
    """Every ``(module, qualname)`` the schema makes skops import, with how often and how."""
    found: dict[tuple[str, str], _Type] = {}
    seen: set[int] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        module, name = node.get("__module__"), node.get("__class__")
        loader = node.get("__loader__")
        loader = loader if isinstance(loader, str) else "constructor"
        if isinstance(module, str) and isinstance(name, str):
            _add(found, module, name, loader)
            content = node.get("content")
            if loader == "MethodNode" and isinstance(content, dict):
                func = content.get("func")
                if isinstance(func, str):
                    _add(found, module, f"{name}.{func}", "MethodNode (method)")
        elif module is not None or name is not None:
            _add(found, str(module), str(name), loader)
        stack.extend(node.values())
    return found


def _add(found: dict[tuple[str, str], _Type], module: str, name: str, loader: str) -> None:
    t = found.setdefault((module, name), _Type(module, name))
    t.loaders.add(loader)
    t.count += 1


def rate_type(module: str, name: str, loaders: set[str]) -> tuple[Severity | None, str]:
    """The severity of needing ``module.name`` (None: trusted) and why."""
    if not module or not name or not module.replace(".", "").replace("_", "").isalnum():
        return Severity.HIGH, "is not a valid Python name, so skops cannot trust it safely"
    verdict = classify(module, name)
    full = f"{module}.{name}"
    methods = any(loader.startswith("MethodNode") for loader in loaders) and "." in name
    if verdict.category in _CRITICAL and full not in _MILDER:
        return Severity.CRITICAL, f"runs code when built ({verdict.category.value}: {verdict.why})"
    if verdict.category in _HIGH:
        return Severity.HIGH, f"is a dangerous callable ({verdict.category.value}: {verdict.why})"
    if not methods and is_trusted(module, name):
        return None, "trusted by skops"
    if full in SKLEARN_UNTRUSTED_STRUCTURES:
        why = (
            "is scikit-learn's own tree structure; recent skops releases no longer trust it by "
            "default because a crafted node array can crash the process (it imports no code)"
        )
        return Severity.MEDIUM, why
    if not methods and is_own_type(module, name):
        why = (
            "is a class of scikit-learn, NumPy or SciPy itself (it imports no outside code) "
            "that skops does not trust by default"
        )
        return Severity.MEDIUM, why
    if methods:
        return Severity.HIGH, "is a bound method, which skops never trusts by default"
    return Severity.HIGH, "is outside skops' default trusted set"


class SkopsScanner(Scanner):
    name = "skops"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.skops(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        entries = zip_entries(blob, b"schema.json")
        if entries is None:
            return False
        schemas = [e for e in entries if e.name == "schema.json"]
        claimed = False
        for entry in schemas:  # zipfile reads the last one; check every one
            claimed = self._schema(blob, entry, ctx) or claimed
        return claimed

    def _schema(self, blob: Blob, entry: ZipEntry, ctx: ScanContext) -> bool:
        loc = blob.location.inner(entry.name)
        try:
            data = read_zip_member(blob, entry, ctx.limits, MAX_SCHEMA)
        except (LimitExceeded, CorruptData) as e:
            ctx.saw("skops")
            ctx.report(self._not_analysed(loc, str(e)))
            return True
        if b'"__loader__"' not in data:
            return False
        try:
            schema = json.loads(data)
        except (ValueError, RecursionError) as e:
            ctx.saw("skops")
            ctx.report(self._not_analysed(loc, f"{type(e).__name__}: {str(e)[:200]}"))
            return True
        if not isinstance(schema, dict) or "__loader__" not in schema:
            return False
        ctx.saw("skops")
        for key, fact in (("_skops_version", "skops.version"), ("protocol", "skops.protocol")):
            if isinstance(schema.get(key), str | int):
                ctx.fact(fact, str(schema[key]))
        try:
            types = collect_types(schema)
        except RecursionError as e:  # pragma: no cover - the walk is iterative
            ctx.report(self._not_analysed(loc, str(e)))
            return True
        reported = 0
        for t in sorted(types.values(), key=lambda t: (t.module, t.name)):
            severity, why = rate_type(t.module, t.name, t.loaders)
            if severity is None:
                continue
            if reported >= _MAX_FINDINGS:
                ctx.report(
                    rules.SKOPS_UNTRUSTED.finding(
                        loc, f"More than {_MAX_FINDINGS} untrusted types; the rest are not listed."
                    )
                )
                break
            reported += 1
            loaders = ", ".join(sorted(t.loaders))
            ctx.report(
                rules.SKOPS_UNTRUSTED.finding(
                    loc,
                    f"The skops file needs type '{t.module}.{t.name}' ({loaders}, {t.count} "
                    f"time(s)), which {why}. skops.io.load would build it only if you pass it in "
                    "trusted=; review it before you do.",
                    evidence=f"{t.module}.{t.name}",
                    severity=severity,
                )
            )
        return True

    @staticmethod
    def _not_analysed(loc: Location, why: str) -> Finding:
        return rules.SKOPS_UNTRUSTED.finding(
            loc,
            f"The skops schema.json could not be analysed ({why}); its types are unchecked, so "
            "treat the file as untrusted.",
            evidence=why,
        )
