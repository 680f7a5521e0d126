"""The local result cache: an unchanged file of an unchanged model is not scanned again.

One SQLite database (stdlib ``sqlite3``) in ``platformdirs.user_cache_dir("modeltrust")``, or in
``MODELTRUST_CACHE_DIR``. A row holds one file's scan result (what it is and its findings, paths
relative to the repo root) under a key of the repo, its commit, the file's path and SHA-256, the
modeltrust version and a hash of the rule catalogue: a new release or a changed rule rescans, and
a changed file has a new SHA-256. Only scan results are cached; licence, documentation and policy
checks are cheap and always run, so a new policy applies at once.

A cache that cannot be opened or written is skipped with a log message, never an error: it only
saves time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from modeltrust import __version__
from modeltrust.findings import (
    Finding,
    ScannedFile,
    file_result_from_record,
    file_result_record,
)
from modeltrust.rules import all_rules

log = logging.getLogger(__name__)

ENV_DIR = "MODELTRUST_CACHE_DIR"
FILE_NAME = "audit-cache-1.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    repo TEXT NOT NULL,
    revision TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (repo, revision, path, sha256, tool_version, rules_hash)
)
"""


@cache
def rules_hash() -> str:
    """A digest of every rule's id, severity and title: changes when the catalogue does."""
    text = "\n".join(f"{r.id}|{r.severity.label}|{r.title}" for r in all_rules())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    configured = os.environ.get(ENV_DIR, "").strip()
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("modeltrust"))


@dataclass(frozen=True, slots=True)
class CachedScan:
    file: ScannedFile
    findings: tuple[Finding, ...]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    stored: int = 0


@dataclass
class ResultCache:
    """Per-file scan results keyed by (repo, revision, path, sha256, version, rules)."""

    directory: Path
    stats: CacheStats = field(default_factory=CacheStats)
    _conn: sqlite3.Connection | None = field(default=None, init=False, repr=False)
    _broken: bool = field(default=False, init=False, repr=False)

    @classmethod
    def default(cls) -> ResultCache:
        return cls(default_cache_dir())

    @property
    def path(self) -> Path:
        return self.directory / FILE_NAME

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._broken:
            return self._conn
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10)
            conn.execute(_SCHEMA)
            conn.commit()
        except (sqlite3.Error, OSError) as e:
            log.warning(
                "The result cache at %s cannot be used (%s); scanning everything.", self.path, e
            )
            self._broken = True
            return None
        self._conn = conn
        return conn

    def get(self, repo: str, revision: str | None, path: str, sha256: str) -> CachedScan | None:
        conn = self._connect()
        row = None
        if conn is not None:
            try:
                row = conn.execute(
                    "SELECT result FROM scans WHERE repo=? AND revision=? AND path=? AND sha256=? "
                    "AND tool_version=? AND rules_hash=?",
                    (repo, revision or "", path, sha256, __version__, rules_hash()),
                ).fetchone()
            except sqlite3.Error as e:
                log.warning("Reading the result cache failed (%s).", e)
        if row is None:
            self.stats.misses += 1
            return None
        try:
            cached = _decode(json.loads(row[0]))
        except (ValueError, KeyError, TypeError):
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return cached

    def put(
        self,
        repo: str,
        revision: str | None,
        sha256: str,
        file: ScannedFile,
        findings: tuple[Finding, ...],
    ) -> None:
        conn = self._connect()
        if conn is None:
            return
        try:
            conn.execute(
                "INSERT OR REPLACE INTO scans VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    repo,
                    revision or "",
                    file.path,
                    sha256,
                    __version__,
                    rules_hash(),
                    json.dumps(file_result_record(file, findings)),
                ),
            )
            conn.commit()
            self.stats.stored += 1
        except sqlite3.Error as e:
            log.warning("Writing the result cache failed (%s).", e)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _decode(doc: dict[str, Any]) -> CachedScan:
    file, findings = file_result_from_record(doc)
    return CachedScan(file, tuple(findings))
