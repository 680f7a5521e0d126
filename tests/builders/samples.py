"""Every attack of the threat catalogue (scanner-threats.md §2, items 1-28) as bytes, plus benign
look-alikes, built in code from opcodes and container bytes.

The only payload any malicious sample carries creates the canary file whose path is passed in
(``touch <canary>``, ``open(<canary>, 'w')`` ...). A few samples reproduce the *shape* of a gadget
whose real use is not a file write (a network client, a hook registration); their ``item`` text
says so, and none of them reaches the network. Nothing here unpickles or imports what it builds.

Only the standard library is needed; 7z and lz4 samples are left out when py7zr or lz4 is missing.
"""

from __future__ import annotations

import base64
import marshal
import string as _string
import struct
import zlib
from dataclasses import dataclass

from tests.builders import containers as ct
from tests.builders import pickles as pk
from tests.builders.pickles import Build, Call, Glob


@dataclass(frozen=True)
class Sample:
    name: str
    """Short unique id, e.g. ``item07-nullifai-broken-stream``."""
    filename: str
    """File name to write it under (the extension matters for some attacks)."""
    data: bytes
    malicious: bool
    item: str
    """Catalogue reference, e.g. ``§2 item 7 (nullifAI)``."""
    advisory: str
    """CVE / GHSA / URL it reproduces, or ""."""


# --- helpers -------------------------------------------------------------------------------------
def _bad(name: str, filename: str, data: bytes, item: str, advisory: str = "") -> Sample:
    return Sample(name, filename, data, True, item, advisory)


def _good(name: str, filename: str, data: bytes, item: str) -> Sample:
    return Sample(name, filename, data, False, item, "")


def _benign_state_dict() -> tuple[bytes, dict[str, bytes]]:
    pkl = ct.state_dict_pickle({"weight": ("0", 4), "bias": ("1", 2)})
    storages = {"0": ct.float_storage([0.5, -1.0, 2.0, 0.25]), "1": ct.float_storage([0.0, 1.0])}
    return pkl, storages


def _malicious_pt_zip(payload: bytes, pickle_member: ct.ZipMember | None = None) -> bytes:
    """A torch.save-style zip with real storages and ``payload`` as data.pkl."""
    _, storages = _benign_state_dict()
    return ct.pt_zip(payload, storages, pickle_member=pickle_member)


def _code_fields(source: str) -> tuple[object, ...]:
    """The positional arguments of ``types.CodeType`` for ``source`` (compiled, never run)."""
    code = compile(source, "<payload>", "exec")
    names = [
        "co_argcount",
        "co_posonlyargcount",
        "co_kwonlyargcount",
        "co_nlocals",
        "co_stacksize",
        "co_flags",
        "co_code",
        "co_consts",
        "co_names",
        "co_varnames",
        "co_filename",
        "co_name",
        "co_qualname",
        "co_firstlineno",
        "co_linetable",
        "co_exceptiontable",
        "co_freevars",
        "co_cellvars",
    ]
    return tuple(getattr(code, n) for n in names)


# --- §2 A: container and format differentials ----------------------------------------------------
def _item01(canary: str) -> list[Sample]:
    item, adv = "§2 item 1 (extension spoofing)", "CVE-2025-1889"
    return [
        _bad("item01-spoof-safetensors", "model.safetensors", pk.system_p2(canary), item, adv),
        _bad("item01-spoof-weights", "x.weights", pk.system_p0(canary), item, adv),
        _bad("item01-spoof-json", "config.json", pk.system_p4(canary, "posix"), item, adv),
        _bad("item01-spoof-txt", "notes.txt", pk.popen_p2(canary), item, adv),
    ]


def _item02(canary: str) -> list[Sample]:
    item, adv = "§2 item 2 (raw pickle with a PyTorch extension)", "CVE-2025-10155"
    p1 = pk.dumps(Call(Glob("os", "system"), (pk.touch_command(canary),)), 1)
    return [
        _bad("item02-raw-p0-bin", "pytorch_model.bin", pk.system_p0(canary), item, adv),
        _bad("item02-raw-p1-pt", "model.pt", p1, item, adv),
        _bad("item02-raw-p2-pth", "model.pth", pk.system_p2(canary), item, adv),
        _bad("item02-raw-p2-ckpt", "last.ckpt", pk.popen_p2(canary), item, adv),
    ]


def _item03(canary: str) -> list[Sample]:
    item, adv = "§2 item 3 (bad CRC in zip)", "CVE-2025-10156; picklescan malicious1_crc.zip"
    payload = pk.system_p2(canary)
    bad_crc = zlib.crc32(payload) ^ 0xFFFFFFFF
    stored = ct.ZipMember("archive/data.pkl", payload, ct.STORED, crc=bad_crc)
    deflated = ct.ZipMember("archive/data.pkl", payload, ct.DEFLATED, crc=bad_crc)
    return [
        _bad(
            "item03-bad-crc-stored",
            "model.pt",
            _malicious_pt_zip(b"", pickle_member=stored),
            item,
            adv,
        ),
        _bad(
            "item03-bad-crc-deflated",
            "model.pt",
            _malicious_pt_zip(b"", pickle_member=deflated),
            item,
            adv,
        ),
    ]


def _item04(canary: str) -> list[Sample]:
    item = "§2 item 4 (zip header tricks)"
    adv = "CVE-2025-1944, CVE-2025-1945; picklescan malicious1_0x1/0x20/0x40/_central_directory.zip"
    payload = pk.system_p2(canary)
    out = []
    for flag in (0x1, 0x20, 0x40):
        member = ct.ZipMember("archive/data.pkl", payload, flags=flag)
        out.append(
            _bad(
                f"item04-flag-0x{flag:x}",
                "model.pt",
                _malicious_pt_zip(b"", pickle_member=member),
                item,
                adv,
            )
        )
    renamed = ct.ZipMember("archive/data.pkl", payload, local_name="archive/data.txt")
    out.append(
        _bad(
            "item04-local-name-differs",
            "model.pt",
            _malicious_pt_zip(b"", pickle_member=renamed),
            item,
            adv,
        )
    )
    flags = ct.ZipMember("archive/data.pkl", payload, local_flags=0x1)
    out.append(
        _bad(
            "item04-local-flags-differ",
            "model.pt",
            _malicious_pt_zip(b"", pickle_member=flags),
            item,
            adv,
        )
    )
    no_cd = ct.build_zip([ct.ZipMember("archive/data.pkl", payload)], central_directory=False)
    out.append(
        _bad("item04-no-central-directory", "model.pt", no_cd, item + ", local headers only", adv)
    )
    return out


def _item05(canary: str) -> list[Sample]:
    item, adv = "§2 item 5 (renamed zip member)", "picklescan malicious1_wrong_ext.zip"
    payload = pk.system_p2(canary)
    pkl, storages = _benign_state_dict()
    hidden_storage = ct.pt_zip(pkl, {**storages, "2": payload})
    return [
        _bad(
            "item05-member-data-txt", "model.zip", ct.stored_zip([("data.txt", payload)]), item, adv
        ),
        _bad(
            "item05-member-no-extension",
            "model.bin",
            ct.stored_zip([("weights", payload)]),
            item,
            adv,
        ),
        _bad(
            "item05-member-renamed-deflated",
            "model.zip",
            ct.stored_zip([("archive/constants", pk.system_p0(canary))], ct.DEFLATED),
            item,
            adv,
        ),
        _bad(
            "item05-pickle-as-storage-member",
            "model.pt",
            hidden_storage,
            item + ", pickle hidden as archive/data/2",
            adv,
        ),
    ]


def _item06(canary: str) -> list[Sample]:
    item = "§2 item 6 (nullifAI wrapper formats)"
    adv = "ReversingLabs nullifAI (Feb 2025)"
    payload = pk.system_p2(canary)
    pt = _malicious_pt_zip(payload)
    out = [
        _bad("item06-gz-pickle", "model.pkl.gz", ct.gz(payload), item, adv),
        _bad("item06-bz2-pickle", "model.pkl.bz2", ct.bz2_(payload), item, adv),
        _bad("item06-xz-pickle", "model.pkl.xz", ct.xz(payload), item, adv),
        _bad("item06-lzma-alone-pickle", "model.pkl.lzma", ct.lzma_alone(payload), item, adv),
        _bad("item06-zlib-joblib-compress3", "model.joblib", ct.zlib_(payload), item, adv),
        _bad("item06-joblib-zfile", "model.joblib", ct.joblib_zfile(payload), item, adv),
        _bad("item06-gz-ptzip", "model.pt.gz", ct.gz(pt), item, adv),
        _bad("item06-bz2-ptzip", "model.pt.bz2", ct.bz2_(pt), item, adv),
        _bad("item06-xz-ptzip", "model.pt.xz", ct.xz(pt), item, adv),
        _bad(
            "item06-tar-gz-pickle",
            "model.tar.gz",
            ct.gz(ct.tar([("model.pkl", payload)])),
            item,
            adv,
        ),
        _bad(
            "item06-ptzip-in-deflated-zip",
            "checkpoint.zip",
            ct.stored_zip([("checkpoint/pytorch_model.bin", pt)], ct.DEFLATED),
            item,
            adv,
        ),
        _bad(
            "item06-zip-bzip2-method",
            "model.zip",
            ct.stored_zip([("model.pkl", payload)], ct.BZIP2),
            item,
            adv,
        ),
    ]
    lz4_pickle = ct.lz4_frame(payload)
    if lz4_pickle is not None:
        out.append(_bad("item06-lz4-pickle", "model.pkl.lz4", lz4_pickle, item, adv))
        out.append(_bad("item06-lz4-ptzip", "model.pt.lz4", ct.lz4_frame(pt) or b"", item, adv))
    seven = ct.sevenzip([("model.pkl", payload)])
    if seven is not None:
        out.append(_bad("item06-7z-pickle", "model.7z", seven, item, adv))
        out.append(
            _bad("item06-7z-ptzip", "model.7z", ct.sevenzip([("model.pt", pt)]) or b"", item, adv)
        )
    return out


