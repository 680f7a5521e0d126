"""Where the governed hub keeps repos, blobs and audits: SQLAlchemy models, migrations, the blob store."""
