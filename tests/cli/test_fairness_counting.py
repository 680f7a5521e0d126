"""``modeltrust fairness`` counts its data in a forked child while it imports the metrics.

This test process has imported polars, so in here the command always counts in-process; every
forked case runs in a fresh interpreter, as the real command does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from modeltrust import errors
from modeltrust.cli import _counting, main
from modeltrust.cli._counting import Request

BASE = ("--label", "y", "--prediction", "p", "--sensitive", "group,region")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    n = 4000
    group = rng.choice(["a", "b", "c"], n)
    frame = pl.DataFrame(
        {
            "group": group,
            "region": rng.choice(["north", "south"], n),
            "y": rng.integers(0, 2, n),
            "p": (rng.random(n) < np.where(group == "a", 0.6, 0.4)).astype(int),
            "w": rng.random(n) * 3,
        }
    )
    path = tmp_path / "predictions.parquet"
    frame.write_parquet(path)
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modeltrust", "fairness", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _script(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _stable(report: str) -> dict[str, object]:
    doc = json.loads(report)
    for key in ("started_at", "duration_s"):
        doc.pop(key, None)
    return doc


def test_forked_counts_give_the_same_report_as_counting_in_process(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = (str(data), str(data), *BASE, "--weight", "w", "--privileged", "group=a", "-f", "json")
    forked = _cli(*args, "--export-counts", str(tmp_path / "forked.json"))
    assert forked.returncode == 1, forked.stderr
    code = main(["fairness", *args, "--export-counts", str(tmp_path / "here.json")])
    here = capsys.readouterr().out
    assert code == 1
    assert _stable(forked.stdout) == _stable(here)
    assert (tmp_path / "forked.json").read_text() == (tmp_path / "here.json").read_text()


def test_an_error_in_the_child_is_the_same_message(data: Path) -> None:
    done = _cli(str(data), "--label", "nope", "--prediction", "p", "--sensitive", "group")
    assert done.returncode == 2
    assert done.stderr.startswith("error:") and "'nope' not found" in done.stderr
    assert "Traceback" not in done.stderr
    twice = _cli(str(data), "--label", "y", "--prediction", "p", "--sensitive", "group,group")
    assert twice.returncode == 2 and "named twice" in twice.stderr


def test_a_usage_error_found_meanwhile_stops_the_child(data: Path) -> None:
    done = _cli(str(data), *BASE, "--threshold", "2")
    assert done.returncode == 2 and "--threshold" in done.stderr


def test_the_child_is_used_and_a_crashed_child_is_counted_again(data: Path) -> None:
    out = _script(
        f"""
        import json, os
        from modeltrust.cli import _counting
        from modeltrust.cli._counting import Request

        request = Request(({str(data)!r},), "y", "p", ("group", "region"), weight="w")
        forked = _counting.start(request)
        assert forked.pid is not None, "a fresh process forks"
        tables = forked.tables()
        assert forked.pid is None and forked.fd is None

        parent, real = os.getpid(), Request.count
        def dies_in_the_child(self):
            if os.getpid() != parent:
                os._exit(9)
            return real(self)
        Request.count = dies_in_the_child
        crashed = _counting.start(request)
        assert crashed.pid is not None
        again = crashed.tables()
        print(json.dumps([tables == real(request), again == tables]))
        """
    )
    assert json.loads(out) == [True, True]


def test_closing_an_unread_counting_reaps_the_child(data: Path) -> None:
    out = _script(
        f"""
        import os
        from modeltrust.cli import _counting
        from modeltrust.cli._counting import Request

        with _counting.start(Request(({str(data)!r},), "y", "p", ("group",))) as counting:
            pid = counting.pid
            assert pid is not None
        assert counting.pid is None and counting.fd is None
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            print("reaped")
        """
    )
    assert out.strip() == "reaped"


def test_no_fork_where_polars_is_loaded_or_asked_not_to(data: Path) -> None:
    request = Request((str(data),), "y", "p", ("group",))
    assert "polars" in sys.modules
    assert _counting.start(request).pid is None
    assert _counting.start(request, fork=False).tables() == request.count()


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ({"error": "DataError", "message": "bad"}, errors.DataError),
        ({"error": "MissingExtraError", "message": "bad"}, errors.MissingExtraError),
        ({"error": "KeyError", "message": "bad"}, errors.ModelTrustError),
        ({"error": "no such", "message": "bad"}, errors.ModelTrustError),
    ],
)
def test_child_errors_come_back_as_modeltrust_errors(
    message: dict[str, str], kind: type[errors.ModelTrustError]
) -> None:
    error = _counting._error(message)
    assert type(error) is kind and str(error) == "bad"


@pytest.mark.parametrize(
    "tables",
    [None, "x", [], [1], [{"counts": 1, "sources": []}], [{"counts": "{", "sources": []}]],
)
def test_unreadable_tables_mean_count_again(tables: object) -> None:
    assert _counting._decode(tables, ["a.parquet"]) is None