def nullifai_stream(canary: str, tail: bytes = b"\xff") -> bytes:
    """PROTO, STACK_GLOBAL posix.system, REDUCE, POP, then ``tail`` (an invalid opcode) and no STOP."""
    return (
        pk.proto(4)
        + pk.stack_global("posix", "system")
        + pk.short_binunicode(pk.touch_command(canary))
        + pk.TUPLE1
        + pk.REDUCE
        + pk.POP
        + tail
    )


def _item07(canary: str) -> list[Sample]:
    item, adv = (
        "§2 item 7 (nullifAI broken stream after the payload)",
        "ReversingLabs nullifAI (Feb 2025)",
    )
    broken = nullifai_stream(canary)
    out = [
        _bad("item07-nullifai-broken-stream", "model.pkl", broken, item, adv),
        _bad("item07-truncated-no-stop", "model.pkl", nullifai_stream(canary, b""), item, adv),
        _bad(
            "item07-broken-protocol0",
            "model.pkl",
            pk.system_body_p0(canary) + pk.POP + b"\xff",
            item,
            adv,
        ),
        _bad("item07-broken-in-ptzip", "model.pt", _malicious_pt_zip(broken), item, adv),
        _bad("item07-broken-in-gz", "model.pkl.gz", ct.gz(broken), item, adv),
    ]
    seven = ct.sevenzip([("archive/data.pkl", broken)])
    if seven is not None:
        out.append(_bad("item07-broken-in-7z", "model.7z", seven, item, adv))
    return out


def _item08(canary: str) -> list[Sample]:
    item, adv = "§2 item 8 (stacked pickles)", "picklescan and fickling stacked-pickle tests"
    benign = pk.dumps({"epoch": 3, "lr": 0.001}, 2)
    pkl, storages = _benign_state_dict()
    legacy = ct.legacy_torch(pkl, storages, trailing=pk.system_p2(canary))
    return [
        _bad("item08-benign-then-malicious", "model.pkl", benign + pk.system_p2(canary), item, adv),
        _bad(
            "item08-three-streams",
            "model.bin",
            pk.dumps([1, 2], 0) + pk.dumps("x", 4) + pk.system_p0(canary),
            item,
            adv,
        ),
        _bad(
            "item08-stacked-in-ptzip",
            "model.pt",
            _malicious_pt_zip(pkl + pk.system_p2(canary)),
            item,
            adv,
        ),
        _bad(
            "item08-legacy-after-storages",
            "model.pt",
            legacy,
            item + ", after legacy storages",
            adv,
        ),
    ]


def _item09(canary: str) -> list[Sample]:
    item, adv = "§2 item 9 (legacy-torch magic computed by reduce)", "GHSA-97f8-7cmv-76j2"
    main = pk.dumps(Call(Glob("os", "system"), (pk.touch_command(canary),)), 2)
    _, storages = _benign_state_dict()
    by_eval = pk.dumps(Call(Glob("builtins", "eval"), ("0x1950a86a20f9469cfc6c",)), 2)
    by_int = pk.dumps(Call(Glob("builtins", "int"), ("1950a86a20f9469cfc6c", 16)), 2)
    return [
        _bad(
            "item09-magic-by-eval",
            "model.pt",
            ct.legacy_torch(main, storages, magic_stream=by_eval),
            item,
            adv,
        ),
        _bad(
            "item09-magic-by-int",
            "model.pt",
            ct.legacy_torch(main, storages, magic_stream=by_int),
            item,
            adv,
        ),
        _bad("item09-legacy-literal-magic", "model.pt", ct.legacy_torch(main, storages), item, adv),
    ]


# --- item 10: content-sniff collisions -----------------------------------------------------------
_PUSH_UNITS: dict[bytes, bytes] = {
    b"(": pk.MARK + pk.TUPLE,
    b"c": pk.global_("collections", "OrderedDict"),
    b"S": pk.string("x"),
    b"V": pk.unicode("x"),
    b"I": pk.int_(1),
    b"L": pk.long_(1),
    b"N": pk.NONE,
    b"}": pk.EMPTY_DICT,
    b"]": pk.EMPTY_LIST,
    b")": pk.EMPTY_TUPLE,
    b"K": b"K\x01",
    b"M": b"M\x01\x02",
    b"J": b"J\x01\x00\x00\x00",
    b"U": pk.short_binstring("ab"),
    b"T": pk.binstring("ab"),
    b"X": pk.binunicode("ab"),
    b"F": pk.float_(1.5),
    b"G": pk.binfloat(1.5),
    b"\x88": pk.NEWTRUE,
    b"\x89": pk.NEWFALSE,
}
# A real module for each first letter of a GLOBAL operand (Python 2 names are mapped by pickle).
_MODULE_BY_LETTER: dict[str, tuple[str, str]] = {
    "a": ("abc", "ABC"),
    "b": ("base64", "b64decode"),
    "c": ("collections", "OrderedDict"),
    "d": ("datetime", "date"),
    "e": ("enum", "Enum"),
    "f": ("fractions", "Fraction"),
    "g": ("gettext", "gettext"),
    "h": ("heapq", "heappush"),
    "i": ("ipaddress", "ip_address"),
    "j": ("json", "JSONDecoder"),
    "k": ("keyword", "iskeyword"),
    "l": ("locale", "getlocale"),
    "m": ("math", "sqrt"),
    "n": ("numbers", "Number"),
    "o": ("opcode", "opname"),
    "p": ("pprint", "pformat"),
    "q": ("queue", "Queue"),
    "r": ("random", "Random"),
    "s": ("string", "capwords"),
    "t": ("textwrap", "dedent"),
    "u": ("unicodedata", "name"),
    "w": ("warnings", "warn"),
    "x": ("xml.sax.saxutils", "escape"),
    "z": ("zoneinfo", "ZoneInfo"),
    "_": ("_codecs", "encode"),
    "C": ("ConfigParser", "ConfigParser"),
    "H": ("HTMLParser", "HTMLParser"),
    "Q": ("Queue", "Queue"),
    "U": ("UserDict", "UserDict"),
}
_NO_OPERAND = (b"N", b"}", b"]", b")", b"\x88", b"\x89")


def _lead(first: bytes, second: int) -> bytes | None:
    """Opcodes that start with ``first + bytes([second])`` and leave the stack as it was."""
    x = bytes([second])
    if first == b"(":
        if x in _PUSH_UNITS:
            return b"(" + _PUSH_UNITS[x] + pk.POP_MARK
        if x in (b"t", b"l", b"d", b"\x91"):
            return b"(" + x + pk.POP
        if x in (b"0", b"1"):
            return b"(" + x
        return None
    if first in _NO_OPERAND:
        if x in _PUSH_UNITS:
            return first + _PUSH_UNITS[x] + pk.POP + pk.POP
        extra = {
            b"0": b"0",
            b"2": b"2" + pk.POP + pk.POP,
            b"p": pk.put(0) + pk.POP,
            b"q": pk.binput(0) + pk.POP,
            b"r": pk.long_binput(7) + pk.POP,
            b"\x94": pk.MEMOIZE + pk.POP,
        }.get(x)
        return None if extra is None else first + extra
    if first == b"c":
        found = _MODULE_BY_LETTER.get(x.decode("latin-1"))
        return None if found is None else pk.global_(*found) + pk.POP
    if first == b"S":
        return pk.string("x", quote=x.decode()) + pk.POP if x in (b"'", b'"') else None
    if first == b"V":
        return None if x == b"\n" else b"V" + x + b"\n" + pk.POP
    if first in (b"I", b"L"):
        if x not in b"0123456789-+ ":
            return None
        digits = x + (b"1" if x in b"-+ " else b"")
        return first + digits + (b"L" if first == b"L" else b"") + b"\n" + pk.POP
    if first == b"F":
        # No leading space: the C unpickler's PyOS_string_to_double refuses it.
        rest = {b"-": b"1", b"+": b"1", b".": b"5", b"i": b"nf", b"n": b"an"}
        if x not in b"0123456789" and x not in rest:
            return None
        return b"F" + x + rest.get(x, b"") + b"\n" + pk.POP
    if first == b"\x80":
        return pk.proto(second) if second <= 5 else None
    # Protocol 1 openers: the second byte is the low byte of a length or of a number.
    length_prefixed = {
        b"X": lambda n: pk.binunicode("x" * n),
        b"T": lambda n: pk.binstring("x" * n),
        b"U": lambda n: pk.short_binstring("x" * n),
    }
    if first in length_prefixed:
        return length_prefixed[first](second) + pk.POP
    fixed = {b"J": 4, b"K": 1, b"M": 2, b"G": 8}
    if first in fixed:
        return first + x + bytes(fixed[first] - 1) + pk.POP
    return None


