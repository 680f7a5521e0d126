"""The pickle emulator: every protocol's opcodes, the memo, calls and what it records."""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from typing import Any

import pytest

from modeltrust.scanners.interface import Limits
from modeltrust.scanners.pickle.vm import (
    Call,
    Global,
    PDict,
    PickleMachine,
    Reader,
    Ref,
    StreamAnalysis,
)


def run(data: bytes, limits: Limits | None = None) -> StreamAnalysis:
    return PickleMachine(Reader(io.BytesIO(data), len(data), True), limits or Limits()).run()


def plain(value: object) -> Any:
    """Turn emulated containers back into Python values for comparison."""
    if isinstance(value, PDict):
        return {plain(k): plain(v) for k, v in value.items}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


DATA = {"a": [1, -2, 2**40, -(2**70), 1.5, None, True, False], "b": ("x", b"y", "é"), 3: {"n": []}}


@pytest.mark.parametrize("protocol", range(6))
def test_plain_data_round_trips_through_the_emulator(protocol: int) -> None:
    a = run(pickle.dumps(DATA, protocol=protocol))
    assert a.stopped and a.error is None
    assert plain(a.result) == DATA
    # Protocols 0-2 store bytes through _codecs.encode(text, "latin1"); nothing else is imported.
    assert {str(e.glob) for e in a.imports} <= {"_codecs:encode"}


def test_sets_and_frozensets_are_containers() -> None:
    a = run(pickle.dumps({"s": {1, 2}, "f": frozenset({3})}, protocol=4))
    assert a.stopped and a.imports == []


def test_global_and_reduce_are_recorded_not_run() -> None:
    data = b"cos\nsystem\n(S'touch /nonexistent/x'\ntR."
    a = run(data)
    assert a.stopped
    assert [str(e.glob) for e in a.imports] == ["os:system"]
    assert isinstance(a.result, Call)
    assert a.result.func == Global("os", "system")
    assert a.result.args == ("touch /nonexistent/x",)


def test_stack_global_from_memo() -> None:
    data = (
        b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94"  # memo 0, 1
        b"00"  # pop both
        b"h\x00h\x01\x93"  # BINGET 0, BINGET 1, STACK_GLOBAL
        b"\x8c\x04true\x85R."
    )
    a = run(data)
    assert [str(e.glob) for e in a.imports] == ["os:system"]
    assert a.stopped


def test_missing_memo_slot_is_unresolvable() -> None:
    a = run(b"\x80\x04h\x07h\x08\x93)R.")
    kinds = {x.kind for x in a.anomalies}
    assert kinds == {"unresolvable"}


def test_inst_obj_newobj_and_newobj_ex_are_calls() -> None:
    inst = b"(S'x'\nisubprocess\ncall\n."
    obj = b"(csubprocess\nPopen\nS'x'\no."
    newobj = b"\x80\x02csubprocess\nPopen\n)\x81."
    newobj_ex = b"\x80\x04csubprocess\nPopen\n)}\x92."
    for data, opcode in [
        (inst, "INST"),
        (obj, "OBJ"),
        (newobj, "NEWOBJ"),
        (newobj_ex, "NEWOBJ_EX"),
    ]:
        a = run(data)
        assert a.stopped, data
        assert [c.opcode for c in a.calls] == [opcode]


def test_ext_codes_are_unresolvable() -> None:
    a = run(b"\x80\x02\x82\x01)R.")
    assert [x.kind for x in a.anomalies] == ["unresolvable"]


def test_build_on_an_imported_object_is_an_attribute_write() -> None:
    a = run(b"\x80\x02cnumpy\nsize\n}U\x05shapecbuiltins\neval\nsb.")
    assert [x.kind for x in a.anomalies] == ["attribute-write"]


def test_setitem_on_a_rebuilt_tensor_is_container_abuse() -> None:
    data = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n)RK\x01K\x02s."
    a = run(data)
    assert [x.kind for x in a.anomalies] == ["container-abuse"]


def test_setitems_on_ordered_dict_is_fine() -> None:
    a = run(pickle.dumps(OrderedDict(a=1, b=2), protocol=2))
    assert a.anomalies == [] and a.stopped


