"""Alembic migrations, shipped in the package and applied by :func:`modeltrust.storage.db.migrate`."""