SNIFF_FIRST_BYTES = (
    # protocol 0 openers named in the catalogue
    *(b"(", b"c", b"S", b"V", b"I", b"L", b"N", b"}", b"]", b")", b"\x80"),
    # more openers of protocols 0 and 1
    *(b"F", b"X", b"T", b"U", b"J", b"K", b"M", b"G"),
)


def sniff_prefix_samples(canary: str) -> list[Sample]:
    """One malicious protocol 0/1 pickle per two-byte prefix (opcode + plausible operand byte).

    Every stream runs its lead opcodes, discards what they pushed, then calls os.system.
    """
    item = "§2 item 10 (content-sniff collision, prefix enumeration)"
    out = []
    for first in SNIFF_FIRST_BYTES:
        for second in range(256):
            lead = _lead(first, second)
            if lead is None:
                continue
            data = lead + pk.system_p0(canary)
            out.append(
                _bad(f"item10-prefix-{(first + bytes([second])).hex()}", "model.bin", data, item)
            )
    return out


def _item10(canary: str) -> list[Sample]:
    item = "§2 item 10 (content-sniff collision)"
    payload = pk.system_p0(canary)
    cmd = pk.touch_command(canary)
    inst_payload = pk.MARK + pk.string(cmd) + pk.inst("os", "system") + pk.STOP
    # '(S' is a valid zlib header (CMF 0x28, FLG 0x53: 0x2853 % 31 == 0, no dictionary).
    zlib_mark = inst_payload
    # BINUNICODE of length 9: 'X\t' is a valid zlib header too.
    zlib_binunicode = pk.binunicode("123456789") + pk.POP + payload
    # BININT 0x00800000 reads as an LZMA-alone header: properties < 225, dictionary 8 MiB.
    lzma_binint = b"J\x00\x00\x80\x00" + pk.POP + payload
    lzma_binunicode = pk.binunicode("x" * 4096) + pk.POP + payload
    # 'ustar' at offset 257, where tar keeps its magic.
    tar_like = pk.unicode("x" * 256 + "ustar") + pk.POP + payload
    # Bytes 6-7 zero and '{' at 8: what a safetensors sniffer checks.
    st_like = pk.binunicode("a\0\0{x") + pk.POP + payload
    # 'PK\x05\x06' inside a string near the end: an end-of-central-directory record to a zip sniffer.
    eocd_like = (
        payload[:-1]
        + pk.POP
        + pk.short_binstring(b"PK\x05\x06" + bytes(18))
        + pk.POP
        + pk.NONE
        + pk.STOP
    )
    polyglot = payload + ct.stored_zip([("readme.txt", b"hello")])
    return [
        _bad("item10-zlib-header-mark-string", "model.bin", zlib_mark, item),
        _bad("item10-zlib-header-binunicode", "model.bin", zlib_binunicode, item),
        _bad("item10-lzma-header-binint", "model.bin", lzma_binint, item),
        _bad("item10-lzma-header-binunicode", "model.bin", lzma_binunicode, item),
        _bad("item10-tar-magic-at-257", "model.bin", tar_like, item),
        _bad("item10-safetensors-lookalike", "model.bin", st_like, item),
        _bad("item10-zip-eocd-in-string", "model.bin", eocd_like, item),
        _bad("item10-pickle-zip-polyglot", "model.bin", polyglot, item),
    ]


def _item11(canary: str) -> list[Sample]:
    item, adv = "§2 item 11 (NumPy object array)", "CVE-2019-6446"
    payload = pk.system_p2(canary)
    return [
        _bad("item11-npy-object", "array.npy", ct.npy_object(payload), item, adv),
        _bad(
            "item11-npy-v2-object", "array.npy", ct.npy("|O", (1,), payload, version=2), item, adv
        ),
        _bad(
            "item11-npz-object",
            "arrays.npz",
            ct.stored_zip([("arr_0.npy", ct.npy_object(payload))]),
            item,
            adv,
        ),
        _bad(
            "item11-npz-deflated-object",
            "arrays.npz",
            ct.stored_zip(
                [("a.npy", ct.npy_float32([1.0, 2.0])), ("b.npy", ct.npy_object(payload))],
                ct.DEFLATED,
            ),
            item,
            adv,
        ),
    ]


def large_inner_pickle(canary: str, pad: int = 70_000) -> bytes:
    """A malicious pickle longer than the scanner keeps in memory (64 KiB): padding, then payload."""
    return pk.proto(2) + pk.binunicode("x" * pad) + pk.POP + pk.system_p0(canary)


def _item12(canary: str) -> list[Sample]:
    item = "§2 item 12 (nested pickle / loader chaining)"
    adv = "GHSA-vv6j-3g6g-2pvj, GHSA-h3qp-7fh3-f8h4; picklescan malicious19.pkl"
    inner = pk.system_p2(canary)
    inner_pt = _malicious_pt_zip(inner)
    loads = Glob("pickle", "loads")
    bytes_io = Glob("io", "BytesIO")
    return [
        _bad(
            "item12-pickle-loads-bytes", "model.pkl", pk.dumps(Call(loads, (inner,)), 3), item, adv
        ),
        _bad(
            "item12-pickle-loads-base64",
            "model.pkl",
            pk.dumps(
                Call(
                    loads, (Call(Glob("base64", "b64decode"), (base64.b64encode(inner).decode(),)),)
                ),
                4,
            ),
            item,
            adv,
        ),
        _bad(
            "item12-pickle-loads-codecs-latin1",
            "model.pkl",
            pk.dumps(Call(loads, (inner,)), 2),  # protocol 2 writes bytes as _codecs.encode(...)
            item,
            adv,
        ),
        _bad(
            "item12-pickle-loads-fromhex",
            "model.pkl",
            pk.dumps(Call(loads, (Call(Glob("builtins", "bytes.fromhex"), (inner.hex(),)),)), 4),
            item,
            adv,
        ),
        _bad(
            "item12-torch-serialization-load",
            "model.pkl",
            pk.dumps(Call(Glob("torch.serialization", "load"), (Call(bytes_io, (inner_pt,)),)), 3),
            item,
            adv,
        ),
        _bad(
            "item12-config-module-load-config",
            "model.pkl",
            pk.dumps(
                Call(
                    Glob("torch.utils._config_module", "ConfigModule.load_config"),
                    (None, inner),
                ),
                4,
            ),
            item,
            adv,
        ),
        _bad(
            "item12-datapipes-basichandlers",
            "model.pkl",
            pk.dumps(
                Call(
                    Glob("torch.utils.data.datapipes.utils.decoder", "basichandlers"),
                    ("pickle", inner),
                ),
                3,
            ),
            item,
            adv,
        ),
        _bad(
            "item12-numpy-load-allow-pickle",
            "model.pkl",
            pk.dumps(
                Call(Glob("numpy", "load"), (Call(bytes_io, (ct.npy_object(inner),)), None, True)),
                3,
            ),
            item,
            adv,
        ),
        _bad(
            "item12-storage-load-from-bytes",
            "model.pkl",
            pk.dumps(Call(Glob("torch.storage", "_load_from_bytes"), (inner_pt,)), 3),
            item,
            adv,
        ),
        _bad(
            "item12-large-embedded-pickle",
            "model.pkl",
            pk.dumps(Call(loads, (large_inner_pickle(canary),)), 4),
            item + ", payload past 64 KiB",
            adv,
        ),
        _bad(
            "item12-embedded-as-data",
            "model.pkl",
            pk.dumps({"config": {"blob": inner}}, 3),
            item + ", pickle carried as a byte string",
            adv,
        ),
    ]


# --- item 13: resource bombs ---------------------------------------------------------------------
def huge_length_samples(canary: str) -> list[Sample]:
    item = "§2 item 13 (resource bomb: huge declared length)"
    adv = "fickling ExpansionAttackAnalysis; ModelAudit threat model"
    call = (
        pk.proto(4)
        + pk.stack_global("posix", "system")
        + pk.short_binunicode(pk.touch_command(canary))
        + pk.TUPLE1
        + pk.REDUCE
        + pk.POP
    )
    filler = b"x" * 64
    return [
        _bad(
            "item13-binbytes8-2p60",
            "model.pkl",
            pk.proto(4) + b"\x8e" + struct.pack("<Q", 2**60) + filler,
            item,
            adv,
        ),
        _bad(
            "item13-payload-then-binbytes8-2p60",
            "model.pkl",
            call + b"\x8e" + struct.pack("<Q", 2**60) + filler,
            item,
            adv,
        ),
        _bad(
            "item13-binunicode8-2p63",
            "model.pkl",
            call + b"\x8d" + struct.pack("<Q", 2**63 - 1) + filler,
            item,
            adv,
        ),
        _bad("item13-frame-2p60", "model.pkl", pk.proto(4) + pk.frame(2**60) + call, item, adv),
        _bad(
            "item13-long4-2gib",
            "model.pkl",
            call + b"\x8b" + struct.pack("<i", 2**31 - 1) + filler,
            item,
            adv,
        ),
        _bad(
            "item13-binstring-negative",
            "model.pkl",
            call + b"T" + struct.pack("<i", -5) + filler,
            item,
            adv,
        ),
        _bad(
            "item13-binbytes8-2p60-in-gz",
            "model.pkl.gz",
            ct.gz(call + b"\x8e" + struct.pack("<Q", 2**60) + filler),
            item,
            adv,
        ),
    ]


