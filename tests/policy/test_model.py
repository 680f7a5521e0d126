"""Policy files: built-ins, validation errors that name the line, discovery, and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeltrust.cli import main
from modeltrust.findings import Severity
from modeltrust.policy.model import (
    BUILTIN_NAMES,
    PolicyError,
    builtin_policy,
    discover_policy,
    parse_policy,
)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_policies_are_valid_and_named(name: str) -> None:
    policy = builtin_policy(name)
    assert policy.name == name
    assert policy.description


def test_builtins_differ_where_they_should() -> None:
    strict, research = builtin_policy("strict"), builtin_policy("research")
    assert strict.thresholds.security.fail == Severity.MEDIUM
    assert "unknown" in strict.license.deny_properties
    assert research.use.commercial is False
    assert "non-commercial" in builtin_policy("commercial").license.deny_properties


def test_empty_file_is_the_schema_defaults() -> None:
    policy = parse_policy("", "empty.yaml")
    assert policy.version == 1 and policy.exceptions == ()
    assert policy.thresholds.security.action(Severity.HIGH) == "fail"
    assert policy.thresholds.security.action(Severity.MEDIUM) == "warn"
    assert policy.thresholds.security.action(Severity.LOW) == "pass"


def test_errors_name_the_file_line_and_key() -> None:
    text = (
        "version: 1\n"  # 1
        "thresholds:\n"  # 2
        "  security:\n"  # 3
        "    fail: hgh\n"  # 4
        "license:\n"  # 5
        "  deny_properties: [non-commercial, no-such-thing]\n"  # 6
        "  colour: blue\n"  # 7
        "exceptions:\n"  # 8
        "  - rule: MT-PKL-001\n"  # 9
        "    reason: trusted publisher\n"  # 10
        "    expires: 2030-01-01\n"  # 11
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "modeltrust.yaml")
    lines = str(caught.value).splitlines()
    assert any(
        line.startswith("modeltrust.yaml line 4: thresholds.security.fail: unknown severity 'hgh'")
        for line in lines
    )
    assert any(
        line.startswith("modeltrust.yaml line 6: license.deny_properties.1") for line in lines
    )
    assert "modeltrust.yaml line 7: license.colour: unknown key" in str(caught.value)
    # a missing key points at the entry that lacks it
    assert any(line.startswith("modeltrust.yaml line 9: exceptions.0.approver") for line in lines)


def test_bad_yaml_names_the_line() -> None:
    with pytest.raises(PolicyError, match=r"p.yaml line [34]: not valid YAML"):
        parse_policy("version: 1\nthresholds:\n  security: {fail: high\n  x: [1\n", "p.yaml")


def test_non_mapping_and_bad_values_are_refused() -> None:
    with pytest.raises(PolicyError, match="a policy is a mapping"):
        parse_policy("- 1\n- 2\n", "p.yaml")
    with pytest.raises(PolicyError, match=r"line 2: documentation.min_score"):
        parse_policy("documentation:\n  min_score: 1.5\n", "p.yaml")
    with pytest.raises(PolicyError, match=r"line 2: documentation.required: .*'bogus-topic'"):
        parse_policy("documentation:\n  required: [bogus-topic]\n", "p.yaml")
    with pytest.raises(PolicyError, match=r"line 2: exceptions.0.rule: 'NOT-A-RULE'"):
        parse_policy(
            "exceptions:\n  - rule: not-a-rule\n    reason: r\n    approver: a\n"
            "    expires: 2030-01-01\n",
            "p.yaml",
        )


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    policy, origin = discover_policy(None)
    assert (policy.name, origin) == ("default", "builtin:default")
    (tmp_path / "modeltrust.yaml").write_text("name: from-cwd\n")
    policy, origin = discover_policy(None)
    assert policy.name == "from-cwd" and origin.endswith("modeltrust.yaml")
    other = tmp_path / "other.yaml"
    other.write_text("name: explicit\n")
    assert discover_policy(str(other))[0].name == "explicit"
    assert discover_policy("strict")[1] == "builtin:strict"
    with pytest.raises(PolicyError, match="does not exist"):
        discover_policy(str(tmp_path / "missing.yaml"))
    with pytest.raises(PolicyError, match="no built-in policy 'nope'"):
        builtin_policy("nope")


def test_policy_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: team\nexceptions: []\n")
    assert main(["policy", "check", str(good)]) == 0
    assert "valid policy 'team'" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: team\nthresholds:\n  securty: {}\n")
    assert main(["policy", "check", str(bad)]) == 1
    assert f"{bad} line 3: thresholds.securty: unknown key" in capsys.readouterr().err
    assert main(["policy", "check", str(tmp_path / "missing.yaml")]) == 1


def test_policy_show_prints_a_valid_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "show", "commercial"]) == 0
    text = capsys.readouterr().out
    assert parse_policy(text, "shown").name == "commercial"
    assert main(["policy", "show", "nope"]) == 2
