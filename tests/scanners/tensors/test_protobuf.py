"""The protobuf wire-format reader: every wire type, zero-copy slices, and hostile bytes that must
end in ProtobufError (never another exception, a hang or unbounded recursion)."""

from __future__ import annotations

import contextlib
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltrust.scanners.tensors.protobuf import (
    I32,
    I64,
    LEN,
    VARINT,
    Budget,
    Field,
    ProtobufError,
    ProtobufLimitError,
    is_message,
    iter_fields,
    read_varint,
    signed64,
    text,
)

FUZZ = settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --- a tiny encoder ------------------------------------------------------------------------------
def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def field_varint(number: int, value: int) -> bytes:
    return tag(number, VARINT) + varint(value)


def field_bytes(number: int, value: bytes) -> bytes:
    return tag(number, LEN) + varint(len(value)) + value


# --- happy path ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**63, 2**64 - 1])
def test_varints_round_trip(value: int) -> None:
    (f,) = iter_fields(field_varint(1, value))
    assert (f.number, f.wire_type, f.value, f.offset) == (1, VARINT, value, 0)


def test_every_wire_type_is_read() -> None:
    data = (
        field_varint(1, 150)
        + tag(2, I64)
        + struct.pack("<q", -2)
        + field_bytes(3, b"hello")
        + tag(4, I32)
        + struct.pack("<f", 1.5)
    )
    fields = list(iter_fields(data))
    assert [(f.number, f.wire_type) for f in fields] == [(1, 0), (2, 1), (3, 2), (4, 5)]
    assert fields[0].value == 150
    assert signed64(fields[1].value) == -2  # type: ignore[arg-type]
    assert text(fields[2].value) == "hello"
    assert struct.unpack("<f", fields[3].value.to_bytes(4, "little"))[0] == 1.5  # type: ignore[union-attr]
    assert [f.offset for f in fields] == [0, 3, 12, 19]


def test_length_delimited_values_are_views_of_the_input() -> None:
    data = bytearray(field_bytes(7, b"abc"))
    (f,) = iter_fields(data)
    assert isinstance(f.value, memoryview)
    data[-1] = ord("z")  # no copy: the view sees the change
    assert bytes(f.value) == b"abz"


def test_nested_messages_are_read_by_descending() -> None:
    inner = field_bytes(1, b"name") + field_varint(2, 5)
    outer = field_bytes(9, inner)
    budget = Budget()
    (f,) = iter_fields(outer, budget)
    assert isinstance(f.value, memoryview)
    assert [
        (g.number, g.value if g.wire_type == VARINT else text(g.value))
        for g in iter_fields(f.value, budget, 1)
    ] == [
        (1, "name"),
        (2, 5),
    ]


def test_helpers() -> None:
    assert is_message(field_bytes(1, b"x"))
    assert not is_message(b"\x0a\x05ab")
    assert text(5) == "5"
    assert text(memoryview(b"\xff\xfeok")) == "\ufffd\ufffdok"
    assert signed64(5) == 5
    assert signed64(2**64 - 1) == -1
    assert read_varint(memoryview(b"\x96\x01"), 0) == (150, 2)


# --- malformed input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x08", "runs past the end"),
        (b"\x08\xff\xff", "runs past the end"),
        (b"\x08" + b"\xff" * 9 + b"\x7f", "longer than 64 bits"),
        (b"\x08" + b"\x80" * 11 + b"\x01", "longer than 64 bits"),
        (b"\x0a\x05ab", "claims 5 bytes"),
        (b"\x09\x00\x00", "64-bit field"),
        (b"\x0d\x00", "32-bit field"),
        (b"\x0b", "deprecated start-group"),
        (b"\x0c", "deprecated end-group"),
        (b"\x0e", "invalid wire type 6"),
        (b"\x0f", "invalid wire type 7"),
        (b"\x00\x00", "field number 0"),
        (varint(1 << 32 | 0) + b"\x00", "out of range"),
    ],
)
def test_malformed_bytes_raise_protobuf_error(data: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message):
        list(iter_fields(data))


