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
