"""A static emulator of the pickle virtual machine.

It runs every opcode of a pickle stream against a model stack and memo, the way ``pickle.load``
would, but it never imports or calls anything: a global is a :class:`Global` value, a call is a
:class:`Call` value. What a loader *would* do is recorded as events (imports, calls, attribute
writes, embedded payloads) for :mod:`modeltrust.scanners.pickle.scanner` to judge.

Large byte and text operands are skipped with a seek (only their first bytes are kept), so the
cost of a stream grows with its structure, not with the tensors inside it.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import io
import re
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from modeltrust.scanners.common.callables import SAFE
from modeltrust.scanners.interface import CorruptData, LimitExceeded, Limits

KEEP_BYTES = 64 * 1024
"""Byte and text operands up to this size are kept as values; larger ones become :class:`Ref`."""
MAX_LINE = 64 * 1024
"""Longest text line an opcode may carry (GLOBAL, INT, STRING ...)."""
KEEP_ITEMS = 10_000
"""Items kept per modelled container; later items are counted, not stored."""
_SKIP_CHUNK = 1024 * 1024
_CHUNK = 64 * 1024
_IDENTIFIER_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


# --- values --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Global:
    """What GLOBAL / STACK_GLOBAL / INST would import: ``module`` and (possibly dotted) ``name``."""

    module: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"

    def __str__(self) -> str:
        return f"{self.module}:{self.name}"


@dataclass(slots=True)
class Call:
    """The result of calling ``func`` with ``args`` (REDUCE, INST, OBJ, NEWOBJ, NEWOBJ_EX)."""

    func: object
    args: object
    opcode: str
    state: object = None


@dataclass(frozen=True, slots=True)
class Ref:
    """A byte or text operand too large to keep: where it is and how it starts."""

    offset: int
    length: int
    head: bytes
    text: bool


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value the emulator cannot know statically (a missing memo slot, an extension code)."""

    why: str


@dataclass(slots=True)
class PDict:
    """A modelled dict: key/value pairs in insertion order (keys need not be hashable)."""

    items: list[tuple[object, object]] = field(default_factory=list)
    dropped: int = 0

    def get(self, key: object) -> object:
        for k, v in self.items:
            if k == key:
                return v
        return None


@dataclass(frozen=True, slots=True)
class Persisted:
    """What a loader's ``persistent_load(pid)`` returns (torch: a storage)."""

    pid: object


# --- events --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ImportEvent:
    glob: Global
    offset: int
    index: int
    opcode: str


@dataclass(frozen=True, slots=True)
class CallEvent:
    func: object
    offset: int
    index: int
    opcode: str
    call: Call | None = None
    """What the call built: its arguments and, after a BUILD, its state."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something a loader would choke on or that only an attack needs."""

    kind: str  # unresolvable | attribute-write | container-abuse
    detail: str
    offset: int
    index: int


@dataclass(frozen=True, slots=True)
class Embedded:
    """A byte or text operand that looks like another pickle."""

    offset: int
    """Stream offset of the operand's first byte when it can be read in place, else -1."""
    length: int
    data: bytes | None
    encoding: str  # raw | latin1 | base64 | hex


@dataclass(slots=True)
class StreamAnalysis:
    """What one pickle stream (from its first opcode to STOP) would do when loaded."""

    start: int
    end: int = 0
    opcodes: int = 0
    protocol: int | None = None
    stopped: bool = False
    error: str | None = None
    error_offset: int | None = None
    limit: str | None = None
    result: object = None
    imports: list[ImportEvent] = field(default_factory=list)
    calls: list[CallEvent] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    embedded: list[Embedded] = field(default_factory=list)
    persistent_ids: list[object] = field(default_factory=list)
    nested: list[StreamAnalysis] = field(default_factory=list)
    """Streams a loader reads from inside this one (joblib object arrays)."""
    raw_spans: list[tuple[int, int]] = field(default_factory=list)
    """Raw array data a loader reads from inside this stream (joblib): (offset, length)."""
    global_pushes: dict[int, int] = field(default_factory=dict)
    """How often each imported object was put on the stack again (memo GET, DUP), by id."""
    getattr_resolved: dict[int, int] = field(default_factory=dict)
    """How often each imported ``getattr`` was called with a class and a constant name, by id."""

    def fully_resolved(self, glob: Global) -> bool:
        """Whether every use of this imported getattr was a call resolved statically."""
        uses = self.global_pushes.get(id(glob), 1)
        return self.getattr_resolved.get(id(glob), 0) == uses

    @property
    def credible(self) -> bool:
        """Whether this really is a pickle (as opposed to other data that starts like one).

        A stream counts when it reaches STOP, when it starts with PROTO and gets past a few
        opcodes (or is cut short), or when it imports something importable and calls it.
        """
        if self.stopped or self.limit is not None:
            return True  # garbage cannot run a million valid opcodes into a limit
        real = any(_IDENTIFIER_PATH.match(e.glob.qualified) for e in self.imports)
        if self.protocol is not None:
            cut_short = (self.error or "").startswith("unexpected end")
            return self.opcodes >= 4 or cut_short or real
        return real and bool(self.calls)

    def walk(self) -> list[StreamAnalysis]:
        """This stream and every stream nested in it."""
        out = [self]
        for n in self.nested:
            out.extend(n.walk())
        return out