def test_getattr_on_an_imported_class_is_resolved() -> None:
    data = b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93\x8c\x08zoneinfo\x8c\x08ZoneInfo\x93\x8c\x09_unpickle\x86R."
    a = run(data)
    names = [str(e.glob) for e in a.imports]
    assert "zoneinfo:ZoneInfo._unpickle" in names
    getattr_glob = next(e.glob for e in a.imports if e.glob.name == "getattr")
    assert a.fully_resolved(getattr_glob)


def test_getattr_used_twice_but_resolved_once_is_not_fully_resolved() -> None:
    data = (
        b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93\x94"
        b"\x8c\x08zoneinfo\x8c\x08ZoneInfo\x93\x8c\x01x\x86R0"
        b"h\x00)R."
    )
    a = run(data)
    getattr_glob = next(e.glob for e in a.imports if e.glob.name == "getattr")
    assert not a.fully_resolved(getattr_glob)


class CountingIO(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n: int | None = -1) -> bytes:
        out = super().read(n)
        self.bytes_read += len(out)
        return out


def test_large_byte_operands_are_skipped_not_read() -> None:
    payload = b"\x00" * (8 * 1024 * 1024)
    data = b"\x80\x04\x8e" + struct.pack("<Q", len(payload)) + payload + b"\x85."
    f = CountingIO(data)
    a = PickleMachine(Reader(f, len(data), True), Limits()).run()
    assert a.stopped
    assert isinstance(a.result, tuple) and isinstance(a.result[0], Ref)
    assert f.bytes_read < 256 * 1024  # one read-ahead chunk, not the 8 MiB payload


def test_declared_length_past_the_end_is_an_error_not_an_allocation() -> None:
    a = run(b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc")
    assert a.error is not None and "unexpected end" in a.error


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x02\xff", "invalid opcode"),
        (b"\x80\x02R", "stack underflow"),
        (b"\x80\x02t", "MARK expected"),
        (b"\x80\x06N.", "unsupported pickle protocol"),
        (b"\x80\x02X\x05\x00\x00\x00ab", "unexpected end"),
        (b"I12x\n.", "not a number"),
        (b"S'abc\n.", "not quoted"),
    ],
)
def test_malformed_streams_report_an_error(data: bytes, message: str) -> None:
    a = run(data)
    assert a.error is not None and message in a.error


def test_opcode_limit() -> None:
    a = run(b"N0" * 3000 + b"N.", Limits(max_opcodes=1000))
    assert a.limit is not None and "opcodes" in a.limit


def test_memo_limit() -> None:
    data = b"\x80\x04N" + b"\x94" * 3000 + b"."  # limits are checked every 1024 opcodes
    a = run(data, Limits(max_memo=10))
    assert a.limit is not None and "memo" in a.limit


@pytest.mark.parametrize("put", [b"q\x00", b"r\x00\x00\x00\x00"])
def test_limits_hold_when_fused_memo_puts_step_over_the_check(put: bytes) -> None:
    """EMPTY_DICT takes the BINPUT after it in the same step, so the opcode index moves by two:
    with PROTO first, every step ends on an even index and never on the 1023rd opcode."""
    data = b"\x80\x02" + (b"}" + put) * 3000 + b"."
    a = run(data, Limits(max_stack=100))
    assert a.limit is not None and "values on the stack" in a.limit
    assert a.opcodes < 1100


def test_mark_depth_limit() -> None:
    a = run(b"(" * 3000 + b".", Limits(max_stack=100))
    assert a.limit is not None


def test_embedded_pickles_in_bytes_base64_hex_and_latin1() -> None:
    inner = pickle.dumps([1, 2], protocol=2)
    import base64

    for operand in (
        b"C" + bytes([len(inner)]) + inner,
        b"X" + struct.pack("<I", len(base64.b64encode(inner))) + base64.b64encode(inner),
        b"X" + struct.pack("<I", len(inner.hex())) + inner.hex().encode(),
    ):
        a = run(b"\x80\x03" + operand + b".")
        assert len(a.embedded) == 1, operand[:10]
    latin = inner.decode("latin-1").encode("utf-8")
    a = run(b"\x80\x03X" + struct.pack("<I", len(latin)) + latin + b".")
    assert [e.encoding for e in a.embedded] == ["latin1"]


def test_text_that_merely_starts_like_an_opcode_is_not_credible() -> None:
    for text in (b"import os\nimport sys\n", b"class Foo:\n    pass\n", b"Licensed under\n"):
        assert not run(text).credible, text
