"""The HDF5 file structure, read in pure Python before the HDF5 library is allowed near it.

libhdf5 trusts the addresses and counts a file declares: a small hostile file can make it loop
or crawl until the scan's time limit. So the structure it would walk is checked here first,
with bounded reads and no allocation sized by the file: the superblock (versions 0 to 3), then
every object header reachable from the root group, through old-style groups (symbol table
B-trees, ``TREE`` and ``SNOD`` nodes) and new-style compact groups (link messages), with their
continuation blocks. Each address must lie inside the file, each object is visited once, and
the counts are capped. Dense group storage (fractal heaps) is checked for addresses only.

What this finds is reported as malformed and the file never reaches h5py; a file that passes
goes to h5py with a time limit scaled to the objects counted here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from modeltrust.scanners.interface import LimitExceeded

SIGNATURE = b"\x89HDF\r\n\x1a\n"
UNDEFINED = -1
"""An address of all one bits: "no such thing"."""

MAX_CONTINUATIONS = 1_000
"""Continuation blocks one object header may chain."""
MAX_BTREE_DEPTH = 64
MAX_HEADER_BYTES = 64 * 1024 * 1024
"""Largest object header block read (real ones are bytes to kilobytes)."""

_MSG_LINK_INFO = 0x02
_MSG_LINK = 0x06
_MSG_CONTINUATION = 0x10
_MSG_SYMBOL_TABLE = 0x11


class Malformed(Exception):  # noqa: N818 - the structure is wrong, reported as a finding
    """The file's structure is not what HDF5 defines, or it exceeds the bounds."""


@dataclass(frozen=True, slots=True)
class Structure:
    version: int
    objects: int
    """Object headers visited (groups, datasets, committed types)."""
    dense_groups: int
    """Groups in dense storage, whose members were not walked here."""


class _Reader:
    def __init__(self, f: BinaryIO, start: int, size: int) -> None:
        self.f = f
        self.start = start  # where the superblock is: addresses count from the base address
        self.size = size
        self.base = start
        self.o = 8
        self.length = 8

    def read_abs(self, pos: int, n: int, what: str) -> bytes:
        if n < 0 or pos < 0 or pos + n > self.size:
            raise Malformed(f"{what} at byte {pos} ({n} bytes) lies outside the file")
        self.f.seek(pos)
        data = self.f.read(n)
        if len(data) != n:
            raise Malformed(f"{what} at byte {pos} is cut short")
        return data

    def read(self, addr: int, n: int, what: str) -> bytes:
        if addr == UNDEFINED:
            raise Malformed(f"{what} has an undefined address")
        return self.read_abs(self.base + addr, n, what)

    def addr(self, data: bytes, at: int) -> int:
        value = int.from_bytes(data[at : at + self.o], "little")
        return UNDEFINED if value == (1 << (8 * self.o)) - 1 else value

    def num(self, data: bytes, at: int) -> int:
        return int.from_bytes(data[at : at + self.length], "little")

    def check_addr(self, addr: int, what: str) -> None:
        if addr != UNDEFINED and not 0 <= self.base + addr < self.size:
            raise Malformed(f"{what} points to byte {addr}, outside the file")


def check(f: BinaryIO, start: int, size: int, *, max_objects: int) -> Structure:
    """Check the structure of the HDF5 file whose superblock is at ``start`` in ``f`` (``size``
    bytes); raise :class:`Malformed` with what is wrong."""
    r = _Reader(f, start, size)
    head = r.read_abs(start, 12, "the superblock")
    if head[:8] != SIGNATURE:
        raise Malformed("the HDF5 signature is missing")
    version = head[8]
    if version in (0, 1):
        fixed = r.read_abs(start, 24, "the superblock")
        r.o, r.length = fixed[13], fixed[14]
        _sizes(r)
        leaf_k, internal_k = struct.unpack_from("<HH", fixed, 16)
        if leaf_k == 0 or internal_k == 0:
            raise Malformed("the superblock's group B-tree K values are 0")
        at = 24 + (4 if version == 1 else 0)
        body = r.read_abs(start + at, 4 * r.o + 2 * r.o + 24, "the superblock")
        base, _free, eof, _driver = (r.addr(body, i * r.o) for i in range(4))
        root_entry = body[4 * r.o :]
        root = r.addr(root_entry, r.o)
        cache_type = struct.unpack_from("<I", root_entry, 2 * r.o)[0]
        scratch_btree = r.addr(root_entry, 2 * r.o + 8) if cache_type == 1 else UNDEFINED
        scratch_heap = r.addr(root_entry, 3 * r.o + 8) if cache_type == 1 else UNDEFINED
    elif version in (2, 3):
        r.o, r.length = head[9], head[10]
        _sizes(r)
        body = r.read_abs(start + 12, 4 * r.o + 4, "the superblock")
        base, _extension, eof, root = (r.addr(body, i * r.o) for i in range(4))
        scratch_btree = scratch_heap = UNDEFINED
        leaf_k = 0
    else:
        raise Malformed(f"superblock version {version} does not exist (HDF5 has 0 to 3)")
    if base not in (UNDEFINED, 0, start):
        raise Malformed(f"the base address {base} is not where the superblock is ({start})")
    r.base = start if base in (UNDEFINED, start) else base
    if eof == UNDEFINED or eof > size:
        raise Malformed(
            f"the file is cut short: its superblock says it ends at byte {eof}, it has {size}"
        )
    if root == UNDEFINED:
        raise Malformed("the root group has no object header")
    r.check_addr(scratch_btree, "the root group's cached B-tree")
    r.check_addr(scratch_heap, "the root group's cached local heap")
    walk = _Walk(r, max_objects, max(leaf_k, 1))
    walk.visit(root, "/")
    walk.run()
    return Structure(version, walk.objects, walk.dense)


