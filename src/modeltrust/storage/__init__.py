"""Where the governed hub keeps repos, blobs and audits: SQLAlchemy models, Alembic migrations
(applied at start-up), and a content-addressed blob store written atomically and verified.

Layout under the data directory: ``modeltrust.db`` (SQLite, unless a database URL is given) and
``blobs/sha256/ab/cd/<sha256>``. Import the submodules (``catalog``, ``blobs``): this package
does not import SQLAlchemy itself.
"""
