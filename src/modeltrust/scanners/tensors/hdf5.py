"""HDF5 files, Keras ``.h5`` models among them.

The HDF5 signature sits at byte 0 or, after a user block, at 512, 1024, 2048 ... bytes. A user
block is reported (HDF5 ignores it, so it can carry anything) and its bytes are offered to every
scanner. The file is then opened read-only with h5py (extra ``modeltrust[h5]``) and its link
graph walked without following anything out of the file:

- external links (never traversed), user-defined links, external storage and virtual datasets are
  reported with the files they name (MT-KERAS-004);
- the ``model_config`` and ``training_config`` attributes Keras writes are parsed as JSON and
  checked like a ``.keras`` config (:func:`modeltrust.scanners.tensors.keras.check_keras_config`).

Dataset contents are never read. A virtual dataset's extent is never asked for either, because
HDF5 opens the source files to compute it.
"""

from __future__ import annotations

import faulthandler
import json
import os
import select
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from modeltrust import rules
from modeltrust.findings import Finding, Location, Severity
from modeltrust.scanners.common import sniff
from modeltrust.scanners.common.sniff import HDF5_MAGIC
from modeltrust.scanners.common.sniff import hdf5_superblock as superblock_offset
from modeltrust.scanners.interface import (
    Blob,
    BytesBlob,
    FileBlob,
    LimitExceeded,
    Limits,
    ScanContext,
    Scanner,
    SliceBlob,
    window_of,
)
from modeltrust.scanners.tensors.hdf5_format import Malformed, Structure
from modeltrust.scanners.tensors.hdf5_format import check as check_structure
from modeltrust.scanners.tensors.keras import check_keras_config, parse_config

MAGIC = HDF5_MAGIC
MAX_CONFIG = 100 * 1024 * 1024
"""Largest model_config / training_config attribute read into memory."""
KERAS_CONFIG_ATTRS = ("model_config", "training_config")
MAX_LISTED = 20
"""External references reported one by one; the rest are counted."""
MAX_GROUP_DEPTH = 256
_H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError)
"""What h5py raises on a broken file (it maps HDF5's error stack onto these)."""
HDF5_TIMEOUT = 60.0
"""Most seconds the HDF5 library gets to read one file's structure before it is stopped (walking
100,000 objects, the default member limit, takes about 20 s)."""
BASE_TIMEOUT = 5.0
"""Seconds for any file that passed the structure check, plus :data:`PER_OBJECT` per object
it counted; a group in dense storage (members not counted) adds :data:`PER_DENSE_GROUP`."""
PER_OBJECT = 0.0005
PER_DENSE_GROUP = 5.0


def time_limit(structure: Structure) -> float:
    """How long h5py may take on a file, from what the pure-Python check counted in it."""
    budget = BASE_TIMEOUT + structure.objects * PER_OBJECT
    return min(HDF5_TIMEOUT, budget + structure.dense_groups * PER_DENSE_GROUP)


