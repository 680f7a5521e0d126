"""``modeltrust serve`` on the command line: help, and a real start answering HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from modeltrust.cli import main


def test_help_lists_the_options(capsys: object) -> None:
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    for option in ("--host", "--port", "--data-dir", "--upstream", "--policy", "--database-url"):
        assert option in out


def test_serve_starts_and_answers(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELTRUST_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modeltrust",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--upstream",
            "none",
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx2.get(f"http://127.0.0.1:{port}/api/modeltrust/health")
                break
            except httpx2.HTTPError:
                assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "modeltrust serve did not start"
                time.sleep(0.1)
        assert r.json()["ok"] is True
        missing = httpx2.get(f"http://127.0.0.1:{port}/api/models/acme/none")
        assert missing.status_code == 404
        # Never pulled through and no upstream to ask: the repo is unknown here, and the
        # message says which revision of what was asked for.
        assert missing.headers["x-error-code"] == "RepoNotFound"
        assert "acme/none@main" in missing.headers["x-error-message"]
        assert (tmp_path / "data" / "modeltrust.db").is_file()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()  # type: ignore[union-attr]
