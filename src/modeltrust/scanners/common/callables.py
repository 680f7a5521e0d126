"""How an imported name is judged: which ``module:qualname`` imports are safe, which belong to
known libraries, and which are dangerous. Pickles, Keras configs, Hydra ``_target_`` values,
skops schemas and repository Python name code the same way, so every family asks this module.

Allowlist first: an import is judged by its exact ``module:qualname``. Only names on the allowlist
pass; classes of well-known model libraries are reported at low severity; anything that can run
code, start processes, touch files or the network, or reach the import machinery is critical or
high; everything else is high because nobody vetted it. Module prefixes are used only to *raise*
severity (the denylist), never to allow: exec gadgets hide inside numpy, torch and the stdlib.
"""

from __future__ import annotations

import _compat_pickle
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from modeltrust import rules
from modeltrust.rules import Rule
from modeltrust.scanners.interface import read_data


class Category(StrEnum):
    SAFE = "safe"
    LIBRARY = "library"
    UNKNOWN = "unknown"
    DUNDER = "dunder"
    EXEC = "code-execution"
    PROCESS = "process"
    IMPORT = "dynamic-import"
    LOADER = "nested-loader"
    FILE = "filesystem"
    NETWORK = "network"
    TAMPER = "model-tampering"
    SCANNER = "scanner-tampering"


@cache
def rule_for() -> dict[Category, Rule]:
    """The rule that reports an import of each category (SAFE has none)."""
    return {
        Category.LIBRARY: rules.PKL_LIBRARY_CLASS,
        Category.UNKNOWN: rules.PKL_UNKNOWN_IMPORT,
        Category.DUNDER: rules.PKL_DUNDER,
        Category.EXEC: rules.PKL_CODE_EXEC,
        Category.PROCESS: rules.PKL_PROCESS,
        Category.IMPORT: rules.PKL_DYNAMIC_IMPORT,
        Category.LOADER: rules.PKL_NESTED_LOADER,
        Category.FILE: rules.PKL_FILESYSTEM,
        Category.NETWORK: rules.PKL_NETWORK,
        Category.TAMPER: rules.PKL_MODEL_TAMPERING,
        Category.SCANNER: rules.PKL_SCANNER_TAMPERING,
    }


def _names(module: str, *names: str) -> set[str]:
    return {f"{module}:{n}" for n in names}


_TORCH_STORAGES = [
    "FloatStorage",
    "DoubleStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "ComplexFloatStorage",
    "ComplexDoubleStorage",
    "QInt8Storage",
    "QUInt8Storage",
    "QInt32Storage",
    "QUInt4x2Storage",
    "QUInt2x4Storage",
]
_TORCH_DTYPES = [
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "complex32",
    "chalf",
    "complex64",
    "cfloat",
    "complex128",
    "cdouble",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "short",
    "int32",
    "int",
    "int64",
    "long",
    "bool",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
    "quint2x4",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "float4_e2m1fn_x2",
    "bits8",
    "bits16",
    "strided",
    "sparse_coo",
    "sparse_csr",
    "sparse_csc",
    "sparse_bsr",
    "sparse_bsc",
    "_mkldnn",
    "jagged",
    "contiguous_format",
    "channels_last",
    "channels_last_3d",
    "preserve_format",
    "per_tensor_affine",
    "per_channel_affine",
    "per_tensor_symmetric",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
]
_NUMPY_SCALARS = [
    "bool_",
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "intc",
    "uintc",
    "intp",
    "uintp",
    "longlong",
    "ulonglong",
    "float16",
    "float32",
    "float64",
    "longdouble",
    "half",
    "single",
    "double",
    "complex64",
    "complex128",
    "clongdouble",
    "str_",
    "bytes_",
    "object_",
    "datetime64",
    "timedelta64",
    "void",
    "generic",
    "number",
    "integer",
    "floating",
    "complexfloating",
    "ndarray",
    "dtype",
]