def _sizes(r: _Reader) -> None:
    if r.o not in (2, 4, 8) or r.length not in (2, 4, 8):
        raise Malformed(
            f"the superblock declares {r.o}-byte offsets and {r.length}-byte lengths "
            "(HDF5 files use 2, 4 or 8)"
        )


class _Walk:
    def __init__(self, r: _Reader, max_objects: int, leaf_k: int) -> None:
        self.r = r
        self.max_objects = max_objects
        self.leaf_k = leaf_k
        self.seen: set[int] = set()
        self.nodes: set[int] = set()
        self.pending: list[tuple[int, str]] = []
        self.objects = 0
        self.dense = 0

    def visit(self, addr: int, path: str) -> None:
        self.r.check_addr(addr, f"the object '{path}'")
        if addr not in self.seen:
            self.seen.add(addr)
            self.pending.append((addr, path))

    def run(self) -> None:
        while self.pending:
            addr, path = self.pending.pop()
            self.objects += 1
            if self.objects > self.max_objects:
                raise LimitExceeded(f"the HDF5 file has more than {self.max_objects} objects")
            self.header(addr, path)

    # --- object headers --------------------------------------------------------------------

    def header(self, addr: int, path: str) -> None:
        r = self.r
        first = r.read(addr, 16, f"the object header of '{path}'")
        if first[:4] == b"OHDR":
            self._header_v2(addr, first, path)
            return
        if first[0] != 1:
            raise Malformed(f"the object header of '{path}' has version {first[0]} (1 or 2)")
        _count, _refs, size = struct.unpack_from("<HII", first, 2)
        blocks = [(addr + 16, size)]
        chained = 0
        while blocks:
            start, length = blocks.pop()
            if length > MAX_HEADER_BYTES:
                raise Malformed(f"an object header block of '{path}' claims {length:,} bytes")
            data = r.read(start, length, f"the object header of '{path}'")
            at = 0
            while at + 8 <= length:
                kind, msize, flags = struct.unpack_from("<HHB", data, at)
                at += 8
                if at + msize > length:
                    raise Malformed(f"a message in the object header of '{path}' overruns it")
                cont = self._message(kind, flags, data[at : at + msize], path)
                if cont is not None:
                    chained += 1
                    if chained > MAX_CONTINUATIONS:
                        raise Malformed(f"the object header of '{path}' chains too many blocks")
                    blocks.append(cont)
                at += msize

    def _header_v2(self, addr: int, first: bytes, path: str) -> None:
        r = self.r
        version, flags = first[4], first[5]
        if version != 2:
            raise Malformed(f"the object header of '{path}' has version {version} (2)")
        at = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 0x03)
        head = r.read(addr, at + width, f"the object header of '{path}'")
        length = int.from_bytes(head[at : at + width], "little")
        order = 2 if flags & 0x04 else 0
        blocks = [(addr + at + width, length, False)]
        chained = 0
        while blocks:
            start, size, signed = blocks.pop()
            if size > MAX_HEADER_BYTES:
                raise Malformed(f"an object header block of '{path}' claims {size:,} bytes")
            data = r.read(start, size, f"the object header of '{path}'")
            at = 0
            if signed:
                if data[:4] != b"OCHK":
                    raise Malformed(f"a continuation block of '{path}' lacks its signature")
                at, size = 4, size - 4  # the checksum closes the block
            while at + 4 + order <= size:
                kind, msize, mflags = struct.unpack_from("<BHB", data, at)
                at += 4 + order
                if at + msize > size:
                    raise Malformed(f"a message in the object header of '{path}' overruns it")
                cont = self._message(kind, mflags, data[at : at + msize], path)
                if cont is not None:
                    chained += 1
                    if chained > MAX_CONTINUATIONS:
                        raise Malformed(f"the object header of '{path}' chains too many blocks")
                    blocks.append((*cont, True))
                at += msize

    def _message(self, kind: int, flags: int, data: bytes, path: str) -> tuple[int, int] | None:
        """Check one header message; a continuation gives the block it names."""
        r = self.r
        if flags & 0x02:  # shared: the data is a reference, checked by the library
            return None
        if kind == _MSG_CONTINUATION:
            if len(data) < r.o + r.length:
                raise Malformed(f"a continuation message of '{path}' is cut short")
            addr, size = r.addr(data, 0), r.num(data, r.o)
            r.check_addr(addr, f"a continuation of '{path}'")
            return addr, size
        if kind == _MSG_SYMBOL_TABLE:
            if len(data) < 2 * r.o:
                raise Malformed(f"the symbol table message of '{path}' is cut short")
            self.symbol_table(r.addr(data, 0), r.addr(data, r.o), path)
        elif kind == _MSG_LINK:
            self._link(data, path)
        elif kind == _MSG_LINK_INFO and len(data) >= 2:
            at = 2 + (8 if data[1] & 0x01 else 0)
            for i in range(2 if data[1] & 0x02 else 1):
                if len(data) >= at + (i + 1) * r.o:
                    r.check_addr(r.addr(data, at + i * r.o), f"the link index of '{path}'")
            if len(data) >= at + r.o and r.addr(data, at) != UNDEFINED:
                self.dense += 1
        return None

    def _link(self, data: bytes, path: str) -> None:
        r = self.r
        if len(data) < 2 or data[0] != 1:
            raise Malformed(f"a link message of '{path}' is malformed")
        flags = data[1]
        at = 2
        kind = 0
        if flags & 0x08:
            kind = data[at] if at < len(data) else -1
            at += 1
        at += (8 if flags & 0x04 else 0) + (1 if flags & 0x10 else 0)
        width = 1 << (flags & 0x03)
        name_len = int.from_bytes(data[at : at + width], "little")
        at += width
        if name_len == 0 or at + name_len > len(data):
            raise Malformed(f"a link name in '{path}' overruns its message")
        name = data[at : at + name_len].decode("utf-8", "replace")
        at += name_len
        if kind == 0:  # hard link: an object in this file
            if at + r.o > len(data):
                raise Malformed(f"the link '{name}' in '{path}' is cut short")
            self.visit(r.addr(data, at), f"{path.rstrip('/')}/{name}")

    # --- old-style groups --------------------------------------------------------------------

    def symbol_table(self, btree: int, heap: int, path: str = "/") -> None:
        r = self.r
        r.check_addr(heap, f"the local heap of '{path}'")
        if heap != UNDEFINED and r.read(heap, 4, f"the local heap of '{path}'") != b"HEAP":
            raise Malformed(f"the local heap of '{path}' lacks its signature")
        self._btree(btree, path, 0)

    def _btree(self, addr: int, path: str, depth: int) -> None:
        r = self.r
        if depth > MAX_BTREE_DEPTH:
            raise Malformed(f"the group B-tree of '{path}' is nested too deep")
        if addr in self.nodes:
            raise Malformed(f"the group B-tree of '{path}' loops back on itself")
        self.nodes.add(addr)
        head = r.read(addr, 8 + 2 * r.o, f"a group B-tree node of '{path}'")
        if head[:4] != b"TREE":
            raise Malformed(f"a group B-tree node of '{path}' lacks its signature")
        node_type, level, used = head[4], head[5], struct.unpack_from("<H", head, 6)[0]
        if node_type != 0:
            raise Malformed(f"the B-tree of group '{path}' is not a group B-tree")
        if level > MAX_BTREE_DEPTH - depth:
            raise Malformed(f"a group B-tree node of '{path}' claims level {level}")
        stride = r.length + r.o
        body = r.read(addr + 8 + 2 * r.o, used * stride + r.length, f"the B-tree of '{path}'")
        for i in range(used):
            child = r.addr(body, r.length + i * stride)
            if level > 0:
                self._btree(child, path, depth + 1)
            else:
                self._symbols(child, path)

    def _symbols(self, addr: int, path: str) -> None:
        r = self.r
        if addr in self.nodes:
            raise Malformed(f"a symbol table node of '{path}' is reached twice")
        self.nodes.add(addr)
        head = r.read(addr, 8, f"a symbol table node of '{path}'")
        if head[:4] != b"SNOD":
            raise Malformed(f"a symbol table node of '{path}' lacks its signature")
        count = struct.unpack_from("<H", head, 6)[0]
        if count > 2 * self.leaf_k:
            raise Malformed(f"a symbol table node of '{path}' claims {count} entries")
        entry = 2 * r.o + 24
        body = r.read(addr + 8, count * entry, f"a symbol table node of '{path}'")
        for i in range(count):
            at = i * entry
            child = r.addr(body, at + r.o)
            cache_type = struct.unpack_from("<I", body, at + 2 * r.o)[0]
            if cache_type == 2 and child == UNDEFINED:
                continue  # a soft link: a path inside this file, visited where it points
            self.visit(child, f"{path.rstrip('/')}/#{i}")
