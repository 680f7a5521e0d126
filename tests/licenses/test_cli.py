"""``modeltrust license``: JSON and terminal reports, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modeltrust.cli import EXIT_ERROR, EXIT_FAILED, EXIT_OK, main
from tests.hubserver import HubServer, card

LLAMA31 = "meta-llama/Llama-3.1-8B"


@pytest.fixture
def repos(hub: HubServer) -> HubServer:
    hub.add_repo(
        LLAMA31,
        {
            "README.md": card(license="llama3.1"),
            "LICENSE": "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n",
        },
    )
    hub.add_repo("acme/chat", {"README.md": card(license="apache-2.0", base_model=LLAMA31)})
    hub.add_repo("acme/plain", {"README.md": card(license="mit"), "LICENSE": "MIT License\n"})
    return hub


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["license", *args, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_json_report_has_the_documented_keys(
    repos: HubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_json(capsys, "acme/chat", "--mau", "100")
    assert code == EXIT_FAILED  # the mislabelled licence is a high finding
    assert doc["schema"] == "modeltrust.license/1"
    assert doc["effective_licenses"] == ["apache-2.0", "llama3.1"]
    assert doc["commercial_use"] == "conditional"  # Llama's acceptable-use policy flows down
    assert doc["source"] == {
        "kind": "hub",
        "repo_id": "acme/chat",
        "revision": repos.head("acme/chat"),
    }
    lineage = doc["lineage"]
    assert isinstance(lineage, list)
    assert [(n["id"], n["depth"], n["relation"], n["license"]) for n in lineage] == [
        ("acme/chat", 0, None, "apache-2.0"),
        (LLAMA31, 1, "finetune", "llama3.1"),
    ]
    assert lineage[1]["revision"] == repos.head(LLAMA31)
    obligations = doc["obligations"]
    assert isinstance(obligations, list) and {"topic", "action", "why", "licenses"} <= set(
        obligations[0]
    )
    findings = doc["findings"]
    assert isinstance(findings, list)
    assert {f["rule_id"] for f in findings} >= {"MT-LIC-003", "MT-LIC-004"}
    assert doc["summary"]["failed"] is True  # type: ignore[index]
    assert "not legal advice" in str(doc["disclaimer"])


def test_use_profile_options(repos: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(
        capsys,
        LLAMA31,
        "--use",
        "noncommercial",
        "--mau",
        "900000000",
        "--revenue",
        "5",
        "--eu",
        "--distribution",
        "hosted",
    )
    assert doc["use"] == {
        "commercial": False,
        "monthly_active_users": 900_000_000,
        "annual_revenue_usd": 5,
        "eu_established": True,
        "distribution": "hosted",
    }
    assert doc["commercial_use"] == "forbidden"
    assert code == EXIT_FAILED


def test_clean_model_exits_zero(repos: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "acme/plain")
    assert code == EXIT_OK and doc["commercial_use"] == "allowed"


def test_fail_on_threshold(repos: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["license", "acme/chat", "--fail-on", "critical", "-f", "json"]) == EXIT_OK
    capsys.readouterr()
    assert main(["license", "acme/plain", "--fail-on", "info", "-f", "json"]) == EXIT_OK
    capsys.readouterr()
    assert main(["license", "acme/chat", "--mau", "1", "-f", "json"]) == EXIT_FAILED
    capsys.readouterr()
    assert main(["license", "acme/plain", "--fail-on", "nope"]) == EXIT_ERROR
    assert "unknown severity" in capsys.readouterr().err


def test_terminal_report(repos: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["license", "acme/chat", "--mau", "100"])
    out = capsys.readouterr().out
    assert code == EXIT_FAILED
    for text in (
        "Effective licences",
        "Lineage",
        "Commercial use: CONDITIONAL",
        "What you must do",
        "MT-LIC-003",
        "not legal advice",
    ):
        assert text in out, text
    assert "finetune" in out and LLAMA31 in out


def test_output_file(repos: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.json"
    assert main(["license", "acme/plain", "-f", "json", "-o", str(target)]) == EXIT_OK
    assert json.loads(target.read_text())["effective_licenses"] == ["mit"]
    text = tmp_path / "report.txt"
    assert main(["license", "acme/plain", "-o", str(text)]) == EXIT_OK
    assert "Commercial use" in text.read_text()
    assert (
        main(["license", "acme/plain", "-o", str(tmp_path / "no" / "dir" / "r.txt")]) == EXIT_ERROR
    )
    assert "Could not write the report" in capsys.readouterr().err


def test_local_folder_with_models_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store" / "meta" / "base"
    store.mkdir(parents=True)
    (store / "README.md").write_text(card(license="cc-by-nc-4.0"))
    model = tmp_path / "work" / "my-model"
    model.mkdir(parents=True)
    (model / "README.md").write_text(card(license="apache-2.0", base_model="meta/base"))
    code, doc = run_json(capsys, str(model))
    assert doc["lineage"][1]["status"] == "not_found"  # type: ignore[index]
    assert code == EXIT_FAILED
    code, doc = run_json(capsys, str(model), "--models-dir", str(tmp_path / "store"))
    assert doc["effective_licenses"] == ["apache-2.0", "cc-by-nc-4.0"]
    assert doc["commercial_use"] == "forbidden"


def test_errors_exit_two_with_a_message(hub: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["license", "acme/missing"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "'acme/missing' was not found" in err and "Traceback" not in err
    assert main(["license", "not a repo"]) == EXIT_ERROR
    assert "neither an existing folder nor a Hub repo id" in capsys.readouterr().err
    assert main(["license", "acme/x", "--distribution", "everywhere"]) == EXIT_ERROR
    assert main(["license", "acme/x", "--mau", "-1"]) == EXIT_ERROR


def test_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == EXIT_OK
    assert "license" in capsys.readouterr().out
