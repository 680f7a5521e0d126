"""``modeltrust fairness``: formats, exit codes, federated export/merge, errors without tracebacks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from modeltrust.cli import main


def _biased(path: Path, n: int = 3000, gap: float = 0.3, seed: int = 0) -> Path:
    """Group 'b' is selected ``gap`` less often than group 'a'."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n)
    region = rng.choice(["north", "south", "east"], n)
    y = rng.integers(0, 2, n)
    rate = np.where(group == "a", 0.6, 0.6 - gap)
    p = (rng.random(n) < rate).astype(int)
    pl.DataFrame({"group": group, "region": region, "y": y, "p": p}).write_parquet(path)
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["fairness", *args])
    out, err = capsys.readouterr()
    return code, out, err


BASE = ("--label", "y", "--prediction", "p", "--sensitive", "group,region")


def test_json_report_uses_the_libraries_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _biased(tmp_path / "d.parquet")
    code, out, _ = _run(capsys, str(data), *BASE, "--privileged", "group=a", "-f", "json")
    assert code == 1  # the four-fifths rule fails
    doc = json.loads(out)
    assert doc["schema"] == "modeltrust-fairness-result" and doc["passed"] is False
    result = doc["results"][0]
    for name in (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
        "equal_opportunity_difference",
        "equal_opportunity_ratio",
    ):
        assert isinstance(result["fairlearn"][name], float)
        low, high = result["intervals"]["fairlearn"][name]
        assert low <= high
    for name in (
        "statistical_parity_difference",
        "disparate_impact",
        "equal_opportunity_difference",
        "average_odds_difference",
        "average_abs_odds_difference",
        "false_discovery_rate_difference",
        "theil_index",
        "generalized_entropy_index",
        "between_group_generalized_entropy_index",
        "smoothed_empirical_differential_fairness",
    ):
        assert isinstance(result["aif360"][name], float), name
    assert len(result["groups"]) == 6
    group = result["groups"][0]
    assert group["group"] == {"group": "a", "region": "east"} and group["privileged"] is True
    assert set(group["rates"]) >= {"selection_rate", "balanced_accuracy", "false_omission_rate"}
    assert {c["metric"] for c in doc["checks"]} == {
        "fairlearn.demographic_parity_ratio",
        "aif360.disparate_impact",
    }
    assert {f["rule_id"] for f in doc["findings"]} >= {"MT-FAIR-001"}
    assert doc["findings"][0]["severity"] == "high"


def test_fair_data_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _biased(tmp_path / "d.parquet", n=20000, gap=0.0)
    code, out, _ = _run(capsys, str(data), *BASE, "-f", "json")
    assert code == 0, out
    assert json.loads(out)["passed"] is True


def test_html_report_draws_bars_with_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _biased(tmp_path / "d.parquet")
    report = tmp_path / "r.html"
    code, _, err = _run(
        capsys, str(data), *BASE, "--privileged", "group=a", "-f", "html", "-o", str(report)
    )
    assert code == 1 and "Report written" in err
    html = report.read_text()
    assert html.count("<svg") == 6 and html.count('class="bar') >= 36
    assert html.count('class="whisker"') >= 3 * 36
    assert 'class="reference"' in html  # the four-fifths line
    assert "<script" not in html and not re.search(r"(src|href)=\"?https?:", html)
    assert "MT-FAIR-001" in html and "demographic_parity_ratio" in html


def test_terminal_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _biased(tmp_path / "d.parquet")
    code, out, _ = _run(capsys, str(data), *BASE, "--bootstrap", "200")
    assert code == 1
    assert "demographic_parity_ratio" in out and "FAIL" in out and "MT-FAIR-001" in out
    code, _, _ = _run(capsys, str(data), *BASE, "-o", str(tmp_path / "r.txt"))
    assert "Disparities" in (tmp_path / "r.txt").read_text()


def test_federated_export_and_merge_match_pooled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = pl.read_parquet(_biased(tmp_path / "all.parquet"))
    counts = []
    for i, part in enumerate(np.array_split(np.arange(whole.height), 3)):
        path = tmp_path / f"site{i}.csv"
        whole[part].write_csv(path)
        out = tmp_path / f"site{i}.json"
        code, _, err = _run(
            capsys, str(path), *BASE, "--export-counts", str(out), "-f", "json", "-o", "-"
        )
        assert code == 1 and "Counts written" in err
        assert "p" not in json.loads(out.read_text())["groups"][0]  # counts, no rows
        counts.append(str(out))
    options = ("--privileged", "group=a", "-f", "json", "--seed", "5")
    _, pooled, _ = _run(capsys, str(tmp_path / "all.parquet"), *BASE, *options)
    code, merged, _ = _run(capsys, "--merge-counts", *counts, *options)
    assert code == 1
    assert json.loads(merged)["results"] == json.loads(pooled)["results"]
    assert json.loads(merged)["input"]["rows"] == whole.height


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--label", "nope", "--prediction", "p", "--sensitive", "group"), "'nope' not found"),
        (("--label", "y", "--prediction", "p"), "--sensitive is required"),
        ((*BASE, "--privileged", "group"), "is not COL=VALUE"),
        ((*BASE, "--privileged", "group=z"), "No row of"),
        ((*BASE, "--label", "region"), "not binary"),
        ((*BASE, "--check", "theil_index"), "not a disparity"),
        ((*BASE, "--threshold", "2"), "--threshold"),
        ((*BASE, "-f", "html", "-o", "/nonexistent/dir/r.html"), "Could not write"),
        ((*BASE, "--export-counts", "/nonexistent/dir/c.json"), "Could not write"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    data = _biased(tmp_path / "d.parquet", n=300)
    code, _, err = _run(capsys, str(data), *args)
    assert code == 2
    assert message in err and "Traceback" not in err and err.startswith("error:")


def test_merge_counts_takes_no_column_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "--merge-counts", "a.json", "--label", "y")
    assert code == 2 and "cannot be used with --merge-counts" in err
    code, _, err = _run(capsys, "--merge-counts", str(tmp_path / "absent.json"))
    assert code == 2 and "Could not read counts file" in err


def test_checks_other_metrics_and_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _biased(tmp_path / "d.parquet", n=20000, gap=0.0)
    code, out, _ = _run(
        capsys,
        str(data),
        *BASE,
        "--privileged",
        "group=a",
        "--check",
        "equalized_odds_ratio",
        "--check",
        "aif360.average_odds_difference",
        "--max-difference",
        "0.2",
        "-f",
        "json",
    )
    checks = {c["metric"]: c for c in json.loads(out)["checks"]}
    assert set(checks) == {"fairlearn.equalized_odds_ratio", "aif360.average_odds_difference"}
    assert checks["aif360.average_odds_difference"]["low"] == -0.2
    assert code == (0 if all(c["status"] == "pass" for c in checks.values()) else 1)


def test_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for option in ("--label", "--prediction", "--sensitive", "--privileged", "--score",
                   "--weight", "--format", "--export-counts", "--merge-counts", "--bootstrap"):  # fmt: skip
        assert option in out
