"""Run one command as a child process and measure it: wall time (start-up included) and peak RSS.

Peak RSS is ``ru_maxrss`` from ``wait4`` (KiB on Linux; it covers the child and the descendants it
waited for). That value is a high-water mark which survives ``execve``, so a child forked straight
from this process (which holds torch, ~500 MB) would report our size, not its own. The command is
therefore started through a small launcher that does the ``wait4``: ``/usr/bin/time -f %M`` when
present (floor ~1 MB), else ``_spawn.py`` on ``python -I -S`` (floor ~10 MB). Wall time is taken
here, around the launcher, so it includes the tool's interpreter start-up.

The launcher runs in its own session, so a timeout kills the whole process group.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TIME = "/usr/bin/time"


@dataclass
class Run:
    cmd: list[str]
    rc: int | None  # None: killed at the timeout
    wall_s: float
    maxrss_kib: int
    stdout: str
    stderr: str
    timed_out: bool
    cpu_s: float = math.nan  # user + sys of the tool and the children it waited for
    tree_rss_kib: int = -1  # sampled sum over the process group, -1 if not sampled
    tree_pss_kib: int = -1
    max_procs: int = 0

    @property
    def tree_rss_mb(self) -> float:
        return self.tree_rss_kib * 1024 / 1e6 if self.tree_rss_kib > 0 else float("nan")

    @property
    def tree_pss_mb(self) -> float:
        return self.tree_pss_kib * 1024 / 1e6 if self.tree_pss_kib > 0 else float("nan")

    @property
    def peak_mb(self) -> float:
        """MB (10^6 bytes); NaN when unknown."""
        return self.maxrss_kib * 1024 / 1e6 if self.maxrss_kib >= 0 else float("nan")


def run_measured(
    cmd: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log_dir: Path,
    tag: str,
    sample_tree: bool = False,
) -> Run:
    """Run ``cmd``; stdout/stderr go to files under ``log_dir`` (no pipe can fill up)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path = log_dir / f"{tag}.stdout"
    err_path = log_dir / f"{tag}.stderr"
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    rss_path = log_dir / f"{tag}.maxrss"
    rss_path.unlink(missing_ok=True)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*_launcher(rss_path), *cmd],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
        sampler = TreeSampler(proc.pid) if sample_tree else None
        if sampler:
            sampler.start()
        result: dict[str, object] = {}

        def reap() -> None:
            _, status, _usage = os.wait4(proc.pid, 0)
            result["end"] = time.perf_counter()
            result["status"] = status

        waiter = threading.Thread(target=reap, daemon=True)
        waiter.start()
        waiter.join(timeout)
        timed_out = waiter.is_alive()
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            waiter.join()
        if sampler:
            sampler.stop.set()
            sampler.join()
        status = int(result["status"])  # type: ignore[call-overload]
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code  # reaped by wait4; keep Popen from waiting again
    rss_cpu = _read_rss(rss_path)
    return Run(
        cmd=cmd,
        rc=None if timed_out else code,
        wall_s=float(result["end"]) - start,  # type: ignore[arg-type]
        maxrss_kib=rss_cpu[0],
        cpu_s=rss_cpu[1],
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        timed_out=timed_out,
        tree_rss_kib=sampler.max_rss_kib if sampler else -1,
        tree_pss_kib=sampler.max_pss_kib if sampler else -1,
        max_procs=sampler.max_procs if sampler else 0,
    )


class TreeSampler(threading.Thread):
    """Samples the measured process group every ``interval`` s: the sum of RSS over its
    processes (the launcher excluded) and, while it has more than one, the sum of PSS.
    ``wait4`` gives the largest single process only, which understates a tool that forks
    workers; PSS splits the pages they share after ``fork`` fairly. RSS comes from ``statm``
    (cheap); ``smaps_rollup`` (PSS) walks page tables, so it is read only for several processes.
    """

    def __init__(self, pgid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pgid = pgid
        self.interval = interval
        self.stop = threading.Event()
        self.max_rss_kib = 0
        self.max_pss_kib = 0
        self.max_procs = 0
        self.page_kib = os.sysconf("SC_PAGE_SIZE") // 1024

    def run(self) -> None:
        while True:
            self.sample()
            if self.stop.wait(self.interval):
                return

    def members(self) -> list[str]:
        pids = []
        for name in os.listdir("/proc"):  # noqa: PTH208 - plain names, many times a second
            if not name.isdigit() or int(name) == self.pgid:
                continue
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
                if int(stat[stat.rindex(b")") + 2 :].split()[2]) == self.pgid:
                    pids.append(name)
            except (OSError, ValueError):
                continue
        return pids

    def sample(self) -> None:
        pids = self.members()
        rss = pss = 0
        for pid in pids:
            try:
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self.page_kib
                if len(pids) > 1:
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1])
                            break
            except (OSError, ValueError, IndexError):
                continue
        self.max_rss_kib = max(self.max_rss_kib, rss)
        self.max_pss_kib = max(self.max_pss_kib, pss)
        self.max_procs = max(self.max_procs, len(pids))


def _launcher(rss_path: Path) -> list[str]:
    if Path(TIME).is_file():
        return [TIME, "-f", "%M %U %S", "-o", str(rss_path)]
    return [sys.executable, "-I", "-S", str(Path(__file__).with_name("_spawn.py")), str(rss_path)]


def _read_rss(rss_path: Path) -> tuple[int, float]:
    """The child's peak RSS in KiB and CPU seconds (user + sys), or (-1, NaN) when unknown (the
    launcher was killed at a timeout). The launcher's last line is ``MAXRSS USER SYS``."""
    try:
        rss, user, system = rss_path.read_text().splitlines()[-1].split()
        return int(rss), float(user) + float(system)
    except (OSError, ValueError, IndexError):
        return -1, math.nan


def peak(values: list[float]) -> float:
    """Largest known value; NaN if none is known."""
    known = [v for v in values if not math.isnan(v)]
    return max(known) if known else float("nan")


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