SAFE: frozenset[str] = frozenset(
    # Plain values and containers.
    _names(
        "builtins",
        *[
            "int",
            "float",
            "complex",
            "str",
            "bytes",
            "bytearray",
            "bool",
            "list",
            "tuple",
            "dict",
            "set",
            "frozenset",
            "slice",
            "range",
            "object",
            "Ellipsis",
            "NotImplemented",
        ],
    )
    | _names("collections", "OrderedDict", "defaultdict", "Counter", "deque")
    # Helpers pickle itself emits: protocol 2 bytes and object reconstruction.
    | _names("_codecs", "encode")
    | _names("codecs", "encode")
    | _names("copyreg", "_reconstructor", "__newobj__", "__newobj_ex__")
    # Value types.
    | _names("datetime", "datetime", "date", "time", "timedelta", "timezone")
    | _names("decimal", "Decimal")
    | _names("zoneinfo", "ZoneInfo", "ZoneInfo._unpickle")
    | _names("fractions", "Fraction")
    | _names("uuid", "UUID", "SafeUUID")
    | _names("argparse", "Namespace")
    | _names("types", "SimpleNamespace")
    | _names("re", "_compile")
    | _names(
        "pathlib",
        "Path",
        "PosixPath",
        "WindowsPath",
        "PurePath",
        "PurePosixPath",
        "PureWindowsPath",
    )
    # What torch's weights_only unpickler accepts.
    | _names("torch", *_TORCH_STORAGES, *_TORCH_DTYPES, "Size", "device", "Tensor", "dtype")
    | _names("torch.cuda", *_TORCH_STORAGES)
    | _names("torch.storage", "UntypedStorage", "TypedStorage")
    | _names(
        "torch._utils",
        "_rebuild_tensor",
        "_rebuild_tensor_v2",
        "_rebuild_tensor_v3",
        "_rebuild_parameter",
        "_rebuild_parameter_with_state",
        "_rebuild_qtensor",
        "_rebuild_sparse_tensor",
        "_rebuild_nested_tensor",
        "_rebuild_meta_tensor_no_storage",
        "_rebuild_wrapper_subclass",
        "_rebuild_device_tensor_from_numpy",
        "_rebuild_device_tensor_from_cpu_tensor",
    )
    | _names("torch._tensor", "_rebuild_from_type_v2", "Tensor")
    | _names("torch.nn.parameter", "Parameter", "Buffer", "UninitializedParameter")
    | _names("torch.serialization", "_get_layout")
    | _names("torch.amp.grad_scaler", "_refresh_per_optimizer_state")
    # NumPy array and scalar reconstruction.
    | _names("numpy", *_NUMPY_SCALARS)
    | _names("numpy.core.multiarray", "_reconstruct", "scalar")
    | _names("numpy._core.multiarray", "_reconstruct", "scalar")
    | _names("numpy.core.numeric", "_frombuffer")
    | _names("numpy._core.numeric", "_frombuffer")
    | _names("numpy.ma.core", "_mareconstruct", "MaskedArray")
    | _names("numpy.matrixlib.defmatrix", "matrix")
    | _names(
        "numpy.random._pickle",
        "__randomstate_ctor",
        "__bit_generator_ctor",
        "__generator_ctor",
    )
    | _names("numpy.random", "__RandomState_ctor")
    | _names(
        "numpy.random._mt19937",
        "MT19937",
    )
    | _names("numpy.random._pcg64", "PCG64", "PCG64DXSM")
    | _names("numpy.random._philox", "Philox")
    | _names("numpy.random._sfc64", "SFC64")
    | _names("numpy.random.mtrand", "RandomState")
    | _names("numpy.random._generator", "Generator")
    | _names(
        "numpy.dtypes",
        *(
            f"{n}DType"
            for n in [
                "Bool",
                "Int8",
                "Int16",
                "Int32",
                "Int64",
                "UInt8",
                "UInt16",
                "UInt32",
                "UInt64",
                "Float16",
                "Float32",
                "Float64",
                "LongDouble",
                "Complex64",
                "Complex128",
                "CLongDouble",
                "Bytes",
                "Str",
                "Void",
                "Object",
                "DateTime64",
                "TimeDelta64",
                "StringDType",
            ]
        ),
    )
    # joblib's array wrapper: the array bytes follow in the stream and are checked there.
    | _names("joblib.numpy_pickle", "NumpyArrayWrapper")
)

