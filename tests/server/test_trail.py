"""The audit trail: hash-chained, append-only, and any change to it shows."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from modeltrust.cli import main
from modeltrust.storage.accounts import Accounts
from modeltrust.storage.catalog import Catalog
from modeltrust.storage.models import TrailRow
from modeltrust.storage.trail import GENESIS, Trail


@pytest.fixture(name="catalog")
def trail_catalog(tmp_path: Path, database_url: str | None) -> Iterator[Catalog]:
    """SQLite in a data dir; PostgreSQL where test_postgres.py runs these tests again."""
    (tmp_path / "data").mkdir()
    catalog = Catalog(database_url or f"sqlite:///{tmp_path / 'data' / 'modeltrust.db'}")
    yield catalog
    catalog.close()


def _fill(trail: Trail, n: int = 5) -> None:
    for i in range(n):
        trail.append("alice", "revision.approve", f"acme/m{i}@{i:040x}", f"reason {i}", {"i": i})


def test_entries_chain_and_verify(catalog: Catalog) -> None:
    trail = Trail(catalog)
    _fill(trail)
    entries = list(trail)
    assert [e.prev for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert entries[0].prev == GENESIS
    result = trail.verify()
    assert result.ok and result.entries == 5 and result.head == entries[-1].hash
    assert trail.verify(expected_head=entries[-1].hash).ok


@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        (lambda s: s.execute(update(TrailRow).where(TrailRow.id == 3).values(reason="nothing")),
         r"entry 3 \(revision.approve on acme/m2@.* does not match its hash"),
        (lambda s: s.execute(update(TrailRow).where(TrailRow.id == 2).values(actor="mallory")),
         "entry 2 .* does not match its hash"),
        (lambda s: s.execute(delete(TrailRow).where(TrailRow.id == 3)),
         "entry 4 .* an entry was removed or inserted"),
    ],
)  # fmt: skip
def test_a_changed_or_removed_entry_is_named(catalog: Catalog, tamper: object, found: str) -> None:
    trail = Trail(catalog)
    _fill(trail)
    with catalog.transaction() as s:
        tamper(s)  # type: ignore[operator]
    result = trail.verify()
    assert not result.ok
    assert any(re.search(found, p) for p in result.problems), result.problems


def test_entries_removed_from_the_end_show_against_a_kept_head(catalog: Catalog) -> None:
    trail = Trail(catalog)
    _fill(trail)
    head = trail.verify().head
    with catalog.transaction() as s:
        s.execute(delete(TrailRow).where(TrailRow.id == 5))
    assert trail.verify().ok  # a shorter chain still holds...
    assert not trail.verify(expected_head=head).ok  # ...but not against the head kept earlier


def test_concurrent_writers_never_fork_the_chain(catalog: Catalog) -> None:
    trails = [Trail(catalog) for _ in range(4)]

    def write(i: int) -> None:
        for j in range(10):
            trails[i].append(f"w{i}", "token.create", f"user{i}", "", {"j": j})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = trails[0].verify()
    assert result.ok and result.entries == 40


def test_token_and_account_changes_are_in_the_trail_without_the_token(catalog: Catalog) -> None:
    accounts = Accounts(catalog, actor="admin-cli")
    accounts.add_user("alice")
    info, value = accounts.create_token("alice", "ci", "write")
    accounts.revoke_token(info.id)
    actions = [(e.actor, e.action, e.subject) for e in Trail(catalog)]
    assert actions == [
        ("admin-cli", "user.add", "alice"),
        ("admin-cli", "token.create", "alice"),
        ("admin-cli", "token.revoke", "alice"),
    ]
    dumped = json.dumps([e.record() for e in Trail(catalog)])
    assert value not in dumped and value[5:-4] not in dumped


def test_the_cli_verifies_and_exports(
    catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trail = Trail(catalog)
    _fill(trail, 3)
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["trail", "verify", *data]) == 0
    out, err = capsys.readouterr()
    assert "3 entries" in out + err and trail.verify().head in out + err
    assert main(["trail", "export", *data]) == 0
    out, _ = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(lines) == 3
    for line in lines:  # each line's hash can be checked without modeltrust
        content = {k: v for k, v in line.items() if k not in ("id", "hash")}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == line["hash"]
    with catalog.transaction() as s:
        s.execute(update(TrailRow).where(TrailRow.id == 2).values(subject="acme/other@0"))
    assert main(["trail", "verify", *data]) == 1
    out, err = capsys.readouterr()
    assert "entry 2" in out + err and "does not verify" in out + err
