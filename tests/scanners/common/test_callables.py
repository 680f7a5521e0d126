"""Judging imports by exact module:qualname."""

from __future__ import annotations

import pytest

from modeltrust.scanners.common.callables import Category, classify


@pytest.mark.parametrize(
    "name",
    [
        "collections:OrderedDict",
        "torch._utils:_rebuild_tensor_v2",
        "torch:FloatStorage",
        "torch:bfloat16",
        "numpy.core.multiarray:_reconstruct",
        "numpy._core.multiarray:scalar",
        "numpy:dtype",
        "_codecs:encode",
        "copyreg:_reconstructor",
        "copyreg:__newobj__",
        "argparse:Namespace",
        "datetime:datetime",
        "__builtin__:set",
        "copy_reg:_reconstructor",
        "pathlib:PosixPath",
        "numpy.random._pickle:__randomstate_ctor",
    ],
)
def test_allowlisted(name: str) -> None:
    assert classify(*name.split(":")).category is Category.SAFE


@pytest.mark.parametrize(
    "name",
    [
        "sklearn.ensemble._forest:RandomForestClassifier",
        "sklearn.tree._tree:Tree",
        "torch.nn.modules.linear:Linear",
        "pandas.core.frame:DataFrame",
        "pandas._libs.internals:_unpickle_block",
    ],
)
def test_known_library_classes_are_low(name: str) -> None:
    assert classify(*name.split(":")).category is Category.LIBRARY


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("os:system", Category.PROCESS),
        ("posix:system", Category.PROCESS),
        ("nt:system", Category.PROCESS),
        ("subprocess:Popen", Category.PROCESS),
        ("builtins:eval", Category.EXEC),
        ("__builtin__:eval", Category.EXEC),
        ("builtins:exec", Category.EXEC),
        ("builtins:getattr", Category.IMPORT),
        ("builtins:__import__", Category.IMPORT),
        ("importlib:import_module", Category.IMPORT),
        ("pkgutil:resolve_name", Category.IMPORT),
        ("operator:attrgetter", Category.IMPORT),
        ("_operator:methodcaller", Category.IMPORT),
        ("functools:partial", Category.IMPORT),
        ("pydoc:locate", Category.IMPORT),
        ("pickle:loads", Category.LOADER),
        ("_pickle:loads", Category.LOADER),
        ("torch.serialization:load", Category.LOADER),
        ("torch:load", Category.LOADER),
        ("numpy:load", Category.LOADER),
        ("marshal:loads", Category.LOADER),
        ("builtins:open", Category.FILE),
        ("_io:FileIO", Category.FILE),
        ("pathlib:Path.write_text", Category.FILE),
        ("logging:FileHandler", Category.FILE),
        ("socket:create_connection", Category.NETWORK),
        ("ssl:get_server_certificate", Category.NETWORK),
        ("smtplib:SMTP", Category.NETWORK),
        ("webbrowser:open", Category.NETWORK),
        ("uuid:_get_command_stdout", Category.PROCESS),
        ("imaplib:IMAP4_stream", Category.PROCESS),
        ("torch.nn.modules.module:Module.register_forward_hook", Category.TAMPER),
        ("builtins:setattr", Category.TAMPER),
        ("picklescan.scanner:scan_file_path", Category.SCANNER),
        ("types:CodeType", Category.EXEC),
        ("torch._inductor.codecache:compile_file", Category.EXEC),
        (
            "torch.fx.experimental.symbolic_shapes:ShapeEnv.evaluate_guards_expression",
            Category.EXEC,
        ),
        ("numpy.testing._private.utils:runstring", Category.EXEC),
        ("code:InteractiveInterpreter.runcode", Category.EXEC),
    ],
)
def test_denylisted(name: str, category: Category) -> None:
    assert classify(*name.split(":")).category is category


@pytest.mark.parametrize(
    ("name", "category"),
    [
        # Dotted names walk getattr from a harmless module to a dangerous one.
        ("pathlib:os.system", Category.PROCESS),
        ("torch:serialization.os.system", Category.PROCESS),
        ("collections:os.system", Category.PROCESS),
        ("numpy:testing._private.utils.runstring", Category.EXEC),
        # Dunders reach builtins from anywhere.
        ("numpy:__builtins__", Category.DUNDER),
        ("builtins:object.__subclasses__", Category.DUNDER),
        ("torch.nn.modules.linear:Linear.__init__.__globals__", Category.DUNDER),
    ],
)
def test_dotted_paths_are_judged_by_what_they_reach(name: str, category: Category) -> None:
    module, qualname = name.split(":")
    assert classify(module, qualname).category is category


@pytest.mark.parametrize(
    "name",
    ["__main__:MyModel", "mylib.models:Net", "numpy:size", "numpy.lib:utils", "torch:Generator.x"],
)
def test_everything_else_is_unknown(name: str) -> None:
    assert classify(*name.split(":")).category is Category.UNKNOWN


def test_prefix_never_allows() -> None:
    """Allowlisting numpy.dtype does not allow other numpy names."""
    assert classify("numpy", "dtype").category is Category.SAFE
    assert classify("numpy", "dtypes_and_more").category is Category.UNKNOWN
    assert classify("torch._utils", "_rebuild_tensor_v2.__globals__").category is Category.DUNDER


def test_empty_names_are_dangerous() -> None:
    assert classify("", "system").category is Category.IMPORT
    assert classify("os", "").category is Category.IMPORT
    assert classify("os", "a..b").category is Category.IMPORT
