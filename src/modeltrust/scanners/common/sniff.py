"""Cheap first looks at a blob that decide which scanner modules are worth importing.

A scan imports a format's scanner only when a blob could be that format, so scanning a folder of
PyTorch checkpoints never loads the ONNX, TensorFlow, HDF5 or chat-template code. Each function
here is a *necessary* condition of its scanner's own ``sniff``: when it says no, the scanner would
have said no too (tests check this over every sample). When it says yes, the registry imports the
scanner and asks its real ``sniff``.

This module must stay light: the standard library's ``os``, ``re`` and ``struct``, nothing else.
"""

from __future__ import annotations

import os
import re
import struct

from modeltrust.findings import Location
from modeltrust.scanners.interface import Blob, FileBlob, MiB

ZIP_LOCAL = b"PK\x03\x04"
ZIP_EOCD = b"PK\x05\x06"
ZIP_EOCD64_LOCATOR = b"PK\x06\x07"
ZIP_EOCD64 = b"PK\x06\x06"
_ZIP64_RECORD = 56
"""Size of a zip64 end-of-central-directory record without extensible data."""
ZIP_TAIL = 65_557 + 20
"""How far from the end a zip's end record can be: its comment, the record, the zip64 locator."""
_MAX_DIRECTORY = 256 * MiB

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
HDF5_FIRST_USERBLOCK = 512

OPCODE_BYTES = frozenset(
    b"(.012FIJKLMNPQRSTUVXabcdeghijlopqrstu}])G\x80\x81\x82\x83\x84\x85"
    b"\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96"
    b"\x97\x98BC"
)
"""Bytes that can start a pickle stream: every opcode of every protocol."""

JOBLIB_ZF_PREFIX = b"ZF0x"
_COMPRESSED_MAGIC = (
    b"\x1f\x8b\x08",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x04\x22\x4d\x18",
    JOBLIB_ZF_PREFIX,
)
"""gzip, bzip2, xz, lz4 frames and joblib's zlib files (zlib and lzma-alone are checked apart)."""

BOM_AND_SPACE = b"\xef\xbb\xbf \t\r\n"
TEMPLATE_SUFFIXES = (".jinja", ".j2")

ONNX_MODEL_FIELDS: dict[int, int] = {
    1: 0,  # ir_version
    2: 2,  # producer_name
    3: 2,  # producer_version
    4: 2,  # domain
    5: 0,  # model_version
    6: 2,  # doc_string
    7: 2,  # graph
    8: 2,  # opset_import
    14: 2,  # metadata_props
    20: 2,  # training_info
    25: 2,  # functions
    26: 2,  # configuration
}
"""ModelProto's field numbers and wire types (a test checks them against onnx's descriptor)."""

HYDRA_TARGET = re.compile(rb"_target_|\\(?:x|u00|U000000)(?:5[fF]|74|61|72|67|65)|\\\r?\n")
"""``_target_``, or the escapes that could spell it in a quoted key (``"\\x5ftarget_"``, a
backslash-newline that joins two halves): a key must not hide from the sniff."""
HYDRA_SNIFF_LIMIT = 64 * MiB
"""How far into a text file the sniff looks for ``_target_`` (in chunks, not all at once)."""
_CHUNK = 1 * MiB


# --- helpers the scanners share ------------------------------------------------------------------
def member_name(location: Location) -> str:
    """The innermost name of a location, lower-cased, without folders."""
    name = location.members[-1] if location.members else location.path
    return name.replace("\\", "/").rsplit("/", 1)[-1].lower()


def zlib_header(head: bytes) -> bool:
    return (
        len(head) >= 2
        and head[0] & 0x0F == 8
        and head[0] >> 4 <= 7
        and (head[0] << 8 | head[1]) % 31 == 0
        and not head[1] & 0x20
    )


_LZMA_DICT_SIZES = frozenset({1 << n for n in range(12, 31)} | {3 << n for n in range(11, 30)})


def lzma_alone_header(head: bytes) -> bool:
    if len(head) < 13 or head[0] >= 225:
        return False
    return struct.unpack("<I", head[1:5])[0] in _LZMA_DICT_SIZES


_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
"""Control characters that do not occur in text (tab, newlines, form feed and escape do)."""


def looks_like_text(head: bytes) -> bool:
    """UTF-8 without control characters (escape and a character cut at the end allowed)."""
    if not head:
        return False
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if _CONTROL.search(head):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3  # a character cut by the sniff window
    return True


def find(blob: Blob, pattern: re.Pattern[bytes], limit: int) -> bool:
    """Whether ``pattern`` (at most 16 bytes long) occurs in the first ``limit`` bytes."""
    carry = b""
    read = 0
    with blob.open() as f:
        while read < limit:
            chunk = f.read(min(_CHUNK, limit - read))
            if not chunk:
                return False
            read += len(chunk)
            if pattern.search(carry + chunk):
                return True
            carry = chunk[-16:]
    return False


