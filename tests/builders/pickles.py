"""Pickle streams built opcode by opcode, so that every byte of a test sample is deliberate.

Nothing in this module unpickles anything. The helpers return ``bytes``: single opcodes with their
operands (``global_``, ``binunicode`` ...), a small :class:`Encoder` that writes plain Python data
and call trees (:class:`Glob`, :class:`Call`, :class:`Build`) in any protocol 0-5, and ready-made
payload shapes. The only payload used anywhere in the test suite creates a canary file.
"""

from __future__ import annotations

import shlex
import struct
from collections.abc import Iterable
from dataclasses import dataclass

# --- opcodes -------------------------------------------------------------------------------------
MARK = b"("
STOP = b"."
POP = b"0"
POP_MARK = b"1"
DUP = b"2"
NONE = b"N"
REDUCE = b"R"
APPEND = b"a"
BUILD = b"b"
DICT = b"d"
APPENDS = b"e"
LIST = b"l"
OBJ = b"o"
SETITEM = b"s"
TUPLE = b"t"
SETITEMS = b"u"
EMPTY_DICT = b"}"
EMPTY_LIST = b"]"
EMPTY_TUPLE = b")"
BINPERSID = b"Q"
PROTO_OP = b"\x80"
NEWOBJ = b"\x81"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
TUPLE3 = b"\x87"
NEWTRUE = b"\x88"
NEWFALSE = b"\x89"
EMPTY_SET = b"\x8f"
ADDITEMS = b"\x90"
FROZENSET = b"\x91"
NEWOBJ_EX = b"\x92"
STACK_GLOBAL = b"\x93"
MEMOIZE = b"\x94"
NEXT_BUFFER = b"\x97"
READONLY_BUFFER = b"\x98"


# --- single opcodes with operands ----------------------------------------------------------------
def proto(n: int) -> bytes:
    return PROTO_OP + bytes([n])


def frame(length: int) -> bytes:
    return b"\x95" + struct.pack("<Q", length)


def global_(module: str, name: str) -> bytes:
    """GLOBAL: ``c<module>\\n<name>\\n``."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def inst(module: str, name: str) -> bytes:
    """INST: ``i<module>\\n<name>\\n`` (calls the class with the items since MARK)."""
    return b"i" + module.encode() + b"\n" + name.encode() + b"\n"


def string(s: str | bytes, quote: str = "'") -> bytes:
    """Protocol 0 STRING: a quoted literal with Python escapes."""
    raw = s.encode("latin-1") if isinstance(s, str) else s
    q = quote.encode()
    out = bytearray()
    for b in raw:
        ch = bytes([b])
        if ch in (b"\\", q):
            out += b"\\" + ch
        elif 0x20 <= b < 0x7F:
            out += ch
        else:
            out += b"\\x%02x" % b
    return b"S" + q + bytes(out) + q + b"\n"


def unicode(s: str) -> bytes:
    """Protocol 0 UNICODE, escaped the way CPython's pickler escapes it."""
    for ch, esc in (
        ("\\", "\\u005c"),
        ("\0", "\\u0000"),
        ("\n", "\\u000a"),
        ("\r", "\\u000d"),
        ("\x1a", "\\u001a"),
    ):
        s = s.replace(ch, esc)
    return b"V" + s.encode("raw-unicode-escape") + b"\n"


def short_binstring(b: bytes | str) -> bytes:
    raw = b.encode("latin-1") if isinstance(b, str) else b
    return b"U" + bytes([len(raw)]) + raw


def binstring(b: bytes | str) -> bytes:
    raw = b.encode("latin-1") if isinstance(b, str) else b
    return b"T" + struct.pack("<i", len(raw)) + raw


def short_binunicode(s: str) -> bytes:
    raw = s.encode("utf-8", "surrogatepass")
    return b"\x8c" + bytes([len(raw)]) + raw