class PickleError(Exception):
    """The stream cannot be loaded from here on (a loader would raise too)."""


# --- reading -------------------------------------------------------------------------------------
class Reader:
    """Forward reader over a binary stream with its own buffer; skips large spans with a seek.

    ``buf[i:]`` holds the bytes not consumed yet and ``base`` is the stream offset of ``buf[0]``,
    so the emulator's hot loop can take single bytes without a call into the file object.
    """

    __slots__ = ("_f", "_seekable", "base", "buf", "i", "n", "size")

    def __init__(self, f: BinaryIO, size: int | None, seekable: bool, pos: int = 0) -> None:
        self._f = f
        self.size = size
        self._seekable = seekable and size is not None
        self.buf = b""
        self.i = 0
        self.n = 0
        self.base = pos

    @property
    def pos(self) -> int:
        return self.base + self.i

    def _fill(self, k: int) -> None:
        """Make at least ``k`` unread bytes available in ``buf`` or raise PickleError."""
        pos = self.base + self.i
        if self.size is not None and pos + k > self.size:
            raise PickleError(f"unexpected end of data: {k} bytes declared at offset {pos}")
        rest = self.buf[self.i :]
        more = self._f.read(max(k - len(rest), _CHUNK))
        self.base = pos
        self.buf = rest + more if rest else more
        self.i = 0
        self.n = len(self.buf)
        if self.n < k:
            raise PickleError(f"unexpected end of data: {k} bytes declared at offset {pos}")

    def read(self, k: int) -> bytes:
        i = self.i
        j = i + k
        if j > self.n:
            self._fill(k)
            i, j = 0, k
        self.i = j
        return self.buf[i:j]

    def byte(self) -> int:
        i = self.i
        if i >= self.n:
            self._fill(1)
            i = 0
        self.i = i + 1
        return self.buf[i]

    def readline(self) -> bytes:
        j = self.buf.find(b"\n", self.i, self.i + MAX_LINE + 1)
        while j < 0:
            if self.n - self.i > MAX_LINE:
                raise PickleError(f"text operand longer than {MAX_LINE} bytes at offset {self.pos}")
            try:
                self._fill(self.n - self.i + 1)
            except PickleError:
                raise PickleError(
                    f"unexpected end of data in a text operand at offset {self.pos}"
                ) from None
            j = self.buf.find(b"\n", self.i, self.i + MAX_LINE + 1)
        line = self.buf[self.i : j]
        self.i = j + 1
        return line

    def skip(self, k: int) -> None:
        """Move past ``k`` bytes without keeping them (a seek when the stream allows it)."""
        pos = self.base + self.i
        if self.size is not None and pos + k > self.size:
            raise PickleError(f"unexpected end of data: {k} bytes declared at offset {pos}")
        have = self.n - self.i
        if k <= have:
            self.i += k
            return
        left = k - have
        self.base += self.n
        self.buf = b""
        self.i = self.n = 0
        if self._seekable:
            self._f.seek(left, io.SEEK_CUR)
            self.base += left
            return
        while left:
            got = len(self._f.read(min(left, _SKIP_CHUNK)))
            if not got:
                raise PickleError(f"unexpected end of data: {k} bytes declared at offset {pos}")
            left -= got
            self.base += got

    def peek_byte(self) -> bytes:
        """The next byte without consuming it, or b'' at the end."""
        if self.i < self.n:
            return self.buf[self.i : self.i + 1]
        try:
            self._fill(1)
        except PickleError:
            return b""
        return self.buf[:1]


# --- the machine ---------------------------------------------------------------------------------
_MARK_OPS = frozenset(b"(")
_CONTAINER_FUNCS = frozenset(
    {
        "copyreg._reconstructor",
        "copyreg.__newobj__",
        "copyreg.__newobj_ex__",
        "copy_reg._reconstructor",
        "collections.deque",
        "builtins.frozenset",
        "builtins.tuple",
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.Counter",
        "builtins.dict",
        "builtins.list",
        "builtins.set",
        "builtins.bytearray",
        "__builtin__.dict",
        "__builtin__.list",
        "__builtin__.set",
    }
)
_NON_CONTAINER_REBUILDERS = frozenset(
    {
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch._utils._rebuild_qtensor",
        "torch._utils._rebuild_sparse_tensor",
        "torch._utils._rebuild_meta_tensor_no_storage",
        "torch._utils._rebuild_wrapper_subclass",
        "torch._utils._rebuild_device_tensor_from_numpy",
        "torch._tensor._rebuild_from_type_v2",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
    }
)
_JOBLIB_WRAPPERS = frozenset(
    {
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    }
)
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg", "cPickle": "pickle"}


_GETATTR = frozenset({"builtins.getattr", "__builtin__.getattr"})


def _static_getattr(func: object, args: object) -> Global | None:
    """``getattr(<imported class>, "name")`` as the dotted global it reaches, else None."""
    if (
        isinstance(func, Global)
        and func.qualified in _GETATTR
        and isinstance(args, tuple)
        and len(args) == 2
        and isinstance(args[0], Global)
        and isinstance(args[1], str)
        and _IDENTIFIER_PATH.match(args[1])
    ):
        return Global(args[0].module, f"{args[0].name}.{args[1]}")
    return None