# Modules (and their submodules) whose every name raises severity, with the category's rule.
DENY_MODULES: dict[str, Category] = {
    # processes ("_os" and friends: private aliases modules import them under, reached through
    # attributes such as argparse._os)
    "os": Category.PROCESS,
    "_os": Category.PROCESS,
    "_subprocess": Category.PROCESS,
    "_sys": Category.IMPORT,
    "_shutil": Category.FILE,
    "_importlib": Category.IMPORT,
    "_builtins": Category.EXEC,
    "posix": Category.PROCESS,
    "nt": Category.PROCESS,
    "subprocess": Category.PROCESS,
    "_posixsubprocess": Category.PROCESS,
    "pty": Category.PROCESS,
    "multiprocessing": Category.PROCESS,
    "concurrent": Category.PROCESS,
    "asyncio": Category.PROCESS,
    "platform": Category.PROCESS,
    "popen2": Category.PROCESS,
    "commands": Category.PROCESS,
    "_winapi": Category.PROCESS,
    "msvcrt": Category.PROCESS,
    "signal": Category.PROCESS,
    "ensurepip": Category.PROCESS,
    "venv": Category.PROCESS,
    "pip": Category.PROCESS,
    "torch.utils.collect_env": Category.PROCESS,
    # code execution
    "code": Category.EXEC,
    "codeop": Category.EXEC,
    "runpy": Category.EXEC,
    "timeit": Category.EXEC,
    "cProfile": Category.EXEC,
    "profile": Category.EXEC,
    "trace": Category.EXEC,
    "pdb": Category.EXEC,
    "bdb": Category.EXEC,
    "doctest": Category.EXEC,
    "idlelib": Category.EXEC,
    "lib2to3": Category.EXEC,
    "_pyrepl": Category.EXEC,
    "test": Category.EXEC,
    "ctypes": Category.EXEC,
    "_ctypes": Category.EXEC,
    "cffi": Category.EXEC,
    "_interpreters": Category.EXEC,
    "_xxsubinterpreters": Category.EXEC,
    "_testcapi": Category.EXEC,
    "_testinternalcapi": Category.EXEC,
    "cloudpickle": Category.EXEC,
    "setuptools": Category.EXEC,
    "distutils": Category.EXEC,
    "site": Category.EXEC,
    "IPython": Category.EXEC,
    "jinja2": Category.EXEC,
    "mako": Category.EXEC,
    "numexpr": Category.EXEC,
    "numpy.f2py": Category.EXEC,
    "numpy.testing": Category.EXEC,
    "numpy.distutils": Category.EXEC,
    "pandas.core.computation": Category.EXEC,
    "torch._inductor": Category.EXEC,
    "torch._dynamo": Category.EXEC,
    "torch.jit": Category.EXEC,
    "torch.fx": Category.EXEC,
    "torch.utils.cpp_extension": Category.EXEC,
    "torch.utils.bottleneck": Category.EXEC,
    "torch.testing": Category.EXEC,
    "torch.package": Category.EXEC,
    "torch.ops": Category.EXEC,
    "torch.distributed.rpc": Category.EXEC,
    "torch.distributed.nn": Category.EXEC,
    # resolving or importing other objects by name
    "importlib": Category.IMPORT,
    "pkgutil": Category.IMPORT,
    "imp": Category.IMPORT,
    "zipimport": Category.IMPORT,
    "inspect": Category.IMPORT,
    "operator": Category.IMPORT,
    "_operator": Category.IMPORT,
    "functools": Category.IMPORT,
    "sys": Category.IMPORT,
    "gc": Category.IMPORT,
    "pydoc": Category.IMPORT,
    "weakref": Category.IMPORT,
    "_weakref": Category.IMPORT,
    # nested deserialisers
    "pickle": Category.LOADER,
    "_pickle": Category.LOADER,
    "pickletools": Category.LOADER,
    "marshal": Category.LOADER,
    "dill": Category.LOADER,
    "shelve": Category.LOADER,
    "jsonpickle": Category.LOADER,
    "yaml": Category.LOADER,
    "torch.serialization": Category.LOADER,
    "torch.hub": Category.LOADER,
    "torch.utils.data.datapipes.utils.decoder": Category.LOADER,
    "torch.utils._config_module": Category.LOADER,
    "joblib.numpy_pickle_compat": Category.LOADER,
    "numpy.lib.format": Category.LOADER,
    "numpy.lib.npyio": Category.LOADER,
    "numpy.lib._npyio_impl": Category.LOADER,
    "pandas.io": Category.LOADER,
    "keras": Category.LOADER,
    "tensorflow": Category.LOADER,
    "huggingface_hub": Category.NETWORK,
    # files
    "io": Category.FILE,
    "_io": Category.FILE,
    "shutil": Category.FILE,
    "tempfile": Category.FILE,
    "glob": Category.FILE,
    "fileinput": Category.FILE,
    "filecmp": Category.FILE,
    "linecache": Category.FILE,
    "mmap": Category.FILE,
    "fcntl": Category.FILE,
    "dbm": Category.FILE,
    "sqlite3": Category.FILE,
    "zipfile": Category.FILE,
    "tarfile": Category.FILE,
    "logging": Category.FILE,
    "pathlib": Category.FILE,
    "posixpath": Category.FILE,
    "ntpath": Category.FILE,
    "genericpath": Category.FILE,
    # network
    "socket": Category.NETWORK,
    "_socket": Category.NETWORK,
    "ssl": Category.NETWORK,
    "_ssl": Category.NETWORK,
    "select": Category.NETWORK,
    "selectors": Category.NETWORK,
    "socketserver": Category.NETWORK,
    "http": Category.NETWORK,
    "urllib": Category.NETWORK,
    "urllib2": Category.NETWORK,
    "urllib3": Category.NETWORK,
    "httplib": Category.NETWORK,
    "ftplib": Category.NETWORK,
    "smtplib": Category.NETWORK,
    "poplib": Category.NETWORK,
    "imaplib": Category.NETWORK,
    "nntplib": Category.NETWORK,
    "telnetlib": Category.NETWORK,
    "xmlrpc": Category.NETWORK,
    "webbrowser": Category.NETWORK,
    "requests": Category.NETWORK,
    "httpx": Category.NETWORK,
    "aiohttp": Category.NETWORK,
    "paramiko": Category.NETWORK,
    # scanners
    "picklescan": Category.SCANNER,
    "fickling": Category.SCANNER,
    "modelscan": Category.SCANNER,
    "modelaudit": Category.SCANNER,
    "modelwarden": Category.SCANNER,
    "modeltrust": Category.SCANNER,
}

