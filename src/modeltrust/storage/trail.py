"""The audit trail: every decision, upload, policy change and token change, appended with who,
when, what and why, and hash-chained so that tampering shows.

Each entry's ``hash`` is the SHA-256 of its canonical JSON (sorted keys, no spaces, UTF-8),
which includes ``prev``, the hash of the entry before it (:data:`GENESIS` for the first).
Editing an entry changes its hash; removing or inserting one breaks the link of the next.
:meth:`Trail.verify` walks the chain and names the first entry that does not hold. Removing
the newest entries leaves a shorter chain that still holds: keep the head hash
(``modeltrust trail verify`` prints it) somewhere else, and pass it back with ``--head`` to
detect that too.

Appends from several processes are serialised by the database: ``prev`` is unique, so two
writers that read the same head cannot both append after it; the loser reads the new head and
tries again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modeltrust.errors import StorageError
from modeltrust.storage.catalog import Catalog, aware
from modeltrust.storage.models import TrailRow

T = TypeVar("T")
GENESIS = "0" * 64
"""The ``prev`` of the first entry."""
_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: datetime
    actor: str
    action: str
    """What happened, ``area.verb``: ``revision.approve``, ``token.create``, ``repo.push``…"""
    subject: str
    """What it happened to: ``org/name@sha``, a user, a token."""
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    prev: str = GENESIS
    hash: str = ""

    def record(self) -> dict[str, Any]:
        """The entry as exported (one JSON Lines record) and as hashed (without ``hash``)."""
        return {
            "id": self.id,
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "reason": self.reason,
            "details": dict(self.details),
            "prev": self.prev,
            "hash": self.hash,
        }


def entry_hash(entry: Entry) -> str:
    """The hash the entry must carry: over every field but ``id`` (the database's number,
    not part of what was said) and ``hash`` itself."""
    content = entry.record()
    del content["id"], content["hash"]
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Verification:
    entries: int
    head: str
    """The newest entry's hash (:data:`GENESIS` when the trail is empty)."""
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


class Trail:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def append(
        self,
        actor: str,
        action: str,
        subject: str,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> Entry:
        """Add an entry after the current head (retrying while other writers append)."""
        return self.atomically(lambda s: self.append_in(s, actor, action, subject, reason, details))

    def atomically(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction, again while another writer took the trail's head
        first: a change and its trail entry are committed together or not at all."""
        for _ in range(_ATTEMPTS):
            try:
                with self.catalog.transaction() as s:
                    return work(s)
            except StorageError as e:
                if isinstance(e.__cause__, IntegrityError):
                    continue  # another writer appended after the same head: read it again
                raise
        raise StorageError(
            f"Could not append to the audit trail: other writers kept appending first "
            f"({_ATTEMPTS} attempts). Try again."
        )

    def append_in(
        self,
        s: Session,
        actor: str,
        action: str,
        subject: str,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> Entry:
        """Add an entry in the caller's transaction (see :meth:`atomically`); a writer that
        appended after the same head first makes it fail with IntegrityError."""
        head = s.scalar(select(TrailRow.hash).order_by(TrailRow.id.desc()).limit(1))
        entry = Entry(
            0,
            datetime.now(UTC),
            actor,
            action,
            subject,
            reason,
            dict(details or {}),
            head or GENESIS,
        )
        digest = entry_hash(entry)
        row = TrailRow(
            at=entry.at,
            actor=actor,
            action=action,
            subject=subject,
            reason=reason,
            details_json=json.dumps(entry.details, sort_keys=True),
            prev=entry.prev,
            hash=digest,
        )
        s.add(row)
        s.flush()
        return replace(entry, id=row.id, hash=digest)

    def entries(
        self,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int | None = None,
        subject: str | None = None,
        action: str | None = None,
        namespaces: Sequence[str] | None = None,
        newest_first: bool = False,
    ) -> list[Entry]:
        """Entries after id ``after`` (and before ``before``); ``subject``: those whose subject starts with it (a repo
        id finds its revisions too); ``action``: of that action."""
        with self.catalog.transaction() as s:
            query = select(TrailRow).where(TrailRow.id > after)
            if before is not None:
                query = query.where(TrailRow.id < before)
            if subject is not None:
                query = query.where(TrailRow.subject.like(f"{_like(subject)}%", escape="\\"))
            if action is not None:
                query = query.where(TrailRow.action == action)
            if namespaces is not None:  # about these namespaces: the name, or their repos
                about = []
                for ns in namespaces:
                    escaped = _like(ns)
                    about += [
                        TrailRow.subject == ns,
                        TrailRow.subject.like(f"{escaped}/%", escape="\\"),
                        TrailRow.subject.like(f"datasets/{escaped}/%", escape="\\"),
                    ]
                query = query.where(or_(*about))
            query = query.order_by(TrailRow.id.desc() if newest_first else TrailRow.id)
            if limit is not None:
                query = query.limit(limit)
            return [_entry(row) for row in s.scalars(query)]

    def __iter__(self) -> Iterator[Entry]:
        """Every entry, oldest first, read in pages."""
        after = 0
        while True:
            page = self.entries(after=after, limit=1000)
            if not page:
                return
            yield from page
            after = page[-1].id

    def verify(self, expected_head: str | None = None) -> Verification:
        """Walk the chain; every problem found is named with the entry's id."""
        problems: list[str] = []
        prev, count = GENESIS, 0
        for entry in self:
            count += 1
            if entry.prev != prev:
                problems.append(
                    f"entry {entry.id} ({entry.action} on {entry.subject}) follows {entry.prev[:16]}…, "
                    f"but the entry before it hashes to {prev[:16]}…: an entry was removed or "
                    "inserted before it"
                )
            if entry_hash(entry) != entry.hash:
                problems.append(
                    f"entry {entry.id} ({entry.action} on {entry.subject}) does not match its hash: "
                    "it was changed after it was written"
                )
            prev = entry.hash
        if expected_head is not None and expected_head != prev:
            problems.append(
                f"the newest entry hashes to {prev[:16]}…, not the head {expected_head[:16]}… "
                "kept earlier: entries were removed from the end, or the trail was replaced"
            )
        return Verification(count, prev, tuple(problems))


def _entry(row: TrailRow) -> Entry:
    try:
        details = json.loads(row.details_json)
    except ValueError:
        details = {"unreadable": row.details_json}
    return Entry(
        row.id,
        aware(row.at),
        row.actor,
        row.action,
        row.subject,
        row.reason,
        details if isinstance(details, dict) else {"value": details},
        row.prev,
        row.hash,
    )


def _like(text: str) -> str:
    """``text`` as a literal in a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
