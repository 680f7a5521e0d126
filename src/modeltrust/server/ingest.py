"""Background ingests: a revision's fetch and audit run in a worker thread, not in a request.

Why: ``huggingface_hub`` gives a ``HEAD …/resolve/…`` 10 s (``HF_HUB_ETAG_TIMEOUT``) and a read
10 s (``HF_HUB_DOWNLOAD_TIMEOUT``), so a request that waited for a multi-GB upstream fetch would
time out. What the installed client (2.4.0) does instead, read from ``file_download.py`` and
``utils/_http.py``:

- a first ``HEAD`` that fails with a 5xx, 408, 429 or a timeout is tried again (no cached copy)
  through ``http_backoff``: up to 5 retries with a 60 s timeout each;
- ``http_backoff`` retries 408/429/500/502/503/504 and honours ``Retry-After`` (whole seconds),
  sleeping ``Retry-After + 1`` seconds instead of its own 1-2-4-8-8 s backoff;
- only ``GatedRepo``, ``RepoNotFound`` and 401 errors reach the user as themselves; any other
  failure becomes "check your connection" (``LocalEntryNotFoundError``) with ours as its cause.

So a request waits for the ingest at most ``Settings.ingest_wait`` seconds (well under the
client's 10 s); if it is still running the answer is ``503`` with a ``Retry-After`` estimated
from the transfer's progress and an ``X-Error-Message`` saying what is happening. An ingest that
fails after some request was told to come back keeps its failure for a short while, answered as
``403 GatedRepo`` so the client raises it with our words at once instead of retrying it.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError, Future

from modeltrust.errors import ModelTrustError, StorageError
from modeltrust.report.interface import human_size
from modeltrust.storage.catalog import AuditView

_MEASURABLE = 1 << 20
"""Bytes after which the transfer rate is taken as a predictor of the time left."""


class IngestPendingError(ModelTrustError):
    """The revision is still being fetched and audited; answered 503 with ``Retry-After``."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IngestFailedError(ModelTrustError):
    """A background ingest failed after a client was told to come back; answered 403 GatedRepo
    so that the client stops retrying and shows this message."""


class IngestRunning(Exception):  # noqa: N818 - a signal to the route, not an error
    """Raised instead of waiting when the caller waits itself (the async route: it awaits the
    ingest on the event loop, holding no worker thread, then asks again with ``job``)."""

    def __init__(self, job: Ingest) -> None:
        super().__init__(job.label)
        self.job = job


class Ingest:
    """One revision's fetch and audit: its progress, and the future requests wait on."""

    future: Future[AuditView]
    """Set right after the ingest is handed to a worker."""

    def __init__(self, label: str, total_bytes: int) -> None:
        self.label = label
        self.total_bytes = total_bytes
        self.done_bytes = 0
        """Written by the one worker thread running the ingest; read by requests."""
        self.started = time.monotonic()
        self.fetched_at: float | None = None
        """When every byte was stored and the audit began."""
        self.come_back_by: float | None = None
        """When the last client answered 503 should be back (monotonic); None: nobody was told
        to come back, so a failure can go to the next request as it is."""
        self.stamp = -1
        """The verdict cache's generation read before the worker read the audit (see
        ``GovernedHub.verdict``)."""

    def counted(self, chunks: Iterable[bytes], closing: threading.Event) -> Iterator[bytes]:
        """``chunks`` passed through, counted; stops when the server is shutting down."""
        for chunk in chunks:
            if closing.is_set():
                raise StorageError(
                    f"The fetch of {self.label} was stopped because the server is shutting "
                    "down; nothing partial was stored. Ask again once it is back."
                )
            self.done_bytes += len(chunk)
            yield chunk

    def wait(self, seconds: float, retry_after_max: int) -> AuditView:
        """The verdict if the ingest ends within ``seconds``; its error if it failed; else
        :class:`IngestPendingError` saying how far it got and when to ask again."""
        try:
            return self.future.result(timeout=seconds)
        except TimeoutError:
            pass
        except CancelledError:
            raise StorageError(
                f"The server is shutting down; {self.label} was not fetched. Ask again once it "
                "is back."
            ) from None
        retry_after = self.retry_after(retry_after_max)
        # The client sleeps Retry-After + 1 s (huggingface_hub's http_backoff).
        back = time.monotonic() + retry_after + 1
        self.come_back_by = max(self.come_back_by or back, back)
        raise IngestPendingError(
            f"modeltrust is fetching and auditing {self.label} for the first time "
            f"({self.progress()}); no file of it is served before the verdict. "
            f"Retry in {retry_after} s.",
            retry_after,
        )

    async def settle(self, seconds: float) -> None:
        """Return when the ingest ended or after ``seconds``, whichever is first, without
        holding a thread. Never cancels it: other requests wait for the same ingest."""
        waiter = asyncio.wrap_future(self.future)
        # The outcome is read from the future itself; mark this copy's error as seen.
        waiter.add_done_callback(lambda f: f.cancelled() or f.exception())
        await asyncio.wait([waiter], timeout=seconds)

    def retry_after(self, cap: int) -> int:
        """Seconds until the ingest is likely done: the remaining bytes at the rate seen so far,
        plus a margin, once that rate means something (a MiB and a second into the transfer;
        before that small files' latency dominates). Otherwise, and while auditing, nothing
        predicts the end: the answer is as long as the phase has lasted, so the client's waits
        double and its five retries cover a long ingest without overshooting it by much."""
        now = time.monotonic()
        elapsed = now - self.started
        if self.fetched_at is not None:
            eta = now - self.fetched_at
        elif self.done_bytes >= _MEASURABLE and elapsed >= 1:
            eta = (self.total_bytes - self.done_bytes) / (self.done_bytes / elapsed)
        else:
            eta = elapsed
        return max(1, min(cap, math.ceil(eta * 1.2) + 1))

    def progress(self) -> str:
        elapsed = int(time.monotonic() - self.started)
        if self.fetched_at is not None:
            return f"all {human_size(self.total_bytes)} stored, auditing; {elapsed} s so far"
        return f"{human_size(self.done_bytes)} of {human_size(self.total_bytes)} after {elapsed} s"