def memo_expansion_then_payload(canary: str, layers: int = 40, fanout: int = 10) -> bytes:
    """Billion laughs: each list holds ``fanout`` references to the previous one (10**40 leaves
    if anything walks it), then the payload. Built with BINPUT/BINGET on one memo slot."""
    out = pk.proto(2) + pk.EMPTY_LIST + pk.binput(0)
    for _ in range(layers):
        out += pk.EMPTY_LIST + pk.MARK + pk.binget(0) * fanout + pk.APPENDS + pk.binput(0) + pk.POP
    out += pk.POP + pk.system_p0(canary)[:-1] + pk.STOP
    return out


def mark_flood_then_payload(canary: str, marks: int = 1_100_000) -> bytes:
    """More MARKs than the scanner's stack limit, then the protocol 0 payload. pickle.load runs the
    payload (STOP returns the top of the stack; open marks are ignored)."""
    return pk.MARK * marks + pk.system_p0(canary)


def resource_bomb_samples(canary: str) -> list[Sample]:
    """Stack, memo, MARK, stream and archive bombs: each must stop at a limit quickly."""
    item = "§2 item 13 (resource bomb)"
    adv = "fickling ExpansionAttackAnalysis; ModelAudit docs/security/threat-model.md"
    payload = pk.system_p2(canary)
    embedded = payload
    for _ in range(12):
        embedded = pk.dumps(Call(Glob("pickle", "loads"), (embedded,)), 3)
    out = [
        _bad(
            "item13-dup-bomb",
            "model.pkl",
            pk.proto(2) + pk.NONE + pk.DUP * 1_100_000 + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item13-memoize-bomb",
            "model.pkl",
            pk.proto(4) + pk.NONE + pk.MEMOIZE * 2_100_000 + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item13-mark-bomb", "model.pkl", pk.proto(2) + pk.MARK * 1_100_000 + pk.STOP, item, adv
        ),
        _bad(
            "item13-mark-flood-then-payload",
            "model.pkl",
            mark_flood_then_payload(canary),
            item + ", protocol 0: 1.1 million MARKs, then the payload",
            adv,
        ),
        _bad(
            "item13-dup-flood-then-payload",
            "model.pkl",
            pk.NONE + pk.DUP * 1_100_000 + pk.system_p0(canary),
            item + ", protocol 0: 1.1 million DUPs, then the payload",
            adv,
        ),
        _bad("item13-stream-bomb", "model.pkl", (pk.NONE + pk.STOP) * 10_001, item, adv),
        _bad(
            "item13-memo-expansion-then-payload",
            "model.pkl",
            memo_expansion_then_payload(canary),
            item,
            adv,
        ),
        _bad("item13-zip-ratio-bomb", "model.pt", ct.zip_ratio_bomb(200 * ct.MiB), item, adv),
        _bad("item13-gz-ratio-bomb", "model.pkl.gz", ct.gz_zeros(200 * ct.MiB), item, adv),
        _bad(
            "item13-nested-stored-zips",
            "model.zip",
            ct.nest(payload, ["zip-stored"] * 12),
            item + ", 12 levels of zip",
            adv,
        ),
        _bad(
            "item13-nested-gzip",
            "model.pkl.gz",
            ct.nest(payload, ["gz"] * 12),
            item + ", 12 levels of gzip",
            adv,
        ),
        _bad(
            "item13-nested-zip-gz-zip",
            "model.zip",
            ct.nest(payload, ["zip", "gz"] * 6),
            item + ", 12 levels of zip in gzip in zip",
            adv,
        ),
        _bad(
            "item13-nested-embedded-pickles",
            "model.pkl",
            embedded,
            item + ", 13 levels of pickle.loads",
            adv,
        ),
        _bad(
            "item13-safetensors-header-length",
            "model.safetensors",
            struct.pack("<Q", 2**40) + b'{"a": {}}',
            item + ", safetensors header length past the file",
            adv,
        ),
        _bad(
            "item13-overlapping-zip-bomb",
            "model.zip",
            ct.overlapping_zip_bomb(32, 16 * ct.MiB),
            item + ", 32 directory entries share one 16 MiB member",
            adv + "; Fifield, 'A better zip bomb' (2019)",
        ),
    ]
    return out + huge_length_samples(canary)


# --- §2 B: pickle VM semantics -------------------------------------------------------------------
def _args_p4(canary: str) -> bytes:
    return pk.short_binunicode(pk.touch_command(canary)) + pk.TUPLE1 + pk.REDUCE + pk.STOP


def _item14(canary: str) -> list[Sample]:
    item = "§2 item 14 (memo indirection)"
    adv = "picklescan before 2023-12"
    memoize = (
        pk.proto(4)
        + pk.short_binunicode("os")
        + pk.MEMOIZE
        + pk.POP
        + pk.short_binunicode("system")
        + pk.MEMOIZE
        + pk.POP
        + pk.binget(0)
        + pk.binget(1)
        + pk.STACK_GLOBAL
        + _args_p4(canary)
    )
    put_get = (
        pk.string("os")
        + pk.put(10)
        + pk.POP
        + pk.string("system")
        + pk.put(11)
        + pk.POP
        + pk.get(10)
        + pk.get(11)
        + pk.STACK_GLOBAL
        + pk.MARK
        + pk.string(pk.touch_command(canary))
        + pk.TUPLE
        + pk.REDUCE
        + pk.STOP
    )
    long_keys = (
        pk.proto(4)
        + pk.short_binunicode("posix")
        + pk.long_binput(0xDEADBEEF)
        + pk.POP
        + pk.short_binunicode("system")
        + pk.long_binput(0x7FFFFFFF)
        + pk.POP
        + pk.long_binget(0xDEADBEEF)
        + pk.long_binget(0x7FFFFFFF)
        + pk.STACK_GLOBAL
        + _args_p4(canary)
    )
    overwritten = (
        pk.proto(4)
        + pk.short_binunicode("json")
        + pk.binput(0)
        + pk.POP
        + pk.short_binunicode("os")
        + pk.binput(0)
        + pk.POP
        + pk.binget(0)
        + pk.short_binunicode("system")
        + pk.STACK_GLOBAL
        + _args_p4(canary)
    )
    global_reused = (
        pk.proto(2)
        + pk.global_("os", "system")
        + pk.binput(0)
        + pk.POP
        + pk.NONE
        + pk.POP
        + pk.binget(0)
        + pk.binunicode(pk.touch_command(canary))
        + pk.TUPLE1
        + pk.REDUCE
        + pk.STOP
    )
    return [
        _bad("item14-memoize-pop-binget", "model.pkl", memoize, item, adv),
        _bad("item14-put-get-protocol0", "model.pkl", put_get, item, adv),
        _bad("item14-long-binput-keys", "model.pkl", long_keys, item, adv),
        _bad("item14-memo-slot-overwritten", "model.pkl", overwritten, item, adv),
        _bad("item14-global-through-memo", "model.pkl", global_reused, item, adv),
    ]


def _item15(canary: str) -> list[Sample]:
    item = "§2 item 15 (invalid or type-confused memo)"
    adv = "picklescan keyerror-exploit.pkl, type-confusion-exploit.pkl (fixed in 0.0.32)"
    missing = pk.proto(4) + pk.binget(5) + pk.binget(6) + pk.STACK_GLOBAL + _args_p4(canary)
    int_slot = (
        pk.proto(4)
        + pk.binint(42)
        + pk.MEMOIZE
        + pk.POP
        + pk.binget(0)
        + pk.short_binunicode("system")
        + pk.STACK_GLOBAL
        + _args_p4(canary)
    )
    tuple_slot = (
        pk.proto(4)
        + pk.short_binunicode("os")
        + pk.TUPLE1
        + pk.MEMOIZE
        + pk.POP
        + pk.binget(0)
        + pk.short_binunicode("system")
        + pk.STACK_GLOBAL
        + _args_p4(canary)
    )
    return [
        _bad("item15-missing-memo-key", "model.pkl", missing, item, adv),
        _bad("item15-memo-int-slot", "model.pkl", int_slot, item, adv),
        _bad("item15-memo-tuple-slot", "model.pkl", tuple_slot, item, adv),
    ]


def _item16(canary: str) -> list[Sample]:
    item = "§2 item 16 (STRING/BINSTRING operands, STACK_GLOBAL at stream start)"
    adv = "GHSA-9gvj-pp9x-gcfr"
    cmd = pk.touch_command(canary)
    tail = pk.MARK + pk.string(cmd) + pk.TUPLE + pk.REDUCE + pk.STOP
    return [
        _bad(
            "item16-string-operands",
            "model.pkl",
            pk.string("os") + pk.string("system") + pk.STACK_GLOBAL + tail,
            item,
            adv,
        ),
        _bad(
            "item16-string-double-quoted",
            "model.pkl",
            pk.string("posix", '"') + pk.string("system", '"') + pk.STACK_GLOBAL + tail,
            item,
            adv,
        ),
        _bad(
            "item16-string-escaped",
            "model.pkl",
            b"S'\\x6f\\x73'\n" + b"S'sys\\x74em'\n" + pk.STACK_GLOBAL + tail,
            item,
            adv,
        ),
        _bad(
            "item16-short-binstring",
            "model.pkl",
            pk.short_binstring("os") + pk.short_binstring("system") + pk.STACK_GLOBAL + tail,
            item,
            adv,
        ),
        _bad(
            "item16-binstring",
            "model.pkl",
            pk.binstring("os") + pk.binstring("system") + pk.STACK_GLOBAL + tail,
            item,
            adv,
        ),
        _bad(
            "item16-unicode",
            "model.pkl",
            pk.unicode("os") + pk.unicode("system") + pk.STACK_GLOBAL + tail,
            item,
            adv,
        ),
        _bad(
            "item16-binunicode8",
            "model.pkl",
            pk.binunicode8("os") + pk.binunicode8("system") + pk.STACK_GLOBAL + tail,
            item,
            adv,
        ),
        _bad(
            "item16-mixed-operands-after-proto2",
            "model.pkl",
            pk.proto(2)
            + pk.short_binstring("os")
            + pk.binunicode("system")
            + pk.STACK_GLOBAL
            + tail,
            item,
            adv,
        ),
    ]