_ENCODE = frozenset({"_codecs.encode", "codecs.encode"})
_SPECIAL_NAMES = frozenset({"getattr", "encode"})
"""The ``name`` of every global in ``_GETATTR`` and ``_ENCODE``: REDUCE tests it first."""
_PAYLOAD_FIRST = "\x80g8"
"""First characters of every text :func:`_text_payload` can match (latin-1, base64, hex)."""
_U32 = struct.Struct("<I").unpack_from


def _is_latin1_encode(func: object, args: object) -> bool:
    return (
        isinstance(func, Global)
        and func.qualified in _ENCODE
        and isinstance(args, tuple)
        and len(args) == 2
        and isinstance(args[0], str)
        and args[1] in ("latin1", "latin-1")
        and all(ord(ch) < 256 for ch in args[0])
    )


def _looks_like_pickle(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and head[1] <= 5


def _looks_embedded(head: bytes) -> bool:
    """A pickle, or a zip (torch.save's format, as torch.storage._load_from_bytes takes it)."""
    return _looks_like_pickle(head) or head[:4] == b"PK\x03\x04"


def _text_payload(s: str) -> tuple[bytes, str] | None:
    """Bytes hidden in a text operand: latin-1 (protocol 2 bytes), base64 or hex of a pickle."""
    if len(s) < 4:
        return None
    if s[0] == "\x80" and ord(s[1]) <= 5:
        try:
            return s.encode("latin-1"), "latin1"
        except UnicodeEncodeError:
            return None
    if s.startswith(("gA", "gAS", "gAN", "gAJ", "gAE", "gAU")):
        try:
            data = base64.b64decode(s.strip(), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if _looks_like_pickle(data):
            return data, "base64"
    if s[:2] == "80" and s[2:3] == "0":
        try:
            data = bytes.fromhex(s)
        except ValueError:
            return None
        if _looks_like_pickle(data):
            return data, "hex"
    return None


def _dtype_info(value: object) -> tuple[int, bool] | None:
    """(itemsize, has_objects) of a modelled ``numpy.dtype(...)`` call, or None if unknown."""
    if not isinstance(value, Call) or not isinstance(value.args, tuple) or not value.args:
        return None
    typestr = value.args[0]
    if not isinstance(typestr, str) or not typestr:
        return None
    kind = typestr.lstrip("<>|=")[:1]
    has_objects = kind == "O"
    state = value.state
    fields = state[4] if isinstance(state, tuple) and len(state) > 5 else None
    if isinstance(fields, PDict):
        for _, spec in fields.items:
            if isinstance(spec, tuple) and spec:
                sub = _dtype_info(spec[0])
                if sub is None or sub[1]:
                    has_objects = True
    elsize = state[5] if isinstance(state, tuple) and len(state) > 5 else -1
    if isinstance(elsize, int) and not isinstance(elsize, bool) and elsize > 0:
        return elsize, has_objects
    digits = "".join(ch for ch in typestr.lstrip("<>|=")[1:] if ch.isdigit())
    if has_objects:
        return 8, True
    if not digits:
        return None
    size = int(digits)
    return (size * 4 if kind == "U" else size), has_objects


class PickleMachine:
    """Emulates one pickle stream at a time from a shared :class:`Reader`."""

    def __init__(self, reader: Reader, limits: Limits) -> None:
        self.r = reader
        self.limits = limits

    def run(self) -> StreamAnalysis:
        """Emulate from the reader's position to the stream's STOP (or to the first error)."""
        a = StreamAnalysis(start=self.r.pos)
        try:
            self._run(a)
        except (PickleError, CorruptData) as e:
            a.error = str(e)
            a.error_offset = self.r.pos
        except LimitExceeded as e:
            a.limit = str(e)
            a.error_offset = self.r.pos
        a.end = self.r.pos
        return a

    def _run(self, a: StreamAnalysis) -> None:
        r = self.r
        read = r.read
        byte = r.byte
        limits = self.limits
        stack: list[object] = []
        metastack: list[list[object]] = []
        memo: dict[int, object] = {}
        max_ops = limits.max_opcodes
        max_memo = limits.max_memo
        max_stack = limits.max_stack
        index = -1

        def pop() -> object:
            if not stack:
                raise PickleError(f"stack underflow at opcode #{index} (offset {offset})")
            return stack.pop()

        def pop_mark() -> list[object]:
            nonlocal stack
            if not metastack:
                raise PickleError(f"MARK expected at opcode #{index} (offset {offset})")
            items = stack
            stack = metastack.pop()
            return items

        def record_import(module: str, name: str, opname: str) -> Global:
            module = _PY2_MODULES.get(module, module)
            g = Global(module, name)
            a.imports.append(ImportEvent(g, offset, index, opname))
            return g

        def record_call(func: object, args: object, opname: str) -> Call:
            call = Call(func, args, opname)
            a.calls.append(CallEvent(func, offset, index, opname, call))
            return call

        def push_bytes(length: int, text: bool) -> None:
            start = r.base + r.i
            if length <= KEEP_BYTES:
                data = read(length)
                if text:
                    try:
                        s = data.decode("utf-8", "surrogatepass")
                    except UnicodeDecodeError:
                        raise PickleError(f"text operand at offset {start} is not UTF-8") from None
                    stack.append(s)
                    self._check_text(a, s, start)
                else:
                    stack.append(data)
                    if _looks_embedded(data):
                        a.embedded.append(Embedded(start, length, data, "raw"))
                return
            head = read(16)
            r.skip(length - 16)
            stack.append(Ref(start, length, head, text))
            if not text and _looks_embedded(head):
                a.embedded.append(Embedded(start, length, None, "raw"))

        def push_legacy_string(length: int) -> None:
            """Python 2 str operands: Python 3 decodes them to text (here as latin-1)."""
            start = r.base + r.i
            if length > KEEP_BYTES:
                head = read(16)
                r.skip(length - 16)
                stack.append(Ref(start, length, head, False))
                if _looks_embedded(head):
                    a.embedded.append(Embedded(start, length, None, "raw"))
                return
            text = read(length).decode("latin-1")
            stack.append(text)
            self._check_text(a, text, start)

        def add_items(target: object, items: list[object], opname: str) -> None:
            if isinstance(target, list):
                room = KEEP_ITEMS - len(target)
                if room > 0:
                    target.extend(items[:room])
            elif isinstance(target, set | frozenset):
                pass
            elif self._not_container(target):
                a.anomalies.append(
                    Anomaly("container-abuse", f"{opname} on {_describe(target)}", offset, index)
                )

        def set_items(target: object, items: list[object], opname: str) -> None:
            if isinstance(target, PDict):
                pairs = list(zip(items[::2], items[1::2], strict=False))
                room = KEEP_ITEMS - len(target.items)
                target.items.extend(pairs[: max(room, 0)])
                target.dropped += max(0, len(pairs) - max(room, 0))
            elif self._not_container(target):
                a.anomalies.append(
                    Anomaly("container-abuse", f"{opname} on {_describe(target)}", offset, index)
                )

        # The reader's buffer and position live in locals while the loop runs: attribute
        # access on every opcode was most of the cost for small pickles. `buf`, `n` and `base`
        # always equal the reader's; `i` runs ahead of `r.i`. Ops in the first chain below only
        # touch the reader through the rare refill fallbacks (`r.i = i` first, then reload);
        # everything else runs in the `else:` chain, which hands the position to the reader
        # first and takes it back afterwards. The `finally` reconciles the two on the way out.
        #
        # The opcodes that push a value torch (and pickle at protocol 2+) always memoizes next
        # take a following BINPUT or LONG_BINPUT with them ("fused"), saving that opcode a trip
        # round the loop. `index` can then move by two, so the limits are checked when it
        # reaches `check_at`, never on an exact value it could step over.
        global_pushes = a.global_pushes
        buf = r.buf
        i = r.i
        n = r.n
        base = r.base
        check_at = 0x3FF
        try:
            while True:
                # `index` is the previous opcode's index here; it is bumped once the opcode
                # byte is in hand, so `index + 1` is the count of opcodes read at any raise.
                if index >= check_at:
                    check_at += 0x400  # stays on the 1023 + 1024k grid
                    if index + 1 >= max_ops:
                        raise LimitExceeded(f"more than {max_ops} opcodes in one stream")
                    if len(stack) > max_stack or len(metastack) > max_stack:
                        raise LimitExceeded(f"more than {max_stack} values on the stack")
                    if len(memo) > max_memo:
                        raise LimitExceeded(f"more than {max_memo} memo entries")
                # The opcode byte, straight from the buffer when it is there.
                if i < n:
                    offset = base + i
                    op = buf[i]
                    i += 1
                else:
                    offset = base + i
                    r.i = i
                    op = byte()
                    buf, i, n, base = r.buf, r.i, r.n, r.base  # the buffer was refilled
                index += 1

                # Ordered by how often real model pickles use each opcode (torch state dicts
                # first); one-byte operands come straight from the buffer when they are there.
                if op == 0x71:  # q BINPUT
                    if not stack:
                        raise PickleError(f"BINPUT on an empty stack at offset {offset}")
                    if i < n:
                        memo[buf[i]] = stack[-1]
                        i += 1
                    else:
                        r.i = i
                        memo[byte()] = stack[-1]
                        buf, i, n, base = r.buf, r.i, r.n, r.base
                elif op == 0x72:  # r LONG_BINPUT
                    if i + 4 <= n:
                        key = _U32(buf, i)[0]
                        i += 4
                    else:
                        r.i = i
                        key = struct.unpack("<I", read(4))[0]
                        buf, i, n, base = r.buf, r.i, r.n, r.base
                    if not stack:
                        raise PickleError(f"LONG_BINPUT on an empty stack at offset {offset}")
                    memo[key] = stack[-1]
                elif op == 0x68:  # h BINGET
                    if i < n:
                        key = buf[i]
                        i += 1
                    else:
                        r.i = i
                        key = byte()
                        buf, i, n, base = r.buf, r.i, r.n, r.base
                    value = memo[key] if key in memo else self._missing(a, key, offset, index)
                    if type(value) is Global:
                        global_pushes[id(value)] = global_pushes.get(id(value), 1) + 1
                    stack.append(value)
                elif op == 0x4B:  # K BININT1
                    if i < n:
                        stack.append(buf[i])
                        i += 1
                    else:
                        r.i = i
                        stack.append(byte())
                        buf, i, n, base = r.buf, r.i, r.n, r.base
                elif op == 0x58 or op == 0x8C:  # X BINUNICODE, SHORT_BINUNICODE
                    j = i + 4 if op == 0x58 else i + 1
                    if j <= n:
                        length = _U32(buf, i)[0] if op == 0x58 else buf[i]
                        stop = j + length
                        if stop <= n and length <= KEEP_BYTES:
                            # The whole operand is in the buffer: push_bytes, inlined.
                            i = stop  # past the operand, as read() would leave it
                            try:
                                s = buf[j:stop].decode("utf-8", "surrogatepass")
                            except UnicodeDecodeError:
                                raise PickleError(
                                    f"text operand at offset {base + j} is not UTF-8"
                                ) from None
                            stack.append(s)
                            # _check_text's cheap pre-test: no payload in short or plain text.
                            if length >= 4 and s[:1] in _PAYLOAD_FIRST:
                                self._check_text(a, s, base + j)
                            if i + 1 < n:  # a BINPUT or LONG_BINPUT next: fused
                                if buf[i] == 0x71:
                                    memo[buf[i + 1]] = s
                                    i += 2
                                    index += 1
                                elif buf[i] == 0x72 and i + 5 <= n:
                                    memo[_U32(buf, i + 1)[0]] = s
                                    i += 5
                                    index += 1
                        else:
                            r.i = j
                            push_bytes(length, True)
                            buf, i, n, base = r.buf, r.i, r.n, r.base
                    else:
                        r.i = i
                        push_bytes(struct.unpack("<I", read(4))[0] if op == 0x58 else byte(), True)
                        buf, i, n, base = r.buf, r.i, r.n, r.base
                elif op == 0x28:  # ( MARK
                    metastack.append(stack)
                    stack = []
                    if len(metastack) > max_stack:
                        raise LimitExceeded(f"more than {max_stack} nested MARKs")
                elif op == 0x52:  # R REDUCE
                    args = stack.pop() if stack else pop()
                    func = stack.pop() if stack else pop()
                    # Only getattr and encode get special treatment; a cheap test on the name
                    # keeps the common call (a tensor rebuild) off the slower checks.
                    special = isinstance(func, Global) and func.name in _SPECIAL_NAMES
                    resolved = _static_getattr(func, args) if special else None
                    if resolved is not None:
                        # getattr(SomeClass, "name"), how pickle stores a classmethod: judge the
                        # attribute it reaches as an import of its own.
                        a.getattr_resolved[id(func)] = a.getattr_resolved.get(id(func), 0) + 1
                        stack.append(
                            record_import(resolved.module, resolved.name, "REDUCE getattr")
                        )
                    elif special and _is_latin1_encode(func, args):
                        # _codecs.encode(text, "latin1"): how protocols 0-2 store bytes.
                        record_call(func, args, "REDUCE")
                        stack.append(args[0].encode("latin-1"))  # type: ignore[index]
                    else:
                        call = Call(func, args, "REDUCE")
                        a.calls.append(CallEvent(func, offset, index, "REDUCE", call))
                        stack.append(call)
                        if i + 1 < n:  # a BINPUT or LONG_BINPUT next: fused
                            if buf[i] == 0x71:
                                memo[buf[i + 1]] = call
                                i += 2
                                index += 1
                            elif buf[i] == 0x72 and i + 5 <= n:
                                memo[_U32(buf, i + 1)[0]] = call
                                i += 5
                                index += 1
                elif op == 0x74:  # t TUPLE
                    if metastack:  # pop_mark(), inlined
                        items = stack
                        stack = metastack.pop()
                    else:
                        items = pop_mark()  # rebinds `stack`: never inline it into stack.append
                    value = tuple(items[:KEEP_ITEMS])
                    stack.append(value)
                    if i + 1 < n:  # a BINPUT or LONG_BINPUT next: fused
                        if buf[i] == 0x71:
                            memo[buf[i + 1]] = value
                            i += 2
                            index += 1
                        elif buf[i] == 0x72 and i + 5 <= n:
                            memo[_U32(buf, i + 1)[0]] = value
                            i += 5
                            index += 1
                elif op == 0x29:  # ) EMPTY_TUPLE
                    stack.append(())
                elif op == 0x4D:  # M BININT2
                    if i + 2 <= n:
                        stack.append(buf[i] | buf[i + 1] << 8)
                        i += 2
                    else:
                        r.i = i
                        stack.append(struct.unpack("<H", read(2))[0])
                        buf, i, n, base = r.buf, r.i, r.n, r.base
                elif op == 0x89:  # NEWFALSE
                    stack.append(False)
                elif op == 0x85:  # TUPLE1
                    value = (stack.pop() if stack else pop(),)
                    stack.append(value)
                    if i + 1 < n:  # a BINPUT or LONG_BINPUT next: fused
                        if buf[i] == 0x71:
                            memo[buf[i + 1]] = value
                            i += 2
                            index += 1
                        elif buf[i] == 0x72 and i + 5 <= n:
                            memo[_U32(buf, i + 1)[0]] = value
                            i += 5
                            index += 1
                elif op == 0x51:  # Q BINPERSID
                    pid = stack.pop() if stack else pop()
                    a.persistent_ids.append(pid)
                    stack.append(Persisted(pid))
                elif op == 0x7D:  # } EMPTY_DICT
                    value = PDict()
                    stack.append(value)
                    if i + 1 < n:  # a BINPUT or LONG_BINPUT next: fused
                        if buf[i] == 0x71:
                            memo[buf[i + 1]] = value
                            i += 2
                            index += 1
                        elif buf[i] == 0x72 and i + 5 <= n:
                            memo[_U32(buf, i + 1)[0]] = value
                            i += 5
                            index += 1
                elif op == 0x86:  # TUPLE2
                    if len(stack) >= 2:
                        b = stack.pop()
                        value = stack[-1] = (stack[-1], b)
                    else:
                        b = pop()
                        value = (pop(), b)
                        stack.append(value)
                    if i + 1 < n:  # a BINPUT or LONG_BINPUT next: fused
                        if buf[i] == 0x71:
                            memo[buf[i + 1]] = value
                            i += 2
                            index += 1
                        elif buf[i] == 0x72 and i + 5 <= n:
                            memo[_U32(buf, i + 1)[0]] = value
                            i += 5
                            index += 1
                elif op == 0x75:  # u SETITEMS
                    items = pop_mark()
                    if not stack:
                        raise PickleError(f"SETITEMS on an empty stack at offset {offset}")
                    set_items(stack[-1], items, "SETITEMS")
                elif op == 0x94:  # MEMOIZE
                    if not stack:
                        raise PickleError(f"MEMOIZE on an empty stack at offset {offset}")
                    memo[len(memo)] = stack[-1]
                elif op == 0x73:  # s SETITEM
                    v = pop()
                    k = pop()
                    if not stack:
                        raise PickleError(f"SETITEM on an empty stack at offset {offset}")
                    set_items(stack[-1], [k, v], "SETITEM")
                elif op == 0x5D:  # ] EMPTY_LIST
                    stack.append([])
                elif op == 0x87:  # TUPLE3
                    c = pop()
                    b = pop()
                    stack.append((pop(), b, c))
                elif op == 0x65:  # e APPENDS
                    items = pop_mark()
                    if not stack:
                        raise PickleError(f"APPENDS on an empty stack at offset {offset}")
                    add_items(stack[-1], items, "APPENDS")
                elif op == 0x61:  # a APPEND
                    v = pop()
                    if not stack:
                        raise PickleError(f"APPEND on an empty stack at offset {offset}")
                    add_items(stack[-1], [v], "APPEND")
                elif op == 0x88:  # NEWTRUE
                    stack.append(True)
                elif op == 0x4E:  # N NONE
                    stack.append(None)
                else:
                    # Everything else reads through the reader's own methods.
                    r.i = i
                    if op == 0x62:  # b BUILD (joblib reads array data from here)
                        state = pop()
                        if not stack:
                            raise PickleError(f"BUILD on an empty stack at offset {offset}")
                        self._build(a, stack[-1], state, offset, index)
                    elif op == 0x4A:  # J BININT
                        stack.append(struct.unpack("<i", read(4))[0])
                    elif op == 0x6A:  # j LONG_BINGET
                        key = struct.unpack("<I", read(4))[0]
                        value = memo[key] if key in memo else self._missing(a, key, offset, index)
                        if type(value) is Global:
                            a.global_pushes[id(value)] = a.global_pushes.get(id(value), 1) + 1
                        stack.append(value)
                    elif op == 0x47:  # G BINFLOAT
                        stack.append(struct.unpack(">d", read(8))[0])
                    elif op == 0x93:  # STACK_GLOBAL
                        name = pop()
                        module = pop()
                        if isinstance(module, str) and isinstance(name, str):
                            stack.append(record_import(module, name, "STACK_GLOBAL"))
                        else:
                            a.anomalies.append(
                                Anomaly(
                                    "unresolvable",
                                    f"STACK_GLOBAL with module {_describe(module)} and name "
                                    f"{_describe(name)}",
                                    offset,
                                    index,
                                )
                            )
                            stack.append(Unknown("unresolvable global"))
                    elif op == 0x63:  # c GLOBAL
                        module = read_line_text(r)
                        name = read_line_text(r)
                        stack.append(record_import(module, name, "GLOBAL"))
                    elif op == 0x80:  # PROTO
                        proto = byte()
                        if a.protocol is None and index == 0:
                            a.protocol = proto
                        if proto > 5:
                            raise PickleError(
                                f"unsupported pickle protocol {proto} at offset {offset}"
                            )
                    elif op == 0x95:  # FRAME
                        size = struct.unpack("<Q", read(8))[0]
                        if r.size is not None and r.pos + size > r.size:
                            raise PickleError(
                                f"unexpected end of data: frame of {size} bytes at offset {offset}"
                            )
                    elif op == 0x2E:  # . STOP
                        a.result = pop()
                        a.stopped = True
                        return
                    elif op == 0x50:  # P PERSID
                        pid_text = read_line_text(r)
                        a.persistent_ids.append(pid_text)
                        stack.append(Persisted(pid_text))
                    elif op == 0x8A:  # LONG1
                        n = byte()
                        stack.append(int.from_bytes(read(n), "little", signed=True))
                    elif op == 0x8B:  # LONG4
                        n = struct.unpack("<i", read(4))[0]
                        if n < 0:
                            raise PickleError(f"LONG4 with negative length at offset {offset}")
                        if n > KEEP_BYTES:
                            r.skip(n)
                            stack.append(Unknown("huge integer"))
                        else:
                            stack.append(int.from_bytes(read(n), "little", signed=True))
                    elif op == 0x43:  # C SHORT_BINBYTES
                        push_bytes(byte(), False)
                    elif op == 0x42:  # B BINBYTES
                        push_bytes(struct.unpack("<I", read(4))[0], False)
                    elif op == 0x8E or op == 0x96:  # BINBYTES8
                        push_bytes(struct.unpack("<Q", read(8))[0], False)
                    elif op == 0x8D:  # BINUNICODE8
                        push_bytes(struct.unpack("<Q", read(8))[0], True)
                    elif op == 0x55:  # U SHORT_BINSTRING (Python 3 loads it as text)
                        push_legacy_string(byte())
                    elif op == 0x54:  # T BINSTRING
                        n = struct.unpack("<i", read(4))[0]
                        if n < 0:
                            raise PickleError(f"BINSTRING with negative length at offset {offset}")
                        push_legacy_string(n)
                    elif op == 0x53:  # S STRING
                        stack.append(_parse_string(r.readline(), offset))
                    elif op == 0x56:  # V UNICODE
                        try:
                            s = codecs.decode(r.readline(), "raw-unicode-escape")
                        except UnicodeDecodeError:
                            raise PickleError(
                                f"UNICODE operand at offset {offset} is malformed"
                            ) from None
                        stack.append(s)
                        self._check_text(a, s, -1)
                    elif op == 0x49:  # I INT
                        stack.append(_parse_int(r.readline(), offset, prefixed=True))
                    elif op == 0x4C:  # L LONG
                        line = r.readline()
                        line = line[:-1] if line.endswith(b"L") else line
                        stack.append(_parse_int(line, offset, prefixed=True))
                    elif op == 0x46:  # F FLOAT
                        try:
                            stack.append(float(r.readline()))
                        except ValueError:
                            raise PickleError(
                                f"FLOAT operand is not a number at offset {offset}"
                            ) from None
                    elif op == 0x30:  # 0 POP
                        if stack:
                            stack.pop()
                        else:
                            pop_mark()
                    elif op == 0x31:  # 1 POP_MARK
                        pop_mark()
                    elif op == 0x32:  # 2 DUP
                        if not stack:
                            raise PickleError(f"DUP on an empty stack at offset {offset}")
                        value = stack[-1]
                        if type(value) is Global:
                            a.global_pushes[id(value)] = a.global_pushes.get(id(value), 1) + 1
                        stack.append(value)
                    elif op == 0x67:  # g GET
                        key = _parse_int(r.readline(), offset)
                        value = memo[key] if key in memo else self._missing(a, key, offset, index)
                        if type(value) is Global:
                            a.global_pushes[id(value)] = a.global_pushes.get(id(value), 1) + 1
                        stack.append(value)
                    elif op == 0x70:  # p PUT
                        key = _parse_int(r.readline(), offset)
                        if not stack:
                            raise PickleError(f"PUT on an empty stack at offset {offset}")
                        memo[key] = stack[-1]
                    elif op == 0x6C:  # l LIST
                        items = pop_mark()
                        stack.append(items[:KEEP_ITEMS])
                    elif op == 0x64:  # d DICT
                        items = pop_mark()
                        stack.append(
                            PDict(list(zip(items[::2], items[1::2], strict=False))[:KEEP_ITEMS])
                        )
                    elif op == 0x8F:  # EMPTY_SET
                        stack.append(set())
                    elif op == 0x90:  # ADDITEMS
                        pop_mark()
                        if not stack:
                            raise PickleError(f"ADDITEMS on an empty stack at offset {offset}")
                        add_items(stack[-1], [], "ADDITEMS")
                    elif op == 0x91:  # FROZENSET
                        pop_mark()
                        stack.append(frozenset())
                    elif op == 0x81:  # NEWOBJ
                        args = pop()
                        cls = pop()
                        stack.append(record_call(cls, args, "NEWOBJ"))
                    elif op == 0x92:  # NEWOBJ_EX
                        kwargs = pop()
                        args = pop()
                        cls = pop()
                        stack.append(record_call(cls, (args, kwargs), "NEWOBJ_EX"))
                    elif op == 0x69:  # i INST
                        module = read_line_text(r)
                        name = read_line_text(r)
                        args = tuple(pop_mark())
                        g = record_import(module, name, "INST")
                        stack.append(record_call(g, args, "INST"))
                    elif op == 0x6F:  # o OBJ
                        items = pop_mark()
                        if not items:
                            raise PickleError(f"OBJ without a class at offset {offset}")
                        stack.append(record_call(items[0], tuple(items[1:]), "OBJ"))
                    elif op in (0x82, 0x83, 0x84):  # EXT1 EXT2 EXT4
                        width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
                        code = int.from_bytes(read(width), "little")
                        a.anomalies.append(
                            Anomaly(
                                "unresolvable",
                                f"EXT{width} extension code {code} (copyreg's extension registry)",
                                offset,
                                index,
                            )
                        )
                        stack.append(Unknown(f"extension code {code}"))
                    elif op == 0x97:  # NEXT_BUFFER
                        stack.append(Unknown("out-of-band buffer"))
                    elif op == 0x98:  # READONLY_BUFFER
                        if not stack:
                            raise PickleError(
                                f"READONLY_BUFFER on an empty stack at offset {offset}"
                            )
                    else:
                        raise PickleError(f"invalid opcode 0x{op:02x} at offset {offset}")
                    buf, i, n, base = r.buf, r.i, r.n, r.base
        finally:
            a.opcodes = index + 1  # read by credibility checks after errors
            # Positions only move forward. While the reader still holds our buffer at our base,
            # the further of `r.i` and `i` is where reading stopped: `i` when the first chain
            # raised, `r.i` when the reader's own methods (or a nested stream) moved on. If the
            # buffer was replaced, the reader raised mid-refill and its own position stands.
            if r.buf is buf and r.base == base and r.i < i:
                r.i = i

    # --- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _missing(a: StreamAnalysis, key: int, offset: int, index: int) -> Unknown:
        a.anomalies.append(
            Anomaly("unresolvable", f"memo slot {key} read before it was written", offset, index)
        )
        return Unknown(f"memo slot {key}")

    @staticmethod
    def _check_text(a: StreamAnalysis, s: str, start: int) -> None:
        found = _text_payload(s)
        if found is not None:
            data, encoding = found
            a.embedded.append(Embedded(-1, len(data), data, encoding))

    @staticmethod
    def _not_container(target: object) -> bool:
        """Whether SETITEM/APPEND on ``target`` can only be an attack: an imported object
        itself, or something an allowlisted non-container constructor built (a tensor, a
        parameter, a storage, an array). Unknown classes may be dict or list subclasses."""
        if isinstance(target, Global):
            return True
        if isinstance(target, Call) and isinstance(target.func, Global):
            q = target.func.qualified
            if q in _CONTAINER_FUNCS:
                return False
            return q in _NON_CONTAINER_REBUILDERS or str(target.func) in SAFE
        return False

    def _build(
        self, a: StreamAnalysis, target: object, state: object, offset: int, index: int
    ) -> None:
        if isinstance(target, Global):
            a.anomalies.append(
                Anomaly(
                    "attribute-write",
                    f"BUILD sets attributes {_state_keys(state)} on {target}",
                    offset,
                    index,
                )
            )
            return
        if not isinstance(target, Call):
            return
        target.state = state
        func = target.func
        if isinstance(func, Global) and func.qualified in _JOBLIB_WRAPPERS:
            self._joblib_array(a, state, offset)

    def _joblib_array(self, a: StreamAnalysis, state: object, offset: int) -> None:
        """joblib writes each array's bytes straight after the BUILD of its wrapper."""
        if not isinstance(state, PDict):
            raise PickleError(f"joblib array wrapper without a state dict at offset {offset}")
        info = _dtype_info(state.get("dtype"))
        shape = state.get("shape")
        if info is None or not isinstance(shape, tuple | list):
            raise PickleError(f"joblib array wrapper with an unreadable dtype or shape at {offset}")
        itemsize, has_objects = info
        if has_objects:
            # An object array is a whole pickle stream of its own, read by a fresh unpickler.
            nested = PickleMachine(self.r, self.limits).run()
            a.nested.append(nested)
            if nested.error or nested.limit:
                raise PickleError(f"joblib object array at offset {offset} is malformed")
            return
        count = 1
        for dim in shape:
            if not isinstance(dim, int) or dim < 0:
                raise PickleError(f"joblib array wrapper with a bad shape at offset {offset}")
            count *= dim
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = self.r.byte()
            self.r.skip(pad)
        start = self.r.pos
        self.r.skip(count * itemsize)
        a.raw_spans.append((start, count * itemsize))


def read_line_text(r: Reader) -> str:
    line = r.readline()
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _parse_int(line: bytes, offset: int, *, prefixed: bool = False) -> int:
    """A text integer. INT and LONG take base prefixes (``0x1``, ``0o7``) as pickle does, and
    octal-looking ``010`` as the C unpickler's strtol does; memo keys are plain decimal."""
    if line == b"00":
        return False
    if line == b"01":
        return True
    try:
        return int(line, 0) if prefixed else int(line)
    except ValueError:
        pass
    if prefixed:
        text = line.strip()
        digits = text.lstrip(b"+-")
        try:
            if digits.startswith(b"0") and digits.isdigit():
                return (-1 if text.startswith(b"-") else 1) * int(digits, 8)
            return int(line)
        except ValueError:
            pass
    raise PickleError(f"integer operand {line[:40]!r} is not a number at offset {offset}")


def _parse_string(line: bytes, offset: int) -> str:
    """Protocol 0 STRING: a quoted, escaped literal (decoded the way Python 3's pickle does)."""
    if len(line) >= 2 and line[:1] == line[-1:] and line[:1] in (b"'", b'"'):
        body = line[1:-1]
    else:
        raise PickleError(f"STRING operand is not quoted at offset {offset}")
    try:
        raw = codecs.escape_decode(body)[0]
    except ValueError:
        raise PickleError(f"STRING operand has a bad escape at offset {offset}") from None
    return raw.decode("latin-1")


def _state_keys(state: object) -> str:
    if isinstance(state, PDict):
        return "{" + ", ".join(repr(k) for k, _ in state.items[:8]) + "}"
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], PDict):
        return _state_keys(state[1])
    return _describe(state)


def _describe(value: object) -> str:
    if isinstance(value, Global):
        return f"global {value}"
    if isinstance(value, Call):
        return f"the result of {_describe(value.func)}"
    if isinstance(value, Unknown):
        return f"an unknown value ({value.why})"
    if isinstance(value, str | bytes | int | float):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return type(value).__name__