# Exact names that are worse than their module suggests (or dangerous in a harmless module).
DENY_NAMES: dict[str, Category] = {
    **dict.fromkeys(
        _names(
            "builtins",
            "eval",
            "exec",
            "compile",
            "execfile",
            "breakpoint",
            "help",
            "input",
            "exit",
            "quit",
            "memoryview",
        ),
        Category.EXEC,
    ),
    **dict.fromkeys(
        _names("builtins", "getattr", "__import__", "vars", "globals", "locals", "dir", "type"),
        Category.IMPORT,
    ),
    **dict.fromkeys(_names("builtins", "setattr", "delattr"), Category.TAMPER),
    **dict.fromkeys(_names("builtins", "open", "file"), Category.FILE),
    **dict.fromkeys(_names("codecs", "open", "EncodedFile"), Category.FILE),
    **dict.fromkeys(
        _names("types", "CodeType", "FunctionType", "LambdaType", "MethodType", "ModuleType"),
        Category.EXEC,
    ),
    **dict.fromkeys(
        _names("copyreg", "add_extension", "pickle", "dispatch_table"), Category.TAMPER
    ),
    "uuid:_get_command_stdout": Category.PROCESS,
    "uuid:_popen": Category.PROCESS,
    "_osx_support:_read_output": Category.PROCESS,
    "_osx_support:_find_build_tool": Category.PROCESS,
    "_aix_support:_read_cmd_output": Category.PROCESS,
    "imaplib:IMAP4_stream": Category.PROCESS,
    "torch:load": Category.LOADER,
    "torch:save": Category.FILE,
    "torch:from_file": Category.FILE,
    "torch.storage:_load_from_bytes": Category.LOADER,
    "torch.storage:UntypedStorage.from_file": Category.FILE,
    "joblib:load": Category.LOADER,
    "joblib:dump": Category.FILE,
    "numpy:load": Category.LOADER,
    "numpy:loads": Category.LOADER,
    "numpy:fromfile": Category.FILE,
    "numpy:tofile": Category.FILE,
    "numpy:memmap": Category.FILE,
    "numpy:save": Category.FILE,
    "numpy:savez": Category.FILE,
    "numpy:savetxt": Category.FILE,
    "numpy:loadtxt": Category.FILE,
    "numpy:genfromtxt": Category.FILE,
    "numpy:fromregex": Category.FILE,
    "numpy.testing._private.utils:runstring": Category.EXEC,
    "numpy.f2py.crackfortran:getlincoef": Category.EXEC,
    "pandas:read_pickle": Category.LOADER,
    "pandas:HDFStore": Category.FILE,
    "pandas:ExcelFile": Category.FILE,
    "pandas:ExcelWriter": Category.FILE,
    "pandas:eval": Category.EXEC,
    "pandas:read_csv": Category.FILE,
    "pandas:read_parquet": Category.FILE,
    "pandas:read_sql": Category.NETWORK,
    "sympy:sympify": Category.EXEC,
    "torch.nn.modules.module:register_module_forward_hook": Category.TAMPER,
    "torch.nn.modules.module:register_module_forward_pre_hook": Category.TAMPER,
    "torch.nn.modules.module:register_module_full_backward_hook": Category.TAMPER,
    "torch.nn.modules.module:register_module_buffer_registration_hook": Category.TAMPER,
    "torch.nn.modules.module:register_module_parameter_registration_hook": Category.TAMPER,
}

