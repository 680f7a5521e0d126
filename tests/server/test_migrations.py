"""The migrations build exactly the schema the models describe (a model changed without a
migration, or the other way round, fails here)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from modeltrust.storage.catalog import Catalog
from modeltrust.storage.models import Base

EXPRESSION_INDEXES = {"ix_repos_repo_id_lower"}
"""SQLite's reflection cannot read an index on an expression (lower(repo_id)), so it cannot be
compared there; the test checks that it exists another way."""


def _compared(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    return not (kind == "index" and name in EXPRESSION_INDEXES)


def test_migrations_match_the_models(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with catalog.engine.connect() as connection, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": _compared}
            )
            differences = compare_metadata(context, Base.metadata)
            indexes = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index'"
            ).scalars()
            assert set(indexes) >= EXPRESSION_INDEXES
    finally:
        catalog.close()
    assert differences == []


def test_repos_audited_before_0005_are_found_by_the_catalogue(tmp_path: Path) -> None:
    """A database at 0004 with an audited repo: after the upgrade the repo points at its
    newest audit, and that audit's licence and base models are searchable facts."""
    import json

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from modeltrust.storage.catalog import package_files

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    config = Config()
    config.set_main_option(
        "script_location", str(package_files("modeltrust.storage") / "migrations")
    )
    engine = create_engine(url)
    report = {
        "license": {
            "effective_licenses": ["llama3.1"],
            "lineage": [{"name": "model"}, {"repo_id": "meta-llama/Llama-3.1-8B"}],
        }
    }
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(
            text(
                "INSERT INTO repos (id, repo_id, created_at, kind, private, gated)"
                " VALUES (1, 'acme/tuned', '2026-01-01', 'mirror', 0, '')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO revisions (id, repo_pk, sha, status, info_json, "
                "created_at, parents_json, title, message) VALUES "
                "(1, 1, :sha, 'audited', '{}', '2026-01-01', '[]', '', '')"
            ),
            {"sha": "a" * 40},
        )
        for audit_id in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO audits (id, revision_pk, verdict, policy, "
                    "reasons_json, report_json, report_html, created_at) VALUES "
                    "(:i, 1, 'warn', 'p', '[]', :r, '', '2026-01-01')"
                ),
                {"i": audit_id, "r": json.dumps(report)},
            )
        command.upgrade(config, "head")
        latest = connection.execute(text("SELECT latest_audit_pk FROM repos")).scalar()
        facts = connection.execute(
            text("SELECT kind, value FROM audit_facts WHERE audit_pk = 2 ORDER BY kind")
        ).all()
        licence = connection.execute(text("SELECT license FROM audits WHERE id = 2")).scalar()
    engine.dispose()
    assert latest == 2 and licence == "llama3.1"
    assert [tuple(f) for f in facts] == [
        ("base", "meta-llama/llama-3.1-8b"),
        ("license", "llama3.1"),
    ]
