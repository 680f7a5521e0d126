"""Share a scan's files between this process and forked workers.

``concurrent.futures.ProcessPoolExecutor`` costs more than scanning a folder of small checkpoints:
importing ``multiprocessing`` alone takes about 20 ms, and the process that forks its workers then
sits idle. Here every process, the parent included, takes the next batch of files from one pipe.
The pipe is filled with at most :data:`MAX_BATCHES` batches of 8 bytes (4 KiB, which a pipe's
buffer always holds) and its write end closed before the first fork. Each read takes one whole
8-byte batch, so each batch goes to exactly one process, fast ones take more, and no process can
wait on a write end it holds itself: an empty pipe reads as the end of the work.

Workers send each result down their own pipe as it is ready (a claim record first, so the parent
knows which files a worker had taken if it dies). The parent reads those pipes between its own
files and when it has run out of work. A worker that dies takes no one down: the files it had
claimed and not finished are handed back as lost, to be reported rather than silently passed.

Results travel as bytes made by the caller's ``encode`` and read back by its ``decode`` (the
engine sends JSON records): nothing is ever unpickled, not even our own results.
"""

from __future__ import annotations

import os
import select
import signal
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

R = TypeVar("R")

MAX_BATCHES = 512
"""At most this many batches of (first, stop) positions: 4 KiB, written in one go."""
_BATCH = struct.Struct("<II")
_RECORD = struct.Struct("<BII")
"""kind, a, b: a claim of positions [a, b), or the result for position a with b payload bytes."""
_CLAIM, _RESULT = 0, 1
_READ = 1 << 16


@dataclass
class _Worker:
    pid: int
    fd: int
    buffer: bytearray = field(default_factory=bytearray)
    claimed: set[int] = field(default_factory=set)
    open: bool = True


@dataclass(frozen=True, slots=True)
class Lost:
    """A file a worker claimed and did not finish: it died, with ``status`` as ``os.waitpid``
    describes it."""

    position: int
    status: str


def batches(count: int, limit: int = MAX_BATCHES) -> list[tuple[int, int]]:
    """``count`` positions cut into at most ``limit`` consecutive runs (one file each while they
    fit, so the largest files, placed first by the caller, are spread over the processes)."""
    size = max(1, -(-count // limit))
    return [(start, min(start + size, count)) for start in range(0, count, size)]


class ForkPool(Generic[R]):
    """Run ``work(position)`` for ``positions``, in this process and ``workers`` forked ones.

    ``done(position, result)`` is called in this process for every finished position, in
    completion order; :meth:`run` returns the positions lost with a dying worker. A worker's
    results come back through ``encode`` and ``decode``.
    """

    def __init__(
        self,
        work: Callable[[int], R],
        done: Callable[[int, R], None],
        workers: int,
        *,
        encode: Callable[[R], bytes],
        decode: Callable[[bytes], R],
    ) -> None:
        self.work = work
        self.done = done
        self.workers = workers
        self.encode = encode
        self.decode = decode
        self._finished = bytearray()

    def run(self, count: int) -> list[Lost]:
        self._finished = bytearray(count)
        feed_r, feed_w = os.pipe()
        try:
            message = b"".join(_BATCH.pack(a, b) for a, b in batches(count))
            if os.write(feed_w, message) != len(message):  # pragma: no cover - 4 KiB always fit
                raise OSError("the work queue could not be written in one go")
        finally:
            os.close(feed_w)
        children: list[_Worker] = []
        try:
            for _ in range(self.workers):
                res_r, res_w = os.pipe()
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child's coverage is not collected
                    os.close(res_r)
                    for other in children:
                        os.close(other.fd)
                    self._child(feed_r, res_w)
                os.close(res_w)
                os.set_blocking(res_r, False)
                children.append(_Worker(pid, res_r))
            while (batch := _take(feed_r)) is not None:
                for position in range(*batch):
                    self._finish(position, self.work(position))
                    self._drain(children, wait=False)
            while any(c.open for c in children):
                self._drain(children, wait=True)
            return self._reap(children, count)
        finally:
            os.close(feed_r)
            for child in children:
                if child.open:
                    os.close(child.fd)
                    child.open = False
            self._kill(children)

    def _finish(self, position: int, result: R) -> None:
        self._finished[position] = 1
        self.done(position, result)

    def _child(self, feed_r: int, out: int) -> None:  # pragma: no cover - runs after fork
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            while (batch := _take(feed_r)) is not None:
                _write_all(out, _RECORD.pack(_CLAIM, *batch))
                for position in range(*batch):
                    payload = self.encode(self.work(position))
                    _write_all(out, _RECORD.pack(_RESULT, position, len(payload)) + payload)
        except BaseException:  # noqa: BLE001 - whatever it was, the parent must learn of it
            code = 70  # EX_SOFTWARE: the parent reports the files this worker had claimed
        finally:
            os._exit(code)

    def _drain(self, children: list[_Worker], *, wait: bool) -> None:
        """Read what the workers have sent; with ``wait``, block until one of them says more."""
        fds = [c.fd for c in children if c.open]
        if not fds:
            return
        ready, _, _ = select.select(fds, [], [], None if wait else 0)
        for child in children:
            if not child.open or child.fd not in ready:
                continue
            try:
                chunk = os.read(child.fd, _READ)
            except BlockingIOError:
                continue
            if not chunk:
                os.close(child.fd)
                child.open = False
                continue
            child.buffer += chunk
            self._records(child)

    def _records(self, child: _Worker) -> None:
        buf = child.buffer
        at = 0
        while len(buf) - at >= _RECORD.size:
            kind, a, b = _RECORD.unpack_from(buf, at)
            if kind == _CLAIM:
                child.claimed.update(range(a, b))
                at += _RECORD.size
                continue
            end = at + _RECORD.size + b
            if len(buf) < end:
                break
            child.claimed.discard(a)
            self._finish(a, self.decode(bytes(buf[at + _RECORD.size : end])))
            at = end
        del buf[:at]

    def _reap(self, children: list[_Worker], count: int) -> list[Lost]:
        """Wait for every worker; positions nobody finished are lost, blamed on the worker that
        claimed them (or, if one died between taking a batch and claiming it, on any worker
        that died)."""
        blame: dict[int, str] = {}
        died = ""
        for child in children:
            _, status = os.waitpid(child.pid, 0)
            child.pid = 0
            if status:
                died = died or _describe(status)
                blame.update(dict.fromkeys(child.claimed, _describe(status)))
        missing = [p for p in range(count) if not self._finished[p]]
        return [Lost(p, blame.get(p) or died or "no result came back") for p in missing]

    @staticmethod
    def _kill(children: list[_Worker]) -> None:
        """Stop and reap workers still running (this process is leaving early)."""
        for child in children:
            if child.pid:
                try:
                    os.kill(child.pid, signal.SIGKILL)
                    os.waitpid(child.pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass


def _take(feed: int) -> tuple[int, int] | None:
    data = os.read(feed, _BATCH.size)
    if len(data) < _BATCH.size:
        return None
    a, b = _BATCH.unpack(data)
    return a, b


def _write_all(fd: int, data: bytes) -> None:  # pragma: no cover - runs after fork
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"killed by {name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