# Dangerous categories, worst first: when a name reaches several, the first one names the finding.
SEVERITY_ORDER = (
    Category.SCANNER,
    Category.EXEC,
    Category.PROCESS,
    Category.IMPORT,
    Category.LOADER,
    Category.DUNDER,
    Category.FILE,
    Category.NETWORK,
    Category.TAMPER,
)


@dataclass(frozen=True, slots=True)
class Verdict:
    category: Category
    why: str

    @property
    def rule(self) -> Rule | None:
        return rule_for().get(self.category)


@cache
def library_names() -> frozenset[str]:
    """Classes and helpers of well-known ML libraries (generated: tools/gen_library_names.py)."""
    text = read_data(__file__, "library_names.txt")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _is_dunder(part: str) -> bool:
    return len(part) > 4 and part.startswith("__") and part.endswith("__")


def _module_category(module: str) -> Category | None:
    """The deny category of ``module`` or of the closest package above it."""
    while module:
        found = DENY_MODULES.get(module)
        if found is not None:
            return found
        module = module.rpartition(".")[0]
    return None


def _normalise(module: str, name: str) -> tuple[str, str]:
    """Apply the Python 2 name mapping pickle applies to old protocols (``__builtin__`` ...)."""
    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped is not None:
        return mapped
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


@cache
def classify(module: str, name: str) -> Verdict:
    """Judge one import by its exact ``module:qualname``."""
    module, name = _normalise(module, name)
    key = f"{module}:{name}"
    if key in SAFE:
        return Verdict(Category.SAFE, "on the allowlist")
    parts = [p for p in (*module.split("."), *name.split(".")) if p]
    if not parts or not module or not name or "" in name.split("."):
        return Verdict(Category.IMPORT, "an empty module or name cannot be a real import")

    # Exact denylist hits first, then every module/name split of the dotted path, so that
    # ``pathlib:os.system`` and ``torch:serialization.os.system`` are judged by what they reach.
    found: list[tuple[Category, str]] = []
    if key in DENY_NAMES:
        found.append((DENY_NAMES[key], f"{key} is on the denylist"))
    category = _module_category(module)
    if category is not None:
        found.append((category, f"module {module} is on the denylist"))
    n_module = module.count(".") + 1
    for i in range(len(parts)):
        for j in range(i + 1, len(parts) + 1):
            mod, rest = ".".join(parts[i:j]), ".".join(parts[j:])
            if rest and (i, j) != (0, n_module) and f"{mod}:{rest}" in DENY_NAMES:
                found.append((DENY_NAMES[f"{mod}:{rest}"], f"reaches {mod}:{rest}"))
            if (i > 0 or j > n_module) and mod in DENY_MODULES:
                found.append((DENY_MODULES[mod], f"reaches module {mod} through attributes"))
    if any(_is_dunder(p) for p in parts) and module != "__main__":
        found.append((Category.DUNDER, "reaches a dunder attribute"))
    last = parts[-1]
    if "hook" in last and last.startswith("register"):
        found.append((Category.TAMPER, "registers a hook that runs on every forward pass"))
    if last in {"from_pretrained", "load_state_dict", "load_library"}:
        found.append((Category.LOADER, f"calls {last}, which loads more files"))
    if found:
        found.sort(key=lambda item: SEVERITY_ORDER.index(item[0]))
        return Verdict(*found[0])

    if key in library_names():
        return Verdict(Category.LIBRARY, "a class or helper of a known ML library")
    return Verdict(Category.UNKNOWN, "not on the allowlist")


def library_of(module: str) -> str:
    """A display name for the library a module belongs to."""
    top = module.split(".", 1)[0]
    return {"sklearn": "scikit-learn", "torch": "PyTorch", "numpy": "NumPy"}.get(top, top)