def binunicode(s: str) -> bytes:
    raw = s.encode("utf-8", "surrogatepass")
    return b"X" + struct.pack("<I", len(raw)) + raw


def binunicode8(s: str) -> bytes:
    raw = s.encode("utf-8", "surrogatepass")
    return b"\x8d" + struct.pack("<Q", len(raw)) + raw


def short_binbytes(b: bytes) -> bytes:
    return b"C" + bytes([len(b)]) + b


def binbytes(b: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(b)) + b


def binbytes8(b: bytes) -> bytes:
    return b"\x8e" + struct.pack("<Q", len(b)) + b


def bytearray8(b: bytes) -> bytes:
    return b"\x96" + struct.pack("<Q", len(b)) + b


def int_(n: int) -> bytes:
    """Protocol 0 INT."""
    return b"I" + str(n).encode() + b"\n"


def long_(n: int) -> bytes:
    """Protocol 0 LONG (with the Python 2 ``L`` suffix)."""
    return b"L" + str(n).encode() + b"L\n"


def binint(n: int) -> bytes:
    """The shortest of BININT1 / BININT2 / BININT for a 32-bit signed value."""
    if 0 <= n < 0x100:
        return b"K" + bytes([n])
    if 0 <= n < 0x10000:
        return b"M" + struct.pack("<H", n)
    return b"J" + struct.pack("<i", n)


def long1(n: int) -> bytes:
    if n == 0:
        return b"\x8a\x00"
    length = (n.bit_length() + 8) // 8
    return b"\x8a" + bytes([length]) + n.to_bytes(length, "little", signed=True)


def float_(x: float) -> bytes:
    return b"F" + repr(x).encode() + b"\n"


def binfloat(x: float) -> bytes:
    return b"G" + struct.pack(">d", x)


def put(i: int) -> bytes:
    return b"p" + str(i).encode() + b"\n"


def get(i: int) -> bytes:
    return b"g" + str(i).encode() + b"\n"


def binput(i: int) -> bytes:
    return b"q" + bytes([i])


def binget(i: int) -> bytes:
    return b"h" + bytes([i])


def long_binput(i: int) -> bytes:
    return b"r" + struct.pack("<I", i)


def long_binget(i: int) -> bytes:
    return b"j" + struct.pack("<I", i)


def ext(code: int, width: int) -> bytes:
    op = {1: b"\x82", 2: b"\x83", 4: b"\x84"}[width]
    return op + code.to_bytes(width, "little")


def stack_global(module: str, name: str) -> bytes:
    """Protocol 4 STACK_GLOBAL with SHORT_BINUNICODE operands."""
    return short_binunicode(module) + short_binunicode(name) + STACK_GLOBAL


_PY2_NAMES = {"builtins": "__builtin__", "copyreg": "copy_reg"}


# --- a small writer for data and call trees ------------------------------------------------------
@dataclass(frozen=True)
class Glob:
    """An import: GLOBAL (protocols 0-3) or STACK_GLOBAL (4-5)."""

    module: str
    name: str


@dataclass(frozen=True)
class Call:
    """``func(*args)`` written as ``func args REDUCE``."""

    func: object
    args: tuple[object, ...] = ()


@dataclass(frozen=True)
class Build:
    """``obj`` followed by ``state BUILD``."""

    obj: object
    state: object


@dataclass(frozen=True)
class Raw:
    """Opcodes written as they are (they must push exactly one value)."""

    data: bytes


@dataclass(frozen=True)
class PersistentId:
    """BINPERSID of ``pid`` (what torch writes for storages)."""

    pid: object