def int_base_prefix_samples(canary: str) -> list[Sample]:
    """INT/LONG operands a loader parses with base 0 (``int(data, 0)``; C: ``strtol(s, &end, 0)``)
    placed before the payload: ``I0x1``, ``I0o7``, ``I0b1``, ``L0x1L``."""
    item = "§2 item 16 (operand parsing differential: INT/LONG with a base prefix)"
    out = []
    for label, lead in (
        ("int-hex", b"I0x1\n"),
        ("int-octal", b"I0o7\n"),
        ("int-binary", b"I0b1\n"),
        ("long-hex", b"L0x1L\n"),
    ):
        out.append(
            _bad(f"item16-{label}-operand", "model.pkl", lead + pk.POP + pk.system_p0(canary), item)
        )
    return out


def _item17(canary: str) -> list[Sample]:
    item = "§2 item 17 (alternative call opcodes)"
    adv = "picklescan INST fix (2023-09); fickling GHSA-mxhj-88fx-4pcv"
    cmd = pk.touch_command(canary)
    setstate = Build(
        Build(Call(Glob("argparse", "Namespace")), (None, {"__setstate__": Glob("os", "system")})),
        cmd,
    )
    out = [
        _bad(
            "item17-inst",
            "model.pkl",
            pk.MARK + pk.string(cmd) + pk.inst("os", "system") + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item17-obj",
            "model.pkl",
            pk.MARK + pk.global_("os", "system") + pk.string(cmd) + pk.OBJ + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item17-obj-stack-global",
            "model.pkl",
            pk.proto(4)
            + pk.MARK
            + pk.stack_global("posix", "system")
            + pk.short_binunicode(cmd)
            + pk.OBJ
            + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item17-newobj",
            "model.pkl",
            pk.proto(2)
            + pk.global_("subprocess", "Popen")
            + pk.Encoder(2).value((["touch", canary],))
            + pk.NEWOBJ
            + pk.STOP,
            item + ", NEWOBJ (the import alone is the finding)",
            adv,
        ),
        _bad(
            "item17-newobj-ex",
            "model.pkl",
            pk.proto(4)
            + pk.stack_global("subprocess", "Popen")
            + pk.Encoder(4).value((["touch", canary],))
            + pk.EMPTY_DICT
            + pk.NEWOBJ_EX
            + pk.STOP,
            item + ", NEWOBJ_EX (the import alone is the finding)",
            adv,
        ),
        _bad(
            "item17-build-setstate",
            "model.pkl",
            pk.dumps(setstate, 2),
            item + ", BUILD sets __setstate__ then calls it",
            adv,
        ),
    ]
    for width, code in ((1, 0xF0), (2, 0xBEEF), (4, 0x7EADBEEF)):
        out.append(
            _bad(
                f"item17-ext{width}",
                "model.pkl",
                pk.proto(2)
                + pk.ext(code, width)
                + pk.binunicode(cmd)
                + pk.TUPLE1
                + pk.REDUCE
                + pk.STOP,
                item + ", EXT via copyreg's extension registry",
                adv,
            )
        )
    return out


def _item18(canary: str) -> list[Sample]:
    item = "§2 item 18 (discarded call result)"
    adv = "fickling GHSA-mxhj-88fx-4pcv"
    cmd = pk.touch_command(canary)
    return [
        _bad(
            "item18-discarded-system",
            "model.pkl",
            pk.proto(4)
            + pk.MARK
            + pk.stack_global("os", "system")
            + pk.short_binunicode(cmd)
            + pk.OBJ
            + pk.POP
            + pk.NONE
            + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item18-discarded-open",
            "model.pkl",
            pk.proto(4)
            + pk.MARK
            + pk.stack_global("builtins", "open")
            + pk.short_binunicode(canary)
            + pk.short_binunicode("w")
            + pk.OBJ
            + pk.POP
            + pk.NONE
            + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item18-discarded-smtp",
            "model.pkl",
            pk.proto(4)
            + pk.MARK
            + pk.stack_global("smtplib", "SMTP")
            + pk.short_binunicode("")
            + pk.OBJ
            + pk.POP
            + pk.NONE
            + pk.STOP,
            item + ", smtplib.SMTP('') (shape only: no host, no connection)",
            adv,
        ),
    ]


def _item19(canary: str) -> list[Sample]:
    item = "§2 item 19 (dotted names through a harmless module)"
    adv = "fickling GHSA-5j3x-jp52-966f; PickleBall tests/bypass_scanners/call_system_inst.py"
    cmd = pk.touch_command(canary)
    return [
        _bad(
            "item19-global-pathlib-os-system",
            "model.pkl",
            pk.proto(4)
            + pk.global_("pathlib", "os.system")
            + pk.short_binunicode(cmd)
            + pk.TUPLE1
            + pk.REDUCE
            + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item19-stack-global-torch-serialization",
            "model.pkl",
            pk.proto(4) + pk.stack_global("torch", "serialization.os.system") + _args_p4(canary),
            item,
            adv,
        ),
        _bad(
            "item19-inst-dotted",
            "model.pkl",
            pk.proto(4) + pk.MARK + pk.string(cmd) + pk.inst("pathlib", "os.system") + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item19-argparse-private-os",
            "model.pkl",
            pk.proto(4) + pk.stack_global("argparse", "_os.system") + _args_p4(canary),
            item,
            adv,
        ),
    ]


def _item20(canary: str) -> list[Sample]:
    item = "§2 item 20 (aliases and submodules of blocked modules)"
    adv = "CVE-2025-10157, GHSA-f7qq-56ww-84cr, GHSA-mjqp-26hc-grxg, GHSA-jgw4-cr84-mqxg"
    cmd = pk.touch_command(canary)
    stmt = pk.open_statement(canary)
    return [
        _bad("item20-posix-system", "model.pkl", pk.system_p2(canary, "posix"), item, adv),
        _bad("item20-nt-system", "model.pkl", pk.system_p2(canary, "nt"), item + " (Windows)", adv),
        _bad(
            "item20-io-fileio",
            "model.pkl",
            pk.call_p4(Glob("_io", "FileIO"), canary, "w"),
            item,
            adv,
        ),
        _bad(
            "item20-operator-methodcaller",
            "model.pkl",
            pk.dumps(
                Call(
                    Call(Glob("_operator", "methodcaller"), ("system", cmd)),
                    (Glob("pathlib", "os"),),
                ),
                2,
            ),
            item,
            adv,
        ),
        _bad(
            "item20-underscore-pickle-loads",
            "model.pkl",
            pk.dumps(Call(Glob("_pickle", "loads"), (pk.system_p2(canary),)), 3),
            item,
            adv,
        ),
        _bad(
            "item20-py2-builtin-eval",
            "model.pkl",
            pk.global_("__builtin__", "eval")
            + pk.MARK
            + pk.string(stmt)
            + pk.TUPLE
            + pk.REDUCE
            + pk.STOP,
            item,
            adv,
        ),
        _bad(
            "item20-py2-commands",
            "model.pkl",
            pk.system_p0(canary, "commands", "getoutput"),
            item + ", Python 2 name mapped to subprocess by fix_imports",
            adv,
        ),
        _bad(
            "item20-asyncio-subprocess-transport",
            "model.pkl",
            pk.call_p4(
                Glob("asyncio.unix_events", "_UnixSubprocessTransport._start"),
                None,
                cmd,
                True,
                None,
                None,
                None,
                0,
            ),
            item + " (shape)",
            adv,
        ),
    ]


def _item21(canary: str) -> list[Sample]:
    item = "§2 item 21 (indirect resolvers)"
    adv = "GHSA-vvpj-8cmc-gx39; fickling GHSA-h4rm-mm56-xf63; huggingface.co/xry6/huntr-picklescan-bypass-poc"
    cmd = pk.touch_command(canary)
    imp = Call(Glob("builtins", "__import__"), ("os",))
    resolve = Call(Glob("pkgutil", "resolve_name"), ("os:system",))
    samples = {
        "pkgutil-resolve-name": Call(resolve, (cmd,)),
        "importlib-inspect": Call(
            Call(
                Glob("inspect", "getattr_static"),
                (Call(Glob("importlib", "import_module"), ("os",)), "system"),
            ),
            (cmd,),
        ),
        "builtins-getattr-import": Call(Call(Glob("builtins", "getattr"), (imp, "system")), (cmd,)),
        "operator-attrgetter": Call(
            Call(Call(Glob("operator", "attrgetter"), ("system",)), (imp,)), (cmd,)
        ),
        "operator-methodcaller": Call(
            Call(Glob("operator", "methodcaller"), ("system", cmd)), (imp,)
        ),
        "pydoc-locate": Call(Call(Glob("pydoc", "locate"), ("os.system",)), (cmd,)),
        "functools-partial": Call(Call(Glob("functools", "partial"), (resolve, cmd)), ()),
        "getattr-computed-name": Call(
            Call(
                Glob("builtins", "getattr"),
                (
                    Call(Glob("importlib", "import_module"), ("posix",)),
                    Call(Glob("builtins", "str.join"), ("", ["sys", "tem"])),
                ),
            ),
            (cmd,),
        ),
        "getattr-class-method": Call(
            Call(Glob("builtins", "getattr"), (Glob("pathlib", "Path"), "write_text")),
            (Call(Glob("pathlib", "Path"), (canary,)), "x"),
        ),
    }
    return [_bad(f"item21-{k}", "model.pkl", pk.dumps(v, 4), item, adv) for k, v in samples.items()]