def hdf5_superblock(blob: Blob, head: bytes) -> int | None:
    """Where the HDF5 signature is: 0, or the size of the user block before it (only probed
    for files on disk, where a few positioned reads are cheap)."""
    if head.startswith(HDF5_MAGIC):
        return 0
    if not isinstance(blob, FileBlob) or blob.size is None:
        return None
    if blob.data is not None:
        offset = HDF5_FIRST_USERBLOCK
        while offset + len(HDF5_MAGIC) <= blob.size:
            if blob.data.startswith(HDF5_MAGIC, offset):
                return offset
            offset *= 2
        return None
    fd = os.open(blob.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        offset = HDF5_FIRST_USERBLOCK
        while offset + len(HDF5_MAGIC) <= blob.size:
            if os.pread(fd, len(HDF5_MAGIC), offset) == HDF5_MAGIC:
                return offset
            offset *= 2
    finally:
        os.close(fd)
    return None


def zip_directory(blob: Blob) -> bytes | None:
    """The raw central directory (one read, cached on the blob), for a cheap look at member
    names; None when it cannot be found simply (zip64, a damaged end record, a stream): the full
    reader in ``archive`` then decides."""
    cached = blob.__dict__.get("_zip_raw_directory", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    directory = _zip_directory(blob)
    blob.__dict__["_zip_raw_directory"] = directory
    return directory


def _zip_directory(blob: Blob) -> bytes | None:
    size = blob.size
    if size is None or size < 22 or not blob.seekable:
        return None
    tail = blob.tail(min(size, ZIP_TAIL))
    at = tail.rfind(ZIP_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    cd_size = struct.unpack_from("<I", tail, at + 12)[0]
    cd_end = size - len(tail) + at
    if at >= 20 and tail[at - 20 : at - 16] == ZIP_EOCD64_LOCATOR:
        # zip64 (torch writes it always): the zip64 end record sits right before the locator,
        # the directory right before that. Anything else is left to the full reader.
        record = at - 20 - _ZIP64_RECORD
        if record < 0 or tail[record : record + 4] != ZIP_EOCD64:
            return None
        cd_size = struct.unpack_from("<Q", tail, record + 40)[0]
        cd_end = size - len(tail) + record
    elif cd_size == 0xFFFFFFFF:
        return None
    if cd_size > min(cd_end, _MAX_DIRECTORY):
        return None
    with blob.open() as f:
        f.seek(cd_end - cd_size)
        return f.read(cd_size)


def zip_may_name(blob: Blob, marker: bytes) -> bool:
    """Whether a member name of this zip may contain ``marker`` (True when it cannot be told)."""
    directory = zip_directory(blob)
    return directory is None or marker in directory


# --- necessary conditions, one per built-in scanner ----------------------------------------------
def zip_like(head: bytes, blob: Blob) -> bool:
    if head.startswith((ZIP_LOCAL, ZIP_EOCD, b"PK\x07\x08")):
        return True
    # A file may end with a zip after other data (polyglots): torch finds it from the end.
    return isinstance(blob, FileBlob) and ZIP_EOCD in blob.tail(ZIP_TAIL)


def tar(head: bytes, blob: Blob) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def seven_zip(head: bytes, blob: Blob) -> bool:
    return head.startswith(b"7z\xbc\xaf\x27\x1c")


def compressed(head: bytes, blob: Blob) -> bool:
    return head.startswith(_COMPRESSED_MAGIC) or zlib_header(head) or lzma_alone_header(head)


def npy(head: bytes, blob: Blob) -> bool:
    return head.startswith(b"\x93NUMPY")


def safetensors(head: bytes, blob: Blob) -> bool:
    return len(head) >= 9 and head[8:9] == b"{" and head[6:8] == b"\x00\x00"


def json_object(head: bytes, blob: Blob) -> bool:
    return head.lstrip(BOM_AND_SPACE)[:1] == b"{"


def safetensors_index(head: bytes, blob: Blob) -> bool:
    return isinstance(blob, FileBlob) and b'"weight_map"' in head and json_object(head, blob)


def gguf(head: bytes, blob: Blob) -> bool:
    return head.startswith(b"GGUF")


def chat_template(head: bytes, blob: Blob) -> bool:
    return json_object(head, blob) or member_name(blob.location).endswith(TEMPLATE_SUFFIXES)


def onnx(head: bytes, blob: Blob) -> bool:
    """The first field's number and wire type are ModelProto's (tags take one or two bytes)."""
    if not head:
        return False
    tag = head[0] & 0x7F
    if head[0] & 0x80:
        if len(head) < 2 or head[1] & 0x80:
            return False
        tag |= head[1] << 7
    return ONNX_MODEL_FIELDS.get(tag >> 3) == tag & 7


def keras(head: bytes, blob: Blob) -> bool:
    if not (head.startswith(ZIP_LOCAL) or zip_like(head, blob)):
        return False
    return zip_may_name(blob, b"config.json")


def hdf5(head: bytes, blob: Blob) -> bool:
    try:
        return hdf5_superblock(blob, head) is not None
    except OSError:
        return False


def savedmodel(head: bytes, blob: Blob) -> bool:
    """SavedModel starts with field 1 (varint) or 2 (message); GraphDef with field 1 (message)."""
    return head[:1] in (b"\x08", b"\x12", b"\x0a")


def torchscript(head: bytes, blob: Blob) -> bool:
    return head.startswith(ZIP_LOCAL) and zip_may_name(blob, b"code/")


def skops(head: bytes, blob: Blob) -> bool:
    return head.startswith(ZIP_LOCAL) and zip_may_name(blob, b"schema.json")


def hydra(head: bytes, blob: Blob) -> bool:
    if not looks_like_text(head):
        return False
    if HYDRA_TARGET.search(head):
        return True
    if blob.size is not None and blob.size <= len(head):
        return False
    return find(blob, HYDRA_TARGET, HYDRA_SNIFF_LIMIT)


def remote_code(head: bytes, blob: Blob) -> bool:
    name = blob.location.members[-1] if blob.location.members else blob.location.path
    return name.lower().endswith(".py") or json_object(head, blob)


def pickle(head: bytes, blob: Blob) -> bool:
    # A zip's "PK" reads as PERSID, which plain pickle.load refuses (no persistent_load)
    # and torch reads as a zip: a stored member inside must not pass for a top-level stream.
    return bool(head) and head[0] in OPCODE_BYTES and not head.startswith((ZIP_LOCAL, ZIP_EOCD))