class Encoder:
    """Writes values with the opcodes CPython's pickler would use for ``protocol``.

    Supports None, bool, int, float, str, bytes, bytearray, tuple, list, dict, set, frozenset and
    the call-tree nodes above. It never memoizes (memo tricks are spelled out by hand).
    """

    def __init__(self, protocol: int) -> None:
        if not 0 <= protocol <= 5:
            raise ValueError(f"protocol {protocol} is not 0-5")
        self.protocol = protocol

    def dumps(self, value: object) -> bytes:
        body = self.value(value) + STOP
        if self.protocol >= 4 and len(body) >= 4:  # CPython does not frame tiny pickles
            return proto(self.protocol) + frame(len(body)) + body
        if self.protocol >= 4:
            return proto(self.protocol) + body
        if self.protocol >= 2:
            return proto(self.protocol) + body
        return body

    def value(self, v: object) -> bytes:
        p = self.protocol
        if v is None:
            return NONE
        if isinstance(v, bool):
            if p >= 2:
                return NEWTRUE if v else NEWFALSE
            return b"I01\n" if v else b"I00\n"
        if isinstance(v, int):
            return self._int(v)
        if isinstance(v, float):
            return binfloat(v) if p >= 1 else float_(v)
        if isinstance(v, str):
            return self._str(v)
        if isinstance(v, bytes):
            return self._bytes(v)
        if isinstance(v, bytearray):
            if p >= 5:
                return bytearray8(bytes(v))
            return self.value(Call(Glob("builtins", "bytearray"), (bytes(v),)))
        if isinstance(v, tuple):
            return self._tuple(v)
        if isinstance(v, list):
            return self._list(v)
        if isinstance(v, dict):
            return self._dict(v)
        if isinstance(v, frozenset):
            if p >= 4:
                return MARK + b"".join(self.value(x) for x in sorted(v, key=repr)) + FROZENSET
            return self.value(Call(Glob("builtins", "frozenset"), (sorted(v, key=repr),)))
        if isinstance(v, set):
            if p >= 4:
                items = b"".join(self.value(x) for x in sorted(v, key=repr))
                return EMPTY_SET + (MARK + items + ADDITEMS if v else b"")
            return self.value(Call(Glob("builtins", "set"), (sorted(v, key=repr),)))
        if isinstance(v, Glob):
            if p >= 4:
                return stack_global(v.module, v.name)
            # Like CPython's pickler (fix_imports), protocols 0-2 use the Python 2 module names.
            return global_(_PY2_NAMES.get(v.module, v.module) if p < 3 else v.module, v.name)
        if isinstance(v, Call):
            return self.value(v.func) + self._tuple(tuple(v.args)) + REDUCE
        if isinstance(v, Build):
            return self.value(v.obj) + self.value(v.state) + BUILD
        if isinstance(v, Raw):
            return v.data
        if isinstance(v, PersistentId):
            if p == 0:
                raise ValueError("protocol 0 persistent ids are text (PERSID); not supported")
            return self.value(v.pid) + BINPERSID
        raise TypeError(f"cannot encode {type(v).__name__}")

    def _int(self, n: int) -> bytes:
        p = self.protocol
        if p == 0:
            return int_(n) if -(2**31) <= n < 2**31 else long_(n)
        if -(2**31) <= n < 2**31:
            return binint(n)
        return long1(n) if p >= 2 else long_(n)

    def _str(self, s: str) -> bytes:
        p = self.protocol
        if p == 0:
            return unicode(s)
        if p >= 4 and len(s.encode("utf-8", "surrogatepass")) < 256:
            return short_binunicode(s)
        return binunicode(s)

    def _bytes(self, b: bytes) -> bytes:
        p = self.protocol
        if p >= 3:
            return short_binbytes(b) if len(b) < 256 else binbytes(b)
        # Protocols 0-2 store bytes as _codecs.encode(<latin-1 text>, 'latin1'), b"" as bytes().
        if not b:
            return self.value(Call(Glob("builtins", "bytes")))
        return self.value(Call(Glob("_codecs", "encode"), (b.decode("latin-1"), "latin1")))

    def _tuple(self, t: tuple[object, ...]) -> bytes:
        p = self.protocol
        items = b"".join(self.value(x) for x in t)
        if not t:
            return EMPTY_TUPLE if p >= 1 else MARK + TUPLE
        if p >= 2 and len(t) <= 3:
            return items + (TUPLE1, TUPLE2, TUPLE3)[len(t) - 1]
        return MARK + items + TUPLE

    def _list(self, items_: list[object]) -> bytes:
        if self.protocol == 0:
            return MARK + LIST + b"".join(self.value(x) + APPEND for x in items_)
        if not items_:
            return EMPTY_LIST
        if len(items_) == 1:  # CPython writes a batch of one as APPEND
            return EMPTY_LIST + self.value(items_[0]) + APPEND
        return EMPTY_LIST + MARK + b"".join(self.value(x) for x in items_) + APPENDS

    def _dict(self, d: dict[object, object]) -> bytes:
        pairs = b"".join(self.value(k) + self.value(v) for k, v in d.items())
        if self.protocol == 0:
            return (
                MARK
                + DICT
                + b"".join(self.value(k) + self.value(v) + SETITEM for k, v in d.items())
            )
        if not d:
            return EMPTY_DICT
        if len(d) == 1:  # CPython writes a batch of one as SETITEM
            return EMPTY_DICT + pairs + SETITEM
        return EMPTY_DICT + MARK + pairs + SETITEMS