def _gadgets(canary: str) -> list[tuple[str, object, str]]:
    """(label, call tree, advisory) for the §2 item 22 gadget corpus."""
    cmd = pk.touch_command(canary)
    stmt = pk.open_statement(canary)
    code = marshal.dumps(compile(stmt, "<payload>", "exec"))
    inner = pk.system_p2(canary)

    def g(module: str, name: str, *args: object) -> Call:
        return Call(Glob(module, name), args)

    fn_from_marshal = Call(
        Call(Glob("types", "FunctionType"), (g("marshal", "loads", code), {})), ()
    )
    fn_from_codetype = Call(
        Call(
            Glob("types", "FunctionType"), (Call(Glob("types", "CodeType"), _code_fields(stmt)), {})
        ),
        (),
    )
    cdll_system = Call(
        Call(Glob("builtins", "getattr"), (g("ctypes", "CDLL", None), "system")), (cmd.encode(),)
    )
    return [
        (
            "uuid-get-command-stdout",
            g("uuid", "_get_command_stdout", "touch", canary),
            "CVE-2026-56315; GHSA-5hwf-rc88-82xm",
        ),
        (
            "osx-support-read-output",
            g("_osx_support", "_read_output", cmd),
            "CVE-2026-56315; GHSA-5hwf-rc88-82xm",
        ),
        (
            "aix-support-read-cmd-output",
            g("_aix_support", "_read_cmd_output", cmd),
            "CVE-2026-56315; GHSA-5hwf-rc88-82xm",
        ),
        ("imaplib-imap4-stream", g("imaplib", "IMAP4_stream", cmd), "CVE-2026-56315"),
        ("pyrepl-pipe-pager", g("_pyrepl.pager", "pipe_pager", "", cmd), "CVE-2026-56315"),
        (
            "test-support-assert-python-ok",
            g("test.support.script_helper", "assert_python_ok", "-c", stmt),
            "CVE-2026-56315",
        ),
        ("cprofile-run", g("cProfile", "run", stmt), "fickling GHSA-p523"),
        ("cprofile-runctx", g("cProfile", "runctx", stmt, {}, {}), "fickling GHSA-p523"),
        ("profile-run", g("profile", "run", stmt), "fickling GHSA-p523"),
        ("trace-run", g("trace", "Trace.run", g("trace", "Trace"), stmt), "Hide-and-Seek gadgets"),
        ("timeit-setup", g("timeit", "timeit", "pass", stmt), "Hide-and-Seek gadgets"),
        (
            "code-runcode",
            g("code", "InteractiveInterpreter.runcode", g("code", "InteractiveInterpreter"), stmt),
            "fickling GHSA-wfq2 / GHSA-q5qq",
        ),
        (
            "idlelib-runcode",
            g("idlelib.pyshell", "ModifiedInterpreter.runcode", None, stmt),
            "Hide-and-Seek gadgets",
        ),
        (
            "lib2to3-grammar-loads",
            g(
                "lib2to3.pgen2.grammar",
                "Grammar.loads",
                g("lib2to3.pgen2.grammar", "Grammar"),
                inner,
            ),
            "Hide-and-Seek gadgets",
        ),
        ("doctest-debug-script", g("doctest", "debug_script", stmt), "Hide-and-Seek gadgets"),
        (
            "ensurepip-run-pip",
            g("ensurepip", "_run_pip", ["--log", canary, "--version"]),
            "Hide-and-Seek gadgets",
        ),
        ("venv-create", g("venv", "create", canary), "Hide-and-Seek gadgets"),
        ("pip-main", g("pip", "main", ["--log", canary, "--version"]), "CVE-2025-1716"),
        ("pty-spawn", g("pty", "spawn", ["touch", canary]), "fickling GHSA-r7v6-mfhq-g3m2"),
        ("runpy-run-code", g("runpy", "_run_code", stmt, {}), "fickling GHSA-wfq2 / GHSA-q5qq"),
        (
            "multiprocessing-spawnv-passfds",
            g("multiprocessing.util", "spawnv_passfds", "/usr/bin/touch", ["touch", canary], []),
            "fickling GHSA-wfq2 / GHSA-q5qq",
        ),
        (
            "numpy-f2py-getlincoef",
            g("numpy.f2py.crackfortran", "getlincoef", f"__import__('os').system({cmd!r})", {}),
            "Hide-and-Seek gadgets",
        ),
        (
            "numpy-testing-runstring",
            g("numpy.testing._private.utils", "runstring", stmt, {}),
            "Hide-and-Seek gadgets",
        ),
        (
            "torch-collect-env-run",
            g("torch.utils.collect_env", "run", cmd),
            "Hide-and-Seek gadgets",
        ),
        (
            "torch-inductor-compile-file",
            g("torch._inductor.codecache", "compile_file", [], canary, ["touch", canary]),
            "Hide-and-Seek gadgets",
        ),
        (
            "torch-jit-execwrapper",
            g("torch.jit.unsupported_tensor_ops", "execWrapper", stmt, {}, {}),
            "Hide-and-Seek gadgets",
        ),
        (
            "torch-fx-evaluate-guards",
            g(
                "torch.fx.experimental.symbolic_shapes",
                "ShapeEnv.evaluate_guards_expression",
                None,
                stmt,
                [],
            ),
            "Hide-and-Seek gadgets",
        ),
        (
            "torch-dynamo-guardbuilder-get",
            g("torch._dynamo.guards", "GuardBuilder.get", None, stmt),
            "Hide-and-Seek gadgets",
        ),
        (
            "torch-bottleneck-run-cprofile",
            g("torch.utils.bottleneck.__main__", "run_cprofile", stmt, {}),
            "Hide-and-Seek gadgets",
        ),
        (
            "distutils-write-file",
            g("distutils.file_util", "write_file", canary, []),
            "Hide-and-Seek gadgets",
        ),
        ("logging-filehandler", g("logging", "FileHandler", canary), "Hide-and-Seek gadgets"),
        (
            "pathlib-write-text",
            g("pathlib", "Path.write_text", g("pathlib", "Path", canary), "x"),
            "picklescan 1.0.5 default misses it (R)",
        ),
        (
            "urllib-urlopen-file",
            g("urllib.request", "urlopen", "file://" + canary),
            "Hide-and-Seek gadgets",
        ),
        ("ctypes-cdll-system", cdll_system, "fickling GHSA-wfq2 / GHSA-q5qq"),
        (
            "interpreters-run-string",
            g("_interpreters", "run_string", g("_interpreters", "create"), stmt),
            "fickling GHSA-6ggj-6f2q-f7mx",
        ),
        (
            "xxsubinterpreters-run-string",
            g("_xxsubinterpreters", "run_string", g("_xxsubinterpreters", "create"), stmt),
            "fickling GHSA-6ggj-6f2q-f7mx",
        ),
        ("marshal-functiontype", fn_from_marshal, "fickling GHSA-565g-hwwr-4pp3"),
        ("types-codetype", fn_from_codetype, "fickling GHSA-565g-hwwr-4pp3"),
        (
            "cloudpickle-make-function",
            Call(
                g(
                    "cloudpickle.cloudpickle",
                    "_make_function",
                    g("marshal", "loads", code),
                    {},
                    "f",
                    None,
                    None,
                ),
                (),
            ),
            "huggingface.co/AM-Core/modelscan-cloudpickle-dill-false-negative-poc",
        ),
    ]


def _item22(canary: str) -> list[Sample]:
    item = "§2 item 22 (stdlib and framework gadget corpus)"
    return [
        _bad(f"item22-{label}", "model.pkl", pk.dumps(tree, 4), item, adv)
        for label, tree, adv in _gadgets(canary)
    ]


def _item23(canary: str) -> list[Sample]:
    item = "§2 item 23 (gadget through attributes of an allowlisted object)"
    adv = "protectai/modelscan#330"
    stream = (
        pk.proto(4)
        + pk.stack_global("numpy", "size")
        + pk.MEMOIZE
        + pk.NONE
        + pk.EMPTY_DICT
        + pk.short_binunicode("shape")
        + pk.stack_global("numpy", "__builtins__")
        + pk.SETITEM
        + pk.TUPLE2
        + pk.BUILD
        + pk.POP
        + pk.binget(0)
        + pk.binget(0)
        + pk.short_binunicode("eval")
        + pk.TUPLE2
        + pk.REDUCE
        + pk.short_binunicode(pk.open_statement(canary))
        + pk.TUPLE1
        + pk.REDUCE
        + pk.STOP
    )
    return [_bad("item23-numpy-size-builtins", "model.pkl", stream, item, adv)]


