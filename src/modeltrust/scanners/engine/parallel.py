"""Share a scan's files between this process and forked workers.

``concurrent.futures.ProcessPoolExecutor`` costs more than scanning a folder of small checkpoints:
importing ``multiprocessing`` alone takes about 20 ms, and the process that forks its workers then
sits idle. Here every process, the parent included, takes the next batch of files from one pipe.
The pipe is filled with at most :data:`MAX_BATCHES` batches of 8 bytes (4 KiB, which a pipe's
buffer always holds) and its write end closed before the first fork. Each read takes one whole
8-byte batch, so each batch goes to exactly one process, fast ones take more, and no process can
wait on a write end it holds itself: an empty pipe reads as the end of the work. A batch is every
``step``-th position from its first, so with more files than batches each batch still mixes large
and small files (the caller puts the largest first).

Workers send each result down their own pipe as it is ready (a claim record first, so the parent
knows which files a worker had taken if it dies). The parent reads those pipes between its own
files and when it has run out of work. On Linux each pipe is widened to 1 MiB, a few thousand
results of clean files, so a worker seldom waits while the parent scans a long file. (A reader
thread in the parent would remove even that wait, but on two cores a third runnable thread cost
the scan a third of its time in GIL hand-overs.)
A worker that dies takes no one down: the files it had claimed and not finished are handed back
as lost, to be reported rather than silently passed. (A file that kills the parent itself, as a
crash of the interpreter would, ends the scan as it would without workers.)

Results travel as bytes made by the caller's ``encode`` and read back by its ``decode`` (the
engine sends JSON records): nothing is ever unpickled, not even our own results.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

R = TypeVar("R")

MAX_BATCHES = 512
"""At most this many batches of (first, step) positions: 4 KiB, written in one go."""
_BATCH = struct.Struct("<II")
_RECORD = struct.Struct("<BII")
"""kind, a, b: a claim of batch (first a, step b), a result for position a with b payload bytes,
or a failure for position a with b bytes of message."""
_CLAIM, _RESULT, _FAILED = 0, 1, 2
_READ = 1 << 16
_PIPE_SIZE = 1 << 20
"""How wide a result pipe is made where the system allows it (Linux's default maximum)."""


@dataclass
class _Worker:
    pid: int
    fd: int
    buffer: bytearray = field(default_factory=bytearray)
    claimed: set[int] = field(default_factory=set)
    """Positions claimed and not yet answered."""
    open: bool = True


@dataclass(frozen=True, slots=True)
class Lost:
    """A file a worker claimed and did not finish: it died, with ``status`` as ``os.waitpid``
    describes it, or it could not send its result."""

    position: int
    status: str


def batches(count: int, limit: int = MAX_BATCHES) -> list[tuple[int, int]]:
    """``count`` positions dealt into at most ``limit`` batches of (first, step): batch ``j``
    is positions ``j, j + step, ...`` below ``count`` (one position each while they fit)."""
    step = min(count, limit)
    return [(first, step) for first in range(step)]


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
        self._failed: dict[int, str] = {}

    def run(self, count: int) -> list[Lost]:
        self._finished = bytearray(count)
        self._failed = {}
        feed_r, feed_w = os.pipe()
        try:
            message = b"".join(_BATCH.pack(a, b) for a, b in batches(count))
            if os.write(feed_w, message) != len(message):  # pragma: no cover - 4 KiB always fit
                raise OSError("the work queue could not be written in one go")
        finally:
            os.close(feed_w)
        children: list[_Worker] = []
        selector = selectors.DefaultSelector()
        try:
            parent = os.getpid()
            for _ in range(self.workers):
                res_r, res_w = os.pipe()
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child's coverage is not collected
                    os.close(res_r)
                    for other in children:
                        os.close(other.fd)
                    self._child(feed_r, res_w, count, parent)
                os.close(res_w)
                _widen(res_r)
                os.set_blocking(res_r, False)
                child = _Worker(pid, res_r)
                children.append(child)
                selector.register(res_r, selectors.EVENT_READ, child)
            while (batch := _take(feed_r)) is not None:
                for position in range(batch[0], count, batch[1]):
                    self._finish(position, self.work(position))
                    self._drain(selector, wait=False)
            while selector.get_map():
                self._drain(selector, wait=True)
            return self._reap(children, count)
        finally:
            os.close(feed_r)
            selector.close()
            for child in children:
                if child.open:
                    os.close(child.fd)
                    child.open = False
            self._kill(children)

    def _finish(self, position: int, result: R) -> None:
        self._finished[position] = 1
        self.done(position, result)

    def _child(self, feed_r: int, out: int, count: int, parent: int) -> None:  # pragma: no cover
        """The worker's life, after the fork; it never returns."""
        code = 0
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                # Ctrl-C ends workers at once; the parent reports it. An ignored SIGINT (a
                # background job) stays ignored, as in the parent.
                signal.signal(signal.SIGINT, signal.SIG_DFL)
            while (batch := _take(feed_r)) is not None:
                _write_all(out, _RECORD.pack(_CLAIM, *batch))
                for position in range(batch[0], count, batch[1]):
                    if os.getppid() != parent:
                        os._exit(1)  # the scan is gone: nobody would read the results
                    try:
                        payload = self.encode(self.work(position))
                        record = _RECORD.pack(_RESULT, position, len(payload)) + payload
                    except Exception as e:  # noqa: BLE001 - reported for this file alone
                        why = f"{type(e).__name__}: {e}".encode()
                        record = _RECORD.pack(_FAILED, position, len(why)) + why
                    _write_all(out, record)
        except BaseException:  # noqa: BLE001 - whatever it was, the parent must learn of it
            code = 70  # EX_SOFTWARE: the parent reports the files this worker had claimed
        finally:
            os._exit(code)

    def _drain(self, selector: selectors.BaseSelector, *, wait: bool) -> None:
        """Read what the workers have sent; with ``wait``, block until one of them says more."""
        for key, _ in selector.select(None if wait else 0):
            child: _Worker = key.data
            try:
                chunk = os.read(child.fd, _READ)
            except BlockingIOError:
                continue
            if not chunk:
                selector.unregister(child.fd)
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
                child.claimed.update(range(a, len(self._finished), b))
                at += _RECORD.size
                continue
            end = at + _RECORD.size + b
            if len(buf) < end:
                break
            child.claimed.discard(a)
            payload = bytes(buf[at + _RECORD.size : end])
            if kind == _RESULT:
                self._finish(a, self.decode(payload))
            else:
                self._failed[a] = payload.decode("utf-8", "replace")
            at = end
        del buf[:at]

    def _reap(self, children: list[_Worker], count: int) -> list[Lost]:
        """Wait for every worker; positions nobody finished are lost, blamed on the worker that
        claimed them (or, if one died between taking a batch and claiming it, on any worker
        that died)."""
        blame: dict[int, str] = {}
        died = ""
        for child in children:
            try:
                _, status = os.waitpid(child.pid, 0)
            except ChildProcessError:  # SIGCHLD ignored: the kernel reaped it already
                status = 0
            child.pid = 0
            if status:
                died = died or _describe(status)
                blame.update(dict.fromkeys(child.claimed, _describe(status)))
        blame.update((p, f"it failed: {why}") for p, why in self._failed.items())
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
                child.pid = 0


def _widen(fd: int) -> None:
    """Make a pipe hold more before its writer waits (Linux only; elsewhere it stays as is)."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is not None:
        with contextlib.suppress(OSError):  # above the system's limit: keep the default
            fcntl.fcntl(fd, set_size, _PIPE_SIZE)


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