def dumps(value: object, protocol: int = 2) -> bytes:
    """A complete stream (PROTO, FRAME where the protocol has one, body, STOP)."""
    return Encoder(protocol).dumps(value)


# --- payloads ------------------------------------------------------------------------------------
def touch_command(canary: str) -> str:
    """The shell command every process payload runs: create the canary file."""
    return f"touch {shlex.quote(canary)}"


def open_statement(canary: str) -> str:
    """The Python statement every code payload runs: create the canary file."""
    return f"open({canary!r}, 'w').close()"


def system_p0(canary: str, module: str = "os", name: str = "system") -> bytes:
    """The classic protocol 0 payload: ``c<module>\\n<name>\\n(S'touch ...'\\ntR.``."""
    return global_(module, name) + MARK + string(touch_command(canary)) + TUPLE + REDUCE + STOP


def system_body_p0(canary: str, module: str = "os", name: str = "system") -> bytes:
    """:func:`system_p0` without its STOP (to append more opcodes)."""
    return system_p0(canary, module, name)[:-1]


def system_p2(canary: str, module: str = "posix", name: str = "system") -> bytes:
    return (
        proto(2)
        + global_(module, name)
        + binunicode(touch_command(canary))
        + TUPLE1
        + REDUCE
        + STOP
    )


def system_p4(canary: str, module: str = "os", name: str = "system") -> bytes:
    body = stack_global(module, name) + MEMOIZE + short_binunicode(touch_command(canary))
    body += TUPLE1 + MEMOIZE + REDUCE + MEMOIZE + STOP
    return proto(4) + frame(len(body)) + body


def call_p4(func: object, *args: object) -> bytes:
    """``func(*args)`` as a protocol 4 stream."""
    return dumps(Call(func, tuple(args)), 4)


def popen_p2(canary: str) -> bytes:
    return dumps(Call(Glob("subprocess", "Popen"), (["touch", canary],)), 2)


# --- plain look-alikes ---------------------------------------------------------------------------
def numpy_array_pickle(
    values: Iterable[float], protocol: int = 2, *, core: str = "numpy.core"
) -> bytes:
    """A float64 vector as ``numpy.ndarray.__reduce__`` writes it (no numpy needed)."""
    data = b"".join(struct.pack("<d", v) for v in values)
    n = len(data) // 8
    dtype = Build(
        Call(Glob("numpy", "dtype"), ("f8", False, True)),
        (3, "<", None, None, None, -1, -1, 0),
    )
    array = Build(
        Call(Glob(f"{core}.multiarray", "_reconstruct"), (Glob("numpy", "ndarray"), (0,), b"b")),
        (1, (n,), dtype, False, data),
    )
    return dumps(array, protocol)