def container_abuse_samples() -> list[Sample]:
    """SETITEM/SETITEMS/APPEND/APPENDS on rebuilt tensors and classes; every global allowlisted."""
    item = "§2 item 24 (weights-only escape pattern: container opcodes on a non-container)"
    adv = "CVE-2025-32434, CVE-2026-24747"
    _, storages = _benign_state_dict()
    enc = pk.Encoder(2)
    tensor = enc.value(ct.tensor_call("0", 4))
    patterns = {
        "setitem-on-tensor": tensor + enc.value("k") + enc.value(1) + pk.SETITEM,
        "setitems-on-tensor": tensor + pk.MARK + enc.value("k") + enc.value(1) + pk.SETITEMS,
        "append-on-tensor": tensor + enc.value(1) + pk.APPEND,
        "appends-on-class": enc.value(Glob("collections", "OrderedDict"))
        + pk.MARK
        + enc.value(1)
        + pk.APPENDS,
    }
    out = []
    for label, body in patterns.items():
        pkl = pk.proto(2) + body + pk.STOP
        out.append(_bad(f"item24-{label}", "model.pt", ct.pt_zip(pkl, storages), item, adv))
    return out


def container_abuse_other_rebuilders() -> list[Sample]:
    """SETITEM on tensors and storages made by other allowlisted callables than the
    ``_rebuild_*`` helpers: ``Parameter(tensor)``, ``torch.Tensor()``, ``torch.FloatStorage(4)``."""
    item = "§2 item 24 (weights-only escape pattern: SETITEM on an allowlisted tensor type)"
    adv = "CVE-2025-32434, CVE-2026-24747"
    _, storages = _benign_state_dict()
    enc = pk.Encoder(2)
    targets = {
        "parameter": Call(Glob("torch.nn.parameter", "Parameter"), (ct.tensor_call("0", 4),)),
        "torch-tensor": Call(Glob("torch", "Tensor")),
        "float-storage": Call(Glob("torch", "FloatStorage"), (4,)),
    }
    out = []
    for label, target in targets.items():
        pkl = pk.proto(2) + enc.value(target) + enc.value(0) + enc.value(1.0) + pk.SETITEM + pk.STOP
        out.append(
            _bad(f"item24-setitem-on-{label}", "model.pt", ct.pt_zip(pkl, storages), item, adv)
        )
    return out


def joblib_object_array(nested: bytes) -> bytes:
    """What joblib.dump writes for an object array: the wrapper, BUILD, then a whole pickle
    stream of its own (read with a fresh pickle.load), then the outer STOP."""
    enc = pk.Encoder(2)
    dtype = Build(
        Call(Glob("numpy", "dtype"), ("O8", False, True)), (3, "|", None, None, None, -1, -1, 63)
    )
    state = {
        "subclass": Glob("numpy", "ndarray"),
        "shape": (1,),
        "order": "C",
        "dtype": dtype,
        "allow_mmap": False,
    }
    head = pk.proto(2) + enc.value(Glob("joblib.numpy_pickle", "NumpyArrayWrapper"))
    head += pk.EMPTY_TUPLE + pk.NEWOBJ + enc.value(state) + pk.BUILD
    return head + nested + pk.STOP


def _item25(canary: str) -> list[Sample]:
    item = "§2 item 25 (exception-driven fallback loaders and other loading paths)"
    adv = "arXiv 2508.19774 (The Art of Hide and Seek); Stanza 1.12.0 advisory"
    _, storages = _benign_state_dict()
    mixed = pk.dumps(
        {
            "weight": ct.tensor_call("0", 4),
            "hook": Call(Glob("posix", "system"), (pk.touch_command(canary),)),
        },
        2,
    )
    return [
        _bad(
            "item25-fallback-one-bad-global",
            "training_args.bin",
            ct.pt_zip(mixed, storages),
            item,
            adv,
        ),
        _bad("item25-legacy-tar", "model.pt", ct.legacy_torch_tar(pk.system_p2(canary)), item, adv),
        _bad(
            "item25-joblib-object-array",
            "classifier.joblib",
            joblib_object_array(pk.system_p2(canary)),
            item + ", joblib.load reads an object array's own pickle stream",
            adv,
        ),
        _bad("item25-tokenizer-model-name", "tokenizer.model", pk.system_p0(canary), item, adv),
        _bad(
            "item25-pandas-protocol5",
            "frame.pandas",
            pk.system_p4(canary).replace(b"\x80\x04", b"\x80\x05", 1),
            item,
            adv,
        ),
        _bad(
            "item25-no-extension",
            "pytorch_model",
            pk.dumps(Call(Glob("os", "system"), (pk.touch_command(canary),)), 3),
            item,
            adv,
        ),
        _bad(
            "item25-legacy-stacked",
            "scheduler.pt",
            ct.legacy_torch(pk.system_p2(canary), storages),
            item,
            adv,
        ),
    ]


def _item26(canary: str) -> list[Sample]:
    item = "§2 item 26 (overwritten or shadowed modules)"
    adv = "ShadowPickle, arXiv 2607.17503 (CWE-1395)"
    cmd = pk.touch_command(canary)
    namespace = Glob("argparse", "Namespace")
    shadow = pk.Encoder(2)
    build_class = (
        pk.proto(2)
        + shadow.value(namespace)
        + shadow.value((None, {"__setstate__": Glob("posix", "system")}))
        + pk.BUILD
        + pk.POP
        + shadow.value(Build(Call(namespace), cmd))
        + pk.STOP
    )
    build_module = (
        pk.proto(2)
        + shadow.value(Glob("collections", "abc"))
        + shadow.value((None, {"Mapping": Glob("builtins", "dict")}))
        + pk.BUILD
        + pk.STOP
    )
    setattr_class = pk.dumps(
        [
            Call(Glob("builtins", "setattr"), (namespace, "__setstate__", Glob("posix", "system"))),
            Build(Call(namespace), cmd),
        ],
        2,
    )
    return [
        _bad("item26-build-on-class", "model.pkl", build_class, item, adv),
        _bad(
            "item26-build-on-module", "model.pkl", build_module, item + " (shape, no payload)", adv
        ),
        _bad("item26-setattr-on-class", "model.pkl", setattr_class, item, adv),
    ]


def _item27(canary: str) -> list[Sample]:
    item = "§2 item 27 (scanner deactivation)"
    adv = "fickling ScannerDeactivation analysis"
    system = Call(Glob("os", "system"), (pk.touch_command(canary),))

    def clear(module: str, name: str) -> Call:
        return Call(Call(Glob("builtins", "getattr"), (Glob(module, name), "clear")), ())

    targets = {
        "picklescan": ("picklescan.scanner", "_unsafe_globals"),
        "fickling": ("fickling.analysis", "Analysis.ALL"),
        "modelscan": ("modelscan.settings", "DEFAULT_SETTINGS"),
        "modelaudit": ("modelaudit.scanners.pickle_scanner", "ALWAYS_DANGEROUS_FUNCTIONS"),
        "modeltrust": ("modeltrust.scanners.common.callables", "DENY_MODULES"),
    }
    return [
        _bad(f"item27-{k}", "model.pkl", pk.dumps([clear(*v), system], 4), item, adv)
        for k, v in targets.items()
    ]


def _item28() -> list[Sample]:
    item = "§2 item 28 (model-tampering payload, Sleepy Pickle) (shape: patches, no canary)"
    adv = "Trail of Bits, 'Sleepy Pickle' (2024)"
    _, storages = _benign_state_dict()
    linear = Call(Glob("torch.nn", "Linear"), (2, 2))
    global_hook = pk.dumps(
        Call(
            Glob("torch.nn.modules.module", "register_module_forward_hook"),
            (Glob("builtins", "print"),),
        ),
        2,
    )
    method_hook = pk.dumps(
        Call(Glob("torch.nn", "Module.register_forward_hook"), (linear, Glob("builtins", "print"))),
        4,
    )
    setattr_weight = pk.dumps(
        Call(
            Glob("builtins", "setattr"),
            (
                linear,
                "weight",
                Call(Glob("torch.nn.parameter", "Parameter"), (ct.tensor_call("0", 4),)),
            ),
        ),
        2,
    )
    return [
        _bad("item28-global-forward-hook", "model.pt", ct.pt_zip(global_hook, storages), item, adv),
        _bad("item28-module-forward-hook", "model.pt", ct.pt_zip(method_hook, storages), item, adv),
        _bad("item28-setattr-weights", "model.pt", ct.pt_zip(setattr_weight, storages), item, adv),
    ]


def _item34(canary: str) -> list[Sample]:
    item = "§2 item 34 (safetensors trailing unclaimed bytes hiding a pickle)"
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    data = ct.safetensors(header, ct.float_storage([1.0]) + pk.system_p2(canary))
    return [_bad("item34-safetensors-trailing-pickle", "model.safetensors", data, item)]


def malicious_samples(canary: str) -> list[Sample]:
    """At least one sample for every catalogue item 1-28 (plus item 34's hidden pickle)."""
    out: list[Sample] = []
    for build in (
        _item01,
        _item02,
        _item03,
        _item04,
        _item05,
        _item06,
        _item07,
        _item08,
        _item09,
        _item10,
        _item11,
        _item12,
        resource_bomb_samples,
        _item14,
        _item15,
        _item16,
        int_base_prefix_samples,
        _item17,
        _item18,
        _item19,
        _item20,
        _item21,
        _item22,
        _item23,
        _item25,
        _item26,
        _item27,
        _item34,
    ):
        out.extend(build(canary))
    out.extend(container_abuse_samples())
    out.extend(container_abuse_other_rebuilders())
    out.extend(_item28())
    names = [s.name for s in out]
    if len(names) != len(set(names)):
        raise AssertionError("sample names must be unique")
    return out