def _text(value: object) -> str | None:
    """An HDF5 attribute value as text (bytes, str, numpy scalars and 1-element arrays)."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "size", 1) == 1:
        value = item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    return None


class _Walk:
    """Visits every group, dataset and committed type reachable through hard links, once."""

    def __init__(self, h5py: Any, ctx: ScanContext, loc: Location) -> None:
        self.h5py = h5py
        self.ctx = ctx
        self.loc = loc
        self.objects = 0
        self.external = 0
        self.problems: list[str] = []

    def run(self, f: Any) -> None:
        h5g, h5l, h5o = self.h5py.h5g, self.h5py.h5l, self.h5py.h5o
        root = h5g.open(f.id, b"/")
        seen = {self._key(root)}
        stack: list[tuple[Any, str, int]] = [(root, "/", 0)]
        self._attributes(root, "/")
        while stack:
            gid, path, depth = stack.pop()
            for raw in self._names(gid, path):
                self.objects += 1
                if self.objects > self.ctx.limits.max_members:
                    raise LimitExceeded(
                        f"the HDF5 file has more than {self.ctx.limits.max_members} objects"
                    )
                name = raw.decode("utf-8", "replace")
                child = f"{path.rstrip('/')}/{name}"
                try:
                    kind = gid.links.get_info(raw).type
                    if kind == h5l.TYPE_EXTERNAL:
                        filename, target = gid.links.get_val(raw)
                        self._external(
                            f"'{child}' is an external link to '{target.decode('utf-8', 'replace')}'"
                            f" in '{filename.decode('utf-8', 'replace')}'"
                        )
                        continue
                    if kind == h5l.TYPE_SOFT:
                        continue  # a path inside this file: its target is visited on its own
                    if kind != h5l.TYPE_HARD:
                        self._external(
                            f"'{child}' is a user-defined link (class {kind})",
                            "loading runs whatever handler the reader registered for that class",
                        )
                        continue
                    oid = h5o.open(gid, raw)
                    key = self._key(oid)
                    if key in seen:
                        continue
                    seen.add(key)
                    self._attributes(oid, child)
                    if isinstance(oid, h5g.GroupID):
                        if depth + 1 > MAX_GROUP_DEPTH:
                            raise LimitExceeded(
                                f"groups are nested more than {MAX_GROUP_DEPTH} levels deep"
                            )
                        stack.append((oid, child, depth + 1))
                    elif isinstance(oid, self.h5py.h5d.DatasetID):
                        self._dataset(oid, child)
                except _H5_ERRORS as e:
                    self.problems.append(f"'{child}': {e}")

    def _names(self, gid: Any, path: str) -> Iterator[bytes]:
        try:
            names = list(gid)
        except _H5_ERRORS as e:
            self.problems.append(f"group '{path}' cannot be listed: {e}")
            return
        yield from names

    def _key(self, oid: Any) -> tuple[int, int]:
        info = self.h5py.h5o.get_info(oid)
        return (info.fileno, info.addr)

    def _external(self, what: str, effect: str = "loading reads that file") -> None:
        self.external += 1
        if self.external <= MAX_LISTED:
            self.ctx.report(
                rules.HDF5_EXTERNAL.finding(
                    self.loc,
                    f"{what}: {effect}. Check it; do not load the file if it points at system "
                    "or user files.",
                    evidence=what[:1000],
                )
            )

    def _dataset(self, did: Any, path: str) -> None:
        dcpl = did.get_create_plist()
        for i in range(dcpl.get_external_count()):
            name, offset, size = dcpl.get_external(i)
            self._external(
                f"dataset '{path}' stores its data in the external file "
                f"'{name.decode('utf-8', 'replace')}' (offset {offset}, {size} bytes)"
            )
        if dcpl.get_layout() == self.h5py.h5d.VIRTUAL:
            count = dcpl.get_virtual_count()
            sources = [
                f"'{dcpl.get_virtual_dsetname(i)}' in '{dcpl.get_virtual_filename(i)}'"
                for i in range(min(count, 5))
            ]
            more = f" and {count - 5} more" if count > 5 else ""
            self._external(
                f"dataset '{path}' is virtual: its data comes from {', '.join(sources)}{more}"
            )

    def _attributes(self, oid: Any, path: str) -> None:
        for name in KERAS_CONFIG_ATTRS:
            if not self.h5py.h5a.exists(oid, name.encode()):
                continue
            where = f"attribute '{name}' of '{path}'"
            try:
                config = parse_config(self._config_text(oid, name))
            except (*_H5_ERRORS, LimitExceeded) as e:
                self.ctx.report(
                    rules.KERAS_MALFORMED.finding(
                        self.loc,
                        f"The Keras {where} cannot be read as a JSON config: {e}. The model "
                        "config was not analysed; re-download or re-save the model.",
                    )
                )
                continue
            self.ctx.saw("keras")
            check_keras_config(config, self.loc, self.ctx, source=where)

    def _config_text(self, oid: Any, name: str) -> str:
        """A config attribute's text. Fixed-size strings are measured before they are read;
        variable-length ones live in the file's heap (so no larger than the file) and are
        measured after."""
        limit = min(MAX_CONFIG, self.ctx.limits.max_header)
        size = self.h5py.h5a.open(oid, name.encode()).get_storage_size()
        if size > limit:
            raise LimitExceeded(f"it holds {size} bytes, more than {limit}")
        text = _text(self.h5py.AttributeManager(self._wrap(oid))[name])
        if text is None:
            raise ValueError("it is not a string")
        if len(text) > limit:
            raise LimitExceeded(f"it holds {len(text)} characters, more than {limit}")
        return text

    def _wrap(self, oid: Any) -> Any:
        h5py = self.h5py
        if isinstance(oid, h5py.h5g.GroupID):
            return h5py.Group(oid)
        if isinstance(oid, h5py.h5d.DatasetID):
            return h5py.Dataset(oid)
        return h5py.Datatype(oid)


@contextmanager
def _open(h5py: Any, blob: Blob) -> Iterator[Any]:
    if isinstance(blob, FileBlob):
        with h5py.File(blob.path, "r", locking=False) as f:
            yield f
        return
    with blob.open() as fobj, h5py.File(fobj, "r") as f:
        yield f


def _facts(f: Any, ctx: ScanContext) -> None:
    for attr, fact in (("keras_version", "keras.version"), ("backend", "keras.backend")):
        try:
            value = _text(f.attrs.get(attr)) if attr in f.attrs else None
        except (*_H5_ERRORS, UnicodeDecodeError):
            continue
        if value:
            ctx.fact(fact, value, limit=100)


@dataclass(frozen=True, slots=True)
class _Result:
    """What reading the HDF5 structure found (sent from the child process as JSON)."""

    findings: list[Finding]
    formats: list[str]
    facts: dict[str, str]
    limit: str | None

    def to_json(self) -> str:
        return json.dumps(
            {
                "findings": [f.to_record() for f in self.findings],
                "formats": self.formats,
                "facts": self.facts,
                "limit": self.limit,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> _Result:
        doc = json.loads(text)
        return cls(
            [Finding.from_record(f) for f in doc["findings"]],
            list(doc["formats"]),
            dict(doc["facts"]),
            doc["limit"],
        )


def _read_file(h5py: Any, blob: Blob, limits: Limits) -> _Result:
    """Open the file with h5py and walk it (in a child process when isolated)."""
    loc = blob.location
    ctx = ScanContext(limits, lambda _blob, _ctx: False)
    walk = _Walk(h5py, ctx, loc)
    limit = None
    try:
        with _open(h5py, blob) as f:
            _facts(f, ctx)
            walk.run(f)
    except _H5_ERRORS as e:
        walk.problems.insert(0, f"the file cannot be opened or walked: {e}")
    except LimitExceeded as e:
        limit = str(e)
    if walk.external > MAX_LISTED:
        ctx.report(
            rules.HDF5_EXTERNAL.finding(
                loc,
                f"{walk.external - MAX_LISTED} more references to data outside the file were "
                f"not listed (only the first {MAX_LISTED} are).",
            )
        )
    if walk.problems:
        ctx.report(
            rules.KERAS_MALFORMED.finding(
                loc,
                f"The HDF5 structure of '{loc.display_path}' is partly unreadable: "
                + "; ".join(walk.problems[:5])
                + ". What could not be read was not analysed; re-download the file.",
                evidence="; ".join(walk.problems[:50]),
            )
        )
    return _Result(ctx.findings, ctx.formats, ctx.facts, limit)


class _ChildFailed(Exception):  # noqa: N818 - a signal inside this scanner, like LimitExceeded
    """The process reading the file crashed, hung or returned nothing."""


def _in_child(work: Callable[[], _Result], timeout: float) -> _Result:
    """Run ``work`` in a forked child and return its result. libhdf5 is native code parsing
    hostile bytes: a crash or a hang there must not take the scan down with it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which coverage does not follow
        os.close(r)
        try:
            # Quiet: a crash report or HDF5 diagnostics would land in the user's terminal.
            faulthandler.disable()
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            try:
                payload = json.dumps({"ok": work().to_json()})
            except BaseException as e:  # noqa: BLE001 - every outcome goes back to the parent
                payload = json.dumps({"error": f"{type(e).__name__}: {e}"})
            with os.fdopen(w, "wb") as out:
                out.write(payload.encode("utf-8", "backslashreplace"))
        finally:
            os._exit(0)
    os.close(w)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    status = None
    try:
        with os.fdopen(r, "rb", buffering=0) as pipe:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([pipe], [], [], left)[0]:
                    raise _ChildFailed(f"reading it did not finish within {timeout:g} seconds")
                chunk = pipe.read(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:  # timed out or interrupted: never leave the child running
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise _ChildFailed(f"the HDF5 library crashed ({name}) while reading it")
    if not chunks:
        raise _ChildFailed("the process reading it ended without a result")
    doc = json.loads(b"".join(chunks))
    if "error" in doc:
        raise RuntimeError(doc["error"])  # a bug in modeltrust: the engine reports MT-INT-001
    return _Result.from_json(doc["ok"])


class Hdf5Scanner(Scanner):
    name = "hdf5"
    needs_seek = True
    isolate: bool = hasattr(os, "fork")
    """Read the HDF5 structure in a forked child (where the platform can fork)."""

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.hdf5(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        offset = superblock_offset(blob, blob.head(len(MAGIC)))
        if offset is None:
            return False
        ctx.saw("hdf5")
        loc = blob.location
        if offset:
            self._user_block(blob, offset, ctx)
        if not isinstance(blob, FileBlob | SliceBlob | BytesBlob):
            ctx.report(
                rules.KERAS_MALFORMED.finding(
                    loc, "The HDF5 data cannot be read out of order here; it was not analysed."
                )
            )
            return True
        try:
            with blob.open() as f:
                size = f.seek(0, os.SEEK_END) if blob.size is None else blob.size
                structure = check_structure(f, offset, size, max_objects=ctx.limits.max_members)
        except Malformed as e:
            ctx.report(
                rules.KERAS_MALFORMED.finding(
                    loc,
                    f"The HDF5 structure of '{loc.display_path}' is malformed: {e}. It was not "
                    "given to the HDF5 library, which can hang or crash on such a file, so it was "
                    "not analysed. Do not open it with h5py or Keras.",
                    evidence=str(e),
                )
            )
            return True
        try:
            import h5py
        except ImportError:
            ctx.report(
                rules.GEN_NEEDS_EXTRA.finding(
                    loc,
                    f"'{loc.display_path}' is an HDF5 file (a Keras .h5 model?); reading it needs "
                    "the 'h5' extra: pip install 'modeltrust[h5]'. It was not analysed.",
                )
            )
            return True
        try:
            if self.isolate:
                limit = time_limit(structure)
                result = _in_child(lambda: _read_file(h5py, blob, ctx.limits), limit)
            else:
                result = _read_file(h5py, blob, ctx.limits)
        except _ChildFailed as e:
            ctx.report(
                rules.KERAS_MALFORMED.finding(
                    loc,
                    f"The HDF5 library could not read '{loc.display_path}': {e}. The file is "
                    "malformed or built to attack HDF5 readers; it was not analysed. Do not open "
                    "it with h5py or Keras.",
                )
            )
            return True
        for finding in result.findings:
            ctx.report(finding)
        for fmt in result.formats:
            ctx.saw(fmt)
        for key, value in result.facts.items():
            ctx.fact(key, value)
        if result.limit is not None:
            raise LimitExceeded(result.limit)
        return True

    @staticmethod
    def _user_block(blob: Blob, offset: int, ctx: ScanContext) -> None:
        loc = blob.location
        with blob.open() as f:
            data = f.read(min(offset, 64))
            f.seek(0)
            empty = True
            left = offset
            while empty and left > 0:
                chunk = f.read(min(left, 1024 * 1024))
                if not chunk:
                    break
                left -= len(chunk)
                empty = not chunk.strip(b"\x00")
        inner = window_of(blob, 0, offset, loc.inner("<hdf5 user block>"))
        known = False
        if inner is not None and not empty:
            known = ctx.scan_nested(inner)
        if empty:
            ctx.report(
                rules.HDF5_EXTERNAL.finding(
                    loc,
                    f"The file starts with a {offset}-byte HDF5 user block of zero bytes. HDF5 "
                    "ignores it; Keras never writes one.",
                    severity=Severity.LOW,
                )
            )
            return
        held = (
            "; it holds another format, reported on its own"
            if known
            else "; its bytes match no format modeltrust reads"
        )
        ctx.report(
            rules.HDF5_EXTERNAL.finding(
                loc,
                f"The file starts with a {offset}-byte HDF5 user block{held}. HDF5 ignores it, "
                "so it can carry anything a second loader would read; Keras never writes one. "
                "Check what it is before trusting the file.",
                evidence=data.hex(),
            )
        )
