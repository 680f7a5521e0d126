"""A small, bounded reader for the protobuf wire format, for formats parsed without their library.

It knows no schema: :func:`iter_fields` yields ``(number, wire_type, value, offset)`` for each
field of one message, where ``value`` is an ``int`` for varint, 64-bit and 32-bit fields and a
``memoryview`` slice of the input (no copy) for length-delimited ones. Callers that know the schema
descend into a length-delimited value by calling :func:`iter_fields` on it with ``depth + 1``.

Hostile input cannot make it loop, recurse or allocate without bound: every field read is
counted against a :class:`Budget` (a cap on fields and on nesting depth shared by one parse),
lengths are checked against the bytes that are really there, and the deprecated group wire types
(3 and 4) are rejected rather than skipped, since skipping them needs unbounded look-ahead.
Malformed bytes raise :class:`ProtobufError`; an exhausted budget raises :class:`ProtobufLimitError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

VARINT = 0
I64 = 1
LEN = 2
START_GROUP = 3
END_GROUP = 4
I32 = 5

MAX_FIELD_NUMBER = (1 << 29) - 1
MAX_MESSAGE = (1 << 31) - 1
"""Protobuf's own ceiling on a serialised message (2 GiB - 1)."""

_WIRE_NAMES = {START_GROUP: "start-group", END_GROUP: "end-group"}


class ProtobufError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class ProtobufLimitError(ProtobufError):
    """Reading stopped at a depth or field-count limit."""


@dataclass(slots=True)
class Budget:
    """Bounds shared by every message read during one parse."""

    max_depth: int = 100
    """Messages nested in messages (protobuf's own parsers stop at 100)."""
    max_fields: int = 50_000_000
    """Fields read in all, so that a parse's time is bounded whatever the file holds."""
    fields: int = 0

    def enter(self, depth: int) -> None:
        if depth > self.max_depth:
            raise ProtobufLimitError(f"messages are nested more than {self.max_depth} levels deep")


class Field(NamedTuple):
    number: int
    wire_type: int
    value: int | memoryview
    offset: int
    """Where the field's tag starts, relative to the message's first byte."""


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it (at most 10 bytes, 64 bits)."""
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise ProtobufError("a varint runs past the end of its message")
        byte = buf[pos]
        pos += 1
        if shift == 63 and byte > 1:
            raise ProtobufError("a varint is longer than 64 bits")
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def iter_fields(
    data: bytes | bytearray | memoryview, budget: Budget | None = None, depth: int = 0
) -> Iterator[Field]:
    """Every field of one message, in file order. Raises ProtobufError on malformed bytes."""
    budget = budget if budget is not None else Budget()
    budget.enter(depth)
    buf = data if isinstance(data, memoryview) else memoryview(data)
    if buf.ndim != 1 or buf.itemsize != 1:
        buf = buf.cast("B")
    if len(buf) > MAX_MESSAGE:
        raise ProtobufError(f"the message is larger than protobuf's {MAX_MESSAGE}-byte limit")
    pos = 0
    end = len(buf)
    while pos < end:
        budget.fields += 1
        if budget.fields > budget.max_fields:
            raise ProtobufLimitError(f"more than {budget.max_fields} protobuf fields")
        start = pos
        tag, pos = read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0 or number > MAX_FIELD_NUMBER:
            raise ProtobufError(f"field number {number} at byte {start} is out of range")
        value: int | memoryview
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == I64:
            if pos + 8 > end:
                raise ProtobufError(f"a 64-bit field at byte {start} runs past the end")
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == LEN:
            length, pos = read_varint(buf, pos)
            if length > end - pos:
                raise ProtobufError(
                    f"field {number} at byte {start} claims {length} bytes; only {end - pos} remain"
                )
            value = buf[pos : pos + length]
            pos += length
        elif wire == I32:
            if pos + 4 > end:
                raise ProtobufError(f"a 32-bit field at byte {start} runs past the end")
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        elif wire in _WIRE_NAMES:
            raise ProtobufError(
                f"field {number} at byte {start} uses the deprecated {_WIRE_NAMES[wire]} "
                "wire type, which is not read"
            )
        else:
            raise ProtobufError(f"field {number} at byte {start} has invalid wire type {wire}")
        yield Field(number, wire, value, start)


def is_message(data: bytes | memoryview, budget: Budget | None = None) -> bool:
    """Whether ``data`` parses as one flat message (nested messages are not checked)."""
    try:
        for _ in iter_fields(data, budget):
            pass
    except ProtobufError:
        return False
    return True


def text(value: int | memoryview, limit: int = 4096) -> str:
    """A length-delimited value as text (invalid UTF-8 replaced, cut at ``limit`` bytes)."""
    if isinstance(value, int):
        return str(value)
    return bytes(value[:limit]).decode("utf-8", "replace")


def signed64(value: int) -> int:
    """A varint read as protobuf's two's-complement ``int64``."""
    return value - (1 << 64) if value >= 1 << 63 else value