# --- benign look-alikes --------------------------------------------------------------------------
PLAIN_DATA: dict[str, object] = {
    "name": "resnet-tiny",
    "layers": [64, 128, 256, 512],
    "dropout": 0.1,
    "shape": (3, 224, 224),
    "flags": {"trained": True, "frozen": False, "notes": None},
    "big": 2**70,
    "negative": -123456789,
    "text": "line one\nline two \\ with backslash \u00e9\u4e2d",
    "blob": b"\x00\x01\x02\xff",
}


def _joblib_array_pickle(values: list[float]) -> bytes:
    """What joblib.dump writes for a float64 array: NumpyArrayWrapper, BUILD, then raw bytes."""
    enc = pk.Encoder(2)
    dtype = Build(
        Call(Glob("numpy", "dtype"), ("f8", False, True)), (3, "<", None, None, None, -1, -1, 0)
    )
    state = {
        "subclass": Glob("numpy", "ndarray"),
        "shape": (len(values),),
        "order": "C",
        "dtype": dtype,
        "allow_mmap": False,
        "numpy_array_alignment_bytes": 16,
    }
    head = (
        pk.proto(2) + enc.value(Glob("joblib.numpy_pickle", "NumpyArrayWrapper")) + pk.EMPTY_TUPLE
    )
    head += pk.NEWOBJ + enc.value(state) + pk.BUILD
    pad = 16 - (len(head) + 1) % 16
    raw = bytes([pad]) + b"\xff" * pad + b"".join(struct.pack("<d", v) for v in values)
    return head + raw + pk.STOP


def _frombuffer_pickle() -> bytes:
    """A protocol 5 array the way numpy pickles contiguous arrays in-band."""
    dtype = Build(
        Call(Glob("numpy", "dtype"), ("f4", False, True)), (3, "<", None, None, None, -1, -1, 0)
    )
    data = bytearray(ct.float_storage([1.0, 2.0, 3.0]))
    return pk.dumps(Call(Glob("numpy.core.numeric", "_frombuffer"), (data, dtype, (3,), "C")), 5)


def benign_samples() -> list[Sample]:
    item = "benign look-alike"
    pkl, storages = _benign_state_dict()
    plain = pk.dumps(PLAIN_DATA, 2)
    out = [
        _good(f"benign-plain-data-p{p}", f"data_p{p}.pkl", pk.dumps(PLAIN_DATA, p), item)
        for p in range(6)
    ]
    namespace = Build(
        Call(
            Glob("copyreg", "_reconstructor"),
            (Glob("argparse", "Namespace"), Glob("builtins", "object"), None),
        ),
        {"lr": 0.1, "epochs": 3},
    )
    out += [
        _good(
            "benign-containers-p4",
            "sets.pkl",
            pk.dumps({"s": {1, 2}, "f": frozenset({"a"}), "e": set()}, 4),
            item,
        ),
        _good("benign-bytearray-p5", "buf.pkl", pk.dumps({"buf": bytearray(b"abc")}, 5), item),
        _good(
            "benign-ordered-dict-p2",
            "od.pkl",
            pk.dumps(Call(Glob("collections", "OrderedDict"), ([("a", 1), ("b", 2)],)), 2),
            item,
        ),
        _good("benign-argparse-namespace-p0", "args.pkl", pk.dumps(namespace, 0), item),
        _good("benign-argparse-namespace-p1", "args.bin", pk.dumps(namespace, 1), item),
        _good(
            "benign-datetime-p2",
            "when.pkl",
            pk.dumps(
                Call(Glob("datetime", "datetime"), (b"\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x00",)),
                2,
            ),
            item,
        ),
        _good(
            "benign-py2-names-p0",
            "py2.pkl",
            pk.global_("__builtin__", "set")
            + pk.MARK
            + pk.MARK
            + pk.LIST
            + pk.int_(1)
            + pk.APPEND
            + pk.TUPLE
            + pk.REDUCE
            + pk.STOP,
            item,
        ),
        _good("benign-numpy-array-p2", "array.pkl", pk.numpy_array_pickle([1.0, 2.5, -3.0]), item),
        _good("benign-numpy-array-p4", "array4.pkl", pk.numpy_array_pickle([1.0, 2.5], 4), item),
        _good(
            "benign-numpy2-array-p4",
            "array_np2.pkl",
            pk.numpy_array_pickle([0.5], 4, core="numpy._core"),
            item,
        ),
        _good("benign-numpy-frombuffer-p5", "array5.pkl", _frombuffer_pickle(), item),
        _good("benign-joblib-array", "model.joblib", _joblib_array_pickle([1.0, 2.0, 3.0]), item),
        _good(
            "benign-joblib-object-array",
            "labels.joblib",
            joblib_object_array(pk.dumps(["cat", "dog"], 2)),
            item,
        ),
        _good(
            "benign-stacked-pickles",
            "stack.pkl",
            pk.dumps([1, 2, 3], 2) + pk.dumps({"a": "b"}, 4),
            item,
        ),
        _good(
            "benign-dangerous-looking-strings",
            "strings.pkl",
            pk.dumps({"cmd": "os.system", "module": "subprocess", "code": "__import__('os')"}, 0),
            item,
        ),
        _good(
            "benign-bytes-start-like-pickle",
            "floats.pkl",
            pk.dumps({"w": b"\x80\x03\x00\x00\x00\x00\x80\x3f" * 8}, 3),
            item,
        ),
        _good(
            "benign-large-bytes-p4",
            "large.pkl",
            pk.dumps({"weights": bytes(range(256)) * 4096}, 4),
            item,
        ),
        _good(
            "benign-shared-references-p2",
            "shared.pkl",
            pk.proto(2)
            + pk.EMPTY_DICT
            + pk.binput(0)
            + pk.POP
            + pk.EMPTY_LIST
            + pk.MARK
            + pk.binget(0)
            + pk.binget(0)
            + pk.binget(0)
            + pk.APPENDS
            + pk.STOP,
            item,
        ),
        _good(
            "benign-stored-zip-pickle", "bundle.zip", ct.stored_zip([("model.pkl", plain)]), item
        ),
        _good(
            "benign-deflated-zip-pickle",
            "bundle.zip",
            ct.stored_zip([("model.pkl", plain), ("README", b"hello\n")], ct.DEFLATED),
            item,
        ),
        _good("benign-pt-zip-state-dict", "pytorch_model.bin", ct.pt_zip(pkl, storages), item),
        _good(
            "benign-pt-zip-deflated", "model.pt", ct.pt_zip(pkl, storages, method=ct.DEFLATED), item
        ),
        _good("benign-gz-pickle", "model.pkl.gz", ct.gz(plain), item),
        _good("benign-bz2-pickle", "model.pkl.bz2", ct.bz2_(plain), item),
        _good("benign-xz-pickle", "model.pkl.xz", ct.xz(plain), item),
        _good("benign-zlib-joblib", "model.joblib", ct.zlib_(plain), item),
        _good("benign-joblib-zfile", "old.joblib", ct.joblib_zfile(plain), item),
        _good("benign-gz-pt-zip", "model.pt.gz", ct.gz(ct.pt_zip(pkl, storages)), item),
        _good(
            "benign-pt-zip-in-deflated-zip",
            "checkpoint.zip",
            ct.stored_zip(
                [("checkpoint/pytorch_model.bin", ct.pt_zip(pkl, storages))], ct.DEFLATED
            ),
            item,
        ),
        _good(
            "benign-npz-compressed",
            "arrays.npz",
            ct.stored_zip(
                [("a.npy", ct.npy_float32([1.0])), ("b.npy", ct.npy_float32([2.0, 3.0]))],
                ct.DEFLATED,
            ),
            item,
        ),
        _good("benign-tar-pickle", "bundle.tar", ct.tar([("model.pkl", plain)]), item),
        _good("benign-npy-float32", "array.npy", ct.npy_float32([1.0, 2.0, 3.0]), item),
        _good(
            "benign-npy-v2",
            "array2.npy",
            ct.npy("<i8", (2, 2), struct.pack("<4q", 1, 2, 3, 4), version=2),
            item,
        ),
        _good(
            "benign-npz",
            "arrays.npz",
            ct.stored_zip(
                [("a.npy", ct.npy_float32([1.0])), ("b.npy", ct.npy_float32([2.0, 3.0]))]
            ),
            item,
        ),
        _good("benign-legacy-torch", "old_model.pt", ct.legacy_torch(pkl, storages), item),
        _good("benign-legacy-torch-tar", "ancient.pt", ct.legacy_torch_tar(pkl), item),
        _good(
            "benign-safetensors",
            "model.safetensors",
            ct.safetensors(
                b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
                ct.float_storage([1.0, 2.0]),
            ),
            item,
        ),
        _good(
            "benign-printable-protocol0",
            "vocab.pkl",
            pk.dumps({c: i for i, c in enumerate(_string.ascii_letters)}, 0),
            item,
        ),
    ]
    lz4_plain = ct.lz4_frame(plain)
    if lz4_plain is not None:
        out.append(_good("benign-lz4-pickle", "model.pkl.lz4", lz4_plain, item))
    seven = ct.sevenzip([("model.pkl", plain), ("array.npy", ct.npy_float32([1.0]))])
    if seven is not None:
        out.append(_good("benign-7z", "bundle.7z", seven, item))
    return out
