"""Count the data of ``modeltrust fairness`` in a child process while this one imports the rest.

The command's time goes mostly to imports: polars to read and count the rows (about 100 ms) and,
to judge the counts, numpy, the metrics and the rule catalogue (about 60 ms). The two halves
share only the count table, a few kilobytes. So where it is safe to fork, the command forks
before importing either: the child imports polars and counts every file, while the parent
imports the rest and then reads the tables from a pipe, as the counts JSON that
``--export-counts`` writes (exact, and parsed, never unpickled).

- An error the child meets on purpose (a missing column, an unreadable file, a missing extra)
  comes back as the same exception with the same message.
- Anything else (the child crashed, was killed, sent something unreadable) makes the parent
  count the files itself, so whatever went wrong happens again where ``--debug`` can show it.
- The parent counts in-process from the start where forking would be unsafe or useless: no
  ``os.fork`` (Windows), polars already imported (its thread pool does not survive a fork),
  other Python threads running, or ``--debug``.

Leaving the ``with`` block early (a usage error found meanwhile) kills and reaps the child.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from modeltrust import errors

if TYPE_CHECKING:
    from modeltrust.fairness.counts import CountTable

_CRASHED = 70
"""The child's exit status for an exception that is not a modeltrust error."""


@dataclass(frozen=True, slots=True)
class Request:
    """What to count: the files and the role of each column."""

    paths: tuple[str, ...]
    label: str
    prediction: str
    sensitive: tuple[str, ...]
    score: str | None = None
    weight: str | None = None
    drop_missing: bool = False

    def count(self) -> list[CountTable]:
        """Count every file in this process."""
        from modeltrust.fairness.data import Columns, count

        columns = Columns(
            self.label, self.prediction, self.sensitive, score=self.score, weight=self.weight
        )
        return [count(path, columns, drop_missing=self.drop_missing) for path in self.paths]


@dataclass
class Counting:
    """Count tables on their way: from a child process when :func:`start` could fork, else
    counted by :meth:`tables` in this process."""

    request: Request
    pid: int | None = None
    fd: int | None = None
    _tables: list[CountTable] | None = field(default=None, repr=False)

    def tables(self) -> list[CountTable]:
        """The count tables, one per file, in order. Raises what counting raised."""
        if self._tables is None:
            received = self._receive() if self.pid is not None else None
            self._tables = received if received is not None else self.request.count()
        return self._tables

    def _receive(self) -> list[CountTable] | None:
        """The child's tables; ``None`` when it did not send them whole."""
        data = bytearray()
        if self.fd is None or self.pid is None:  # pragma: no cover - set together by start()
            return None
        try:
            while chunk := os.read(self.fd, 1 << 16):
                data += chunk
        finally:
            os.close(self.fd)
            self.fd = None
            _, status = os.waitpid(self.pid, 0)
            self.pid = None
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        try:
            message = json.loads(data)
        except ValueError:
            return None
        if not isinstance(message, dict):
            return None
        if "error" in message:
            raise _error(message)
        return _decode(message.get("tables"), self.request.paths)

    def close(self) -> None:
        """Stop and reap the child if its tables were never read."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):  # it may have just exited
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def start(request: Request, *, fork: bool = True) -> Counting:
    """Start counting: in a forked child when ``fork`` is true and forking is safe here."""
    if not (fork and _can_fork()):
        return Counting(request)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its results are checked by the parent's tests
        os.close(read_end)
        _child(request, write_end)
    os.close(write_end)
    return Counting(request, pid=pid, fd=read_end)


def _can_fork() -> bool:
    return hasattr(os, "fork") and "polars" not in sys.modules and threading.active_count() == 1


def _child(request: Request, fd: int) -> None:  # pragma: no cover - runs in the child
    """Count, send the tables or the error down ``fd``, and exit without running the parent's
    exit handlers or flushing its buffers."""
    status = 0
    try:
        try:
            from modeltrust import __version__

            message: dict[str, Any] = {
                "tables": [
                    {"sources": list(table.sources), "counts": table.to_json(__version__)}
                    for table in request.count()
                ]
            }
        except errors.ModelTrustError as e:
            message = {"error": type(e).__name__, "message": str(e)}
        view = memoryview(json.dumps(message).encode())
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:  # noqa: BLE001 - the parent counts again and shows the error
        status = _CRASHED
    finally:
        os._exit(status)


def _error(message: dict[str, Any]) -> errors.ModelTrustError:
    kind = getattr(errors, str(message.get("error")), None)
    text = str(message.get("message", ""))
    if isinstance(kind, type) and issubclass(kind, errors.ModelTrustError):
        return kind(text)
    return errors.ModelTrustError(text)


def _decode(tables: object, paths: Sequence[str]) -> list[CountTable] | None:
    from modeltrust.fairness.counts import CountTable

    if not isinstance(tables, list) or len(tables) != len(paths):
        return None
    out = []
    for entry, path in zip(tables, paths, strict=True):
        if not isinstance(entry, dict):
            return None
        counts, sources = entry.get("counts"), entry.get("sources")
        if not isinstance(counts, str) or not isinstance(sources, list):
            return None
        try:
            table = CountTable.from_json(counts, path)
        except errors.DataError:
            return None
        out.append(replace(table, sources=tuple(map(str, sources))))
    return out
