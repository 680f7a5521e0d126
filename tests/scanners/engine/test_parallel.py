"""The forked worker pool: every file scanned once, results whatever their size, a dying worker
reported instead of passed, and no worker left behind."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from modeltrust.findings import Location
from modeltrust.scanners.engine import Engine
from modeltrust.scanners.engine.parallel import ForkPool as _ForkPool
from modeltrust.scanners.engine.parallel import batches
from modeltrust.scanners.interface import Blob, ScanContext, Scanner


def ForkPool(work: Any, done: Any, workers: int) -> _ForkPool[Any]:  # noqa: N802
    """The pool with results sent as JSON, as the engine does."""
    return _ForkPool(
        work, done, workers, encode=lambda r: json.dumps(r).encode(), decode=json.loads
    )


pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _note_pid(folder: Path) -> None:
    (folder / f"pid-{os.getpid()}").touch()


def _all_reaped(folder: Path) -> bool:
    """Whether every worker that noted its pid in ``folder`` has been waited for."""
    pids = {int(p.name[4:]) for p in folder.glob("pid-*")} - {os.getpid()}
    assert pids, "no worker ran"
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return True


def test_batches_cover_every_position_once() -> None:
    for count in (0, 1, 7, 512, 513, 5000):
        runs = batches(count)
        assert len(runs) <= 512
        assert sorted(p for a, b in runs for p in range(a, count, b)) == list(range(count))
    assert batches(3) == [(0, 3), (1, 3), (2, 3)]
    # More files than batches: each batch mixes the largest files (first) with the smallest.
    assert [list(range(a, 1030, b)) for a, b in batches(1030)][:2] == [
        [0, 512, 1024],
        [1, 513, 1025],
    ]


def test_every_position_is_done_once_across_processes(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []

    def work(position: int) -> int:
        _note_pid(tmp_path)
        time.sleep(0.001)
        return position

    assert ForkPool(work, lambda p, r: seen.append((p, r)), 2).run(300) == []
    assert sorted(p for p, _ in seen) == list(range(300))
    assert all(p == r for p, r in seen)
    assert _all_reaped(tmp_path)


def test_results_larger_than_a_pipe_buffer_arrive_whole() -> None:
    got: dict[int, str] = {}
    pool = ForkPool(lambda p: chr(65 + p % 26) * 300_000, got.__setitem__, 2)
    assert pool.run(24) == []
    assert sorted(got) == list(range(24))
    assert all(v == chr(65 + p % 26) * 300_000 for p, v in got.items())


def test_work_is_shared_with_the_workers() -> None:
    parent = os.getpid()
    pids: set[int] = set()

    def work(position: int) -> int:
        time.sleep(0.005)  # every process is busy long enough for the others to take a share
        return os.getpid()

    ForkPool(work, lambda p, pid: pids.add(pid), 2).run(40)
    assert parent in pids
    assert len(pids) >= 2


def test_a_dying_worker_loses_only_what_it_had_claimed(tmp_path: Path) -> None:
    parent = os.getpid()
    done: list[int] = []

    def work(position: int) -> int:
        _note_pid(tmp_path)
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.01)
        return position

    lost = ForkPool(work, lambda p, r: done.append(p), 1).run(20)
    assert len(lost) == 1
    assert lost[0].status == "killed by SIGKILL"
    assert sorted([*done, lost[0].position]) == list(range(20))
    assert _all_reaped(tmp_path)


def test_an_error_in_this_process_stops_and_reaps_the_workers(tmp_path: Path) -> None:
    parent = os.getpid()

    def work(position: int) -> int:
        _note_pid(tmp_path)
        if os.getpid() == parent:
            time.sleep(0.05)  # the workers are running by now
            raise RuntimeError("boom")
        time.sleep(0.005)
        return position

    with pytest.raises(RuntimeError, match="boom"):
        ForkPool(work, lambda p, r: None, 2).run(50)
    assert _all_reaped(tmp_path)


class _KillsWorkers(Scanner):
    """Claims every blob; kills any process but the one that started the scan."""

    name = "killer"

    def __init__(self, parent: int, pids: Path) -> None:
        self.parent = parent
        self.pids = pids

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return True

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        _note_pid(self.pids)
        if os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.01)
        return True


def test_a_file_whose_worker_died_is_reported_not_passed(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for i in range(20):
        (models / f"f{i:02}.bin").write_bytes(b"x" * (i + 1))
    result = Engine([_KillsWorkers(os.getpid(), tmp_path)], jobs=2).scan([models])
    assert len(result.files) == 20
    [finding] = result.findings
    assert finding.rule_id == "MT-INT-001"
    assert "ended before it finished (killed by SIGKILL)" in finding.message
    assert finding.location == Location(finding.location.path)
    lost = next(f for f in result.files if f.path == finding.location.path)
    assert lost.formats == ("unknown",)
    assert _all_reaped(tmp_path)


def test_a_scan_survives_an_ignored_sigchld() -> None:
    """With SIGCHLD ignored (some supervisors do that) the kernel reaps workers itself."""
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        got: list[int] = []
        assert ForkPool(lambda p: p, lambda p, r: got.append(r), 2).run(50) == []
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert sorted(got) == list(range(50))


def test_an_ignored_sigint_stays_ignored_in_the_workers() -> None:
    parent = os.getpid()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        seen: dict[int, bool] = {}

        def work(position: int) -> bool:
            time.sleep(0.01 if os.getpid() == parent else 0)
            return signal.getsignal(signal.SIGINT) is signal.SIG_IGN

        ForkPool(work, seen.__setitem__, 2).run(30)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(seen) == 30 and all(seen.values())


def test_a_result_that_cannot_be_sent_loses_only_its_own_file() -> None:
    parent = os.getpid()
    done: list[int] = []

    def work(position: int) -> object:
        time.sleep(0.01 if os.getpid() == parent else 0)
        return object() if os.getpid() != parent else position  # json cannot encode object()

    lost = ForkPool(work, lambda p, r: done.append(p), 2).run(40)
    assert lost, "the workers took no file"
    assert all("it failed: TypeError" in x.status for x in lost)
    assert sorted(done + [x.position for x in lost]) == list(range(40))


@pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="pipes are widened on Linux only")
def test_workers_are_not_held_up_by_a_busy_parent(tmp_path: Path) -> None:
    """While this process is busy with one slow file, workers send more results than a default
    pipe holds (16 writes fill its slots, whatever their size): they must finish their share
    meanwhile, not wait for it."""
    parent = os.getpid()
    times = tmp_path / "finished"
    slow_done: list[float] = []

    def work(position: int) -> str:
        if os.getpid() == parent:
            if not slow_done:
                time.sleep(1.5)
                slow_done.append(time.monotonic())
            return ""
        if not times.exists():
            time.sleep(0.3)  # a slow first file, so this process surely takes one too
        with times.open("a") as f:
            f.write(f"{time.monotonic()}\n")
        return "r" * 2_000  # about what a file with a few findings sends

    ForkPool(work, lambda p, r: None, 2).run(120)
    finished = [float(line) for line in times.read_text().split()]
    assert len(finished) > 100
    assert max(finished) < slow_done[0]
