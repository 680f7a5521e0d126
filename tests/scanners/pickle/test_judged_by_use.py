"""Imports judged by how the stream uses them: plain data classes rebuilt from their fields
(training_args.bin) and tensor storages read from bytes that were scanned clean
(pickle.dumps(tensor)). Any other use of the same names is judged as before.

Every stream here is built as bytes; nothing is unpickled.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from pathlib import Path

import pytest

from modeltrust import Severity
from modeltrust.scanners.pickle.policy import Rebuild, plain_class_problem, plain_classes
from tests.builders.pickles import (
    BUILD,
    EMPTY_DICT,
    EMPTY_TUPLE,
    NEWOBJ,
    REDUCE,
    SETITEM,
    STOP,
    TUPLE1,
    TUPLE2,
    TUPLE3,
    binbytes,
    binget,
    binput,
    binunicode,
    global_,
    proto,
    touch_command,
)
from tests.helpers import rule_ids, scan_bytes

ARGS = "transformers.training_args", "TrainingArguments"
ENUM = "transformers.trainer_utils", "SchedulerType"
LOAD_FROM_BYTES = "torch.storage", "_load_from_bytes"


def _field(name: str, value: bytes) -> bytes:
    return binunicode(name) + value


def _enum(value: bytes = binunicode("linear")) -> bytes:
    return global_(*ENUM) + value + TUPLE1 + REDUCE


def _args(state: bytes) -> bytes:
    """TrainingArguments as torch.save writes it: NEWOBJ with no arguments, BUILD of a dict."""
    return global_(*ARGS) + EMPTY_TUPLE + NEWOBJ + state + BUILD


def _state(*fields: bytes) -> bytes:
    body = EMPTY_DICT
    for f in fields:
        body += f + SETITEM
    return body


def _high(tmp_path: Path, body: bytes) -> set[str]:
    return rule_ids(
        scan_bytes(tmp_path, proto(2) + body + STOP, "training_args.bin"), Severity.HIGH
    )


def test_training_arguments_rebuilt_plainly_pass(tmp_path: Path) -> None:
    body = _args(_state(_field("output_dir", binunicode("out")), _field("sched", _enum())))
    result = scan_bytes(tmp_path, proto(2) + body + STOP, "training_args.bin")
    assert [f.rule_id for f in result.findings if f.severity >= Severity.LOW] == []


def test_an_enum_reused_from_the_memo_still_passes(tmp_path: Path) -> None:
    one = global_(*ENUM) + binput(7) + binunicode("linear") + TUPLE1 + REDUCE
    two = binget(7) + binunicode("cosine") + TUPLE1 + REDUCE
    body = _args(_state(_field("a", one), _field("b", two)))
    assert _high(tmp_path, body) == set()


@pytest.mark.parametrize(
    ("why", "body"),
    [
        # __init__ (and __post_init__) would run with these arguments
        ("called", global_(*ARGS) + binunicode("out") + TUPLE1 + REDUCE),
        ("newobj with arguments", global_(*ARGS) + binunicode("x") + TUPLE1 + NEWOBJ),
        ("state not a dict", global_(*ARGS) + EMPTY_TUPLE + NEWOBJ + binunicode("s") + BUILD),
        (
            "slot state that swaps the class",
            global_(*ARGS)
            + EMPTY_TUPLE
            + NEWOBJ
            + b"N"
            + _state(_field("__class__", global_("builtins", "object")))
            + TUPLE2
            + BUILD,
        ),
        ("enum of a rebuilt object", global_(*ENUM) + _args(EMPTY_DICT) + TUPLE1 + REDUCE),
        ("enum with a state", _enum() + EMPTY_DICT + BUILD),
        # the class itself handed on, not rebuilt: pushes exceed plain uses
        ("class as a value", _state(_field("cls", global_(*ARGS)))),
        (
            "plain once, called once",
            global_(*ARGS)
            + binput(3)
            + EMPTY_TUPLE
            + NEWOBJ
            + EMPTY_DICT
            + BUILD
            + binget(3)
            + binunicode("x")
            + TUPLE1
            + REDUCE
            + TUPLE1,
        ),
        (
            "reconstructor with another base",
            global_("copyreg", "_reconstructor")
            + global_(*ARGS)
            + global_("builtins", "dict")
            + EMPTY_DICT
            + TUPLE3
            + REDUCE,
        ),
    ],
)
def test_any_other_use_stays_high(tmp_path: Path, why: str, body: bytes) -> None:
    assert "MT-PKL-009" in _high(tmp_path, body), why


def test_copyreg_newobj_and_reconstructor_rebuilds_pass(tmp_path: Path) -> None:
    newobj = global_("copyreg", "__newobj__") + global_(*ARGS) + TUPLE1 + REDUCE
    recon = (
        global_("copyreg", "_reconstructor")
        + global_(*ARGS)
        + global_("builtins", "object")
        + b"N"
        + TUPLE3
        + REDUCE
    )
    for body in (newobj + EMPTY_DICT + BUILD, recon):
        assert _high(tmp_path, body) == set()


def test_a_name_off_the_list_is_not_plain(tmp_path: Path) -> None:
    body = global_("transformers.training_args", "NotAClass") + EMPTY_TUPLE + NEWOBJ
    assert "MT-PKL-009" in _high(tmp_path, body)


# --- tensor storages ----------------------------------------------------------------------------
def _legacy_storage() -> bytes:
    """A legacy torch.save file of one FloatStorage of two elements, as bytes."""
    magic = proto(2) + b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + STOP
    version = proto(2) + b"M\xe9\x03" + STOP
    sys_info = proto(2) + _state(_field("little_endian", b"\x88")) + STOP
    pid = (
        b"("
        + binunicode("storage")
        + global_("torch", "FloatStorage")
        + binunicode("0")
        + binunicode("cpu")
        + b"K\x02"
        + b"N"
        + b"t"
    )
    obj = proto(2) + pid + b"Q" + STOP
    keys = proto(2) + b"]" + binunicode("0") + b"a" + STOP
    return magic + version + sys_info + obj + keys + (2).to_bytes(8, "little") + b"\x00" * 8


def _storage(payload: bytes) -> bytes:
    return global_(*LOAD_FROM_BYTES) + binbytes(payload) + TUPLE1 + REDUCE


def test_storage_bytes_scanned_clean_pass_as_low(tmp_path: Path) -> None:
    body = _state(
        _field("w", _storage(_legacy_storage())), _field("b", _storage(_legacy_storage()))
    )
    result = scan_bytes(tmp_path, proto(4) + body + STOP, "tensors.pkl")
    assert not result.at_or_above(Severity.MEDIUM), [f.message for f in result.findings]
    assert any("2 tensor storage(s)" in f.message for f in result.findings)


def test_storage_bytes_with_a_payload_stay_critical(tmp_path: Path, canary: Path) -> None:
    cmd = touch_command(str(canary))
    evil = proto(2) + global_("posix", "system") + binunicode(cmd) + TUPLE1 + REDUCE + STOP
    body = _state(_field("w", _storage(_legacy_storage())), _field("x", _storage(evil)))
    ids = rule_ids(scan_bytes(tmp_path, proto(4) + body + STOP, "tensors.pkl"), Severity.CRITICAL)
    assert {"MT-PKL-004", "MT-PKL-002"} <= ids


def test_storage_bytes_that_cannot_be_scanned_stay_critical(tmp_path: Path) -> None:
    body = _storage(b"not a torch file at all")
    ids = rule_ids(scan_bytes(tmp_path, proto(4) + body + STOP, "tensors.pkl"), Severity.CRITICAL)
    assert "MT-PKL-004" in ids


def test_storage_loader_reused_on_other_data_stays_critical(tmp_path: Path) -> None:
    first = global_(*LOAD_FROM_BYTES) + binput(1) + binbytes(_legacy_storage()) + TUPLE1 + REDUCE
    second = binget(1) + binunicode("anything") + TUPLE1 + REDUCE
    body = _state(_field("w", first), _field("x", second))
    ids = rule_ids(scan_bytes(tmp_path, proto(4) + body + STOP, "tensors.pkl"), Severity.CRITICAL)
    assert "MT-PKL-004" in ids


# --- the list itself ----------------------------------------------------------------------------
def test_every_listed_class_that_is_installed_is_still_plain() -> None:
    """The real classes are imported (never a pickle): if a release gives one of them a
    __setstate__ or another method unpickling runs, this fails until the list is regenerated."""
    checked = 0
    for key, kind in plain_classes().items():
        module_name, _, qualname = key.partition(":")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(module_name)
        except ImportError:  # another release's path, or an optional backend not installed
            continue
        cls = getattr(module, qualname, None)
        if cls is None:
            continue
        assert plain_class_problem(cls, kind) is None, key
        checked += 1
    if importlib.util.find_spec("transformers") is not None:
        assert checked >= 20


def test_classes_that_run_code_are_not_plain() -> None:
    import collections
    import enum

    class WithSetstate:
        def __setstate__(self, state: object) -> None:
            pass

    class Missing(enum.Enum):
        A = "a"

        @classmethod
        def _missing_(cls, value: object) -> Missing:
            return cls.A

    assert plain_class_problem(WithSetstate, Rebuild.OBJECT)
    assert plain_class_problem(Missing, Rebuild.ENUM)
    assert plain_class_problem(collections.OrderedDict, Rebuild.ENUM)
    assert plain_class_problem(type("Plain", (), {}), Rebuild.OBJECT) is None
