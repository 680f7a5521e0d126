"""``modeltrust users``, ``orgs`` and ``tokens`` on a hub's data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modeltrust.cli import main
from modeltrust.cli.admin_cmd import parse_duration, parse_size
from modeltrust.errors import UsageError
from modeltrust.storage.accounts import Accounts
from modeltrust.storage.catalog import Catalog


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "hub"
    folder.mkdir()
    Catalog(f"sqlite:///{folder / 'modeltrust.db'}").close()  # as 'modeltrust serve' leaves it
    return folder


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def test_users_orgs_and_tokens_round_trip(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    assert run(capsys, data_dir, "users", "add", "alice", "--fullname", "Alice")[0] == 0
    assert run(capsys, data_dir, "orgs", "add", "acme", "--private-by-default")[0] == 0
    assert run(capsys, data_dir, "orgs", "member", "acme", "alice", "--role", "write")[0] == 0
    assert run(capsys, data_dir, "orgs", "quota", "acme", "10GiB")[0] == 0
    code, token, err = run(
        capsys,
        data_dir,
        "tokens",
        "create",
        "alice",
        "--name",
        "ci",
        "--role",
        "write",
        "--expires-in",
        "30d",
    )
    assert code == 0 and token.strip().startswith("hf_") and "shown once" in err
    _, listing, _ = run(capsys, data_dir, "tokens", "list", "--json")
    [row] = json.loads(listing)
    assert row["user"] == "alice" and row["role"] == "write" and row["state"] == "active"
    assert token.strip() not in listing  # never shown again
    _, orgs, _ = run(capsys, data_dir, "orgs", "list", "--json")
    assert json.loads(orgs)[0] == {
        "name": "acme",
        "fullname": "",
        "members": "alice (write)",
        "quota": 10 * 2**30,
        "private_by_default": True,
    }
    assert run(capsys, data_dir, "tokens", "revoke", str(row["id"]))[0] == 0
    catalog = Catalog(f"sqlite:///{data_dir / 'modeltrust.db'}")
    try:
        assert Accounts(catalog).authenticate(token.strip()) is None
    finally:
        catalog.close()


def test_mistakes_are_usage_errors(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, data_dir, "tokens", "create", "nobody", "--name", "x")
    assert code == 2 and "No user is named 'nobody'" in err
    run(capsys, data_dir, "users", "add", "alice")
    code, _, err = run(capsys, data_dir, "orgs", "add", "Alice")
    assert code == 2 and "taken" in err  # one namespace, case-insensitive
    code, _, err = run(capsys, data_dir, "users", "add", "bad--name")
    assert code == 2 and "not a valid user name" in err
    code, _, err = run(capsys, tmp_path / "empty", "users", "list")
    assert code == 2 and "holds no hub database" in err
    code, _, err = run(
        capsys, data_dir, "tokens", "create", "alice", "--name", "x", "--value", "short"
    )
    assert code == 2 and "at least 16 characters" in err


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10GiB", 10 * 2**30),
        ("500MB", 500 * 10**6),
        ("1000000", 10**6),
        ("1.5kib", 1536),
        ("none", None),
    ],
)
def test_sizes(text: str, size: int | None) -> None:
    assert parse_size(text) == size


def test_bad_sizes_and_durations() -> None:
    with pytest.raises(UsageError):
        parse_size("lots")
    with pytest.raises(UsageError):
        parse_duration("soon")
    assert parse_duration("90d").days == 90


def test_a_role_on_one_repo(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    from modeltrust.storage.hosted import Author, Hosted

    run(capsys, data_dir, "users", "add", "alice")
    run(capsys, data_dir, "users", "add", "bob")
    catalog = Catalog(f"sqlite:///{data_dir / 'modeltrust.db'}")
    try:
        Hosted(catalog).create(
            "alice/model",
            private=True,
            author=Author("alice", "a@example.com"),
            files=[],
        )
    finally:
        catalog.close()
    assert run(capsys, data_dir, "users", "grant", "bob", "alice/model", "--role", "write")[0] == 0
    catalog = Catalog(f"sqlite:///{data_dir / 'modeltrust.db'}")
    try:
        assert Accounts(catalog).repo_role("alice/model", "bob") == "write"
    finally:
        catalog.close()
    assert run(capsys, data_dir, "users", "revoke", "bob", "alice/model")[0] == 0
    code, _, err = run(capsys, data_dir, "users", "grant", "bob", "alice/absent")
    assert code == 2 and "No repo 'alice/absent' is hosted here" in err
