"""``modeltrust serve`` on the command line: help, a real start answering HTTP (on a given port
and on the free port 0 picks), and the usage errors of its data directory and port."""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from modeltrust.cli import main

STARTED = re.compile(r"modeltrust serve on (http://127\.0\.0\.1:(\d+)) .*HF_ENDPOINT=(\S+)")


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--data-dir", "--upstream", "--policy", "--database-url"):
        assert option in out


@contextmanager
def serving(port: int, data_dir: Path) -> Iterator[tuple[str, list[str]]]:
    """``modeltrust serve`` in a subprocess: the URL it printed, and its stderr lines so far.
    Stopped (SIGTERM) on the way out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELTRUST_")}
    command = [sys.executable, "-m", "modeltrust", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--upstream", "none"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in process.stderr], daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while not (seen and STARTED.search(seen[-1])):
            assert process.poll() is None or not lines.empty(), "".join(seen)
            assert time.monotonic() < deadline, f"modeltrust serve printed no URL: {seen}"
            try:
                seen.append(lines.get(timeout=0.2))
            except queue.Empty:
                continue
        match = STARTED.search(seen[-1])
        assert match is not None and match.group(1) == match.group(3)
        yield match.group(1), seen
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)
        process.stderr.close()


def health(url: str) -> httpx2.Response:
    """The first answer of a server that printed its URL (it listens from then on)."""
    return httpx2.get(f"{url}/api/modeltrust/health", timeout=10)


def test_serve_starts_and_answers(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "data").mkdir()
    with serving(port, tmp_path / "data") as (url, lines):
        assert url == f"http://127.0.0.1:{port}"
        assert not any("created" in line for line in lines)  # it existed
        assert health(url).json()["ok"] is True
        missing = httpx2.get(f"{url}/api/models/acme/none")
        assert missing.status_code == 404
        # Never pulled through and no upstream to ask: the repo is unknown here, and the
        # message says which revision of what was asked for.
        assert missing.headers["x-error-code"] == "RepoNotFound"
        assert "acme/none@main" in missing.headers["x-error-message"]
        assert (tmp_path / "data" / "modeltrust.db").is_file()


def test_port_0_prints_the_port_bound_and_a_new_data_dir_is_announced(tmp_path: Path) -> None:
    data = tmp_path / "new" / "nested" / "data"
    with serving(0, data) as (url, lines):
        port = int(url.rsplit(":", 1)[1])
        assert port != 0
        assert health(url).json()["ok"] is True
        assert f"created data directory {data}\n" in lines
        assert (data / "modeltrust.db").is_file()


def test_a_data_dir_that_is_a_file_or_a_dangling_link_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "gone")
    for path in (file, dangling):
        code = main(["serve", "--port", "0", "--upstream", "none", "--data-dir", str(path)])
        assert code == 2
        err = capsys.readouterr().err
        assert "--data-dir" in err and str(path.name) in err
    assert not (tmp_path / "gone").exists()


def test_a_data_dir_that_cannot_be_created_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    below_a_file = tmp_path / "file" / "data"
    code = main(["serve", "--port", "0", "--upstream", "none", "--data-dir", str(below_a_file)])
    assert code == 2
    err = capsys.readouterr().err
    assert "Could not create the data directory" in err and "--data-dir" in err


def test_a_busy_port_is_a_clear_error_before_anything_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["serve", "--port", str(port), "--upstream", "none"]
        code = main([*args, "--data-dir", str(tmp_path / "data")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1 port {port}" in err and "--port" in err
    assert "modeltrust serve on" not in err
    assert not (tmp_path / "data").exists()