def test_fields_before_an_error_are_yielded() -> None:
    fields: list[Field] = []
    with pytest.raises(ProtobufError):
        fields.extend(iter_fields(field_varint(1, 1) + field_varint(2, 2) + b"\x0b"))
    assert [f.number for f in fields] == [1, 2]


# --- limits --------------------------------------------------------------------------------------
def test_depth_limit() -> None:
    budget = Budget(max_depth=3)
    list(iter_fields(b"", budget, 3))
    with pytest.raises(ProtobufLimitError, match="nested more than 3"):
        list(iter_fields(b"", budget, 4))


def test_field_count_limit_is_shared_across_messages() -> None:
    budget = Budget(max_fields=5)
    list(iter_fields(field_varint(1, 1) * 3, budget))
    with pytest.raises(ProtobufLimitError, match="more than 5"):
        list(iter_fields(field_varint(1, 1) * 3, budget))


def test_deeply_nested_message_stops_at_the_depth_limit() -> None:
    data = b""
    for _ in range(500):
        data = field_bytes(1, data)
    budget = Budget()

    def walk(buf: memoryview | bytes, depth: int) -> None:
        for f in iter_fields(buf, budget, depth):
            if isinstance(f.value, memoryview):
                walk(f.value, depth + 1)

    with pytest.raises(ProtobufLimitError):
        walk(data, 0)


def test_a_huge_claimed_length_is_rejected_without_allocating() -> None:
    with pytest.raises(ProtobufError, match="claims"):
        list(iter_fields(tag(1, LEN) + varint(2**62) + b"x"))


# --- fuzz ----------------------------------------------------------------------------------------
def _walk_all(data: bytes) -> int:
    """Descend into every length-delimited field that parses; count fields."""
    budget = Budget(max_depth=40, max_fields=100_000)
    count = 0

    def walk(buf: memoryview | bytes, depth: int) -> None:
        nonlocal count
        try:
            for f in iter_fields(buf, budget, depth):
                count += 1
                if isinstance(f.value, memoryview) and len(f.value):
                    walk(f.value, depth + 1)
        except ProtobufLimitError:
            raise
        except ProtobufError:
            return

    with contextlib.suppress(ProtobufLimitError):
        walk(data, 0)
    return count


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_protobuf_error(data: bytes) -> None:
    try:
        for f in iter_fields(data):
            assert f.offset < len(data)
    except ProtobufError:
        pass
    assert _walk_all(data) >= 0


_FIELD = st.one_of(
    st.tuples(st.integers(1, 2**29 - 1), st.just(VARINT), st.integers(0, 2**64 - 1)),
    st.tuples(st.integers(1, 2**29 - 1), st.just(I64), st.integers(0, 2**64 - 1)),
    st.tuples(st.integers(1, 2**29 - 1), st.just(I32), st.integers(0, 2**32 - 1)),
    st.tuples(st.integers(1, 2**29 - 1), st.just(LEN), st.binary(max_size=40)),
)


def _encode(fields: list[tuple[int, int, int | bytes]]) -> bytes:
    out = b""
    for number, wire, value in fields:
        if wire == VARINT:
            assert isinstance(value, int)
            out += field_varint(number, value)
        elif wire == I64:
            assert isinstance(value, int)
            out += tag(number, I64) + value.to_bytes(8, "little")
        elif wire == I32:
            assert isinstance(value, int)
            out += tag(number, I32) + value.to_bytes(4, "little")
        else:
            assert isinstance(value, bytes)
            out += field_bytes(number, value)
    return out


@FUZZ
@given(st.lists(_FIELD, max_size=12))
def test_encoded_fields_decode_to_themselves(fields: list[tuple[int, int, int | bytes]]) -> None:
    decoded = [
        (f.number, f.wire_type, bytes(f.value) if isinstance(f.value, memoryview) else f.value)
        for f in iter_fields(_encode(fields))
    ]
    assert decoded == fields


@FUZZ
@given(st.lists(_FIELD, max_size=8), st.integers(0, 400), st.integers(0, 255))
def test_mutated_messages_only_raise_protobuf_error(
    fields: list[tuple[int, int, int | bytes]], pos: int, value: int
) -> None:
    data = bytearray(_encode(fields))
    if data:
        data[pos % len(data)] = value
    assert _walk_all(bytes(data)) >= 0
