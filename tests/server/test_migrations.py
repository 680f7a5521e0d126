"""The migrations build exactly the schema the models describe (a model changed without a
migration, or the other way round, fails here)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from modeltrust.storage.catalog import Catalog
from modeltrust.storage.models import Base


def test_migrations_match_the_models(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with catalog.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        catalog.close()
    assert differences == []
