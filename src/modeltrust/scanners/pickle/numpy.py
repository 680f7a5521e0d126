"""NumPy ``.npy`` files (``.npz`` archives are zips of them): object arrays are pickles.

The header is a Python literal, read with :func:`ast.literal_eval` (literals only, nothing runs).
NumPy itself is never imported.
"""

from __future__ import annotations

import ast
import math
import re
import struct

from modeltrust import rules
from modeltrust.scanners.common import sniff
from modeltrust.scanners.interface import Blob, ScanContext, Scanner, window_of
from modeltrust.scanners.pickle.scanner import scan_pickle_blob

MAGIC = b"\x93NUMPY"
_MAX_HEADER = 1024 * 1024
_TYPESTR = re.compile(r"^[<>|=]?([a-zA-Z?])(\d*)(\[[A-Za-z0-9]+\])?$")


class NumpyHeaderError(ValueError):
    pass


def itemsize(descr: object) -> tuple[int, bool]:
    """(bytes per element, holds Python objects) of an ``.npy`` ``descr``."""
    if isinstance(descr, str):
        m = _TYPESTR.match(descr)
        if m is None:
            raise NumpyHeaderError(f"unknown dtype {descr!r}")
        kind, digits = m.group(1), m.group(2)
        if kind == "O":
            return 8, True
        if not digits:
            if kind in "?b":
                return 1, False
            raise NumpyHeaderError(f"dtype {descr!r} has no size")
        size = int(digits)
        return (size * 4 if kind == "U" else size), False
    if isinstance(descr, list):
        total, objects = 0, False
        for field in descr:
            if not isinstance(field, tuple) or len(field) not in (2, 3):
                raise NumpyHeaderError(f"bad structured dtype field {field!r}")
            sub_size, sub_objects = itemsize(field[1])
            count = 1
            if len(field) == 3:
                shape = field[2] if isinstance(field[2], tuple) else (field[2],)
                count = _count(shape)
            total += sub_size * count
            objects = objects or sub_objects
        return total, objects
    raise NumpyHeaderError(f"dtype description of type {type(descr).__name__}")


def _count(shape: object) -> int:
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise NumpyHeaderError(f"bad shape {shape!r}")
    return math.prod(shape)


def parse_header(head: bytes) -> tuple[dict[str, object], int]:
    """The header dict and the offset where array data starts."""
    if not head.startswith(MAGIC) or len(head) < 10:
        raise NumpyHeaderError("missing NumPy magic")
    major = head[6]
    if major == 1:
        (length,) = struct.unpack_from("<H", head, 8)
        start = 10
    elif major in (2, 3):
        if len(head) < 12:
            raise NumpyHeaderError("header cut short")
        (length,) = struct.unpack_from("<I", head, 8)
        start = 12
    else:
        raise NumpyHeaderError(f"unknown format version {major}.{head[7]}")
    if length > _MAX_HEADER:
        raise NumpyHeaderError(f"header of {length} bytes is larger than {_MAX_HEADER}")
    raw = head[start : start + length]
    if len(raw) < length:
        raise NumpyHeaderError("header cut short")
    try:
        text = raw.decode("utf-8" if major == 3 else "latin-1")
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, UnicodeDecodeError) as e:
        raise NumpyHeaderError(f"header is not a Python literal ({type(e).__name__})") from None
    if not isinstance(header, dict) or not {"descr", "shape"} <= header.keys():
        raise NumpyHeaderError("header lacks 'descr' or 'shape'")
    return header, start + length


class NumpyScanner(Scanner):
    name = "npy"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.npy(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        ctx.saw("npy")
        loc = blob.location
        try:
            header, data_at = parse_header(blob.head(_MAX_HEADER + 12))
            size, objects = itemsize(header["descr"])
            count = _count(header["shape"])
        except NumpyHeaderError as e:
            ctx.report(rules.NPY_MALFORMED.finding(loc, f"The .npy header is unusable: {e}."))
            return True
        total = blob.size
        body = None if total is None else total - data_at
        if objects:
            ctx.report(
                rules.NPY_OBJECT_ARRAY.finding(
                    loc.at(data_at),
                    f"The array has dtype {header['descr']!r}: its data is a pickle stream, which "
                    "numpy.load(allow_pickle=True) would run.",
                )
            )
            inner = window_of(blob, data_at, body or 0, loc.inner("<object array pickle>"))
            if inner is not None and not scan_pickle_blob(inner, ctx, strict=False):
                ctx.report(
                    rules.NPY_MALFORMED.finding(
                        loc.at(data_at), "The object array's data is not a readable pickle."
                    )
                )
            return True
        if body is None:
            return True
        expected = size * count
        if body < expected:
            ctx.report(
                rules.NPY_MALFORMED.finding(
                    loc.at(data_at),
                    f"The header declares {expected} bytes of data but only {body} follow.",
                )
            )
        elif body > expected:
            tail = window_of(
                blob,
                data_at + expected,
                body - expected,
                loc.inner(f"<trailing data@{data_at + expected}>"),
            )
            known = tail is not None and ctx.scan_nested(tail)
            ctx.report(
                rules.NPY_TRAILING_DATA.finding(
                    loc.at(data_at + expected),
                    f"{body - expected} bytes follow the array data"
                    + (" and hold another format, reported on its own." if known else "."),
                )
            )
        return True
