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


def test_version_alone_is_the_schema_defaults() -> None:
    policy = parse_policy("version: 1\n", "minimal.yaml")
    assert policy.version == 1 and policy.exceptions == ()
    assert policy.thresholds.security.action(Severity.HIGH) == "fail"
    assert policy.thresholds.security.action(Severity.MEDIUM) == "warn"
    assert policy.thresholds.security.action(Severity.LOW) == "pass"


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n", "---\n"])
def test_an_empty_policy_is_refused_with_what_a_minimal_one_is(text: str) -> None:
    """An empty file is the wrong file or a truncated one far more often than a wish for the
    defaults, which 'version: 1' asks for."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "empty.yaml")
    message = str(caught.value)
    assert message.startswith("empty.yaml: the policy is empty")
    assert "'version: 1'" in message and "modeltrust policy show default" in message


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
    with pytest.raises(PolicyError, match=r"'.*missing.yaml' \(--policy\) does not exist"):
        discover_policy(str(tmp_path / "missing.yaml"))
    with pytest.raises(PolicyError, match=r"--policy '.*' is a folder, not a policy file"):
        discover_policy(str(tmp_path))
    (tmp_path / "modeltrust.yaml").write_text("")
    with pytest.raises(PolicyError, match=r"modeltrust\.yaml: the policy is empty"):
        discover_policy(None)
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
    capsys.readouterr()


def test_policy_check_exit_codes_for_unreadable_empty_and_binary_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """2 (usage) when FILE cannot be read, naming the argument and not --policy, which
    'policy check' has not; 1 (the check failed) for content that is no policy."""
    assert main(["policy", "check", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "missing.yaml' (the FILE argument of 'modeltrust policy check')" in err
    assert "it does not exist" in err and "--policy" not in err
    assert main(["policy", "check", str(tmp_path)]) == 2
    assert "'FILE'" in capsys.readouterr().err  # click: a directory
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert main(["policy", "check", str(empty)]) == 1
    err = capsys.readouterr().err
    assert "the policy is empty" in err and "valid policy" not in err
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00name: x")
    assert main(["policy", "check", str(binary)]) == 1
    assert "is not UTF-8 text" in capsys.readouterr().err


def test_policy_show_prints_a_valid_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "show", "commercial"]) == 0
    text = capsys.readouterr().out
    assert parse_policy(text, "shown").name == "commercial"
    assert main(["policy", "show", "nope"]) == 2
